"""A hypothesis state machine drives the in-memory reference and the
event-sourced store with the same random operations; they must agree after
every step, and the event-sourced store's log must replay to its views."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from helpers import examples
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from strategies import id_texts, messages, short_texts

from projections import (
    EventSourcedSessionStore,
    InMemorySessionStore,
    SessionNotFoundError,
)


def shape(session):
    """A session without what each store picks for itself (id, created_at)."""
    return (session.title, session.messages, session.user_id, session.tenant_id)


class StoresAgree(RuleBasedStateMachine):
    ids = Bundle("ids")
    #: A store on a new, empty database for each run (the test's `fresh_store`).
    fresh: Callable[[], EventSourcedSessionStore] = staticmethod(  # type: ignore[assignment]
        lambda: EventSourcedSessionStore(":memory:"))

    def __init__(self):
        super().__init__()
        self.model = InMemorySessionStore()
        self.real = self.fresh()
        self.twin: dict[uuid.UUID, uuid.UUID] = {}  # model id -> real id

    @rule(target=ids, title=st.one_of(st.none(), short_texts))
    def create(self, title):
        m, r = self.model.create(title), self.real.create(title)
        assert shape(m) == shape(r)
        self.twin[m.id] = r.id
        return m.id

    @rule(target=ids, title=st.one_of(st.none(), short_texts), user=id_texts,
          tenant=st.sampled_from(["acme", "globex", ""]))
    def create_with_user(self, title, user, tenant):
        m, r = self.model.create_with_user(title, user, tenant), self.real.create_with_user(title, user, tenant)
        assert shape(m) == shape(r)
        self.twin[m.id] = r.id
        return m.id

    @rule(target=ids)
    def unknown_id(self):
        sid = uuid.uuid4()
        self.twin[sid] = sid
        return sid

    @rule(sid=ids, message=messages)
    def add_message(self, sid, message):
        outcomes = []
        for store, key in ((self.model, sid), (self.real, self.twin[sid])):
            try:
                store.add_message(key, message)
                outcomes.append("ok")
            except SessionNotFoundError:
                outcomes.append("missing")
        assert outcomes[0] == outcomes[1]

    @rule(sid=ids)
    def delete(self, sid):
        assert self.model.delete(sid) == self.real.delete(self.twin[sid])

    @rule(sid=ids)
    def get(self, sid):
        m, r = self.model.get(sid), self.real.get(self.twin[sid])
        assert (m is None) == (r is None)
        if m is not None:
            assert shape(m) == shape(r)

    @invariant()
    def lists_agree(self):
        assert [shape(s) for s in self.model.list()] == [shape(s) for s in self.real.list()]
        assert [self.twin[s.id] for s in self.model.list()] == [s.id for s in self.real.list()]
        for tenant in ("acme", "globex", ""):
            assert [shape(s) for s in self.model.list_for_tenant(tenant)] == [
                shape(s) for s in self.real.list_for_tenant(tenant)
            ]

    @invariant()
    def log_replays_to_the_views(self):
        for session in self.real.list():
            assert self.real.replay(session.id) == session

    def teardown(self):
        self.real.close()


def test_stores_agree(fresh_store, opened_on):
    """The same random operations on the reference and the event-sourced
    store, on each backend (a new database per run; fewer runs where that
    costs a file or a schema)."""

    class OnThisBackend(StoresAgree):
        fresh = staticmethod(fresh_store)

    run_state_machine_as_test(OnThisBackend, settings=settings(
        max_examples=examples(opened_on, 60), stateful_step_count=30, deadline=None))
