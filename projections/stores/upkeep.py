"""The upkeep of the event-sourced store: catch-up, rebuild, verify,
stats, erasure and compaction (what `sessionlog`'s maintenance commands
call). `EventSourcedSessionStore` is made of these, its reads and its writes.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from eventlog.backends.factory import shown
from eventlog.checks import to_uuid

from ..erasure import erase as erasure
from ..erasure.erase import Erasure
from ..runner import Progress
from ..verify import VerifyReport
from ..verify import verify as verify_store
from ..views import sessions as views
from .protocol import SessionId
from .reads import SessionReads
from .unit import UnitOfWork


class StoreUpkeep(SessionReads):
    """The upkeep methods of `EventSourcedSessionStore` (a base class of it)."""

    _unit: UnitOfWork


    def catch_up(self, names: Iterable[str] | None = None,
                 progress: Progress | None = None) -> dict[str, int]:
        """Apply the events after each projection's checkpoint (all
        projections, or the named ones); returns how many each applied."""
        try:
            return self.runner.catch_up(names, progress=progress)
        finally:
            self._forget()

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None,
                batch_size: int = 5000, *, force: bool = False) -> int:
        """Refold the named projections (default: all) from position 0 into
        fresh tables and swap them in atomically; returns the events folded.

        The hash chain is checked as the log is folded: a broken one raises
        `ChainBrokenError` and leaves the views as they were, unless `force`
        (then what the log holds is folded, unreadable rows left out, and the
        forced rebuild is recorded in the log's notes).
        """
        try:
            return self.runner.rebuild(names, progress=progress, batch_size=batch_size,
                                       force=force)
        finally:
            self._forget()

    def repair_triggers(self) -> builtins.list[str]:
        """Reinstall the append-only triggers on `events` if any was dropped,
        recording it in the log's notes (shown by `verify` and `stats`).
        Returns the names reinstalled ([]: none was missing)."""
        return self.log.repair_triggers()

    def verify(self, progress: Progress | None = None, *,
               expect_hash: str | None = None, record: bool = True) -> VerifyReport:
        """Recompute the hash chain, check positions and versions, and check
        each projection equals a fresh fold, as of where the log ended when
        it started, in short reads (writers go on meanwhile, and SQLite's WAL
        is not held; see `projections.verify`). See `VerifyReport.summary()`.

        Args:
            expect_hash: a `last_hash` kept from an earlier verify: the log
                must still hold that event at its position, unchanged.
            record: note a break found in the log (writes refuse from then
                on), or that the chain is whole again; False writes nothing.
        """
        return verify_store(self, progress, expect_hash, record=record)

    def stats(self) -> dict[str, Any]:
        """Counts, file size and checkpoints, for people and monitoring."""
        with self.runner.snapshot() as db:
            counts = db.execute(
                "SELECT (SELECT count(*) FROM events), "
                "(SELECT count(DISTINCT stream_id) FROM events), "
                "(SELECT count(*) FROM events WHERE type = 'SessionDeleted')"
            ).fetchone()
            sessions, items, messages = views.counts(db)
        last = self.log.last_position()
        size = self.log.file_bytes()
        return {
            "path": shown(self.log.path), "events": counts[0], "streams": counts[1],
            "sessions": sessions, "messages": messages, "items": items,
            "deleted_sessions": counts[2],
            "last_position": last, "file_bytes": size,
            "checkpoints": {name: {"position": pos, "behind": last - pos}
                            for name, pos in self.runner.checkpoints().items()},
            "unfinished_builds": self.runner.builds(),
            "notes": self.log.notes(),
            **erasure.stats(self._unit),
        }

    def erase(self, id: SessionId, *, reason: str | None = None,
              requested_by: str | None = None) -> Erasure:
        """Forget one session: destroy its data key (its text, title, items
        and state read as `[erased]` from then on), remove it from every view,
        and leave no plain copy in the file. The other sessions and the state
        of its user stay as they were. Appends a `SessionDeleted` (if it was
        live) and one `SubjectErased` (scope "session"). A second erase
        writes nothing (`Erasure.already`).

        Raises:
            ErasureError: a plain file, or a user's session written before
                sessions had keys of their own (it shares the user's key: use
                `erase_user`). Nothing written.
            SessionNotFoundError: no such session.
        """
        return erasure.erase_session(self._unit, to_uuid(id), reason=reason, requested_by=requested_by)

    def erase_user(self, user_id: str, tenant_id: str, *, reason: str | None = None,
                   requested_by: str | None = None) -> Erasure:
        """Forget a user of a tenant: every session of theirs and their user
        state, as `erase` does for one session (the same user id in another
        tenant is another person)."""
        return erasure.erase_user(self._unit, user_id, tenant_id, reason=reason,
                                  requested_by=requested_by)

    def compact(self) -> dict[str, int]:
        """Give back the space of failed or killed rebuilds: drop the tables
        of builds whose process is gone, then `EventLog.vacuum()`.

        Returns:
            tables_dropped, bytes_before, bytes_after (file and WAL).
        """
        before = self.log.file_bytes()
        dropped = self.runner.drop_leftovers()
        self.log.vacuum()
        return {"tables_dropped": dropped, "bytes_before": before,
                "bytes_after": self.log.file_bytes()}

    def _forget(self) -> None:
        """The views were rewritten: what was cached about them starts over."""
        self.log.forget_cached()
