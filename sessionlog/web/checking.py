"""`/verify` on demand: one run at a time in a thread of its own, with its
progress (events checked of the log's last position) for the page to show
while it runs, and the last report kept for the next visitor."""

from __future__ import annotations

import threading
import time

import attrs

from projections import EventSourcedSessionStore, VerifyReport

__all__ = ["Check", "Progress"]


@attrs.frozen
class Progress:
    """Where the run is: `running`, events `done` of `total`, the finished
    `report` (or the `error` that stopped it), and when it finished."""

    running: bool
    done: int
    total: int
    report: VerifyReport | None
    error: str | None
    finished_at: float | None


class Check:
    """The verify runs of one store."""

    def __init__(self, store: EventSourcedSessionStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._state = Progress(False, 0, 0, None, None, None)

    def progress(self) -> Progress:
        with self._lock:
            return self._state

    def start(self) -> None:
        """Start a run unless one is running."""
        with self._lock:
            if self._state.running:
                return
            total = self._store.log.last_position()
            self._state = Progress(True, 0, total, None, None, None)
        threading.Thread(target=self._run, name="sessionlog-verify", daemon=True).start()

    def _step(self, n: int) -> None:
        with self._lock:
            self._state = attrs.evolve(self._state, done=self._state.done + n)

    def _run(self) -> None:
        report, error = None, None
        try:
            report = self._store.verify(progress=self._step, record=False)  # a viewer writes nothing
        except Exception as e:  # shown on the page, as the CLI prints it
            error = f"{type(e).__name__}: {e}"
        with self._lock:
            self._state = attrs.evolve(self._state, running=False, report=report, error=error,
                                       finished_at=time.time())
