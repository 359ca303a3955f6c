"""A long export does not pin SQLite's WAL: it reads a page at a time in
short read transactions, and what was written since it started is folded
from the log up to the position it started at. So a checkpoint beside a
paused export completes, and the export is still the store as it stood when
it began, on every backend."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest

from projections import SessionMessage, SessionRole
from projections.transfer import export_sessions

PAGE = 2


def say(store, sid, text: str) -> None:
    store.add_message(sid, SessionMessage(SessionRole.USER, text, datetime.now(UTC)))


def churn(store, ids) -> None:
    """Writes while the export is paused: deletes across every page, a
    message to a session not yet exported, new sessions."""
    for sid in ids[:5]:
        store.delete(sid)
    say(store, ids[6], "written after the export began")
    for i in range(5):
        say(store, store.create(f"new {i}").id, "new")


@pytest.mark.sqlite_only("the WAL and its checkpoint are SQLite's")
def test_a_paused_export_lets_a_checkpoint_complete(target, open_store):
    """With the export paused after its first line and a writer adding
    pages of WAL, PRAGMA wal_checkpoint(PASSIVE) copies every frame back
    (checkpointed == log): no read transaction pins it."""
    with open_store() as store:
        ids = [store.create(f"s{i}").id for i in range(9)]
        for sid in ids:
            say(store, sid, "before")
        whole = list(export_sessions(store, page=PAGE, format="sessionlog"))
        with sqlite3.connect(target) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        lines = export_sessions(store, page=PAGE, format="sessionlog")
        got = [next(lines)]
        churn(store, ids)
        with sqlite3.connect(target) as conn:
            busy, log, checkpointed = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert log > 0 and (busy, checkpointed) == (0, log)
        got += list(lines)
        assert got == whole


def test_an_export_is_the_store_as_it_began_with_no_snapshot_held(open_store):
    """Sessions deleted, changed or created while an export is paused
    between pages leave its output as it would have been at its start."""
    with open_store() as store:
        ids = [store.create(f"s{i}").id for i in range(9)]
        mine = [store.for_tenant("acme").create(f"acme {i}").id for i in range(5)]
        whole = list(export_sessions(store, page=PAGE, format="sessionlog"))
        acme = list(export_sessions(store, "acme", page=PAGE, format="sessionlog"))
        lines = export_sessions(store, page=PAGE, format="sessionlog")
        tenant = export_sessions(store, "acme", page=PAGE, format="sessionlog")
        got, got_acme = [next(lines)], [next(tenant)]  # each export starts at its first line
        churn(store, ids)
        for sid in mine[:3]:
            store.delete(sid)
        say(store, mine[4], "late")
        assert got + list(lines) == whole
        assert got_acme + list(tenant) == acme
        assert [json.loads(x)["title"] for x in acme] == [f"acme {i}" for i in range(4, -1, -1)]
