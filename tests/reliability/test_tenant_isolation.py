"""A tenant cannot tell another tenant's session from a missing one, by the
answer or by the work done (issue 10, item 6). Work is counted in SQL
statements and the rows they name, never timed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from projections import (
    EventSourcedSessionStore,
    SessionMessage,
    SessionNotFoundError,
    SessionRole,
)
from sessionlog.cli import main


def msg(i):
    return SessionMessage(SessionRole.USER, f"m{i}", datetime.now(UTC))


def fill(store):
    mine = store.for_tenant("a").create("mine").id
    foreign = store.for_tenant("b").create("theirs").id
    store.add_messages(foreign, [msg(i) for i in range(50)])
    return mine, foreign


def test_a_foreign_id_answers_as_a_missing_one(store):
    """On every store (the in-memory reference included) and backend."""
    mine, foreign = fill(store)
    missing = uuid.uuid4()
    view = store.for_tenant("a")
    assert view.get(foreign) is None and view.get(foreign, 3) is None
    for anchor in (foreign, missing):
        with pytest.raises(SessionNotFoundError) as e:
            view.list(before=anchor)
        assert str(e.value) == f"session {anchor} not found"
    assert [s.id for s in view.list(before=None)] == [mine]
    assert not view.delete(foreign)
    with pytest.raises(SessionNotFoundError):
        view.add_message(foreign, msg(0))
    assert len(store.get(foreign).messages) == 50  # untouched


def traced(store, call) -> list[str]:
    """The SQL statements `call` runs, with the ids it names made generic."""
    seen: list[str] = []
    conn = store.log.connection
    conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return [re.sub(r"'[0-9a-f-]{36}'", "ID", s) for s in seen]


@pytest.mark.sqlite_only("traces the statements with sqlite3's trace callback")
def test_a_foreign_id_costs_what_a_missing_one_costs():
    """`get` and `history` of another tenant's session run the same
    statements as for a missing id, and never read its messages."""
    with EventSourcedSessionStore(":memory:") as store:  # one connection: every statement traced
        _, foreign = fill(store)
        view = store.for_tenant("a")
        missing = uuid.uuid4()
        for call in (lambda sid: view.get(sid), lambda sid: view.get(sid, 5),
                     lambda sid: view.history(sid)):
            on_foreign = traced(store, lambda c=call: c(foreign))
            assert on_foreign == traced(store, lambda c=call: c(missing))
            assert on_foreign and not any("messages" in s or "ORDER BY version" in s
                                          for s in on_foreign)


def test_history_with_tenant_is_confined(target, open_store):
    path = target
    with open_store() as store:
        mine, foreign = fill(store)
        store.delete(mine)
        view = store.for_tenant("a")
        assert [e.type for e in view.history(mine)] == ["SessionCreated", "SessionDeleted"]
        assert view.history(foreign) == [] and view.history(uuid.uuid4()) == []
    runner = CliRunner()
    ok = runner.invoke(main, ["--db", path, "history", str(mine), "--tenant", "a", "--json"])
    assert ok.exit_code == 0 and "SessionDeleted" in ok.stdout
    for sid in (foreign, uuid.uuid4()):
        out = runner.invoke(main, ["--db", path, "history", str(sid), "--tenant", "a"])
        assert out.exit_code == 1 and out.stderr == f"Error: session {sid} not found\n"
