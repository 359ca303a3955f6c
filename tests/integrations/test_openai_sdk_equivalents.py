"""What the SDK's compaction tests that reach into SQLiteSession's internals show
(tests/integrations/openai_sdk_0_24, `NOT_OURS`), shown on `EventSourcedSession`
through its store's public writes instead: the same steps and assertions, with
the SDK's hold on a SQLite commit (`_insert_items`, `_get_connection`, a
trigger on `agent_messages`) replaced by a hold on `store.replace_last`,
`pop_items` or `clear`. On every backend a session can be reopened on."""

from __future__ import annotations

import asyncio
import os
import threading
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("agents", reason="openai-agents not installed (pip install -e '.[test]')")

from agents import Agent, RunConfig, Runner
from agents.extensions.memory.encrypt_session import EncryptedSession
from agents.memory import OpenAIResponsesCompactionSession
from agents.testing import ScriptedModel, assistant_message
from cryptography.fernet import InvalidToken

from eventlog import StorageError
from sessionlog.integrations.openai_agents import EventSourcedSession

SUMMARY = {"type": "compaction", "id": "cmp", "encrypted_content": "synthetic"}


def run(coro):
    return asyncio.run(coro)


class Hold:
    """Wraps a store write: the first call whose `when(args)` holds does the
    write, says so (`done`), waits for `release`, then returns or raises
    `error`."""

    def __init__(self, store, name: str, when=lambda args: True, error: Exception | None = None,
                 before: bool = False) -> None:
        self.write, self.when, self.error, self.before = getattr(store, name), when, error, before
        self.done, self.release = threading.Event(), threading.Event()
        self.held = False
        setattr(store, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.held or not self.when(args):
            return self.write(*args, **kwargs)
        self.held = True
        if self.before and self.error is not None:
            raise self.error  # the write fails: nothing written
        result = self.write(*args, **kwargs)
        self.done.set()
        assert self.release.wait(10)
        if self.error is not None:
            raise self.error
        return result


def _compacts(items) -> bool:
    return any(getattr(i, "data", i).get("type") == "compaction" for i in items)


async def _compacting(store):
    """Four user items in session "suffix", and a compaction session over it
    whose (mocked) client answers SUMMARY and which compacts on every turn."""
    backend = EventSourcedSession("suffix", store=store, session_settings={"limit": 20})
    original = [{"role": "user", "content": str(i)} for i in range(4)]
    await backend.add_items(original)
    client = MagicMock()
    client.responses.compact = AsyncMock(return_value=SimpleNamespace(output=[SUMMARY]))
    session = OpenAIResponsesCompactionSession(
        "suffix", backend, client=client, compaction_mode="input",
        should_trigger_compaction=lambda _: True)
    return backend, original, client, session


def _runner(session, config: RunConfig | None = None):
    return Runner.run(Agent(name="worker", model=ScriptedModel(steps=[[assistant_message("done")]])),
                      "continue", session=session, run_config=config)


def test_failed_compaction_write_keeps_history(target, open_store):
    """test_suffix_transaction_rolls_back_failed_insert: the compaction's write
    fails; the run raises that error and the history is as it was."""
    async def body():
        store = open_store()
        Hold(store, "replace_last", when=lambda a: _compacts(a[2]),
             error=StorageError("synthetic insert failure"), before=True)
        backend, original, client, session = await _compacting(store)
        with pytest.raises(StorageError, match="synthetic insert failure"):
            await _runner(session, RunConfig(session_settings={"limit": 1}))
        client.responses.compact.assert_awaited_once()
        return await backend.get_items(limit=100), original
    items, original = run(body())
    assert items == original + [{"role": "user", "content": "continue"},
                                assistant_message("done").model_dump(exclude_unset=True)]


def test_cancelled_compaction_settles_before_newer_append(target, open_store):
    """test_cancelled_suffix_transaction_settles_before_newer_append: a run
    cancelled while its compaction writes still lands that write, and an
    append made meanwhile waits for it and comes after it."""
    async def body():
        store = open_store()
        hold = Hold(store, "replace_last", when=lambda a: _compacts(a[2]))
        backend, original, _, session = await _compacting(store)
        work = asyncio.create_task(_runner(session, RunConfig(session_settings={"limit": 1})))
        newer = {"role": "user", "content": "newer"}
        try:
            assert await asyncio.to_thread(hold.done.wait, 10)
            work.cancel()
            append = asyncio.create_task(session.add_items([newer]))
            await asyncio.sleep(0)
            work.cancel()
            await asyncio.sleep(0)
            assert not append.done()
            hold.release.set()
            results = await asyncio.gather(work, append, return_exceptions=True)
        finally:
            hold.release.set()
        assert isinstance(results[0], asyncio.CancelledError)
        assert results[1] is None
        return await backend.get_items(limit=100), original, newer
    items, original, newer = run(body())
    assert items == original[:-1] + [SUMMARY, newer]


@pytest.mark.parametrize("outcome", ["cancelled", "error"])
@pytest.mark.parametrize("write", ["pop_items", "clear"])
def test_settled_failure_invalidates_response_chain(target, open_store, write, outcome):
    """test_settled_pop/clear_failure_invalidates_response_chain: a pop or a
    clear that is written, then cancelled or failing on its way back, still
    counts: the history is as written and the deferred response chain is
    dropped (the next compaction needs a new response_id)."""
    async def body():
        store = open_store()
        underlying = EventSourcedSession("settled", store=store)
        history = [{"role": "user", "content": "keep me"},
                   {"role": "assistant", "content": "remove me"}]
        await underlying.add_items(history)
        hold = Hold(store, write, error=RuntimeError("commit acknowledgement failed")
                    if outcome == "error" else None)
        client = MagicMock()
        client.responses.compact = AsyncMock(return_value=SimpleNamespace(output=[], usage=None))
        session = OpenAIResponsesCompactionSession(
            session_id="settled", underlying_session=underlying, client=client,
            compaction_mode="previous_response_id", should_trigger_compaction=lambda ctx: False)
        await session.run_compaction({"response_id": "resp-old", "store": False})
        session.should_trigger_compaction = lambda ctx: True
        await session._defer_compaction("resp-old")
        mutation = asyncio.create_task(
            session.pop_item() if write == "pop_items" else session.clear_session())
        try:
            assert await asyncio.to_thread(hold.done.wait, 10)
            if outcome == "cancelled":
                mutation.cancel()
            hold.release.set()
            if outcome == "cancelled":
                with pytest.raises(asyncio.CancelledError):
                    await mutation
            else:
                with pytest.raises(RuntimeError, match="commit acknowledgement failed"):
                    await mutation
        finally:
            hold.release.set()
            await asyncio.gather(mutation, return_exceptions=True)
        left = history[:1] if write == "pop_items" else []
        assert await session.get_items() == left
        assert await underlying.get_items() == left
        with pytest.raises(ValueError, match="requires a response_id"):
            await session.run_compaction({"force": True})
        client.responses.compact.assert_not_awaited()
        await session.run_compaction({"response_id": "resp-new", "force": True})
        return client.responses.compact.await_args.kwargs["previous_response_id"]
    assert run(body()) == "resp-new"


@pytest.mark.parametrize("operation", ["append", "clear"])
def test_wrong_key_pop_beside_a_writer(target, open_store, operation):
    """test_encrypted_pop_authentication_is_atomic_with_concurrent_mutations:
    while a wrong-key pop checks its item, another store on the same database
    appends or clears; the pop raises InvalidToken and removes nothing, the
    other write stands."""
    async def body():
        correct = EncryptedSession("s", EventSourcedSession("s", store=open_store()), "correct-key")
        wrong = EncryptedSession("s", EventSourcedSession("s", store=open_store()), "wrong-key")
        writer = EncryptedSession("s", EventSourcedSession("s", store=open_store()), "correct-key")
        entered, release = threading.Event(), threading.Event()
        authenticate = wrong.cipher.extract_timestamp

        def paused(token: bytes) -> int:
            entered.set()
            assert release.wait(10)
            return authenticate(token)
        wrong.cipher.extract_timestamp = paused  # type: ignore[method-assign]
        saved = {"role": "user", "content": "saved"}
        newer = {"role": "assistant", "content": "newer"}
        await correct.add_items([saved])
        pop = asyncio.create_task(wrong.pop_item())
        try:
            assert await asyncio.to_thread(entered.wait, 10)
            if operation == "append":
                await writer.add_items([newer])
            else:
                await writer.clear_session()
            release.set()
            with pytest.raises(InvalidToken):
                await pop
        finally:
            release.set()
            await asyncio.gather(pop, return_exceptions=True)
        return await correct.get_items(), [saved, newer] if operation == "append" else []
    got, want = run(body())
    assert got == want
