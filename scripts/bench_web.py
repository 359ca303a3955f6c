"""The viewer rows of scripts/bench.py (issue 22): the first page of `/` on
a file of 100,000 sessions (target: under a second), and one 10,000-item
transcript, its first page, as_of, the audit view and its history (streamed),
each a real HTTP request to `sessionlog serve` in its own process."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_cli import TEXT, build_long

from projections import EventSourcedSessionStore
from projections.transfer import import_sessions, read_sessions

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"full": dict(sessions=100_000, per=2, items=10_000, repeat=5),
         "quick": dict(sessions=2_000, per=2, items=1_000, repeat=3)}


class _Server:
    """`sessionlog --db DB serve --port 0` in a child process."""

    def __init__(self, db: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sessionlog", "--db", db, "serve", "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not url:
            raise RuntimeError("sessionlog serve printed no URL")
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port

    def get(self, path: str) -> tuple[float, int]:
        """Seconds until the whole body arrived, and its size."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        t = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        seconds = time.perf_counter() - t
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        return seconds, len(body)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def _sessions(n: int, per: int, workdir: Path) -> Path:
    """A JSONL file of `import`: n sessions of `per` messages, a minute apart."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    path = workdir / "web-sessions.jsonl"
    with open(path, "w") as f:
        for i in range(n):
            at = (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
            f.write(json.dumps({
                "id": str(uuid.uuid4()), "title": f"s{i}", "created_at": at, "tenant_id": "acme",
                "user_id": "u", "messages": [{"role": "user" if j % 2 == 0 else "assistant",
                                              "content": f"{j} {TEXT}", "timestamp": at}
                                             for j in range(per)]}) + "\n")
    return path


def _median(server: _Server, path: str, repeat: int) -> tuple[float, int]:
    server.get(path)  # warm: the first request also pays the open caches
    runs = sorted(server.get(path) for _ in range(repeat))
    return runs[len(runs) // 2]


def web(bench: Any, mode: str) -> None:
    """Rows of section "web": wall time of one request, as a browser waits."""
    size = SIZES[mode]
    print("web, each request to `sessionlog serve` in its own process", flush=True)
    many = bench.path("web-many")
    with EventSourcedSessionStore(many) as store, open(_sessions(size["sessions"], size["per"],
                                                                 bench.dir)) as f:
        import_sessions(store, read_sessions(f, "bench"))
    server = _Server(many)
    try:
        seconds, size_bytes = _median(server, "/", size["repeat"])
        bench.row("web", f"first page of / ({size['sessions']:,} sessions)", seconds * 1000, "ms",
                  None, f"target < 1000 ms; {size_bytes:,} bytes")
        seconds, _ = _median(server, "/?q=refund", size["repeat"])
        bench.row("web", f"search 'refund' ({size['sessions']:,} sessions)", seconds * 1000, "ms",
                  None)
    finally:
        server.close()
    long = bench.path("web-long")
    sid = build_long(long, size["items"])
    server = _Server(long)
    try:
        n = size["items"]
        for what, path in (
            (f"transcript, newest page ({n:,} items)", f"/sessions/{sid}"),
            (f"transcript as_of its middle ({n:,} items)", f"/sessions/{sid}?as_of={n // 2}"),
            (f"transcript audit view ({n:,} items)", f"/sessions/{sid}?audit=1"),
            (f"history, streamed ({n:,} events)", f"/sessions/{sid}/history"),
        ):
            seconds, size_bytes = _median(server, path, size["repeat"])
            bench.row("web", what, seconds * 1000, "ms", None, f"{size_bytes:,} bytes")
    finally:
        server.close()


if __name__ == "__main__":  # a quick functional run: python scripts/bench_web.py
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from bench import SIZES as BENCH_SIZES
    from bench import Bench

    with tempfile.TemporaryDirectory() as tmp:
        web(Bench(BENCH_SIZES["quick"], Path(tmp)), sys.argv[1] if len(sys.argv) > 1 else "quick")
