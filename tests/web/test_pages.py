"""The viewer in a browser, on a SQLite file, PostgreSQL and an erasable
file: the list, a transcript, as-of, history, the audit view, search,
paging, hostile text, live updates and verify. Screenshots for the README
are taken on the SQLite file (docs/screenshots)."""

from __future__ import annotations

import json
import re

from helpers import store_on
from playwright.sync_api import expect
from webrun import ROOT, XSS_MESSAGE, XSS_TITLE, cli, now

from projections import SessionMessage, SessionRole

SHOTS = ROOT / "docs" / "screenshots"


def shoot(site, page, name: str, full_page: bool = True) -> None:
    """A README screenshot, from one backend only (they look the same)."""
    if site.kind == "sqlite-file":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def test_list_then_click_through_to_the_transcript(site, page):
    ids = site.ids
    page.goto(site.url)
    expect(page.locator("tbody#sessions")).to_contain_text("Refund for order 1142")
    shoot(site, page, "sessions", full_page=False)
    page.get_by_role("link", name="Refund for order 1142").click()
    expect(page).to_have_url(re.compile(f"/sessions/{ids['refund']}$"))
    items = page.locator("article.item")
    expect(items).to_have_count(6)
    first = items.nth(0)
    expect(first.locator(".role")).to_have_text("user")
    expect(first.locator(".text")).to_have_text("My order 1142 arrived broken.\nCan I get a refund?")
    expect(first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(items.nth(5).locator(".text")).to_contain_text("refund R-88")
    # A tool call is a readable, collapsed line: its fields only on a click, no raw JSON.
    call = page.locator("article.kind-tool_call")
    expect(call.locator("summary")).to_contain_text("lookup_order")
    expect(call.locator("details > dl.fields")).to_be_hidden()
    call.locator("summary").click()
    expect(call.locator("details > dl.fields")).to_be_visible()
    expect(call.locator("details > dl.fields")).to_contain_text("order_id")
    expect(page.locator("article.kind-tool_output summary")).to_contain_text("delivered")
    expect(page.locator("article.kind-reasoning summary")).to_contain_text("look the order up")
    # An unknown bookkeeping role (LangGraph's checkpoints) is collapsed with a summary.
    checkpoint = page.locator('article[data-role="langgraph.checkpoint"]')
    expect(checkpoint.locator("summary")).to_contain_text("checkpoint_id")
    expect(checkpoint.locator("details > dl.fields")).to_be_hidden()
    expect(page.locator("details.state summary")).to_contain_text("2 keys")
    shoot(site, page, "transcript")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(site, page, "transcript-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_as_of_steps_through_the_session(site, page):
    ids, positions = site.ids, site.ids["positions"]
    page.goto(site.url + f"sessions/{ids['refund']}?as_of={positions[1]}")
    expect(page.locator("article.item")).to_have_count(1)
    expect(page.locator("form.asof")).to_contain_text(f"position {positions[1]}")
    page.locator("a[rel=next]").click()
    expect(page).to_have_url(re.compile(f"as_of={positions[2]}$"))
    expect(page.locator("article.item")).to_have_count(2)
    slider = page.locator("form.asof input[type=range]")
    expect(slider).to_have_attribute("max", str(len(positions)))
    slider.fill(str(len(positions)))  # the page script goes as soon as it changes
    expect(page).to_have_url(re.compile(f"as_of={positions[-1]}$"))
    expect(page.locator("article.item")).to_have_count(6)
    page.locator("a[rel=prev]").click()
    expect(page.locator("article.item")).to_have_count(5)
    # A moment works too: before the first message, the session had no item.
    created = json.loads(cli(site.db, "history", ids["refund"], "--json").stdout)[0]["recorded_at"]
    page.goto(site.url + f"sessions/{ids['refund']}?as_of={created}")
    expect(page.locator("form.asof")).to_contain_text(f"position {positions[0]}")
    expect(page.locator("article.item")).to_have_count(0)


def test_history_and_the_audit_view(site, page):
    ids, positions = site.ids, site.ids["positions"]
    page.goto(site.url + f"sessions/{ids['refund']}")
    page.locator("a.audit-toggle").click()
    audits = page.locator("article.item:not(.kind-state) dl.audit")
    expect(audits).to_have_count(6)
    # The state change is inline, readable, after the item it followed.
    change = page.locator("article.kind-state")
    expect(change).to_have_count(1)
    expect(change.locator("details.collapsed summary")).to_contain_text('order=1142, stage="refund"')
    expect(change.locator("dl.audit")).to_contain_text("StateChanged")
    assert page.evaluate("document.querySelector('article.kind-state').previousElementSibling"
                         ".dataset.role") == "langgraph.checkpoint"
    expect(audits.nth(0)).to_contain_text(f"position{positions[1]}")
    expect(audits.nth(0).locator("dd.hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    page.get_by_role("link", name="History").click()
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(len(positions))
    expect(rows.nth(0)).to_contain_text("SessionCreated")
    expect(rows.nth(len(positions) - 1)).to_contain_text("MessageAdded")
    expect(rows.nth(0).locator("td.hash")).to_have_attribute("title", re.compile(r"^[0-9a-f]{64}$"))
    shoot(site, page, "history")
    # A deleted session: marked, and reachable through its history.
    page.goto(site.url + f"sessions/{ids['deleted']}")
    expect(page.locator("h1")).to_have_text("Deleted session")
    page.get_by_role("link", name="See its history").click()
    expect(page.locator("table.history tbody tr").last).to_contain_text("deleted")
    expect(page.locator("p.notice")).to_contain_text("deleted at position")


def test_search_has_a_url_and_links_to_the_message(site, page):
    page.goto(site.url)
    box = page.locator("input[type=search][name=q]")
    box.fill("refund R-88")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"\?q=refund\+R-88"))
    hit = page.locator("a.hit").first
    expect(hit).to_have_attribute("href", re.compile(f"/sessions/{site.ids['refund']}#item-"))
    hit.click()
    anchor = page.url.split("#", 1)[1]
    expect(page.locator(f"#{anchor} .text")).to_contain_text("refund R-88")
    page.goto(site.url + "?q=zzzznothing")
    expect(page.locator("p.empty")).to_have_text("No matches.")


def test_pages_of_sessions_with_rel_next(site, page):
    page.goto(site.url + "?tenant=bulk")
    rows = page.locator("tbody#sessions tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("bulk 59")
    page.locator("a[rel=next]").click()
    expect(rows).to_have_count(10)
    expect(rows.last).to_contain_text("bulk 00")
    expect(page.locator("a[rel=next]")).to_have_count(0)
    page.goto(site.url + "?user=mallory&tenant=acme")
    expect(rows).to_have_count(1)


def test_hostile_text_shows_as_text_everywhere(site, page):
    xss = site.ids["xss"]
    for path in ("", f"sessions/{xss}", f"sessions/{xss}?audit=1", f"sessions/{xss}/history",
                 f"sessions/{xss}?event=2", "?q=window"):
        page.goto(site.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__xss") is None, path
        expect(page.locator("main img, main svg, main script")).to_have_count(0)
    page.goto(site.url + f"sessions/{xss}")
    expect(page.locator("h1")).to_have_text(XSS_TITLE)
    expect(page.locator("article.kind-message .text")).to_have_text(XSS_MESSAGE)
    page.locator("article.kind-tool_call summary").click()
    expect(page.locator("article.kind-tool_call details > dl.fields")).to_contain_text("<svg onload=")
    assert page.evaluate("window.__xss") is None


def test_live_updates_without_a_reload(site, page):
    page.goto(site.url)
    page.evaluate("window.__same_page = true")
    sid = cli(site.db, "create", "--title", "Live chat", "--user", "carol", "--tenant", "acme").stdout.strip()
    expect(page.locator("tbody#sessions tr").first).to_contain_text("Live chat")
    assert page.evaluate("window.__same_page") is True
    page.goto(site.url + f"sessions/{sid}")
    page.evaluate("window.__same_page = true")
    cli(site.db, "add", sid, "--role", "user", "hello from another process")
    expect(page.locator("article.item .text")).to_have_text(["hello from another process"])
    cli(site.db, "add", sid, "--role", "assistant", "and a reply")
    expect(page.locator("article.item .text")).to_have_text(
        ["hello from another process", "and a reply"])
    assert page.evaluate("window.__same_page") is True


def test_verify_on_demand_shows_the_whole_last_hash(site, page):
    page.goto(site.url + "verify")
    page.locator("#run-verify").click()
    expect(page.locator("#verify-result .status")).to_have_text("ok", timeout=60_000)
    report = json.loads(cli(site.db, "verify", "--json").stdout)
    expect(page.locator("#last-hash")).to_have_text(report["last_hash"])
    # what the page's progress bar read while it ran: every event, counted once
    status = json.loads(site.fetch("/verify/status")[2])
    assert status == {"running": False, "done": report["events"], "total": report["last_position"]}
    shoot(site, page, "verify")
    assert not [p for p in page.problems if "Content Security Policy" in p]


def test_a_long_transcript_comes_a_page_at_a_time(site, page):
    with store_on(site.db) as store:
        s = store.create_session("Long chat", user_id="robot", tenant_id="long")
        store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"line {i:04d}", now())
                                  for i in range(1100)])
    page.goto(site.url + f"sessions/{s.id}")
    texts = page.locator("article.item .text")
    expect(texts).to_have_count(500)
    expect(texts.first).to_have_text("line 0600")
    expect(texts.last).to_have_text("line 1099")
    page.get_by_role("link", name="Earlier items").click()
    expect(texts).to_have_count(500)
    expect(texts.first).to_have_text("line 0100")
    page.get_by_role("link", name="Earlier items").click()
    expect(texts).to_have_count(100)
    expect(texts.first).to_have_text("line 0000")
    expect(page.get_by_role("link", name="Earlier items")).to_have_count(0)
    page.get_by_role("link", name="Later items").click()
    expect(texts.last).to_have_text("line 0599")


def test_without_a_token_only_this_machines_host_names_pass(site):
    """A DNS rebinding (another site's name pointing here) reads nothing."""
    for host in ("evil.example", f"evil.example:{site.port}", "10.0.0.1"):
        status, _, body = site.fetch("/", headers={"Host": host})
        assert status == 400 and "Refund" not in body, host
    for host in (f"127.0.0.1:{site.port}", f"localhost:{site.port}", "LOCALHOST"):
        assert site.fetch("/", headers={"Host": host})[0] == 200, host
