"""Tamper evidence: recompute the hash chain, check positions and versions,
and prove every projection equals a fresh fold of the log.

It runs on a connection of its own whose scratch schema takes the fresh
copies (`projections.verify_scratch`), so a verify never writes the store's
file (nothing is left behind if it is killed), and in short transactions,
so writers go on while it runs and the WAL is not pinned: the log up to a
position is a consistent snapshot without holding one open.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from eventlog import EventDecodeError, EventLog, ReadOnlyError, RecordedEvent
from eventlog import chain as chainlib
from eventlog.backends.dialect import Db
from eventlog.codec import decode_event

from .checkpoints import read_checkpoints
from .fold import fold_all, fold_scope
from .models import Session
from .runner import ProjectionRunner
from .verify_scratch import Scratch, scratch

TRIGGERS = ("events_no_update", "events_no_delete")


class VerifiedStore(Protocol):
    """What `verify` needs of a store (`EventSourcedSessionStore` is one):
    its log and runner, and the reads it compares with a fresh fold. Those
    are made on a shallow copy whose `log` reads verify's snapshot."""

    log: EventLog
    runner: ProjectionRunner

    def get(self, id: uuid.UUID | str) -> Session | None:
        """The live session, or None."""
        ...

    def get_state(self, tenant_id: str, user_id: str | None = None) -> dict[str, Any]:
        """The tenant's state, or its user's."""
        ...


@attrs.frozen
class Problem:
    """Something wrong, at a log position where there is one."""

    position: int | None
    what: str

    def __str__(self) -> str:
        return self.what if self.position is None else f"position {self.position}: {self.what}"


