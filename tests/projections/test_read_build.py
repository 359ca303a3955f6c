"""`list` and `get` build sessions on a fast path (one pass per item row, the
last update found without reading the log when it can): on random
histories they equal the fold of the log (`replay`), field for field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import item_roles, json_objects, nonempty, short_texts

from projections import NewItem, SessionMessage, SessionRole

START = datetime(2026, 1, 1, tzinfo=UTC)

ops = st.one_of(
    st.tuples(st.just("items"), st.lists(st.tuples(item_roles, json_objects,
                                                   st.one_of(st.none(), short_texts)),
                                         min_size=1, max_size=3)),
    st.tuples(st.just("message"), st.tuples(st.sampled_from(list(SessionRole)), short_texts)),
    st.tuples(st.just("pop"), st.integers(1, 3)),
    st.tuples(st.just("clear"), st.none()),
    st.tuples(st.just("state"), st.dictionaries(nonempty, st.one_of(st.none(), st.integers()),
                                                min_size=1, max_size=2)),
    st.tuples(st.just("delete"), st.none()),
)
histories = st.lists(st.tuples(st.sampled_from([None, "acme", "globex"]),
                               st.lists(ops, max_size=6)), min_size=1, max_size=6)


def play(store, history) -> None:
    clock = iter(START + timedelta(seconds=i) for i in range(10_000))
    for tenant, steps in history:
        s = store.create_session("t", user_id=tenant and "u", tenant_id=tenant)
        for op, arg in steps:
            at = next(clock)
            if op == "items":
                store.add_items(s.id, [NewItem(role, data, text, timestamp=at)
                                       for role, data, text in arg])
            elif op == "message":
                store.add_message(s.id, SessionMessage(arg[0], arg[1], at))
            elif op == "pop":
                store.pop_items(s.id, arg)
            elif op == "clear":
                store.clear(s.id)
            elif op == "state":
                store.add_items(s.id, [], state_delta=arg)
            else:
                store.delete(s.id)
                break


def test_list_and_get_equal_the_fold_of_the_log(fresh_store, opened_on):
    """On every backend (fewer examples where each opens a new database)."""

    @settings(max_examples=examples(opened_on, 60), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(histories)
    def check(history):
        with fresh_store() as store:
            play(store, history)
            listed = store.list()
            assert listed == [store.replay(s.id) for s in listed]
            assert len(listed) == store.stats()["sessions"]
            assert [store.get(s.id) for s in listed] == listed
            assert store.list(limit=2) + store.list(before=listed[1].id) == listed \
                if len(listed) > 2 else True
            for tenant in ("acme", "globex"):
                assert store.list_for_tenant(tenant) == [s for s in listed if s.tenant_id == tenant]
            for s in listed:
                last = store.get(s.id, last_n=1)
                assert last is not None and last.updated_at == s.updated_at
                assert last.version == s.version

    check()
