"""The viewer on files an auditor meets: `/verify` before and after a hand
edit (a dropped trigger, an edited row), on a file, PostgreSQL and an
erasable file; an erasable file before and after `erase` (the subject shows
as erased, never an error, and no page holds its text again)."""

from __future__ import annotations

import re

import pytest
from helpers import drop_trigger, raw_connection, store_on
from playwright.sync_api import expect
from webrun import KINDS, Served, cli, now, where

from projections import SessionMessage, SessionRole

PHONE = "my phone is 555-0100"


@pytest.fixture(params=KINDS)
def small(request, tmp_path):
    """A server over one chat of Ada's (tenant acme), on each backend."""
    db = where(request.param, tmp_path, request)
    with store_on(db) as store:
        s = store.create_session("Chat with Ada", user_id="ada", tenant_id="acme")
        store.add_message(s.id, SessionMessage(SessionRole.USER, PHONE, now()))
        store.add_message(s.id, SessionMessage(SessionRole.ASSISTANT, "Noted, Ada.", now()))
        positions = [e.position for e in store.history(s.id)]
    server = Served(db, log=tmp_path / "serve.log")
    server.db, server.sid, server.positions = db, str(s.id), positions  # type: ignore[attr-defined]
    yield server
    server.close()


def run_verify(server, page) -> None:
    page.goto(server.url + "verify")
    page.locator("#run-verify").click()
    expect(page.locator("#verify-result .status")).to_have_text(
        re.compile("^(ok|FAILED)$"), timeout=60_000)


def test_verify_before_and_after_tampering(small, page):
    run_verify(small, page)
    expect(page.locator("#verify-result .status")).to_have_text("ok")
    with raw_connection(small.db) as conn:
        for name in ("events_no_update", "events_no_delete"):
            drop_trigger(conn, small.db, name)
        conn.execute("UPDATE events SET metadata = '{\"source\":\"evil\"}' WHERE position = ?",
                     (small.positions[1],))
    run_verify(small, page)
    expect(page.locator("#verify-result .status")).to_have_text("FAILED")
    expect(page.locator("#verify-result ul.problems li").first).to_contain_text(
        f"position {small.positions[1]}")
    with store_on(small.db) as store:  # the viewer noted nothing: it never writes
        assert [n["kind"] for n in store.log.notes()] == []
        assert not store.verify().ok  # where the library's verify notes the break
        assert [n["kind"] for n in store.log.notes()] == ["chain_broken"]


@pytest.mark.backends("sqlite-erasable")
def test_an_erased_subject_shows_as_erased(request, tmp_path, page):
    db = where("sqlite-erasable", tmp_path, request)
    with store_on(db) as store:
        s = store.create_session("Chat with Ada", user_id="ada", tenant_id="acme")
        store.add_message(s.id, SessionMessage(SessionRole.USER, PHONE, now()))
        positions = [e.position for e in store.history(s.id)]
    server = Served(db, log=tmp_path / "serve.log")
    try:
        page.goto(server.url + f"sessions/{s.id}")
        expect(page.locator("article.item .text")).to_have_text([PHONE])
        page.goto(server.url + "?q=555-0100")
        expect(page.locator("a.hit")).to_have_count(1)
        cli(db, "erase", "--user", "ada", "--tenant", "acme", "--reason", "GDPR request")
        for path in (f"sessions/{s.id}", f"sessions/{s.id}/history", f"sessions/{s.id}?audit=1",
                     f"sessions/{s.id}?as_of={positions[1]}", "?q=555-0100", "", "verify"):
            response = page.goto(server.url + path)
            assert response is not None and response.status == 200, path
            assert "my phone" not in page.content(), path
        page.goto(server.url + f"sessions/{s.id}")
        expect(page.locator("h1")).to_have_text("Erased session")
        page.get_by_role("link", name="See its history").click()
        rows = page.locator("table.history tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.nth(1)).to_contain_text("[erased]")
        expect(rows.nth(2).locator(".badge")).to_have_text("erased")
        page.goto(server.url + f"sessions/{s.id}?as_of={positions[1]}")
        expect(page.locator("article.item .text")).to_have_text(["[erased]"])
        page.goto(server.url + "?q=555-0100")
        expect(page.locator("p.empty")).to_have_text("No matches.")
        run_verify(server, page)
        expect(page.locator("#verify-result .status")).to_have_text("ok")
    finally:
        server.close()
