"""Full-text search over message content (SQLite FTS5, PostgreSQL tsvector
and GIN): a lazy projection, caught up just before it is read, so writes do
not pay for it.

Queries are plain text unless FTS5 syntax is asked for; CJK text is found by
any substring (see `fulltext`; PostgreSQL's differences: `pgsearch`)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from itertools import groupby
from operator import attrgetter
from typing import ClassVar

import attrs

from eventlog import RecordedEvent
from eventlog.backends.dialect import Db

from ..checkpoints import has_checkpoint
from ..erasure.sealed_views import must_open
from .fulltext import SNIPPET_SCAN, cjk_text, fts_query, plain_phrases, plain_query, snippet
from .pgsearch import fts_tsquery, plain_tsquery, tsvector

#: The query languages `search` takes.
SYNTAXES = ("plain", "fts5")


@attrs.frozen
class SearchHit:
    """One message that matched: its session, log position, role, and the
    matching words in context (matches in [brackets])."""

    session_id: str
    position: int
    role: str
    snippet: str


class SearchProjection:
    """`message_search` (FTS5 over the text of messages and items, and over
    its CJK characters one by one in `cjk`; on PostgreSQL a `words` tsvector
    with a GIN index), with `search_sessions` (each live session's tenant)
    and `search_messages` (every item of a live session: which rows a pop, a
    clear or a deletion removes)."""

    name = "search"
    tables: ClassVar[tuple[str, ...]] = ("message_search", "search_sessions", "search_messages")
    inline = False

    def create(self, db: Db, names: Mapping[str, str]) -> None:
        d, fts = db.dialect, names["message_search"]
        if db.cipher is not None and d.name == "sqlite":  # an erasable file: see `_create_sealed`
            _create_sealed(db, names)
            return
        if db.cipher is not None:  # erasable on PostgreSQL: hashed words (`pgsearch`)
            db.cipher.hasher(db, make=True)
        if d.name == "sqlite":
            db.execute(
                f"CREATE VIRTUAL TABLE {db.q(fts)} USING fts5("
                "content, cjk, session_id UNINDEXED, tenant_id UNINDEXED, role UNINDEXED)"
            )
        else:
            db.execute(
                f"CREATE TABLE {db.q(fts)} (position {d.int_type} PRIMARY KEY, content TEXT, "
                "words tsvector NOT NULL, session_id TEXT, tenant_id TEXT, role TEXT)"
            )
            db.execute(f"CREATE INDEX {db.q(fts + '_words')} ON {db.q(fts)} USING gin (words)")
        db.execute(
            f"CREATE TABLE {db.q(names['search_sessions'])} ("
            f"session_id TEXT PRIMARY KEY, tenant_id TEXT){d.clustered}"
        )
        db.execute(
            f"CREATE TABLE {db.q(names['search_messages'])} (session_id TEXT NOT NULL, "
            f"position {d.int_type} NOT NULL, PRIMARY KEY (session_id, position)){d.clustered}"
        )

    def is_current(self, db: Db, names: Mapping[str, str]) -> bool:
        """Whether existing tables have this release's layout (files from
        before the `cjk` column are rebuilt by the runner). Reads the DDL
        only: a damaged index must not stop the store from opening."""
        if db.dialect.name != "sqlite":
            return True  # no older layout there
        row = db.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                           (names["message_search"],)).fetchone()
        columns = row[0].partition("(")[2] if row and row[0] else ""
        if db.cipher is not None and "content=''" not in columns:
            return False  # an erasable file of before the sealed views: rebuilt
        if db.cipher is not None and not _hashed(columns):
            # words in clear (before issue 19): rebuilt hashed when the file
            # can be written, searched as it is when it cannot
            return bool(db.cipher.read_only)
        return re.search(r"(^|,)\s*cjk\b", columns) is not None

    def apply(self, db: Db, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        fts, ses, msg = (db.q(names[t]) for t in self.tables)
        if db.cipher is not None and db.dialect.name == "sqlite":
            _apply_sealed(db, events, fts, ses, msg)
            return
        seal = None
        if db.dialect.name == "sqlite":
            rowkey = "rowid"
            insert = (f"INSERT INTO {fts} (rowid, content, cjk, session_id, tenant_id, role) "
                      "VALUES (?, ?, ?, ?, ?, ?)")
            words: Callable[[str], str | None] = cjk_text
        else:
            rowkey = "position"
            insert = (f"INSERT INTO {fts} (position, content, words, session_id, tenant_id, "
                      "role) VALUES (?, ?, CAST(? AS tsvector), ?, ?, ?)")
            words = tsvector
            if db.cipher is not None:  # erasable: words hashed, text sealed (`pgsearch`)
                hasher, seal = db.cipher.hasher(db), db.cipher.writer(db).session
                words = lambda text: tsvector(text, hasher)  # noqa: E731
        for type_name, run in groupby(events, key=attrgetter("type")):
            if type_name == "SessionCreated":
                db.run(
                    f"INSERT INTO {ses} (session_id, tenant_id) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [(d["session_id"], d.get("tenant_id")) for d in (e.data for e in run)],
                )
            elif type_name in ("MessageAdded", "ItemAdded"):
                # Every item is recorded in `msg` (a pop removes the last n
                # items, text or not); those with text are indexed.
                key = "content" if type_name == "MessageAdded" else "text"
                rows = [(e.position, d["session_id"], d.get(key), d["role"])
                        for e in run for d in (e.data,)]
                # Tenants looked up once per run: FTS5 takes INSERT ... VALUES
                # several times faster than INSERT ... SELECT.
                tenants = dict(db.execute(
                    f"SELECT session_id, tenant_id FROM {ses} WHERE "
                    f"{db.dialect.in_list('session_id')}",
                    (db.dialect.list_param({r[1] for r in rows}),)))
                rows = [r for r in rows if r[1] in tenants]  # items of live sessions only
                db.run(insert, [(pos, content if seal is None else seal(sid, "search", content),
                                 words(content), sid, tenants[sid], role)
                                for pos, sid, content, role in rows if content is not None])
                db.run(f"INSERT INTO {msg} (session_id, position) VALUES (?, ?)",
                       [(sid, pos) for pos, sid, _, _ in rows])
            elif type_name in ("ItemsRemoved", "SessionCleared"):
                for e in run:
                    d = e.data
                    gone = [r[0] for r in db.execute(
                        f"SELECT position FROM {msg} WHERE session_id = ? "
                        "ORDER BY position DESC LIMIT ?",
                        (d["session_id"], d.get("count", db.dialect.no_limit)))]
                    marks = db.dialect.list_param(gone)
                    db.execute(f"DELETE FROM {fts} WHERE {db.dialect.in_list(rowkey)}", (marks,))
                    db.execute(f"DELETE FROM {msg} WHERE session_id = ? AND "
                               f"{db.dialect.in_list('position')}", (d["session_id"], marks))
            elif type_name == "SessionDeleted":
                ids = [(e.data["session_id"],) for e in run]
                db.run(
                    f"DELETE FROM {fts} WHERE {rowkey} IN "
                    f"(SELECT position FROM {msg} WHERE session_id = ?)", ids,
                )
                db.run(f"DELETE FROM {msg} WHERE session_id = ?", ids)
                db.run(f"DELETE FROM {ses} WHERE session_id = ?", ids)


def search(db: Db, query: str, tenant_id: str | None = None,
           limit: int = 20, syntax: str = "plain", offset: int = 0) -> list[SearchHit]:
    """Messages matching `query`, best first (FTS5's bm25 rank).

    Args:
        offset: skip this many of the best (paging: page n starts at
            (n - 1) * limit).
        syntax: "plain" (default): words, each must match, the last as a
            prefix; punctuation only separates words. "fts5": FTS5 query
            syntax ("a phrase", prefix*, AND/OR/NOT, NEAR, column filters;
            on PostgreSQL without NEAR and column filters).

    Raises:
        ValueError: an empty, too long or (fts5) malformed query.
    """
    if syntax not in SYNTAXES:
        raise ValueError(f"syntax must be one of {SYNTAXES}, not {syntax!r}")
    tenant = "" if tenant_id is None else " AND tenant_id = ?"
    cipher = db.cipher
    if cipher is not None and db.dialect.name == "sqlite":  # contentless: sealed text beside it
        key = "rowid"
        expression, terms = _sealed_query(db, query, syntax)
        sql = ("SELECT f.rowid, m.session_id, m.role, m.content FROM message_search f "
               "JOIN search_messages m ON m.position = f.rowid WHERE message_search MATCH ? "
               f"{tenant.replace('tenant_id', 'm.tenant_id')} ORDER BY f.rank, f.rowid LIMIT ? OFFSET ?")
    elif db.dialect.name == "sqlite":
        key = "rowid"
        expression, terms = plain_query(query) if syntax == "plain" else fts_query(query)
        sql = ("SELECT rowid, session_id, role FROM message_search WHERE message_search MATCH ? "
               f"AND session_id IS NOT NULL{tenant} ORDER BY rank, rowid LIMIT ? OFFSET ?")
    else:  # the same words and phrases as a tsquery, ranked by ts_rank
        key, hasher = "position", None if cipher is None else cipher.hasher(db)
        expression, terms = (plain_tsquery(query, hasher) if syntax == "plain"
                             else fts_tsquery(query, hasher))
        sql = (f"SELECT m.position, m.session_id, m.role{'' if cipher is None else ', m.content'} "
               "FROM message_search m, "
               "CAST(? AS tsquery) q WHERE m.words @@ q AND m.session_id IS NOT NULL"
               f"{tenant} ORDER BY ts_rank(m.words, q, 1) DESC, m.position LIMIT ? OFFSET ?")
    params: list = [expression] + ([] if tenant_id is None else [tenant_id]) + [limit, offset]
    try:
        rows = db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        if syntax == "plain":
            raise  # our own expression: not the user's mistake
        raise ValueError(f"bad search query {query!r}: {e}") from None
    hits = []
    if cipher is not None:
        op = cipher.opener()
        for position, session_id, role, sealed in rows:
            text = op(session_id, "search", sealed)
            hits.append(SearchHit(session_id, position, role,
                                  snippet(text[:SNIPPET_SCAN], terms,
                                          truncated=len(text) > SNIPPET_SCAN)))
        return hits
    for position, session_id, role in rows:
        (text, length) = db.execute(
            f"SELECT substr(content, 1, ?), length(content) FROM message_search WHERE {key} = ?",
            (SNIPPET_SCAN, position)).fetchone()
        hits.append(SearchHit(session_id, position, role,
                              snippet(text, terms, truncated=length > len(text))))
    return hits


# -- an erasable store's search view ---------------------------------------------

def _hashed(columns: str) -> bool:
    """Whether an erasable index's DDL (its column list) has hashed terms."""
    return re.search(r"(^|,)\s*prefixes\b", columns) is not None


def _sealed_query(db: Db, query: str, syntax: str):
    """The FTS5 expression and the terms to mark of a query on an erasable
    store's index: words hashed (`projections.erasure.search_terms`), or as
    they are in a file of before hashed terms that cannot be rebuilt."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = 'message_search'").fetchone()
    if not _hashed(row[0].partition("(")[2] if row and row[0] else ""):
        return plain_query(query) if syntax == "plain" else fts_query(query)
    hasher = db.cipher.hasher(db)
    if syntax == "plain":
        parts, terms = plain_phrases(query)
        return hasher.plain(parts), terms
    expression, terms = fts_query(query)
    return hasher.fts(expression, query), terms


def _create_sealed(db: Db, names: Mapping[str, str]) -> None:
    """A contentless FTS5 index of hashed terms (no word, no text), and
    beside it, in `search_messages`, each item's tenant, role and text
    sealed (found by position: the index's rowid). Replacing an older index
    (words in clear) has the store purge the file once it is refilled."""
    db.cipher.hasher(db, make=True)
    # Made in place while a checkpoint stands: `setup` is replacing an index of an older
    # layout (words in clear), so the file is purged once it is refilled. Fresh tables made
    # beside the live ones (a rebuild's, verify's scratch copy) replace nothing here, and
    # verify must write nothing to the store's file.
    if names["message_search"] == "message_search" and has_checkpoint(db, "search"):
        db.cipher.purge_later(db)
    db.execute(
        f"CREATE VIRTUAL TABLE {db.q(names['message_search'])} USING fts5(content, cjk, "
        "prefixes, session_id UNINDEXED, tenant_id UNINDEXED, role UNINDEXED, content='')"
    )
    db.execute(
        f"CREATE TABLE {db.q(names['search_sessions'])} ("
        "session_id TEXT PRIMARY KEY, tenant_id TEXT) WITHOUT ROWID"
    )
    db.execute(
        f"CREATE TABLE {db.q(names['search_messages'])} (session_id TEXT NOT NULL, "
        "position INTEGER NOT NULL, tenant_id TEXT, role TEXT, content TEXT, "
        "PRIMARY KEY (session_id, position), UNIQUE (position)) WITHOUT ROWID"
    )


def _apply_sealed(db: Db, events: Sequence[RecordedEvent], fts: str, ses: str,
                  msg: str) -> None:
    """`SearchProjection.apply` of an erasable store. A contentless index
    forgets a message only when told its words again, so a removal opens
    the sealed text first (an erasure applies its removals before the key
    goes)."""
    cipher = db.cipher
    w = cipher.writer(db)
    hasher = cipher.hasher(db)
    forget = (f"INSERT INTO {fts} ({fts}, rowid, content, cjk, prefixes) "
              "VALUES ('delete', ?, ?, ?, ?)")

    def remove(sid: str, sql: str, args: tuple) -> None:
        gone = db.execute(f"SELECT position, content FROM {msg} WHERE {sql}", args).fetchall()
        texts = [(pos, must_open(cipher, sid, "search", sealed)) for pos, sealed in gone]
        texts = [(pos, text) for pos, text in texts if text is not None]
        db.run(forget, [(pos, *terms) for (pos, _), terms in
                        zip(texts, hasher.rows([text for _, text in texts]), strict=True)])
        db.run(f"DELETE FROM {msg} WHERE session_id = ? AND position = ?",
               [(sid, pos) for pos, _ in gone])

    for type_name, run in groupby(events, key=attrgetter("type")):
        if type_name == "SessionCreated":
            db.run(f"INSERT INTO {ses} (session_id, tenant_id) VALUES (?, ?) "
                   "ON CONFLICT DO NOTHING",
                   [(d["session_id"], d.get("tenant_id")) for d in (e.data for e in run)])
        elif type_name in ("MessageAdded", "ItemAdded"):
            key = "content" if type_name == "MessageAdded" else "text"
            rows = [(e.position, d["session_id"], d.get(key), d["role"])
                    for e in run for d in (e.data,)]
            tenants = dict(db.execute(
                f"SELECT session_id, tenant_id FROM {ses} WHERE {db.dialect.in_list('session_id')}",
                (db.dialect.list_param({r[1] for r in rows}),)))
            rows = [r for r in rows if r[1] in tenants]
            texts = [(pos, text) for pos, _, text, _ in rows if text is not None]
            db.run(f"INSERT INTO {fts} (rowid, content, cjk, prefixes) VALUES (?, ?, ?, ?)",
                   [(pos, *terms) for (pos, _), terms in
                    zip(texts, hasher.rows([text for _, text in texts]), strict=True)])
            db.run(f"INSERT INTO {msg} (session_id, position, tenant_id, role, content) "
                   "VALUES (?, ?, ?, ?, ?)",
                   [(sid, pos, tenants[sid], role, w.session(sid, "search", text))
                    for pos, sid, text, role in rows])
        elif type_name in ("ItemsRemoved", "SessionCleared"):
            for e in run:
                d = e.data
                sid = d["session_id"]
                remove(sid, "position IN (SELECT position FROM "
                       f"{msg} WHERE session_id = ? ORDER BY position DESC LIMIT ?)",
                       (sid, d.get("count", -1)))
        elif type_name == "SessionDeleted":
            for e in run:
                sid = e.data["session_id"]
                remove(sid, "session_id = ?", (sid,))
                db.execute(f"DELETE FROM {ses} WHERE session_id = ?", (sid,))
