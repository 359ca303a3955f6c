"""The SQL dialect seam: projections write and read through a `Db`, whose
SQL is written once with `?` placeholders for every database."""

from __future__ import annotations

import pytest

from eventlog.backends.dialect import SQLITE, dialect_named


class Seen:
    """A projection that records what it was handed."""

    name, tables, inline = "seen", ("seen_types",), True

    def __init__(self) -> None:
        self.dialects: list[str] = []

    def create(self, db, names):
        db.execute(f"CREATE TABLE {db.q(names['seen_types'])} (type TEXT PRIMARY KEY)")

    def apply(self, db, events, names):
        self.dialects.append(db.dialect.name)
        db.run(f"INSERT INTO {db.q(names['seen_types'])} (type) VALUES (?) ON CONFLICT DO NOTHING",
               [(e.type,) for e in events])


def test_a_projection_is_handed_a_db_that_names_its_dialect(open_store, opened_on):
    seen = Seen()
    with open_store(projections=[seen]) as store:
        store.create("one")
        assert seen.dialects == ["postgres" if opened_on.postgres else "sqlite"]
        rows = store.log.connection.execute("SELECT type FROM seen_types").fetchall()
        assert rows == [("SessionCreated",)]


def test_names_are_quoted_alike_on_both():
    for d in (SQLITE, dialect_named("postgres")):
        assert d.q('we"ird') == '"we""ird"'
    with pytest.raises(ValueError, match="no SQL dialect"):
        dialect_named("oracle")


def test_postgres_text_escaping_round_trips_nul_and_the_mark_and_leaves_the_rest():
    from eventlog.backends.dialect import _unescape_row, escape_text
    for text in ["plain", "", "a\x00b", "\x01starts with the mark", "\x01", "日本\x00"]:
        stored = escape_text(text)
        assert "\x00" not in stored
        assert _unescape_row((stored, 1, None)) == (text, 1, None)
    assert escape_text("plain") == "plain" and escape_text("a\x00b") == escape_text("a\x00b")
