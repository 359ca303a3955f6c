"""The OpenAI Agents SDK's own compaction tests (openai-agents 0.24.0, MIT: see
LICENSE and README.md here), run against `EventSourcedSession` on every backend
a session can be reopened on (`target`: a SQLite file, PostgreSQL, an erasable
SQLite file) where they use `SQLiteSession`.

- `sessionlog_backend` (autouse, one case per `target`): the backend the
  files' `SQLiteSession` (sessionlog_sdk_session.py) opens its databases on.
- The SDK's async fixtures are plain `@pytest.fixture`s (its suite runs
  pytest-asyncio in auto mode); ours runs in strict mode, so those of these
  files are marked as asyncio fixtures here, at collection.
- `NOT_OURS`: the tests that read SQLiteSession's private attributes or its
  tables, and two about other SDK backends; not generated, each with its reason.
- The autouse fixtures from the SDK's tests/conftest.py that these files rely
  on (no real model, no API key needed, tracing to an in-memory processor).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import pathlib
import re

import pytest

HERE = pathlib.Path(__file__).parent

#: What these files need (README.md). Without one, they are not collected; under
#: CI=true that is an error instead.
NEEDS = ("agents", "pytest_asyncio", "aiosqlite", "cryptography")
_missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
if "cryptography" not in _missing and not hasattr(importlib.import_module("cryptography.fernet"),
                                                  "time"):
    _missing.append("cryptography<51")  # the files set the clock as cryptography.fernet.time.time
if _missing and os.environ.get("CI") == "true":
    raise ImportError(f"the SDK's tests need {', '.join(_missing)} (pip install -e '.[test]')")

# The SDK's helper modules (tests/...), imported as `tests.<module>`, are no test files.
collect_ignore = ["tests"]
collect_ignore_glob = ["test_*.py"] if _missing else []

#: Tests of the vendored files that read SQLiteSession's private attributes or
#: tables, so cannot run on another session class (with the reason), and two
#: that never touch SQLiteSession (other SDK backends, whose packages [test]
#: does not install): not generated.
NOT_OURS: dict[str, str] = {
    # test_compaction_suffix.py
    "test_suffix_transaction_rolls_back_failed_insert":
        "opens `backend.db_path` with sqlite3 and adds a trigger on SQLiteSession's "
        "`agent_messages` table to make the compaction's insert fail",
    "test_failed_encrypted_suffix_transaction_preserves_original_tokens":
        "adds a trigger on SQLiteSession's `agent_messages` table (through sqlite3 on "
        "`backend.db_path`) to make the compaction's insert fail",
    "test_cancelled_suffix_transaction_settles_before_newer_append":
        "patches SQLiteSession's private `_insert_items(conn, items)` to hold the "
        "compaction's write open",
    # test_encrypt_session.py
    "test_encrypted_pop_authentication_is_atomic_with_concurrent_mutations":
        "reads SQLiteSession's `agent_messages` table and takes its file's write lock "
        "(`BEGIN IMMEDIATE`) through a second sqlite3 connection",
    "test_encrypted_pop_wrong_key_preserves_row_identity":
        "compares the rows of SQLiteSession's `agent_messages` table, read with sqlite3",
    "test_encrypted_pop_preserves_sqlalchemy_history":
        "not SQLiteSession: EncryptedSession over the SDK's SQLAlchemySession (sqlalchemy)",
    "test_encrypted_session_scan_budget_does_not_turn_redis_negative_limit_into_history":
        "not SQLiteSession: EncryptedSession over the SDK's RedisSession (fakeredis)",
    # test_openai_responses_compaction_session.py
    "test_settled_pop_failure_invalidates_response_chain":
        "swaps SQLiteSession's private `_get_connection` (under its `_connections_lock`) "
        "for a sqlite3 connection whose commit pauses or fails",
    "test_settled_clear_failure_invalidates_response_chain":
        "swaps SQLiteSession's private `_get_connection` (under its `_connections_lock`) "
        "for a sqlite3 connection whose commit pauses or fails",
}


def _defined() -> set[str]:
    """The names of the test functions the vendored files define."""
    return {m for path in HERE.glob("test_*.py")
            for m in re.findall(r"^\s*(?:async )?def (test_\w+)\(", path.read_text(), re.M)}


_unknown = set(NOT_OURS) - _defined()
if _unknown:  # the list must follow the files
    raise pytest.UsageError(f"NOT_OURS names no test of {HERE.name}: {sorted(_unknown)}")


def pytest_collection_modifyitems(config, items):
    """Drop the `NOT_OURS` tests, and mark these files' async fixtures as
    pytest-asyncio fixtures."""
    import pytest_asyncio.plugin as plugin

    mine = [item for item in items if pathlib.Path(str(item.fspath)).parent == HERE]
    # Not on an erasable file: what these files check is the adapter's behaviour, which the
    # erasable store does not change (its sealing is covered where our own adapter tests run on
    # every backend: test_openai_agents.py, test_openai_compaction_parity.py); a SQLite file and
    # PostgreSQL keep 540 of the 810 cases and a minute of the suite's time.
    dropped = [item for item in mine if item.originalname in NOT_OURS
               or item.callspec.params.get("target") == "sqlite-erasable"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
    for item in mine:
        for defs in item._fixtureinfo.name2fixturedefs.values():
            for fixturedef in defs:
                func = fixturedef.func
                if (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)) \
                        and pathlib.Path(inspect.getsourcefile(func) or "").parent == HERE:
                    plugin._make_asyncio_fixture_function(func, None)


@pytest.fixture(autouse=True)
def sessionlog_backend(target, tmp_path, request):
    """The backend this case's `SQLiteSession`s open their databases on."""
    import sessionlog_sdk_session
    cluster = request.getfixturevalue("pg_cluster") if target.postgres else None
    backend = sessionlog_sdk_session.Backend(
        target.kind, tmp_path, None if cluster is None else cluster.new_schema)
    sessionlog_sdk_session.use(backend)
    yield backend
    sessionlog_sdk_session.use(None)
    backend.close()


