"""Tamper evidence: recompute the hash chain, check positions and versions,
and prove every projection equals a fresh fold of the log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from eventlog import EventDecodeError, ReadOnlyError
from eventlog.codec import GENESIS_HASH, chain_hash, decode_event

from .fold import fold_all

if TYPE_CHECKING:
    from .eventsourced import EventSourcedSessionStore

_ROWS = (
    "SELECT position, event_id, stream_id, version, type, schema_version, data, metadata, "
    "recorded_at, hash FROM events WHERE position > ? ORDER BY position LIMIT ?"
)


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
    #: The hash of the last event: keep it elsewhere to detect a rewrite of
    #: the whole chain after it.
    last_hash: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line for people."""
        if self.ok and self.note:
            return (
                f"ok: {self.events} events in {self.streams} streams; hash chain intact, "
                f"positions gapless, versions contiguous; {self.sessions} live sessions; "
                f"the session views equal the fold ({self.note})"
            )
        if self.ok:
            return (
                f"ok: {self.events} events in {self.streams} streams; hash chain intact, "
                f"positions gapless, versions contiguous; {self.sessions} live sessions; "
                f"projections {', '.join(self.projections)} equal a fresh fold"
            )
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
        return f"FAILED: {first}{more}"


def check_chain(conn, progress: Callable[[int], None] | None = None, batch_size: int = 5000):
    """Walk the log in position order. Returns (events, streams, problems,
    hash of the last event); stops at the first broken link, since nothing
    after it can be trusted."""
    expected, prev_hash, prev_at = 1, GENESIS_HASH, ""
    versions: dict[str, int] = {}
    count = 0
    while True:
        rows = conn.execute(_ROWS, (expected - 1, batch_size)).fetchall()
        if not rows:
            break
        for pos, eid, stream, ver, typ, sv, data, meta, at, stored in rows:
            if pos != expected:
                what = (f"position gap: expected {expected}, found {pos} "
                        f"({pos - expected} event(s) deleted)")
                return count, len(versions), [Problem(expected, what)], None
            try:
                computed = chain_hash(prev_hash, pos, eid, stream, ver, typ, sv, data, meta, at)
            except (ValueError, TypeError) as e:
                return count, len(versions), [Problem(pos, f"unreadable row: {e}")], None
            if computed != stored:
                return count, len(versions), [Problem(
                    pos, "hash mismatch: this row was altered, or rows before it were "
                         "removed or reordered")], None
            want = versions.get(stream, 0) + 1
            if ver != want:
                return count, len(versions), [Problem(
                    pos, f"stream {stream} jumps from version {want - 1} to {ver}")], None
            if at < prev_at:
                return count, len(versions), [Problem(pos, "recorded_at goes back in time")], None
            try:
                decode_event(typ, json.loads(data), sv)
            except (EventDecodeError, ValueError) as e:
                return count, len(versions), [Problem(pos, f"undecodable event: {e}")], None
            versions[stream], prev_hash, prev_at = ver, stored, at
            expected += 1
            count += 1
        if progress:
            progress(len(rows))
    problems = []
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    if seq and seq[0] > count:
        problems.append(Problem(count + 1, f"the last {seq[0] - count} event(s) were deleted "
                                           f"(positions up to {seq[0]} were handed out)"))
    triggers = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")}
    if not {"events_no_update", "events_no_delete"} <= triggers:
        problems.append(Problem(None, "the append-only triggers on events are missing"))
    return count, len(versions), problems, (prev_hash if count else None)


def check_sessions(store: EventSourcedSessionStore) -> tuple[int, list[Problem]]:
    """The SQL session and tenant views equal the pure fold of each stream."""
    conn = store.log.connection
    with store.log.snapshot():
        streams = [r[0] for r in conn.execute("SELECT DISTINCT stream_id FROM events")]
        view_count = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
        tenants = set(conn.execute("SELECT session_id, tenant_id FROM tenant_sessions"))
    live, expected_tenants = 0, set()
    for stream in streams:
        events = store.log.read_stream(stream)
        folded = fold_all(events)
        shown = store.get(stream)
        if folded != shown:
            return live, [Problem(events[-1].position,
                                  f"session {stream}: the sessions view differs from the fold")]
        if folded is not None:
            live += 1
            if folded.tenant_id is not None:
                expected_tenants.add((stream, folded.tenant_id))
    problems = []
    if view_count != live:
        problems.append(Problem(None, f"the sessions view has {view_count} sessions, "
                                      f"the fold {live}"))
    if tenants != expected_tenants:
        problems.append(Problem(None, "the tenant index differs from the fold"))
    return live, problems


def compare_fresh(runner, conn, chosen, fresh, last) -> list[Problem]:
    """Inside the final transaction of a fresh build: bring each live
    projection up to `last`, then compare every table with its fresh copy."""
    problems = []
    for p in chosen:
        runner.advance(conn, p)
        for t in p.tables:
            f = fresh[p.name][t]
            cols = "rowid, *" if _is_virtual(conn, t) else "*"
            diff = conn.execute(
                f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM [{t}] EXCEPT "
                f"SELECT {cols} FROM [{f}])), (SELECT count(*) FROM (SELECT {cols} FROM [{f}] "
                f"EXCEPT SELECT {cols} FROM [{t}]))"
            ).fetchone()
            if any(diff):
                problems.append(Problem(
                    None, f"projection {p.name}: table {t} differs from a fresh fold "
                          f"({diff[0]} row(s) only in the view, {diff[1]} only in the fold)"))
    return problems


def _is_virtual(conn, table: str) -> bool:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    return bool(row and row[0].upper().startswith("CREATE VIRTUAL"))


def verify(store: EventSourcedSessionStore, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check the log and every projection. Reads only; the fresh copies it
    folds for comparison are dropped before it returns."""
    names = tuple(store.runner.projections)
    with store.log.snapshot() as conn:
        events, streams, problems, last_hash = check_chain(conn, progress)
    if problems:
        return VerifyReport(events, streams, 0, names, tuple(problems))
    sessions, problems = check_sessions(store)
    note = None
    if not problems:
        try:
            _, problems = store.runner.build_fresh(
                None, lambda conn, chosen, fresh, last: compare_fresh(store.runner, conn, chosen,
                                                                      fresh, last),
                progress=progress,
            )
        except ReadOnlyError:
            note = "read-only file: no fresh fold of every projection was built"
    return VerifyReport(events, streams, sessions, names, tuple(problems), note, last_hash)
