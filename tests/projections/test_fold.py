"""The fold: pure, the same one event at a time or a stream at once, and
linear in the length of the stream."""

from __future__ import annotations

import copy
import importlib
import sys
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import item_roles, json_objects, texts, timestamps

from eventlog import (
    ItemAdded,
    ItemsRemoved,
    MessageAdded,
    ScopeStateChanged,
    SessionCleared,
    SessionCreated,
    SessionDeleted,
    SessionRole,
    StateChanged,
)
from projections import fold, fold_all

SID = uuid.UUID(int=7)
T0 = datetime(2026, 1, 1, tzinfo=UTC)

session_steps = st.one_of(
    st.builds(MessageAdded, st.just(SID), st.sampled_from(list(SessionRole)), texts, timestamps),
    st.builds(ItemAdded, st.just(SID), st.just("i"), item_roles, json_objects, timestamps,
              st.one_of(st.none(), texts)),
    st.builds(ItemsRemoved, st.just(SID), st.integers(1, 4), timestamps),
    st.builds(SessionCleared, st.just(SID), timestamps),
    st.builds(StateChanged, st.just(SID), json_objects, timestamps),
    st.builds(SessionDeleted, st.just(SID), timestamps),
    st.builds(SessionCreated, st.just(SID), st.none(), timestamps),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(session_steps, max_size=25))
def test_folding_a_stream_at_once_equals_one_event_at_a_time_and_is_pure(steps):
    events = [SessionCreated(SID, "t", T0, "u", "acme", "k"), *steps]
    one_by_one, seen = None, []
    for e in events:
        before = copy.deepcopy(one_by_one)
        after = fold(one_by_one, e)
        assert one_by_one == before  # pure: the input is never changed
        seen.append(after)
        one_by_one = after
    assert fold_all(events) == one_by_one
    if one_by_one is not None:  # messages: the user/assistant items with a text
        live = [i for i in one_by_one.items
                if i.role in ("user", "assistant") and i.text is not None]
        assert [(m.role.value, m.content, m.timestamp) for m in one_by_one.messages] == [
            (i.role, i.text, i.timestamp) for i in live]

def test_a_pop_removes_the_message_of_a_popped_item():
    s = fold_all([
        SessionCreated(SID, None, T0),
        MessageAdded(SID, SessionRole.USER, "a", T0),
        ItemAdded(SID, "x", "tool", {}, T0),
        ItemAdded(SID, "y", "assistant", {}, T0, "b"),
        ItemsRemoved(SID, 2, T0 + timedelta(seconds=1)),
    ])
    assert [m.content for m in s.messages] == ["a"] and [i.id for i in s.items] == ["message-2"]
    assert (s.version, s.updated_at) == (5, T0 + timedelta(seconds=1))


def test_scope_state_is_not_a_sessions_event():
    s = fold_all([SessionCreated(SID, None, T0)])
    assert fold(s, ScopeStateChanged("tenant", "acme", None, {"a": 1}, T0)) is s


def _fold_steps(n: int) -> int:
    """The Python lines run to fold a stream of `n` messages: a count, not a
    clock, so it is the same on a loaded machine and an idle one."""
    events = [SessionCreated(SID, None, T0)] + [
        MessageAdded(SID, SessionRole.USER, "m", T0) for _ in range(n)]
    steps = 0

    def tracer(frame, event, arg):
        nonlocal steps
        steps += 1
        return tracer

    sys.settrace(tracer)
    try:
        fold_all(events)
    finally:
        sys.settrace(None)
    return steps


def test_folding_a_stream_is_linear():
    """8x the events run about 8x the lines (a fold that walks the session
    per event: ~64x). Counted, not timed: it cannot flake under load."""
    small, large = _fold_steps(500), _fold_steps(4_000)
    assert large / small < 12, (small, large)


def test_folding_a_stream_keeps_its_lists(monkeypatch):
    """A fold builds each list of the session once and appends to it: no
    copy of the messages per event (a copy in C would not show in a line
    count). Every list the fold makes is seen by a spy on the builder."""
    fold_module = importlib.import_module("projections.fold")  # `projections.fold` is the function

    lists: list[list] = []  # kept alive: no id reused
    real = fold_module.Builder.step

    def step(self, event):
        real(self, event)
        if self.session is not None:
            lists.append(self.messages)

    monkeypatch.setattr(fold_module.Builder, "step", step)
    events = [SessionCreated(SID, None, T0)] + [
        MessageAdded(SID, SessionRole.USER, str(i), T0) for i in range(100)]
    folded = fold_all(events)
    assert len(lists) == 101 and all(x is lists[0] for x in lists)
    assert [m.content for m in folded.messages] == [str(i) for i in range(100)]


def test_the_in_memory_store_folds_each_session_in_place(monkeypatch):
    """An add to the in-memory store applies one event to the session's own
    builder: no copy of the session per event (that made 2,000 adds quadratic)."""
    import projections.stores.memory as store_module
    from projections import InMemorySessionStore, SessionMessage

    made = []

    class Counting(store_module.Builder):
        def __init__(self, session):
            made.append(session)
            super().__init__(session)

    monkeypatch.setattr(store_module, "Builder", Counting)
    s = InMemorySessionStore()
    chat = s.create("x")
    for i in range(50):
        s.add_message(chat.id, SessionMessage(SessionRole.USER, f"m{i}", datetime.now(UTC)))
    assert len(made) == 1
    assert [m.content for m in s.get(chat.id).messages] == [f"m{i}" for i in range(50)]
