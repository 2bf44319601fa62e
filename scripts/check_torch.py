"""Stop setup before it installs a CUDA build of torch (several GB of nvidia-* wheels the assistant never uses).

Usage: python scripts/check_torch.py REPORT.json   (REPORT from `pip install --dry-run --report REPORT.json torch==…`)
Exit 0 when the torch pip would install (or the one already installed) is a CPU build, else 1 with one line
naming ASSISTANT_TORCH_INDEX_URL. Standard library only: it runs before anything else is installed.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
GPU_PREFIXES = ("nvidia-", "triton", "cuda-")


def _gpu_names(names: list[str]) -> list[str]:
    return sorted({n for n in names if n.lower().replace("_", "-").startswith(GPU_PREFIXES)})


def _requirement_names(requires: list[str] | None) -> list[str]:
    out = []
    for req in requires or []:
        name = req.split(";")[0].strip()
        for stop in " <>=!~[(":
            name = name.split(stop)[0]
        out.append(name)
    return out


def cuda_reason(report: dict, installed_requires: list[str] | None = None, installed_version: str = "") -> str:
    """Why the torch of this dry-run report (or the installed one, when the report installs no torch) is a
    CUDA build; "" for a CPU build."""
    items = report.get("install", [])
    names = [i.get("metadata", {}).get("name", "") for i in items]
    torch = next((i for i in items if i.get("metadata", {}).get("name", "").lower() == "torch"), None)
    if torch is None:
        version, requires, extra = installed_version, installed_requires or [], []
    else:
        version = torch["metadata"].get("version", "")
        requires = torch["metadata"].get("requires_dist") or []
        extra = _gpu_names(names)
    if "+cpu" in version:
        return ""
    if "+cu" in version or "+rocm" in version:
        return f"torch {version} 是 GPU 版"
    gpu = extra or _gpu_names(_requirement_names(requires))
    if gpu:
        return f"torch {version or '?'} 会带上 GPU 库（{', '.join(gpu[:3])}{' 等' if len(gpu) > 3 else ''}）"
    return ""


def main(argv: list[str]) -> int:
    report = json.loads(Path(argv[1]).read_text("utf-8")) if len(argv) > 1 and Path(argv[1]).is_file() else {}
    try:
        dist = metadata.distribution("torch")
        installed = (dist.requires or [], dist.version)
    except metadata.PackageNotFoundError:
        installed = ([], "")
    reason = cuda_reason(report, *installed)
    if reason:
        print(
            f"错误：{reason}，要下载数 GB 的 CUDA 库，本助手用不上 — "
            f"设置 CPU 版 torch 的索引后重新运行：ASSISTANT_TORCH_INDEX_URL={CPU_INDEX} bash scripts/setup.sh",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
