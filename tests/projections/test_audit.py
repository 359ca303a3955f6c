"""Replay and the audit trail: the log, folded up to any position or moment,
gives the state the reference store had at that step."""

from __future__ import annotations

import uuid

from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import id_texts, messages, short_texts

from projections import InMemorySessionStore, SessionNotFoundError

ops = st.lists(st.one_of(
    st.tuples(st.just("create"), st.one_of(st.none(), short_texts)),
    st.tuples(st.just("create_with_user"), id_texts),
    st.tuples(st.just("add"), st.integers(0, 5), messages),
    st.tuples(st.just("delete"), st.integers(0, 5)),
), min_size=1, max_size=25)


def shape(session):
    return None if session is None else (
        session.title, session.messages, session.user_id, session.tenant_id)


def test_replay_at_every_position_equals_the_reference_at_that_step(fresh_store, opened_on):
    """On every backend (fewer examples where each opens a new database)."""

    @settings(max_examples=examples(opened_on, 40), deadline=None)
    @given(history=ops)
    def check(history):
        model, real = InMemorySessionStore(), fresh_store()
        pairs: list[tuple[uuid.UUID, uuid.UUID]] = []  # (model id, real id)
        snapshots = []  # (position after the step, {real id: reference shape})
        for op in history:
            if op[0] == "create":
                pairs.append((model.create(op[1]).id, real.create(op[1]).id))
            elif op[0] == "create_with_user":
                pairs.append((model.create_with_user(None, op[1], "acme").id,
                              real.create_with_user(None, op[1], "acme").id))
            elif pairs and op[0] == "add":
                m_id, r_id = pairs[op[1] % len(pairs)]
                for store, sid in ((model, m_id), (real, r_id)):
                    try:
                        store.add_message(sid, op[2])
                    except SessionNotFoundError:
                        pass
            elif pairs and op[0] == "delete":
                m_id, r_id = pairs[op[1] % len(pairs)]
                assert model.delete(m_id) == real.delete(r_id)
            snapshots.append((real.log.last_position(),
                              {r: shape(model.get(m)) for m, r in pairs}))
        for position, expected in snapshots:
            for real_id, reference in expected.items():
                assert shape(real.replay(real_id, position)) == reference
        for _, real_id in pairs:
            for event in real.history(real_id):
                same_moment = [e.position for e in real.log.read_all() if e.recorded_at <= event.recorded_at]
                assert real.replay(real_id, event.recorded_at) == real.replay(real_id, max(same_moment))
        real.close()

    check()


def test_history_keeps_deleted_sessions_and_says_where_writes_came_from(open_store):
    with open_store(source="support-bot") as store:
        s = store.create_with_user("t", "alice", "acme")
        store.delete(s.id)
        trail = store.history(s.id)
        assert [e.type for e in trail] == ["SessionCreated", "SessionDeleted"]
        assert trail[1].metadata == {"source": "support-bot", "user_id": "alice",
                                     "tenant_id": "acme"}
        assert store.history(uuid.uuid4()) == []


def test_replay_before_creation_is_none(open_store):
    with open_store() as store:
        store.create("earlier")
        s = store.create("later")
        assert store.replay(s.id, 1) is None
        assert store.replay(s.id, 2).title == "later"
