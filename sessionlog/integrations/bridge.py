"""The one sync-to-async bridge of the framework adapters: the store's calls
are synchronous (SQLite or PostgreSQL I/O), the frameworks' are coroutines,
so each adapter runs its store work through `in_thread` and the event loop
never waits on the database; a write that must not be left half-known when
the caller is cancelled goes through `settled` as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["in_thread", "settled"]

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a worker thread (`asyncio.to_thread`, so the
    caller's context variables go with it), its result or exception returned
    to the event loop. A cancelled caller stops waiting; the thread still
    finishes the call, so a write may land."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def settled(call: Coroutine[Any, Any, T]) -> T:
    """Await `call` (typically `in_thread(...)` of a write) to its outcome even
    if the caller is cancelled meanwhile, so a write is never left
    half-known; then the cancellation is raised (the outcome dropped).

    Unlike `asyncio.shield`, the caller does not return before the write is
    done: whoever cancelled can rely on the log being settled."""
    task = asyncio.ensure_future(call)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError as e:
            cancelled = cancelled or e
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller sees
        raise cancelled
    return task.result()