# -- from the SDK's tests/conftest.py ---------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def setup_span_processor():
    from agents.tracing.provider import DefaultTraceProvider
    from agents.tracing.setup import set_trace_provider

    from tests.testing_processor import SPAN_PROCESSOR_TESTING

    provider = DefaultTraceProvider()
    provider.set_processors([SPAN_PROCESSOR_TESTING])
    set_trace_provider(provider)
    yield
    provider.shutdown()


@pytest.fixture(autouse=True)
def ensure_openai_api_key(monkeypatch):
    if not os.environ.get("OPENAI_API_KEY"):
        monkeypatch.setenv("OPENAI_API_KEY", "test_key")


@pytest.fixture(autouse=True)
def clear_span_processor():
    from tests.testing_processor import SPAN_PROCESSOR_TESTING

    SPAN_PROCESSOR_TESTING.force_flush()
    SPAN_PROCESSOR_TESTING.shutdown()
    SPAN_PROCESSOR_TESTING.clear()


@pytest.fixture(autouse=True)
def clear_openai_settings():
    from agents.models import _openai_shared

    _openai_shared._default_openai_key = None
    _openai_shared._default_openai_client = None
    _openai_shared._use_responses_by_default = True
    _openai_shared.set_default_openai_responses_transport("http")


@pytest.fixture(autouse=True)
def clear_default_runner():
    from agents.run import set_default_agent_runner

    set_default_agent_runner(None)


@pytest.fixture(autouse=True)
def disable_real_model_clients(monkeypatch, request):
    if request.node.get_closest_marker("allow_call_model_methods"):
        return
    from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
    from agents.models.openai_responses import OpenAIResponsesModel

    def failing_version(*args, **kwargs):
        pytest.fail("Real models should not be used in tests!")

    monkeypatch.setattr(OpenAIResponsesModel, "get_response", failing_version)
    monkeypatch.setattr(OpenAIResponsesModel, "stream_response", failing_version)
    monkeypatch.setattr(OpenAIChatCompletionsModel, "get_response", failing_version)
    monkeypatch.setattr(OpenAIChatCompletionsModel, "stream_response", failing_version)


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_call_model_methods: the SDK's: a test that may "
                            "call a real model class's methods (it mocks the client)")
