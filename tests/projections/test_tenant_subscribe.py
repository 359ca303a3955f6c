"""A tenant's view follows the log (`for_tenant(t).read_all` / `.subscribe`)
on every backend: the events of the sessions created for it, deleted ones
included, and of its state streams; never one of another tenant's, even a
tenant whose id starts with its own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from eventlog.events import state_stream
from projections import NewItem, SessionMessage, SessionRole

A, B = "acme", "acme:ann"  # B's state stream names start like A's user streams


def say(view, sid, text):
    view.add_message(sid, SessionMessage(SessionRole.USER, text, datetime.now(UTC)))


def both(store, round_: int, theirs: set[str] | None = None) -> set[str]:
    """A round of writes of each tenant (and an untenanted session); the
    streams of A's sessions it wrote (B's added to `theirs`)."""
    mine = set()
    for tenant in (B, A):  # B first: A's last event is the round's last
        view = store.for_tenant(tenant)
        s = view.create_with_user(f"{tenant} {round_}", "ann", tenant)
        gone = view.create(f"{tenant} gone {round_}")
        view.add_items(s.id, [NewItem("user", {"n": round_}, f"{tenant} secret")],
                       tenant_state_delta={"plan": round_}, user_state_delta={"theme": round_})
        assert view.delete(gone.id)
        store.create("nobody's")
        say(view, s.id, f"{tenant} again {round_}")
        (mine if tenant == A else theirs if theirs is not None else set()).update(
            {str(s.id), str(gone.id)})
    return mine


def is_a(event, sessions: set[str], tenant: str = A) -> bool:
    return event.stream_id in sessions | {state_stream(tenant), state_stream(tenant, "ann")}


def test_a_tenant_follower_never_sees_another_tenants_events(open_store):
    """read_all and subscribe of tenant A yield exactly A's events, in order,
    from before the follower started (sessions created earlier) and after."""
    with open_store() as store:
        a = store.for_tenant(A)
        theirs: set[str] = set()
        sessions = both(store, 0, theirs)
        old = a.create("old").id
        sessions.add(str(old))
        start = store.log.last_position() + 1
        sessions |= both(store, 1, theirs)
        say(a, old, "to an A session created before the follower's start")
        mix = list(store.log.read_all(start))
        want = [e.position for e in mix if is_a(e, sessions)]
        assert 0 < len(want) < len(mix)
        assert [e.position for e in a.read_all(start)] == want
        assert [e.position for e in store.for_tenant(B).read_all(start)] == [
            e.position for e in mix if is_a(e, theirs, B)]
        stop = threading.Event()
        follower = a.subscribe(start, stop=stop, batch_size=3)
        try:
            # A's last event is the log's last: pulling exactly its count never waits
            seen = [next(follower).position for _ in want]
            assert seen == want
            mark = store.log.last_position()
            sessions |= both(store, 2)  # B's round first: the next A event is after it
            more = [e.position for e in store.log.read_all(mark + 1) if is_a(e, sessions)]
            assert [next(follower).position for _ in more] == more
        finally:
            stop.set()
            follower.close()
        assert all(is_a(e, sessions) for e in a.read_all(1))
