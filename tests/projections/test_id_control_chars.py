"""Ids (user, tenant, key) with NUL or another control character are
refused at the edge in one line, with nothing written, on every backend
(PostgreSQL cannot store a NUL; SQLite took one, and a copy of it to
PostgreSQL then died with a psycopg traceback). Titles and text are content
and keep any character. A file that already holds such an id keeps reading,
and `copy` of it to PostgreSQL is one line."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from eventlog import EventLog, ScopeStateChanged, SessionCreated, state_stream
from projections import EventSourcedSessionStore
from sessionlog.cli import main

BAD = ["a\x00b", "a\x1b[31mb", "a\nb", "a\x7fb", "a\x9bb"]


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("field", ["user_id", "tenant_id", "key"])
def test_a_new_id_with_a_control_character_is_refused(open_store, field, bad):
    store = open_store()
    before = store.log.last_position()
    ids = {"user_id": "alice", "tenant_id": "acme", "key": "k1", field: bad}
    with pytest.raises(ValueError, match=f"{field}: .* holds a control character"):
        store.create_session("t", **ids)
    if field == "key":
        with pytest.raises(ValueError, match=r"key: .* control character"):
            store.get_or_create(bad, user_id="alice", tenant_id="acme")
    else:
        owners = {"user_id": "alice", "tenant_id": "acme", field: bad}
        with pytest.raises(ValueError, match=f"{field}: .* control character"):
            store.create_with_user("t", owners["user_id"], owners["tenant_id"])
    assert store.log.last_position() == before


def test_titles_and_text_keep_their_control_characters(open_store):
    store = open_store()
    s = store.create_session("a\x00title", user_id="alice", tenant_id="acme")
    store.add_items(s.id, [{"role": "user", "text": "hi\x00\x1b there", "data": {}}],
                    user_state_delta={"note": "x\x00y"})
    got = store.get(s.id)
    assert got.title == "a\x00title" and got.items[-1].text == "hi\x00\x1b there"
    assert store.get_state("acme", "alice") == {"note": "x\x00y"}


def test_an_import_with_a_control_character_in_an_id_is_refused(target):
    record = {"format": "sessionlog/1", "id": str(uuid.uuid4()), "title": "t",
              "created_at": "2026-01-01T00:00:00Z", "user_id": "a\x00b", "tenant_id": "acme",
              "items": []}
    result = CliRunner().invoke(main, ["--db", target, "import", "-"], input=json.dumps(record) + "\n")
    assert result.exit_code == 1, result.output
    assert "user_id" in result.stderr and "control character" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _old_file(path: str) -> uuid.UUID:
    """A file as a release that took any id wrote it: a session of user
    "a<NUL>b" and that user's state, appended to the log as they were."""
    sid = uuid.uuid4()
    now = datetime.now(UTC)
    with EventLog(path) as log:
        log.append(str(sid), [SessionCreated(sid, "old", now, "a\x00b", "acme", "k\x00")])
        log.append(state_stream("acme", "a\x00b"),
                   [ScopeStateChanged("user", "acme", "a\x00b", {"n": 1}, now)])
    return sid


@pytest.mark.sqlite_only("a file written by an earlier release that took a NUL in an id")
def test_a_file_holding_such_an_id_keeps_reading(tmp_path):
    path = str(tmp_path / "old.db")
    sid = _old_file(path)
    with EventSourcedSessionStore(path) as store:
        assert store.get(sid).user_id == "a\x00b"
        assert store.get_state("acme", "a\x00b") == {"n": 1}
        assert store.get_by_key("k\x00", tenant_id="acme").id == sid
        assert store.verify().ok
    result = CliRunner().invoke(main, ["--db", path, "list", "--user", "a\x00b", "--tenant", "acme"])
    assert result.exit_code == 0 and str(sid) in result.stdout


@pytest.mark.sqlite_only("the source is a SQLite file holding a NUL in an id; DEST is PostgreSQL")
def test_copy_of_such_a_file_to_postgres_is_one_line(tmp_path, pg_url):
    path = str(tmp_path / "old.db")
    _old_file(path)
    result = CliRunner().invoke(main, ["--db", path, "copy", pg_url])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "NUL character, which PostgreSQL cannot store; nothing was written" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    stats = CliRunner().invoke(main, ["--db", pg_url, "stats", "--json"])
    assert stats.exit_code == 1 or json.loads(stats.stdout)["events"] == 0
