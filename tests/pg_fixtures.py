"""A throwaway PostgreSQL cluster for the office tests: initdb into a temporary folder, pg_ctl on a unix socket
and a free port (as the postgres user when running as root); skipped when the binaries are absent."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("ASSISTANT_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: initdb refuses to run as root")
    return [runuser, "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL cluster in a temporary folder, on a unix socket and a free port; yields a URL factory."""
    if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql, or set ASSISTANT_PG_BIN)")
    if os.geteuid() == 0:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run initdb as")
    root = Path(tempfile.mkdtemp(prefix="office-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    init = [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"]
    subprocess.run(_as_postgres(init), check=True, capture_output=True)
    opts = f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
    start = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "60", "start"]
    res = subprocess.run(_as_postgres(start), capture_output=True, text=True)
    if res.returncode != 0:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {res.stderr} {log[-2000:]}")
    base = f"postgresql://postgres@/{{db}}?host={sock}&port={port}"
    counter = iter(range(10_000))

    def new_database() -> str:
        import psycopg

        name = f"office_{next(counter)}"
        with psycopg.connect(base.format(db="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return base.format(db=name)

    try:
        yield new_database
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
