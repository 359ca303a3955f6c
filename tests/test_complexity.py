"""The number of SQL statements a read or write runs does not grow with the
number of sessions or events (counted with the connection's trace callback)."""

from __future__ import annotations

from datetime import UTC, datetime

from projections import EventSourcedSessionStore, SessionMessage, SessionRole


def msg(i):
    return SessionMessage(SessionRole.USER, f"m{i}", datetime.now(UTC))


def statements(store, call) -> int:
    seen = []
    store.log.connection.set_trace_callback(seen.append)
    try:
        call()
    finally:
        store.log.connection.set_trace_callback(None)
    return len(seen)


def counts(sessions: int, messages: int) -> dict[str, int]:
    with EventSourcedSessionStore(":memory:") as store:
        ids = []
        for i in range(sessions):
            s = store.create_with_user(f"s{i}", "u", "acme")
            store.add_messages(s.id, [msg(j) for j in range(messages)])
            ids.append(s.id)
        target = ids[len(ids) // 2]
        return {
            "get": statements(store, lambda: store.get(target)),
            "get_last_n": statements(store, lambda: store.get(target, last_n=3)),
            "list": statements(store, store.list),
            "list_page": statements(store, lambda: store.list(5, before=ids[-1])),
            "list_for_tenant": statements(store, lambda: store.list_for_tenant("acme")),
            "add_message": statements(store, lambda: store.add_message(target, msg(0))),
            "add_messages": statements(store, lambda: store.add_messages(target, [msg(1), msg(2)])),
            "create": statements(store, lambda: store.create("x")),
            "delete": statements(store, lambda: store.delete(ids[0])),
            "replay": statements(store, lambda: store.replay(target, 10)),
        }


def test_statement_counts_do_not_grow_with_the_store():
    small, large = counts(3, 2), counts(120, 12)
    assert small == large
    assert large["list"] <= 4 and large["get"] <= 4 and large["add_message"] <= 10
