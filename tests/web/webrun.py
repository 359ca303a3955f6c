"""The viewer's test helpers: a real `sessionlog serve` in a child process (its URL
read from stdout), driven by Playwright through Debian's Chromium, and plain
HTTP checks. One server per module and backend (a SQLite file, PostgreSQL,
an erasable file), one browser per test session: the suite stays fast."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import store_on
from pg import Target

from projections import NewItem, SessionMessage, SessionRole
from sessionlog.cli import main

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).parent.parent.parent
# Not sqlite-memory: the server is another process, which cannot open this one's memory
# database. Not postgres-erasable: the serve child takes its master key from the environment,
# as the CLI does, and the erasable PostgreSQL store is covered by the store suites.
KINDS = ("sqlite-file", "postgres", "sqlite-erasable")

XSS_TITLE = "<img src=x onerror=\"window.__xss='title'\">"
XSS_MESSAGE = "<script>window.__xss='script'</script><img src=x onerror=\"window.__xss='message'\">"
XSS_TOOL = "<svg onload=\"window.__xss='item'\"></svg>"


def _missing(why: str) -> None:
    """A missing component fails under CI (CI=true), else skips."""
    if os.environ.get("CI") == "true":
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium (Debian's) a module. Not one a session: Playwright's sync API
    keeps an event loop running while it is open, and a later test in the same process
    (pytest-xdist runs modules in any order) could not call asyncio.run()."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install 'sessionlog[test]')")
    if not os.path.exists(CHROMIUM):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page; the page records CSP violations
    and failed requests it saw (`page.problems`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.problems = []  # type: ignore[attr-defined]
    p.on("console", lambda m: p.problems.append(m.text) if m.type == "error" else None)
    yield p
    context.close()


def where(kind: str, tmp: Path, request) -> Target:
    """A new database of `kind`: a file path or a PostgreSQL URL (a fresh
    schema); an erasable file is made as a user makes one."""
    if kind == "postgres":
        return Target(request.getfixturevalue("pg_cluster").new_schema(), kind)
    path = Target(str(tmp / ("erasable.db" if kind == "sqlite-erasable" else "log.db")), kind)
    if kind == "sqlite-erasable":
        made = CliRunner().invoke(main, ["--db", path, "--erasable", "import", "-"], input="")
        assert made.exit_code == 0, made.output
    return path


def now() -> datetime:
    return datetime.now(UTC)


def seed(db) -> dict:
    """The sessions every page test looks at: a support chat with a tool
    call, its output, reasoning, a LangGraph checkpoint and state; another
    tenant's secret; hostile text in a title, a message and an item; a
    deleted session; 60 sessions of tenant bulk for paging."""
    ids: dict = {}
    with store_on(db) as store:
        for i in range(60):  # first: the newest page shows the others
            store.create_session(f"bulk {i:02d}", user_id="robot", tenant_id="bulk")
        s = store.create_session("Refund for order 1142", user_id="alice", tenant_id="acme")
        ids["refund"] = str(s.id)
        store.add_message(s.id, SessionMessage(SessionRole.USER,
                                               "My order 1142 arrived broken.\nCan I get a refund?", now()))
        store.add_items(s.id, [
            NewItem("reasoning", {"type": "reasoning", "summary": [
                {"type": "summary_text", "text": "The customer wants a refund; look the order up."}]},
                "The customer wants a refund; look the order up."),
            NewItem("function_call", {"type": "function_call", "name": "lookup_order",
                                      "arguments": '{"order_id": 1142, "fields": ["status"]}',
                                      "call_id": "call_1"}, 'lookup_order({"order_id": 1142})'),
            NewItem("function_call_output", {"type": "function_call_output", "call_id": "call_1",
                                             "output": '{"status": "delivered", "damaged": true}'},
                    '{"status": "delivered", "damaged": true}'),
            NewItem("langgraph.checkpoint", {"checkpoint_id": "1ef-abc", "channel_versions": {"a": 1}}),
        ], state_delta={"order": 1142, "stage": "refund"})
        store.add_message(s.id, SessionMessage(SessionRole.ASSISTANT,
                                               "Sorry about that. I opened refund R-88 for order 1142.",
                                               now()))
        g = store.create_session("Globex merger plan", user_id="bob", tenant_id="globex")
        ids["globex"] = str(g.id)
        store.add_message(g.id, SessionMessage(SessionRole.USER, "globex confidential zebra", now()))
        x = store.create_session(XSS_TITLE, user_id="mallory", tenant_id="acme")
        ids["xss"] = str(x.id)
        store.add_message(x.id, SessionMessage(SessionRole.USER, XSS_MESSAGE, now()))
        store.add_items(x.id, [NewItem("function_call", {"type": "function_call", "name": XSS_TOOL,
                                                         "arguments": '{"q": "' + XSS_TOOL.replace('"', "'") + '"}'}),
                               NewItem(XSS_TOOL, {"note": XSS_TOOL}, XSS_TOOL)])
        d = store.create_session("Old chat", user_id="alice", tenant_id="acme")
        ids["deleted"] = str(d.id)
        store.add_message(d.id, SessionMessage(SessionRole.USER, "forget this one", now()))
        store.delete(d.id)
        ids["positions"] = [e.position for e in store.history(s.id)]
    return ids


class Served:
    """`sessionlog --db DB serve --port 0 ARGS` in a child process."""

    def __init__(self, db, *args: str, log: Path, env: dict | None = None) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sessionlog", "--db", str(db), "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
            env={**os.environ, **(env or {})})
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("http://"):
            self.close()
            raise AssertionError(f"serve printed {line!r}: {log.read_text()}")
        self.url = line.strip()
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port

    def fetch(self, path: str, *, method: str = "GET", headers: dict | None = None,
              ) -> tuple[int, dict, str]:
        """One request, redirects not followed: status, headers (lower-case), body."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
        finally:
            conn.close()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cli(db, *args: str) -> subprocess.CompletedProcess:
    """The CLI in another process (a writer beside the server)."""
    done = subprocess.run([sys.executable, "-m", "sessionlog", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module", params=KINDS)
def site(request, tmp_path_factory):
    """A seeded database of each backend and a server on it, for a module."""
    tmp = tmp_path_factory.mktemp(request.param)
    db = where(request.param, tmp, request)
    ids = seed(db)
    server = Served(db, log=tmp / "serve.log")
    server.db, server.ids, server.kind = db, ids, request.param  # type: ignore[attr-defined]
    yield server
    server.close()
