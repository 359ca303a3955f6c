"""`sessionlog show ID --html` (and --key): one self-contained page of the
transcript, rendered as the server renders it: the CSS inlined and allowed by
its hash, no script, no request outside the page, hostile text as text; on a
file, PostgreSQL and an erasable file. And the viewer on a read-only file."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner
from helpers import run_read_only, store_on
from playwright.sync_api import expect
from webrun import KINDS, XSS_MESSAGE, XSS_TITLE, now, seed, where

from projections import SessionMessage, SessionRole
from sessionlog.cli import main


@pytest.fixture(scope="module", params=KINDS)
def seeded(request, tmp_path_factory):
    db = where(request.param, tmp_path_factory.mktemp(f"html-{request.param}"), request)
    return db, seed(db)


def show_html(db, *args: str) -> str:
    done = CliRunner().invoke(main, ["--db", db, "show", *args, "--html"])
    assert done.exit_code == 0, done.output
    return done.output


def test_the_page_holds_the_transcript_and_nothing_outside(seeded, page, tmp_path):
    db, ids = seeded
    html = show_html(db, ids["refund"])
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert 'http-equiv="Content-Security-Policy"' in html
    path = tmp_path / "ticket.html"
    path.write_text(html, encoding="utf-8")
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    assert requests == [path.as_uri()]  # the page itself, nothing else
    expect(page.locator("h1")).to_have_text("Refund for order 1142")
    expect(page.locator("article.item")).to_have_count(6)
    expect(page.locator("article.kind-tool_call summary")).to_contain_text("lookup_order")
    # The inlined CSS applied: its hash in the page's CSP is right.
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "960px"
    assert not page.problems


def test_hostile_text_in_the_page_is_text(seeded, page, tmp_path):
    db, ids = seeded
    path = tmp_path / "xss.html"
    path.write_text(show_html(db, ids["xss"]), encoding="utf-8")
    page.goto(path.as_uri())
    expect(page.locator("h1")).to_have_text(XSS_TITLE)
    expect(page.locator("article.kind-message .text")).to_have_text(XSS_MESSAGE)
    assert page.evaluate("window.__xss") is None
    expect(page.locator("main img, main svg, main script")).to_have_count(0)


def test_html_with_json_is_refused(seeded):
    db, ids = seeded
    done = CliRunner().invoke(main, ["--db", db, "show", ids["refund"], "--html", "--json"])
    assert done.exit_code == 2 and "not both" in done.output


def test_without_the_extra_html_says_what_to_install(seeded, monkeypatch):
    db, ids = seeded
    monkeypatch.setitem(sys.modules, "sessionlog.web", None)  # as if not installed
    done = CliRunner().invoke(main, ["--db", db, "show", ids["refund"], "--html"])
    assert done.exit_code == 1
    assert done.output.strip() == "Error: --html needs the extra: pip install 'sessionlog[web]'"


#: In a child that sees the folder read-only: serve the file, read every page.
READ_ONLY = """
import http.client, json, subprocess, sys
db, sid = sys.argv[1], sys.argv[2]
p = subprocess.Popen([sys.executable, "-m", "sessionlog", "--db", db, "serve", "--port", "0"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
url = p.stdout.readline().strip()
host, port = url[len("http://"):-1].split(":")
out = {}
for path in ["/", "/?q=refund", f"/sessions/{sid}", f"/sessions/{sid}?audit=1",
             f"/sessions/{sid}?as_of=1", f"/sessions/{sid}/history", f"/sessions/{sid}/live?after=",
             "/verify?run=1", "/verify/status"]:
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    out[path] = [r.status, "Refund for order 1142" in body or "R-88" in body]
p.terminate()
p.wait()
print(json.dumps(out))
"""


@pytest.mark.parametrize("kind", ["sqlite-file", "sqlite-erasable"])
def test_the_viewer_reads_a_read_only_file(kind, request, tmp_path):
    """A read-only file (SQLite only: a PostgreSQL URL has no file mode)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db = where(kind, folder, request)
    ids = seed(db)
    with store_on(db) as store:  # the lazy search view, built while the file was writable
        store.search("refund")
    got = run_read_only(folder, READ_ONLY, db, ids["refund"])
    as_of = f"/sessions/{ids['refund']}?as_of=1"
    assert got.pop(as_of)[0] == 404  # position 1 is another session's creation
    assert got.pop("/verify?run=1")[0] == 303
    assert got.pop("/verify/status")[0] == 200
    assert got.pop(f"/sessions/{ids['refund']}/live?after=")[0] == 200
    assert all(status == 200 and found for status, found in got.values()), json.dumps(got)


def test_by_key_too(seeded):
    db, _ = seeded
    with store_on(db) as store:
        s = store.create_session("Keyed chat", tenant_id="acme", key="ticket-7")
        store.add_message(s.id, SessionMessage(SessionRole.USER, "found by its key", now()))
    html = show_html(db, "--key", "ticket-7", "--tenant", "acme")
    assert "Keyed chat" in html and "found by its key" in html
