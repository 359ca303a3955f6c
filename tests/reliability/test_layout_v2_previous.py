"""A file made by the previous release (layout 2 before derived checkpoints:
no `projection_derived`, no `events_pending`; tests/fixtures/v2_before_derived.db,
made with the code of commit 86950c7): it opens, verifies and reads the same,
takes a write, and verifies after it with the earlier events unchanged."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from projections import EventSourcedSessionStore, SessionMessage, SessionRole

pytestmark = pytest.mark.sqlite_only('a SQLite file an earlier release made (tests/fixtures/v2_before_derived.db)')

FIXTURE = Path(__file__).parent.parent / "fixtures" / "v2_before_derived.db"
#: What the 86950c7 code's verify and list() gave on the fixture.
LAST_HASH = "287ae2df6d10b8fa62a609be0fdab8addfe30b6625c0c37336c588d9215dc025"
LISTED = [("order 1142", [("user", "message 0"), ("assistant", "message 1"), ("user", "message 2")])]


@pytest.fixture
def previous(tmp_path):
    path = tmp_path / "prev.db"
    shutil.copy(FIXTURE, path)
    return str(path)


def tables(path):
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def events(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM events ORDER BY position").fetchall()


def listed(store):
    return [(s.title, [(m.role.value, m.content) for m in s.messages]) for s in store.list()]


def test_the_fixture_is_the_previous_layout():
    assert not {"projection_derived", "events_pending"} & tables(FIXTURE)


def test_a_previous_release_file_opens_verifies_and_reads_the_same(previous):
    before = events(previous)
    with EventSourcedSessionStore(previous) as store:
        report = store.verify()
        assert report.ok and report.last_hash == LAST_HASH
        assert listed(store) == LISTED
    assert events(previous) == before


def test_a_previous_release_file_takes_a_write_and_still_verifies(previous):
    before = events(previous)
    with EventSourcedSessionStore(previous) as store:
        (session,) = store.list()
        store.add_message(session.id, SessionMessage(SessionRole.ASSISTANT, "message 3",
                                                     datetime(2026, 11, 2, tzinfo=UTC)))
        assert store.verify().ok
        assert listed(store)[0][1][-1] == ("assistant", "message 3")
    assert events(previous)[:len(before)] == before
    with EventSourcedSessionStore(previous) as store:  # a fresh object folds the same
        assert [m.content for m in store.list()[0].messages][-1] == "message 3"
        assert store.verify().ok
