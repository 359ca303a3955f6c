"""The CLI, in-process with CliRunner and end to end through a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import uuid

import pytest
from click.testing import CliRunner
from clirun import ok, run

from eventlog.backends.factory import is_url
from sessionlog.cli import main


def test_create_add_show_list_delete_history(db):
    sid = ok(db, "create", "--title", "Support", "--user", "alice", "--tenant", "acme").strip()
    uuid.UUID(sid)
    ok(db, "add", sid, "--role", "user", "Where is my parcel?")
    ok(db, "add", sid, "--role", "assistant", "-", input="It ships today.\n")
    shown = ok(db, "show", sid)
    assert "user: Where is my parcel?" in shown and "assistant: It ships today." in shown
    listed = json.loads(ok(db, "list", "--tenant", "acme", "--json"))
    assert [s["id"] for s in listed] == [sid]
    assert json.loads(ok(db, "show", sid, "--json"))["messages"][1]["content"] == \
        "It ships today."  # one trailing newline dropped
    assert json.loads(ok(db, "list", "--tenant", "globex", "--json")) == []
    assert "deleted" in ok(db, "delete", sid)
    trail = json.loads(ok(db, "history", sid, "--json"))
    assert [e["type"] for e in trail] == ["SessionCreated", "MessageAdded", "MessageAdded",
                                         "SessionDeleted"]
    assert trail[0]["metadata"] == {"source": "cli", "user_id": "alice", "tenant_id": "acme"}
    assert ok(db, "list") == "no sessions\n"


def test_show_as_of_a_position_and_a_time(db):
    sid = ok(db, "create", "--title", "t").strip()
    ok(db, "add", sid, "--role", "user", "one")
    ok(db, "add", sid, "--role", "user", "two")
    trail = json.loads(ok(db, "history", sid, "--json"))
    at_two = json.loads(ok(db, "show", sid, "--as-of", "2", "--json"))
    assert [m["content"] for m in at_two["messages"]] == ["one"]
    at_time = json.loads(ok(db, "show", sid, "--as-of", trail[0]["recorded_at"], "--json"))
    assert at_time["messages"] == [] or at_time["messages"][0]["content"] == "one"
    result = run(db, "show", sid, "--as-of", "soon")
    assert result.exit_code != 0 and "neither a position nor a time" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["show", "not-an-id"], "not a session id"),
    (["show", str(uuid.UUID(int=1))], f"session {uuid.UUID(int=1)} not found"),
    (["delete", str(uuid.UUID(int=1))], "not found"),
    (["add", str(uuid.UUID(int=1)), "--role", "user", "hi"], "not found"),
    (["add", str(uuid.UUID(int=1)), "--role", "robot", "hi"], "not found"),  # any role (issue 20)
    (["create", "--user", "alice"], "--user needs --tenant"),
])
def test_user_errors_are_one_clear_line(db, args, message):
    ok(db, "create")  # the file exists
    result = run(db, *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_read_commands_refuse_a_missing_database(target):
    """A file that does not exist, or a PostgreSQL schema without a log: read
    commands say so and create nothing."""
    missing = target
    for args in (["list"], ["show", str(uuid.uuid4())], ["history", str(uuid.uuid4())]):
        result = run(missing, *args)
        assert result.exit_code == 1
        assert ("no sessionlog log at" if is_url(missing) else "no database at") in result.stderr
    if is_url(missing):
        import psycopg
        with psycopg.connect(missing) as conn:
            assert conn.execute("SELECT count(*) FROM pg_tables "
                                "WHERE schemaname = current_schema()").fetchone() == (0,)
    else:
        assert not os.path.exists(missing)


def test_show_of_a_deleted_session_points_to_its_history(db):
    sid = ok(db, "create").strip()
    ok(db, "delete", sid)
    result = run(db, "show", sid)
    assert result.exit_code == 1 and "was deleted" in result.stderr


def test_every_command_has_help_with_an_example():
    """Every --help (the group's too) ends its text with an example: after
    "Example:" come only command lines."""
    for name in ["", *main.commands]:
        result = CliRunner().invoke(main, [name, "--help"] if name else ["--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.stdout and "sessionlog" in result.stdout, name
        text = result.stdout.split("Options:", 1)[0]
        example = text.rsplit("Example:", 1)[1].strip().splitlines()
        assert example and all("sessionlog " in line for line in example), (name, example)


def test_demo_through_a_real_subprocess(db):
    env = {**os.environ, "SESSIONLOG_DB": db}
    cmd = [sys.executable, "-c", "from sessionlog.cli import main; main()"]
    demo = subprocess.run([*cmd, "demo"], env=env, capture_output=True, text=True, timeout=60)
    assert demo.returncode == 0, demo.stderr
    assert "Recorded 3 conversations" in demo.stdout and "SessionDeleted" in demo.stdout
    listed = subprocess.run([*cmd, "list", "--json"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert {s["title"] for s in json.loads(listed.stdout)} == {"Refund for order 1142",
                                                              "Trip to Lisbon"}
    bad = subprocess.run([*cmd, "show", "zzz"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ") and "Traceback" not in bad.stderr


def test_search_rebuild_catch_up_stats(db):
    sid = ok(db, "create", "--user", "alice", "--tenant", "acme").strip()
    ok(db, "add", sid, "--role", "user", "My parcel never arrived")
    other = ok(db, "create").strip()
    ok(db, "add", other, "--role", "user", "parcel tracking please")
    hits = json.loads(ok(db, "search", "parcel", "--json"))
    assert {h["session_id"] for h in hits} == {sid, other}
    hits = json.loads(ok(db, "search", "parcel", "--tenant", "acme", "--json"))
    assert [(h["session_id"], h["role"]) for h in hits] == [(sid, "user")]
    assert "[parcel]" in hits[0]["snippet"]
    assert ok(db, "search", "nothinglikethis") == "no matches\n"
    bad = run(db, "search", "--fts", '"open')
    assert bad.exit_code == 1 and "bad search query" in bad.stderr
    assert ok(db, "rebuild") == "rebuilt sessions, tenants, search from 4 events\n"
    assert ok(db, "rebuild", "search").startswith("rebuilt search from 4 events")
    assert "unknown projection 'nope'" in run(db, "rebuild", "nope").stderr
    assert "sessions: 0 event(s) applied" in ok(db, "catch-up")
    info = json.loads(ok(db, "stats", "--json"))
    assert (info["events"], info["sessions"], info["messages"]) == (4, 2, 2)
    assert info["checkpoints"]["search"] == {"position": 4, "behind": 0}
    assert "live sessions     2" in ok(db, "stats")


def test_audit_end_to_end_through_subprocesses(db):
    env = {**os.environ, "SESSIONLOG_DB": db}  # the database named by the environment

    def cli(*args, input=None):
        return subprocess.run([sys.executable, "-m", "sessionlog", *args], env=env,
                              capture_output=True, text=True, timeout=60, input=input)

    sid = cli("create", "--title", "audit").stdout.strip()
    assert cli("add", sid, "--role", "user", "-", input="first words").returncode == 0
    assert cli("add", sid, "--role", "assistant", "reply").returncode == 0
    assert cli("delete", sid).returncode == 0
    trail = cli("history", sid)
    assert trail.returncode == 0
    assert [line.split()[2] for line in trail.stdout.splitlines()[1:]] == [
        "SessionCreated", "MessageAdded", "MessageAdded", "SessionDeleted"]
    then = json.loads(cli("show", sid, "--as-of", "2", "--json").stdout)
    assert [m["content"] for m in then["messages"]] == ["first words"]
    assert cli("verify").stdout.startswith("ok: 4 events")
    assert cli("rebuild").returncode == 0
    gone = cli("show", sid)
    assert gone.returncode == 1 and "was deleted" in gone.stderr


def test_tenant_option_confines_commands(db):
    theirs = ok(db, "create", "--user", "bob", "--tenant", "globex").strip()
    mine = ok(db, "create", "--tenant", "acme").strip()
    assert json.loads(ok(db, "show", mine, "--tenant", "acme", "--json"))["tenant_id"] == "acme"
    for args in (["show", theirs], ["add", theirs, "--role", "user", "x"], ["delete", theirs]):
        result = run(db, *args, "--tenant", "acme")
        assert result.exit_code == 1 and f"session {theirs} not found" in result.stderr
    history = json.loads(ok(db, "history", mine, "--tenant", "acme", "--json"))
    assert [e["type"] for e in history] == ["SessionCreated"]
    hidden = run(db, "history", theirs, "--tenant", "acme")
    assert hidden.exit_code == 1 and f"session {theirs} not found" in hidden.stderr
    ok(db, "delete", theirs, "--tenant", "globex")
    assert len(json.loads(ok(db, "history", theirs, "--tenant", "globex", "--json"))) == 2
    hidden = run(db, "show", theirs, "--tenant", "acme")
    assert "not found" in hidden.stderr and "deleted" not in hidden.stderr
    assert [s["id"] for s in json.loads(ok(db, "list", "--tenant", "acme", "--json"))] == [mine]
    assert "--user needs --tenant" in run(db, "create", "--user", "x").stderr


def test_import_of_a_file_that_is_not_utf8_names_it(db, tmp_path):
    bad = tmp_path / "latin1.json"
    bad.write_bytes('{"title": "café"}'.encode("latin-1"))
    result = run(db, "import", str(bad))
    assert result.exit_code == 1 and f"{bad}: not UTF-8 text" in result.stderr


def test_export_into_a_closed_pipe_is_quiet(db):
    env = {**os.environ, "SESSIONLOG_DB": db}
    cmd = [sys.executable, "-m", "sessionlog"]
    subprocess.run([*cmd, "demo"], env=env, capture_output=True, timeout=60, check=True)
    shell = f"{' '.join(cmd)} export | head -c 10 > /dev/null"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", shell], env=env, capture_output=True,
                         text=True, timeout=60)
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr


@pytest.mark.sqlite_only("another program's SQLite file (test_cli_files: its schema on PostgreSQL)")
def test_read_commands_leave_another_programs_database_alone(tmp_path):
    import sqlite3
    other = tmp_path / "other app #1?.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x)")
    result = run(str(other), "list")
    assert result.exit_code == 1 and "is not a sessionlog database" in result.stderr
    with sqlite3.connect(other) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["notes"]


def test_messages_and_stats_never_show_a_database_password(pg_url):
    """A URL's password (user part or `password=`) never reaches the terminal:
    not in a refusal, not in `stats` (the test server trusts every login, so
    the password is accepted and ignored)."""
    parts = urllib.parse.urlsplit(pg_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    url = urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:s3cretpw@{host}"))
    assert urllib.parse.urlsplit(url).password == "s3cretpw"
    runner = CliRunner()
    refused = runner.invoke(main, ["--db", url, "list"])
    assert refused.exit_code == 1 and "no sessionlog log at" in refused.output
    runner.invoke(main, ["--db", url, "create", "--title", "t"], catch_exceptions=False)
    for args in (["stats"], ["stats", "--json"]):
        out = runner.invoke(main, ["--db", url, *args], catch_exceptions=False).output
        assert "postgres:***@" in out
        assert "s3cretpw" not in out and "s3cretpw" not in refused.output
    from eventlog.backends.factory import shown
    assert "s3cretpw" not in shown(f"{pg_url}&password=s3cretpw")
    assert shown("/tmp/x:y@z.db") == "/tmp/x:y@z.db"
