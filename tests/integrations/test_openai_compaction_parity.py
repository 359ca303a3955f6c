"""OpenAI Agents SDK compaction on `EventSourcedSession`, side by side with the
SDK's own `SQLiteSession` as the reference: same calls, same results (issue
19, item 17). The behaviours are those the SDK's compaction tests exercise
(tests/memory/test_compaction_suffix.py, test_compaction_model_visibility.py,
test_openai_responses_compaction_session.py, tests/extensions/memory/
test_encrypt_session.py of openai-agents 0.24): the suffix snapshot and its
replacement, expired encrypted items pruned from the front, a read limit on
the backend, and subclasses. Only the compaction API is faked (no network)."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from types import SimpleNamespace
from typing import Any

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("agents", reason="openai-agents not installed (pip install -e '.[test]')")

from agents import Agent, RunConfig, Runner
from agents.extensions.memory.encrypt_session import EncryptedSession
from agents.memory import OpenAIResponsesCompactionSession, SQLiteSession
from agents.testing import ScriptedModel, assistant_message

from sessionlog.integrations.openai_agents import EventSourcedSession

KINDS = ["sqlite", "ours"]
SUMMARY = {"type": "compaction", "id": "cmp", "encrypted_content": "synthetic"}


def run(coro):
    return asyncio.run(coro)


class FakeCompactClient:
    """The `client.responses.compact` the compaction session calls: returns
    `output`, records each call's keyword arguments."""

    def __init__(self, output: list[dict[str, Any]] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.output = output or []
        self.responses = SimpleNamespace(compact=self._compact)

    async def _compact(self, **kwargs: Any) -> SimpleNamespace:
        self.calls.append(kwargs)
        return SimpleNamespace(output=list(self.output))


def backend(kind: str, tmp_path, open_store=None, **kw):
    """The reference SQLiteSession, or ours (on this test's store if given)."""
    if kind == "sqlite":
        return SQLiteSession("s", tmp_path / "ref.db", **kw)
    if open_store is not None:
        return EventSourcedSession("s", store=open_store(), **kw)
    return EventSourcedSession("s", tmp_path / "ours.db", **kw)


@pytest.fixture
def clock(monkeypatch):
    """A settable `time.time` (Fernet stamps tokens with it, EncryptedSession
    checks their ttl against it)."""
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


async def _reply(session, prompt: str = "continue", config: RunConfig | None = None) -> None:
    model = ScriptedModel(steps=[[assistant_message("done")]])
    await Runner.run(Agent(name="worker", model=model), prompt, session=session, run_config=config)


# -- the snapshot hook itself: every case, both sessions -----------------------

async def _snapshot_case(session, n: int, limit: int, start: int, out: int,
                         expired_below: int | None, then: str | None):
    await session.add_items([{"role": "user", "content": f"m{i}"} for i in range(n)])
    prune = None if expired_below is None else (
        lambda item: int(item["content"][1:]) < expired_below)
    snapshot = await session._get_compaction_snapshot(limit, prune_prefix=prune)
    if then == "add":
        await session.add_items([{"role": "user", "content": "newer"}])
    elif then == "pop":
        await session.pop_item()
    replaced = await snapshot.replace_suffix(start, [SUMMARY] * out)
    return snapshot.items, snapshot.complete, replaced, await session.get_items()


def test_snapshot_and_replace_suffix_match_sqlite_session(open_store, tmp_path):
    """For histories of 0-5 items, read limits, suffix starts, expired
    prefixes, and a write between the read and the replacement (an add, a
    pop), the snapshot and `replace_suffix` give what SQLiteSession gives: a
    pop in between makes the replacement return False, not raise."""
    cases = itertools.product([0, 3], [1, 4], [0, 2], [1], [None, 2, 9], [None, "add", "pop"])
    store = open_store()
    for i, case in enumerate(cases):
        ref = SQLiteSession(f"s{i}", tmp_path / "ref.db")
        ours = EventSourcedSession(f"s{i}", store=store)
        want = run(_snapshot_case(ref, *case))
        ref.close()
        assert run(_snapshot_case(ours, *case)) == want, case


def test_pruned_items_stay_in_the_log(open_store):
    """Items pruned from the front leave the session but not the log: each
    is still an `ItemAdded` of the session's history."""
    store = open_store()
    ours = EventSourcedSession("s", store=store)
    run(_snapshot_case(ours, 5, 2, 0, 1, 2, None))
    assert run(ours.get_items()) == [{"role": "user", "content": "m2"}, SUMMARY]
    sid = store.get_by_key("s").id
    added = [r.data["data"]["content"] for r in store.history(sid) if r.type == "ItemAdded"
             and "content" in r.data["data"]]
    assert added[:5] == [f"m{i}" for i in range(5)]


# -- through the Runner ----------------------------------------------------------

@pytest.mark.parametrize("outer", [False, True], ids=["compaction-outside", "encryption-outside"])
@pytest.mark.parametrize("expired", [1, 40])
def test_expired_prefix_is_pruned_as_sqlite_session_does(outer, expired, clock, tmp_path):
    """EncryptedSession with a ttl over each backend: automatic compaction
    compacts the live suffix and the expired items before it leave the
    session, on ours as on SQLiteSession."""
    async def body(kind):
        store = backend(kind, tmp_path, session_settings={"limit": 20})
        client = FakeCompactClient()
        if outer:
            session = EncryptedSession("s", OpenAIResponsesCompactionSession(
                "s", store, client=client), encryption_key="synthetic-key", ttl=10)
        else:
            session = OpenAIResponsesCompactionSession(
                "s", EncryptedSession("s", store, encryption_key="synthetic-key", ttl=10),
                client=client)
        await session.add_items([{"role": "user", "content": "expired"}] * expired)
        clock[0] += 11
        await session.add_items([{"role": "assistant" if i % 2 else "user",
                                  "content": f"live {i}"} for i in range(20)])
        await _reply(session)
        inputs = [len(c.get("input", [])) for c in client.calls]
        rows = len(await store.get_items(limit=1000))
        store.close()
        return inputs, rows
    assert run(body("ours")) == run(body("sqlite"))


@pytest.mark.parametrize("approve", [False, True])
@pytest.mark.parametrize("encrypted", [False, True])
def test_bounded_backend_compacts_as_sqlite_session(approve, encrypted, clock, tmp_path):
    """A backend read limit of 1 and 100 stored items (expired ones when
    encrypted): the same compactions, the same rows left, on ours as on
    SQLiteSession."""
    async def body(kind):
        store = backend(kind, tmp_path, session_settings={"limit": 1})
        client = FakeCompactClient()
        session: Any = OpenAIResponsesCompactionSession(
            "s", store, client=client, compaction_mode="input",
            should_trigger_compaction=lambda _: approve)
        if encrypted:
            session = EncryptedSession("s", session, encryption_key="synthetic-key", ttl=10)
        await session.add_items([{"role": "user", "content": f"retained-{i}"} for i in range(100)])
        if encrypted:
            clock[0] += 11
            await session.add_items([{"role": "user", "content": "fresh tail"}])
        for prompt in ("first", "second"):
            await _reply(session, prompt)
        rows = await store.get_items(limit=1000)
        store.close()  # encrypted rows differ by their random IVs: their number
        return len(client.calls), len(rows) if encrypted else rows
    assert run(body("ours")) == run(body("sqlite"))


class Renamed(EventSourcedSession):
    """A subclass that changes nothing about items (as a test harness that
    swaps SQLiteSession for ours does)."""

    def __init__(self, session_id: str, db_path: Any = ":memory:", **kw: Any) -> None:
        super().__init__(session_id, db_path, **kw)


class Transforming(EventSourcedSession):
    """A subclass that changes what is read: the hooks must not bypass it."""

    async def get_items(self, limit: int | None = None) -> list:
        return [{**item, "seen": True} for item in await super().get_items(limit)]


def test_subclass_that_keeps_items_compacts_under_a_read_limit(tmp_path):
    """Under a backend read limit, partial compaction needs the snapshot hook:
    a subclass that does not change how items are read or written keeps it
    (compacting as SQLiteSession does), one that does gets none."""
    async def body(make):
        store = make()
        client = FakeCompactClient([SUMMARY])
        session = OpenAIResponsesCompactionSession(
            "s", store, client=client, compaction_mode="input",
            should_trigger_compaction=lambda _: True)
        await store.add_items([{"role": "user", "content": str(i)} for i in range(4)])
        await _reply(session, config=RunConfig(session_settings={"limit": 1}))
        rows = await store.get_items(limit=100)
        store.close()
        return len(client.calls), rows
    want = run(body(lambda: SQLiteSession("s", tmp_path / "ref.db")))
    assert want[0] == 1
    assert run(body(lambda: Renamed("s", tmp_path / "renamed.db"))) == want
    assert run(Transforming("s")._get_compaction_snapshot(3)) is None
    assert run(Transforming("s")._atomic_replace_items([])) is False


@pytest.mark.parametrize("max_rollback", [3, 10])
@pytest.mark.parametrize("manual", [False, True])
def test_max_rollback_items_as_sqlite_session(max_rollback, manual, tmp_path):
    """`max_rollback_items`: a manual compaction over budget raises and keeps
    the history, one within it replaces it; an automatic one uses the
    snapshot. The same on both."""
    async def body(kind):
        store = backend(kind, tmp_path)
        client = FakeCompactClient([SUMMARY])
        session = OpenAIResponsesCompactionSession(
            "s", store, client=client, compaction_mode="input",
            should_trigger_compaction=lambda _: True, max_rollback_items=max_rollback)
        await session.add_items([{"role": "user", "content": f"m{i}"} for i in range(5)])
        error = None
        try:
            if manual:
                await session.run_compaction({"force": True})
            else:
                await _reply(session)
        except ValueError as e:
            error = str(e)
        rows = await store.get_items()
        store.close()
        return len(client.calls), rows, error
    assert run(body("ours")) == run(body("sqlite"))


# -- EncryptedSession's validated pop (openai-agents >= 0.24) ---------------------

def test_wrong_key_pop_keeps_history_as_on_sqlite_session(open_store, tmp_path):
    """EncryptedSession with a wrong key: its pop raises InvalidToken and removes
    nothing, on ours as on SQLiteSession (the pop is validated before it removes)."""
    from cryptography.fernet import InvalidToken

    async def body(session):
        right = EncryptedSession("s", session, encryption_key="right-key")
        await right.add_items([{"role": "user", "content": "kept"}])
        with pytest.raises(InvalidToken):
            await EncryptedSession("s", session, encryption_key="wrong-key").pop_item()
        return await right.get_items()
    ref = SQLiteSession("s", tmp_path / "ref.db")
    assert run(body(ref)) == [{"role": "user", "content": "kept"}]
    ref.close()
    assert run(body(EventSourcedSession("s", store=open_store()))) == [
        {"role": "user", "content": "kept"}]


def test_sqlite_pop_is_shared_only_when_it_delegates(monkeypatch):
    """Ours shares SQLiteSession's pop_item only while that pop only calls
    `_pop_item_with_validation` (an older SDK's runs SQL of its own)."""
    from sessionlog.integrations import openai_agents

    assert openai_agents._sqlite_pop_delegates()
    assert isinstance(EventSourcedSession("s"), SQLiteSession)

    async def own_sql(self):
        self._check_not_closed()
        return None
    monkeypatch.setattr(SQLiteSession, "pop_item", own_sql)
    assert not openai_agents._sqlite_pop_delegates()


def test_validated_pop_beside_writers_that_never_let_up_gives_up(open_store):
    """A validated pop that loses to another write every time reads again a
    bounded number of times, then raises ConcurrencyError, having removed nothing."""
    from eventlog import ConcurrencyError

    store = open_store()
    session = EventSourcedSession("s", store=store)
    run(session.add_items([{"role": "user", "content": "kept"}]))
    checked = []

    def always_late(sid, count, *, expected_version):
        raise ConcurrencyError(str(sid), expected_version, expected_version + 1)
    store.pop_items = always_late
    with pytest.raises(ConcurrencyError):
        run(session._pop_item_with_validation(checked.append))
    del store.pop_items
    assert len(checked) > 1
    assert run(session.get_items()) == [{"role": "user", "content": "kept"}]
