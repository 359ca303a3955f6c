"""The async half of `EventSourcedCheckpointSaver` (`langgraph`): each
method runs its sync twin in a worker thread (`bridge.in_thread`), so the
event loop never waits on the database; writes are `settled`, so a
cancelled caller never leaves one half-known. And `from_conn_string`'s
opener, a sync and an async context manager as LangGraph's savers have.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)

from .bridge import in_thread, settled

__all__ = ["AsyncMethods", "Opening"]


class _Sync(Protocol):
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None: ...
    def list(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
             before: RunnableConfig | None = None,
             limit: int | None = None) -> Iterator[CheckpointTuple]: ...
    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig: ...
    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                   task_id: str, task_path: str = "") -> None: ...
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
        """`put_writes`, without blocking the event loop."""
        await settled(in_thread(self.put_writes, config, builtins.list(writes), task_id,
                                task_path))

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

