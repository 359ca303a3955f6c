"""The viewer's guard, over plain HTTP and in a browser, on a SQLite file,
PostgreSQL and an erasable file: with --tenant every route sees one tenant
(another tenant's session is the same 404 as a missing one); with --token
every route needs it; only GET and HEAD; CSP on every response; a
non-loopback --host without a token is refused."""

from __future__ import annotations

import re
import signal
import uuid

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect
from webrun import KINDS, Served, seed, where

from sessionlog.cli import main

TOKEN = "t0ken-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module", params=KINDS)
def guarded(request, tmp_path_factory):
    """A server with --tenant acme --token TOKEN over seeded data."""
    tmp = tmp_path_factory.mktemp(f"guard-{request.param}")
    db = where(request.param, tmp, request)
    ids = seed(db)
    server = Served(db, "--tenant", "acme", "--token", TOKEN, log=tmp / "serve.log")
    server.ids = ids  # type: ignore[attr-defined]
    yield server
    server.close()


def routes(sid: str, at: int = 1) -> list[str]:
    """Every route of the viewer, about one session (as of position `at`)."""
    return ["/", "/?q=refund", "/?tenant=acme&user=alice", "/fragments/sessions",
            f"/sessions/{sid}", f"/sessions/{sid}?as_of={at}", f"/sessions/{sid}?audit=1",
            f"/sessions/{sid}?event=1", f"/sessions/{sid}/live?after=", f"/sessions/{sid}/history",
            "/verify", "/verify/status", "/static/style.css", "/static/app.js"]


def test_every_route_needs_the_token(guarded):
    for path in routes(guarded.ids["refund"], guarded.ids["positions"][0]):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                        {"Cookie": "sessionlog_token=wrong"}):
            status, _, body = guarded.fetch(path, headers=headers)
            assert status == 401, (path, headers)
            assert "Refund" not in body
        status, _, _ = guarded.fetch(path, headers=BEARER)
        assert status in (200, 303), path


def test_only_get_and_head(guarded):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in routes(guarded.ids["refund"]):
            status, headers, _ = guarded.fetch(path, method=method, headers=BEARER)
            assert status == 405, (method, path)
            assert headers["allow"] == "GET, HEAD"
    assert guarded.fetch("/", method="HEAD", headers=BEARER)[0] == 200


def test_every_response_forbids_inline_script_and_other_origins(guarded):
    for path, headers in (("/", BEARER), ("/", {}), ("/sessions/nope", BEARER),
                          (f"/sessions/{guarded.ids['refund']}", BEARER)):
        _, got, _ = guarded.fetch(path, headers=headers)
        csp = got["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "*" not in csp
        assert got["x-content-type-options"] == "nosniff"


def test_another_tenants_session_is_a_missing_one(guarded):
    other, unknown = guarded.ids["globex"], str(uuid.uuid4())
    for theirs, missing in zip(routes(other)[4:10], routes(unknown)[4:10], strict=True):
        got, expected = guarded.fetch(theirs, headers=BEARER), guarded.fetch(missing, headers=BEARER)
        assert got[0] == expected[0] == 404, theirs
        assert got[2].replace(other, unknown) == expected[2]
        assert "Globex" not in got[2] and "zebra" not in got[2]
    for path in ("/", "/?tenant=globex", "/?tenant=globex&user=bob", "/fragments/sessions",
                 "/fragments/sessions?tenant=globex", "/?q=zebra", "/?q=globex+confidential"):
        status, _, body = guarded.fetch(path, headers=BEARER)
        assert status == 200, path
        assert other not in body and "Globex" not in body and "zebra</" not in body, path
    assert "No matches." in guarded.fetch("/?q=zebra", headers=BEARER)[2]
    # the tenant's own sessions are there
    assert "Refund for order 1142" in guarded.fetch("/", headers=BEARER)[2]
    assert "bulk 00" not in guarded.fetch("/?tenant=bulk", headers=BEARER)[2]


def test_a_browser_signs_in_once_with_the_token(guarded, browser):
    context = browser.new_context()
    page = context.new_page()
    try:
        response = page.goto(guarded.url)
        assert response is not None and response.status == 401
        page.goto(guarded.url + f"?token={TOKEN}")
        expect(page).to_have_url(guarded.url)  # the token leaves the address bar
        expect(page.locator("tbody#sessions")).to_contain_text("Refund for order 1142")
        expect(page.locator("tbody#sessions")).not_to_contain_text("Globex")
        (cookie,) = context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.evaluate("document.cookie") == ""
        page.get_by_role("link", name="Refund for order 1142").click()
        expect(page.locator("article.item")).to_have_count(6)
    finally:
        context.close()


def test_a_wrong_token_in_the_address_is_refused(guarded):
    status, headers, _ = guarded.fetch("/?token=wrong")
    assert status == 401 and "set-cookie" not in headers


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_a_public_host_without_a_token_is_refused(tmp_path, host):
    db = str(tmp_path / "x.db")
    assert CliRunner().invoke(main, ["--db", db, "create"]).exit_code == 0
    done = CliRunner().invoke(main, ["--db", db, "serve", "--host", host])
    assert done.exit_code == 1
    assert done.output.count("\n") == 1 and "without --token" in done.output


def test_verify_for_one_tenant_tells_no_other_tenants_numbers(guarded, browser):
    context = browser.new_context(extra_http_headers=BEARER)
    page = context.new_page()
    try:
        page.goto(guarded.url + "verify")
        page.locator("#run-verify").click()
        expect(page.locator("#verify-result .status")).to_have_text("ok", timeout=60_000)
        expect(page.locator("#last-hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        expect(page.locator("#verify-result")).not_to_contain_text("streams")
        expect(page.locator("#verify-result")).not_to_contain_text("live sessions")
    finally:
        context.close()


def test_bad_input_is_a_400_in_one_line(guarded):
    sid = guarded.ids["refund"]
    for path in (f"/sessions/{sid}?as_of=99999999999999999999", f"/sessions/{sid}?as_of=yesterday",
                 f"/sessions/{sid}?page=0", f"/sessions/{sid}?page=9999999999", "/?before=nope",
                 f"/sessions/{sid}?as_of=9223372036854775807"):
        status, _, body = guarded.fetch(path, headers=BEARER)
        assert status == 400, (path, status)
        assert "Traceback" not in body


def test_ctrl_c_ends_it_quietly(tmp_path):
    db = str(tmp_path / "x.db")
    assert CliRunner().invoke(main, ["--db", db, "create", "--title", "hi"]).exit_code == 0
    server = Served(db, log=tmp_path / "serve.log")
    try:
        assert server.fetch("/")[0] == 200
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(30) == 0
    finally:
        server.close()
    assert (tmp_path / "serve.log").read_text() == ""
