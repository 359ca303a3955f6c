"""Sealed views (issue #14, "encryption at rest for free"): an erasable
store's views hold the personal fields sealed too, so a copy of the file
without its key shows no live session, while the store reads them back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_erasure import CARD, NAME, PHRASE, SECRETS, confide

from projections import EventSourcedSessionStore, MasterKeyError

pytestmark = pytest.mark.sqlite_only("the bytes of an erasable SQLite file, its -wal and key file, "
                                     "and its contentless FTS5 index (erasable stores are SQLite files)")


def raw(db: Path) -> bytes:
    """The database and its -wal, byte for byte (after a checkpoint)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return b"".join(Path(str(db) + ext).read_bytes()
                    for ext in ("", "-wal") if Path(str(db) + ext).exists())


def test_live_secrets_are_not_in_the_file_but_read_back_with_the_key(tmp_path):
    """Title, messages, item data and text, session and user state of a live
    session: in no byte of the file, yet get, list, summaries, state and
    search snippets show them."""
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        s = confide(store)
        assert store.search("owl")  # the search view caught up too
    data = raw(db).lower()
    assert [x for x in SECRETS if x.lower().encode() in data] == []
    assert b"zebulon" not in data  # nor a word of the index: its terms are keyed hashes
    with EventSourcedSessionStore(db, erasable=True) as store:
        got = store.get(s.id)
        assert got.title == f"Chat with {NAME}"
        assert [m.content for m in got.messages] == [f"my card is {CARD}", f"{NAME} says: {PHRASE}"]
        assert got.items[-1].data == {"holder": NAME, "card": CARD}
        assert got.items[-1].text == PHRASE
        assert got.state == {"who": NAME}
        assert store.get_state("t1", "u1") == {"card": CARD}
        assert store.list() == [got]
        assert store.list_summaries(tenant_id="t1")[0].title == got.title
        hits = store.search("midnight")
        assert hits and all("[midnight]" in h.snippet for h in hits)
        assert store.verify().ok
        store.rebuild()  # the same text seals the same: a refold writes the same bytes
        assert store.get(s.id) == got and store.verify().ok


def test_without_the_key_file_opening_is_refused_in_one_line(tmp_path):
    """The file copied without its key file does not open."""
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        confide(store)
    Path(f"{db}.key").unlink()
    with pytest.raises(MasterKeyError) as e:
        EventSourcedSessionStore(db, erasable=True)
    assert "\n" not in str(e.value)


def test_pops_and_clears_leave_the_search_index(tmp_path):
    """Removing items takes their words out of the contentless index."""
    with EventSourcedSessionStore(tmp_path / "e.db", erasable=True) as store:
        s = confide(store)
        assert store.search("owl")
        store.pop_items(s.id, 1)
        assert len(store.search("owl")) == 1
        store.clear(s.id)
        assert store.search("owl") == [] and store.search("card") == []
        assert store.verify().ok
