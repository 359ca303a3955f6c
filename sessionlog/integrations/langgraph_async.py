"""The async half of `EventSourcedCheckpointSaver` (`langgraph`): each
method runs its sync twin in a worker thread (`bridge.in_thread`), so the
event loop never waits on the database; writes are `settled`, so a
cancelled caller never leaves one half-known. `Landings`, what a task's
writes wait on until their checkpoint is stored (in a thread or on the
event loop). And `from_conn_string`'s opener, a sync and an async context
manager as LangGraph's savers have.
"""

from __future__ import annotations

import asyncio
import builtins
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)

from .bridge import in_thread, settled
from .langgraph_codec import snapshot

__all__ = ["WAIT", "AsyncMethods", "Landings", "Numbered", "Opening", "numbered_writes"]

# How long (seconds) a task's writes holding new messages wait for their
# checkpoint to be stored (see `Landings`); then they keep their messages whole.
WAIT = 2.0

Numbered = tuple[int, str, Any]  # a write: its index, channel and value


def numbered_writes(writes: Sequence[tuple[str, Any]]) -> builtins.list[Numbered]:
    """A task's writes with their indexes (a special channel's fixed one),
    each value a copy taken now (LangGraph may change the messages in place
    while a background save reads them)."""
    return [(WRITES_IDX_MAP.get(channel, i), channel, snapshot(value))
            for i, (channel, value) in enumerate(writes)]


class Landings:
    """A count of the checkpoints the saver stored, bumped by each `put`:
    a task's writes that hold new messages wait on it (bounded) while their
    checkpoint is not stored yet (LangGraph saves in background threads, so
    a task's writes can come before its checkpoint): stored after it, their
    messages become items in the conversation's order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def mark(self) -> None:
        """A checkpoint was stored: wake every waiter."""
        with self._cond:
            self.count += 1
            self._cond.notify_all()
            futures, self._futures = self._futures, []
        for loop, fut in futures:
            try:
                loop.call_soon_threadsafe(_wake, fut)
            except RuntimeError:  # its loop is closed: nobody waits any more
                pass

    def wait_while(self, early: Callable[[], bool], timeout: float) -> None:
        """Return once `early()` is False (checked again after each
        checkpoint stored), or after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.count
            if not early():
                return
            with self._cond:
                while self.count == seen:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._cond.wait(left)

    async def await_while(self, early: Callable[[], Awaitable[bool]], timeout: float) -> None:
        """`wait_while` without blocking the event loop (`early` is awaited)."""
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        while True:
            seen = self.count
            if not await early():
                return
            fut: asyncio.Future[None] = loop.create_future()
            with self._cond:
                if self.count != seen:
                    continue
                self._futures.append((loop, fut))
            try:
                await asyncio.wait_for(fut, deadline - time.monotonic())
            except TimeoutError:
                return


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():  # not timed out meanwhile
        fut.set_result(None)


class _Sync(Protocol):
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None: ...
    def list(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
             before: RunnableConfig | None = None,
             limit: int | None = None) -> Iterator[CheckpointTuple]: ...
    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig: ...
    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                   task_id: str, task_path: str = "") -> None: ...
    _landings: Landings
    def _early(self, config: RunnableConfig, numbered: Sequence[Numbered]) -> bool: ...
    def _write(self, config: RunnableConfig, numbered: Sequence[Numbered], task_id: str,
               task_path: str) -> None: ...
    def delete_thread(self, thread_id: str) -> None: ...
    def delete_for_runs(self, run_ids: Sequence[str]) -> None: ...
    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None: ...
    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None: ...
    def get_delta_channel_history(self, *, config: RunnableConfig, channels: Sequence[str]
                                  ) -> Mapping[str, DeltaChannelHistory]: ...
    def close(self) -> None: ...


class AsyncMethods:
    """`aget_tuple`, `alist`, `aput`, `aput_writes`, `adelete_thread`,
    `adelete_for_runs`, `acopy_thread`, `aprune` over the sync methods."""

    async def aget_tuple(self: _Sync, config: RunnableConfig) -> CheckpointTuple | None:
        """`get_tuple`, without blocking the event loop."""
        return await in_thread(self.get_tuple, config)

    async def alist(self: _Sync, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None,
                    limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        """`list`, without blocking the event loop."""
        found = await in_thread(lambda: builtins.list(self.list(config, filter=filter,
                                                                before=before, limit=limit)))
        for tup in found:
            yield tup

    async def aput(self: _Sync, config: RunnableConfig, checkpoint: Checkpoint,
                   metadata: CheckpointMetadata, new_versions: ChannelVersions) -> RunnableConfig:
        """`put`, without blocking the event loop (settled if cancelled)."""
        return await settled(in_thread(self.put, config, checkpoint, metadata, new_versions))

    async def aput_writes(self: _Sync, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                          task_id: str, task_path: str = "") -> None:
        """`put_writes`, without blocking the event loop (nor a worker thread
        while the writes wait for their checkpoint)."""
        numbered = numbered_writes(writes)
        await self._landings.await_while(lambda: in_thread(self._early, config, numbered), WAIT)
        await settled(in_thread(self._write, config, numbered, task_id, task_path))

    async def aget_delta_channel_history(self: _Sync, *, config: RunnableConfig,
                                         channels: Sequence[str]
                                         ) -> Mapping[str, DeltaChannelHistory]:
        """`get_delta_channel_history`, without blocking the event loop."""
        return await in_thread(lambda: self.get_delta_channel_history(
            config=config, channels=builtins.list(channels)))

    async def adelete_thread(self: _Sync, thread_id: str) -> None:
        """`delete_thread`, without blocking the event loop."""
        await settled(in_thread(self.delete_thread, thread_id))

    async def adelete_for_runs(self: _Sync, run_ids: Sequence[str]) -> None:
        """`delete_for_runs`, without blocking the event loop."""
        await settled(in_thread(self.delete_for_runs, builtins.list(run_ids)))

    async def acopy_thread(self: _Sync, source_thread_id: str, target_thread_id: str) -> None:
        """`copy_thread`, without blocking the event loop."""
        await settled(in_thread(self.copy_thread, source_thread_id, target_thread_id))

    async def aprune(self: _Sync, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """`prune`, without blocking the event loop."""
        await settled(in_thread(lambda: self.prune(builtins.list(thread_ids), strategy=strategy)))



class Opening:
    """What `from_conn_string` returns: a sync and async context manager."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._saver: Any | None = None

    def __enter__(self) -> Any:
        self._saver = self._make()
        return self._saver

    def __exit__(self, *exc: object) -> None:
        if self._saver is not None:
            self._saver.close()

    async def __aenter__(self) -> Any:
        self._saver = await in_thread(self._make)
        return self._saver

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._saver is not None:
            await in_thread(self._saver.close)

