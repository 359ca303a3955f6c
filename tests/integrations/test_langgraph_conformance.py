"""LangGraph's own conformance suite (`langgraph-checkpoint-conformance`),
run through its `validate()`: every capability, base and extended, is
detected and passes, on a SQLite file, on PostgreSQL and on an erasable file
(issue 21)."""

from __future__ import annotations

import asyncio

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from projections import EventSourcedSessionStore
from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver


def made(target) -> str:
    """The database at `target`, made as a user makes it (an erasable file erasable)."""
    EventSourcedSessionStore(target, erasable=target.erasable).close()
    return str(target)


def test_every_capability_is_detected_and_passes(target):
    db = made(target)

    @checkpointer_test(name=f"EventSourcedCheckpointSaver[{target.kind}]")
    async def saver():
        async with EventSourcedCheckpointSaver.from_conn_string(db) as s:
            yield s

    report = asyncio.run(validate(saver))
    report.print_report()
    results = report.results
    assert set(results) == {c.value for c in ALL_CAPABILITIES}
    failures = {name: r.failures for name, r in results.items() if r.failures}
    assert not failures, failures
    for name, result in results.items():
        assert result.detected, name
        assert result.passed is True and result.tests_passed > 0, (name, result)
    assert report.conformance_level() == "FULL"


def test_a_shared_store_passes_too(tmp_path):
    """`store=`: the suite against a saver over an open store it does not close."""
    with EventSourcedSessionStore(str(tmp_path / "shared.db")) as store:

        @checkpointer_test(name="EventSourcedCheckpointSaver[store=]")
        async def saver():
            with EventSourcedCheckpointSaver(store=store) as s:
                yield s

        report = asyncio.run(validate(saver, capabilities={"put", "get_tuple", "list"}))
        assert all(r.passed for r in report.results.values() if r.detected), report.to_dict()
        assert store.list_summaries(limit=1)  # still open: the saver left it so
