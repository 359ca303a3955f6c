"""Bad input: every input is either stored exactly or refused with a clear
error; nothing partial is written, and no traceback reaches a CLI user."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from helpers import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import sessions

from eventlog import EventLogError
from projections import (
    SessionMessage,
    SessionRole,
    session_from_dict,
    session_from_json,
)
from projections.transfer import import_sessions, read_sessions
from sessionlog.cli import main

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
session_keys = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.uuids().map(str), st.text(max_size=40), st.integers()),
    "title": st.one_of(st.none(), st.text(), st.integers()),
    "created_at": st.one_of(st.just("2026-01-01T00:00:00Z"), st.text(max_size=30), st.integers()),
    "messages": st.one_of(st.lists(st.fixed_dictionaries({}, optional={
        "role": st.sampled_from(["user", "assistant", "system", "", 3]),
        "content": st.one_of(st.text(), st.none()),
        "timestamp": st.one_of(st.just("2026-01-01T00:00:00.5+01:00"), st.text(max_size=30)),
    }), max_size=3), json_values),
    "user_id": st.one_of(st.none(), st.text(), st.integers()),
    "tenant_id": st.one_of(st.none(), st.text(), st.booleans()),
})


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, session_keys))
def test_session_from_dict_returns_a_session_or_a_value_error(value):
    try:
        session = session_from_dict(value)
    except ValueError as e:
        assert str(e)
    else:
        assert isinstance(session.id, uuid.UUID)
        assert all(m.timestamp.tzinfo is UTC for m in session.messages)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_session_from_json_of_any_text(text):
    try:
        session_from_json(text)
    except ValueError as e:
        assert str(e)


def mutate(text: str, data) -> str:
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 5)))
    return text[:i] + data.draw(st.text(max_size=5)) + text[j:]


def test_import_of_a_damaged_file_is_all_or_nothing(fresh_store, opened_on):
    """On every backend (fewer examples where each opens a new database)."""

    @settings(max_examples=examples(opened_on, 80), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(sessions, min_size=1, max_size=4, unique_by=lambda s: s.id), st.data())
    def check(batch, data):
        from projections import session_to_json
        text = mutate("\n".join(session_to_json(s) for s in batch), data)
        with fresh_store() as store:
            try:
                summary = import_sessions(store, read_sessions(io.StringIO(text), "f"))
            except (EventLogError, ValueError) as e:
                assert re.match(r"f(:\d+|: record \d+): ", str(e)), str(e)  # names file and place
                assert store.log.last_position() == 0 and store.list() == []
            else:
                assert store.log.last_position() == summary.sessions + summary.messages + summary.items
                assert store.verify().ok

    check()


contents = st.one_of(
    st.just(""), st.just("\x00"), st.just("a\x00b"), st.just("x" * 1_000_000),
    st.text(st.characters(), max_size=50),  # every plane, lone surrogates included
    st.sampled_from(["\U0010ffff", "\U0001f980", "\u200b", "\ud800", "a\udfffb"]),
)


def test_message_content_is_stored_exactly_or_refused(fresh_store, opened_on):
    """On every backend (fewer examples where each opens a new database)."""

    @settings(max_examples=examples(opened_on, 60), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(contents)
    def check(content):
        with fresh_store() as store:
            s = store.create(None)
            message = SessionMessage(SessionRole.USER, content, datetime.now(UTC))
            try:
                store.add_message(s.id, message)
            except ValueError as e:
                assert "surrogate" in str(e)
                assert any(0xD800 <= ord(c) <= 0xDFFF for c in content)
                assert store.get(s.id).messages == [] and store.log.last_position() == 1
            else:
                assert store.get(s.id).messages == [message]
                assert store.replay(s.id).messages == [message]
                assert store.history(s.id)[1].data["content"] == content

    check()


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuzz") / "cli.db")
    CliRunner().invoke(main, ["--db", path, "create", "--title", "seed"])
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["show", "add", "delete", "history", "create", "list", "search", "rebuild"]),
       st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20), max_size=4))
def test_cli_arguments_never_produce_a_traceback(cli_db, command, args):
    if command == "add":
        args = args[:1] + ["--role", (args[1:2] or ["user"])[0]] + args[2:]
    result = CliRunner().invoke(main, ["--db", cli_db, command, *args], input="")
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