@attrs.frozen
class VerifyReport:
    """What `verify` checked and what it found (empty `problems`: all good)."""

    events: int
    streams: int
    sessions: int
    projections: tuple[str, ...]
    problems: tuple[Problem, ...]
    note: str | None = None
    #: The hash of the last event: keep it elsewhere (see `expect_hash`) to
    #: detect a truncated tail or a rewrite of the whole chain after it.
    last_hash: str | None = None
    #: The position of the last event.
    last_position: int = 0
    #: Where the kept hash passed as `expect_hash` was found (None: not asked).
    kept_position: int | None = None
    #: What the log's notes record (triggers reinstalled, rebuilds forced...).
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line for people."""
        if not self.ok:
            first = self.problems[0]
            more = (f" (and {len(self.problems) - 1} more problem(s))"
                    if len(self.problems) > 1 else "")
            return f"FAILED: {first}{more}"
        text = (
            f"ok: {self.events} events in {self.streams} streams; hash chain intact, "
            f"positions gapless, versions contiguous; {self.sessions} live sessions; "
            f"projections {', '.join(self.projections)} equal a fresh fold"
        )
        if self.kept_position is not None:
            text += f"; the kept hash is event {self.kept_position}, unchanged"
        else:
            text += "; only a kept last hash (expect_hash) would show events cut from the end"
        if self.note:
            text += f" ({self.note})"
        return text + "".join(f"; note: {n}" for n in self.notes)


def verify(store: VerifiedStore, progress: Callable[[int], None] | None = None,
           expect_hash: str | None = None, batch_size: int = 5000, *,
           record: bool = True) -> VerifyReport:
    """Check the log and every projection, as of the log's end when it
    starts, holding no read transaction for the whole run (see
    `projections.verify_scratch`): a long verify beside a writer does not
    pin SQLite's WAL. Each projection is compared with a fresh fold in one
    short transaction at the end; each session with its fold a group of
    sessions at a time. An erasable store's keys are read as they were when
    it started (`projections.erasure.key_snapshot`).

    Args:
        progress: called with the number of events just checked.
        expect_hash: a `last_hash` an earlier verify printed and you kept
            elsewhere: the log must still hold that event, unchanged (so it
            was neither truncated before it nor rewritten up to it).
        record: note in the log a break found (writes refuse from then on)
            or that the chain is whole again; False writes nothing (a
            read-only viewer's check).

    Raises:
        ValueError: `expect_hash` is not a hash.
    """
    kept = chainlib.check_hash_text(expect_hash) if expect_hash is not None else None
    with scratch(store) as s:
        report, broken = _check(store, s, progress, kept, batch_size)
    if report.ok:
        problems, note = _fts_integrity(store)
        if problems or note:
            report = attrs.evolve(report, problems=tuple(problems),
                                  note="; ".join(filter(None, (report.note, note))) or None)
    if record:
        _record(store, broken, report.last_position)
    return report


class _Walk:
    """The chain walk, with the position of the kept hash once seen."""

    def __init__(self, kept: str | None) -> None:
        self.chain, self.kept, self.kept_at = chainlib.ChainWalk(), kept, None

    def feed(self, rows) -> tuple[Problem | None, list[RecordedEvent]]:
        """Walk `rows`; the first problem (or None) and the decoded events."""
        batch = []
        for row in rows:
            problem = self.chain.feed(row)
            if problem is None:
                try:
                    decode_event(row[4], json.loads(row[5]), row[9])
                    batch.append(RecordedEvent.from_row(row))
                except (EventDecodeError, ValueError) as e:
                    problem = row[0], f"undecodable event: {e}"
            if problem is not None:
                return Problem(*problem), batch
            if row[8] == self.kept:
                self.kept_at = row[0]
        return None, batch


#: How many times verify walks on, in short transactions, to where the log
#: has grown since it began, before it walks the rest in its last one.
_CHASES = 3


def _head(db: Db, src: str) -> int:
    return db.execute(f"SELECT coalesce(max(position), 0) FROM {src}events").fetchone()[0]


def _check(store: VerifiedStore, s: Scratch, progress, kept,
           batch_size) -> tuple[VerifyReport, Problem | None]:
    """The report, and the problem that breaks the chain (None: it is whole).

    In short transactions: the log walked up to where it ended at the
    start, each fresh view folded on the way up to where its view stood
    then, and again up to where the log has grown meanwhile (a few times,
    while it grows); then, in one, the few events appended since, each fresh
    view brought to where its view stands now, and the comparisons; then
    each session against its fold, a group of sessions at a time."""
    names = tuple(store.runner.projections)
    chosen = list(store.runner.projections.values())
    db, src = s.db, s.src
    walk = _Walk(kept)
    token = secrets.token_hex(4)
    fresh = {p.name: {t: f"{t}__verify_{token}" for t in p.tables} for p in chosen}
    with s.step():
        head = _head(db, src)
        marks = read_checkpoints(db, src)
        s.freeze_keys()
        for p in chosen:
            p.create(db, fresh[p.name])
    sql = chainlib.ROWS.format(schema=src)

    def report(problems, sessions=0, **more) -> VerifyReport:
        return VerifyReport(walk.chain.count, len(walk.chain.streams), sessions, names,
                            tuple(problems), last_position=walk.chain.count, **more)

    folded = dict.fromkeys(fresh, 0)  # where each fresh view stands
    for _ in range(_CHASES + 1):  # the start, then what was appended meanwhile
        while walk.chain.count < head:
            with s.step():
                rows = db.execute(sql, (walk.chain.count, head, head, batch_size)).fetchall()
                if not rows:
                    break
                problem, batch = walk.feed(rows)
                if problem is not None:
                    return report([problem]), problem
                _fold_on(s, chosen, fresh, folded, marks, batch)
            if progress:
                progress(len(rows))
        with s.step():
            head, marks = _head(db, src), read_checkpoints(db, src)
            s.add_new_keys()  # of sessions and users created meanwhile
        if head - walk.chain.count <= batch_size and all(
                marks.get(n, 0) - folded[n] <= batch_size for n in folded):
            break
    with s.step():
        end = _head(db, src)
        now = read_checkpoints(db, src)
        s.add_new_keys()
        last = walk.chain.count
        while True:  # the few appended since the last chase
            rows = db.execute(sql, (walk.chain.count, end, end, batch_size)).fetchall()
            if not rows:
                break
            problem, _ = walk.feed(rows)
            if problem is not None:
                return report([problem]), problem
        problems = (_log_problems(db, src, walk.chain.count) if s.schema
                    else _pg_log_problems(db))
        broken = problems[0] if problems and problems[0].position is not None else None
        if kept is not None and walk.kept_at is None:
            problems.append(Problem(None, (
                f"the kept hash {kept[:16]}... is not in the log: events up to it were removed "
                f"or rewritten (the log now ends at position {walk.chain.count})")))
        if problems:
            return report(problems), broken
        for p in chosen:
            _fold_up(s, p, fresh[p.name], folded[p.name], now.get(p.name, 0), batch_size)
            problems += _compare(db, s.schema, p, fresh[p.name])
        notes = tuple(_describe(n) for n in chainlib.read_notes(db.conn, s.schema)
                      if n["kind"] != chainlib.INTACT)
    if progress and walk.chain.count > last:
        progress(walk.chain.count - last)
    sessions, wrong = _check_sessions(s, walk.chain.streams)
    return report(wrong + problems, sessions, last_hash=walk.chain.last_hash,
                  kept_position=walk.kept_at, notes=notes), None


def _fold_on(s: Scratch, chosen, fresh, folded: dict[str, int], marks: dict[str, int],
             batch: list[RecordedEvent]) -> None:
    """The events of a batch of the walk applied to each fresh view that
    stands just before them, up to where its view stood (`marks`); one left
    behind (its view moved back, or jumped ahead of the walk) is brought up
    in the last step (`_fold_up`)."""
    if not batch:
        return
    first, opened = batch[0].position, False
    for p in chosen:
        done, upto = folded[p.name], marks.get(p.name, 0)
        if done < first - 1 or upto <= done:
            continue
        if not opened:
            batch, opened = s.reader.log.reveal(batch), True
        mine = [e for e in batch if done < e.position <= upto]
        if mine:
            p.apply(s.db, mine, fresh[p.name])
            folded[p.name] = mine[-1].position


def _fold_up(s: Scratch, p, fresh, done: int, upto: int, batch_size: int) -> None:
    """Inside the last step: p's fresh tables, folded up to `done`, brought
    to `upto` (folded again from the start when p's view went back: a
    rebuild while verify ran)."""
    if upto < done:
        for t in fresh.values():
            s.db.execute(f"DROP TABLE {s.db.q(t)}")
        p.create(s.db, fresh)
        done = 0
    if upto > done:
        for batch in s.reader.log.read_batches(done + 1, batch_size=batch_size,
                                               to_position=upto):
            p.apply(s.db, batch, fresh)


def _log_problems(db: Db, src: str, count: int) -> list[Problem]:
    """What the walk cannot see: a deleted tail (only layout 1, whose
    AUTOINCREMENT remembered the positions handed out: in layout 2 only a kept
    last hash shows it), a repeated event id, and missing triggers."""
    problems = []
    has_seq = db.execute(f"SELECT 1 FROM {src}sqlite_master WHERE name = "
                         "'sqlite_sequence'").fetchone()
    seq = has_seq and db.execute(
        f"SELECT seq FROM {src}sqlite_sequence WHERE name = 'events'").fetchone()
    if seq and seq[0] > count:
        problems.append(Problem(count + 1, f"the last {seq[0] - count} event(s) were deleted "
                                           f"(positions up to {seq[0]} were handed out)"))
    # Layout 2 does not index event_id (only caller-given idempotency keys):
    # a copied row shows here as a repeated id.
    dup = db.execute(
        f"SELECT event_id, max(position) FROM {src}events GROUP BY event_id "
        "HAVING count(*) > 1 ORDER BY max(position) LIMIT 1").fetchone()
    if dup:
        problems.append(Problem(dup[1], f"event id {dup[0]} is recorded more than once"))
    triggers = {r[0] for r in db.execute(
        f"SELECT name FROM {src}sqlite_master WHERE type = 'trigger' "
        "AND tbl_name = 'events'")}
    if not set(TRIGGERS) <= triggers:
        problems.append(Problem(None, "the append-only triggers on events are missing "
                                      "(`sessionlog repair-triggers` reinstalls them)"))
    return problems


def _pg_log_problems(db: Db) -> list[Problem]:
    """`_log_problems` on PostgreSQL: a repeated event id, missing triggers."""
    problems = []
    dup = db.execute(
        "SELECT event_id, max(position) FROM events GROUP BY event_id "
        "HAVING count(*) > 1 ORDER BY max(position) LIMIT 1").fetchone()
    if dup:
        problems.append(Problem(dup[1], f"event id {dup[0]} is recorded more than once"))
    triggers = {r[0] for r in db.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('events') "
        "AND NOT tgisinternal AND tgenabled <> 'D'")}
    if not {*TRIGGERS, "events_no_truncate"} <= triggers:
        problems.append(Problem(None, "the append-only triggers on events are missing "
                                      "(`sessionlog repair-triggers` reinstalls them)"))
    return problems


#: How many streams `_check_sessions` compares with their fold in one
#: short transaction.
GROUP = 100


def _check_sessions(s: Scratch, streams) -> tuple[int, list[Problem]]:
    """The session views, read as users read them, equal the pure fold of
    each stream, a group of streams per short transaction (in which the
    sessions view must stand at the log's end)."""
    streams, reader, live = list(streams), s.reader, 0
    for first in range(0, len(streams), GROUP):
        with s.step() as db:
            upto, end = read_checkpoints(db, s.src).get("sessions", 0), _head(db, s.src)
            if upto != end:
                return 0, [Problem(None, f"the sessions view is at position {upto} of {end} "
                                         "(`sessionlog catch-up` applies the rest)")]
            for stream in streams[first:first + GROUP]:
                events = reader.log.read_stream(stream)
                if stream.startswith("state:"):  # a tenant's or user's state
                    state: dict = {}
                    for e in events:
                        state = fold_scope(state, e)
                    owner = events[-1].event
                    if state != reader.get_state(owner.tenant_id, owner.user_id):
                        return live, [Problem(events[-1].position,
                                              f"{stream}: the state view differs from the fold")]
                    continue
                if stream.startswith("erasure:"):  # a SubjectErased: no view of its own
                    continue
                folded = fold_all(events)
                if folded != reader.get(stream):
                    return live, [Problem(events[-1].position, f"session {stream}: the "
                                          "sessions view differs from the fold")]
                live += folded is not None
    return live, []


def _compare(db: Db, schema: str | None, p, fresh) -> list[Problem]:
    """Each of p's tables equals its fresh copy (folded up to p's checkpoint)."""
    problems = []
    for t in p.tables:
        cols, live, new = "*", db.q(t), db.q(fresh[t])
        if schema:  # SQLite: the store's file is `schema`, the fresh tables are in main
            live, new = f"{db.q(schema)}.{live}", f"main.{new}"
            row = db.execute(f"SELECT sql FROM {db.q(schema)}.sqlite_master WHERE name = ?",
                             (t,)).fetchone()
            if row and row[0].upper().startswith("CREATE VIRTUAL"):
                cols = "rowid, *"
        try:
            diff = db.execute(
                f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM {live} EXCEPT "
                f"SELECT {cols} FROM {new}) a), (SELECT count(*) FROM (SELECT {cols} FROM "
                f"{new} EXCEPT SELECT {cols} FROM {live}) b)"
            ).fetchone()
        except sqlite3.DatabaseError as e:
            problems.append(Problem(None, f"projection {p.name}: table {t} cannot be read ({e}); "
                                          f"`sessionlog rebuild {p.name}` rebuilds it"))
            continue
        if any(diff):
            problems.append(Problem(
                None, f"projection {p.name}: table {t} differs from a fresh fold "
                      f"({diff[0]} row(s) only in the view, {diff[1]} only in the fold)"))
    return problems


def _fts_integrity(store: VerifiedStore) -> tuple[list[Problem], str | None]:
    """SQLite's FTS5 `integrity-check` on every full-text table of the
    projections (the index against its content). It is an INSERT, so it runs
    in a short write transaction that changes nothing."""
    if store.runner.dialect.name != "sqlite":
        return [], None
    tables = [t for p in store.runner.projections.values() for t in p.tables]
    try:
        if store.log.read_only:
            raise ReadOnlyError(store.log.path)
        with store.log.transaction() as conn:
            fts = [t for t in tables if conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = ? AND sql LIKE 'CREATE VIRTUAL%' "
                "AND lower(sql) LIKE '%using fts5%'", (t,)).fetchone()]
            problems = []
            for t in fts:
                try:
                    conn.execute(f"INSERT INTO [{t}]([{t}]) VALUES ('integrity-check')")
                except sqlite3.DatabaseError as e:
                    if getattr(e, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY:
                        raise ReadOnlyError(store.log.path) from e  # a file opened before its mount
                    problems.append(Problem(None, (
                        f"full-text table {t} fails the FTS5 integrity-check ({e}); "
                        "`sessionlog rebuild` rebuilds it")))
            return problems, None
    except ReadOnlyError:
        return [], "read-only file: the FTS5 integrity-check needs a write lock and was skipped"


def _record(store: VerifiedStore, broken: Problem | None, last: int) -> None:
    """Note a broken chain (writes refuse from then on), or that it is whole
    again; nothing when the notes already say so."""
    if broken is not None:
        if broken.position is not None:  # a break is always at a position
            store.log.record_break(broken.position, f"verify: {broken.what}")
    else:
        store.log.record_intact(last, "verify: the whole chain is intact again")


def _describe(note: dict) -> str:
    at = note["recorded_at"][:19].replace("T", " ")
    where = f" at position {note['position']}" if note["position"] is not None else ""
    return f"{note['kind'].replace('_', ' ')}{where} on {at} UTC: {note['detail']}"
