"""`list` and `search` page, `list --json` prints summaries, and `list`,
`list --json` and `history` stream (issue 20, item 3)."""

from __future__ import annotations

import json

from clirun import ok, run

from sessionlog.cli.database import open_db


def sessions(db, n: int, **owner) -> list[str]:
    """n sessions with a message each, newest last."""
    with open_db(db, create=True) as store:
        ids = []
        for i in range(n):
            s = store.create_session(f"s{i}", **owner)
            store.add_items(s.id, [{"role": "user", "data": {}, "text": f"parcel {i}"}])
            ids.append(str(s.id))
    return ids


def test_list_shows_a_page_and_says_how_to_get_the_next(db):
    ids = sessions(db, 55)[::-1]  # newest first
    first = run(db, "list")
    rows = first.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == ids[:50]
    assert f"--before {ids[49]}" in first.stderr
    second = run(db, "list", "--before", ids[49])
    assert [r.split()[0] for r in second.stdout.splitlines()[1:]] == ids[50:]
    assert second.stderr == ""


def test_list_limit_and_before_page_json_too(db):
    ids = sessions(db, 7, user_id="ada", tenant_id="acme")[::-1]
    seen, before = [], []
    while True:
        result = run(db, "list", "--json", "--limit", "3", "--tenant", "acme", "--user", "ada",
                     *before)
        assert result.exit_code == 0, result.output
        page = json.loads(result.stdout)
        seen += [s["id"] for s in page]
        if "--before" not in result.stderr:
            break
        assert "--tenant acme --user ada --limit 3" in result.stderr
        before = ["--before", page[-1]["id"]]
    assert seen == ids
    assert len(json.loads(ok(db, "list", "--all", "--json"))) == 7


def test_list_json_is_summaries_without_messages(db):
    (sid,) = sessions(db, 1, user_id="ada", tenant_id="acme")
    (summary,) = json.loads(ok(db, "list", "--json"))
    assert set(summary) == {"id", "key", "title", "user_id", "tenant_id", "created_at",
                            "updated_at", "version", "item_count"}
    assert (summary["id"], summary["item_count"], summary["version"]) == (sid, 1, 2)


def test_a_bad_before_is_one_line(db):
    sessions(db, 1)
    for value, why in (("nope", "not a session id"),
                       ("0190a0a0-0000-7000-8000-000000000000", "no live session")):
        result = run(db, "list", "--before", value)
        assert result.exit_code == 2 and "'--before'" in result.stderr and why in result.stderr


def test_search_pages(db):
    sessions(db, 5)
    first = run(db, "search", "parcel", "--limit", "2", "--json")
    assert first.exit_code == 0 and "--page 2" in first.stderr
    pages = [json.loads(first.stdout)]
    for n in (2, 3):
        result = run(db, "search", "parcel", "--limit", "2", "--page", str(n), "--json")
        pages.append(json.loads(result.stdout))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len({h["position"] for p in pages for h in p}) == 5
    assert "--page 4" not in result.stderr


def test_history_of_a_long_session_reads_in_batches(db):
    """More events than one read batch: all are printed, in order."""
    with open_db(db, create=True) as store:
        s = store.create_session("long")
        store.add_items(s.id, [{"role": "user", "data": {}, "text": f"m{i}"} for i in range(1005)])
    trail = json.loads(ok(db, "history", str(s.id), "--json"))
    assert [e["version"] for e in trail] == list(range(1, 1007))
    assert len(ok(db, "history", str(s.id)).splitlines()) == 1007
