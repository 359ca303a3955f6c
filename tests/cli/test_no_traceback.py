"""One line, never a traceback: every command `sessionlog --help` lists,
given bad and hostile arguments (numbers past 64 bits, -1, NUL and terminal
control sequences in ids and text), on every backend, ends with exit 0, 1,
2 or 3 and no traceback; no password of a PostgreSQL URL is ever printed,
whether the server is unreachable or answers; and no raw terminal control
sequence reaches the output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.parse

import click
import pytest
from click.testing import CliRunner

from sessionlog.cli import main

SECRET = "s3cr3tpw"
UNREACHABLE = f"postgresql://u:{SECRET}@127.0.0.1:1/x"
HUGE = "18446744073709551616"  # 2**64
HOSTILE = [HUGE, "-1", "a\x00b", "x\x1b]0;owned\x07\x1b[31mred\x9b2J"]
ESC = ("\x1b", "\x07", "\x9b")


def commands() -> list[str]:
    """The commands as `sessionlog --help` lists them (checked against the group)."""
    out = CliRunner().invoke(main, ["--help"]).stdout
    listed = re.findall(r"^  ([a-z][a-z-]*)\s", out.split("Commands:", 1)[1], re.MULTILINE)
    assert sorted(listed) == sorted(main.commands)
    return listed


def with_password(url: str) -> str:
    """`url` with the test password in its user part (the test server trusts
    local connections, so it answers whatever the password is)."""
    parts = urllib.parse.urlsplit(url)
    user, host = parts.netloc.rsplit("@", 1) if "@" in parts.netloc else ("postgres", parts.netloc)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{SECRET}@{host}"))


def base_args(name: str, sid: str, tmp_path) -> tuple[list[str], list[str]]:
    """A valid call of command `name`: its positional arguments and options."""
    return {
        "add": ([sid, "hello"], ["--role", "user"]),
        "delete": ([sid], []),
        "show": ([sid], []),
        "history": ([sid], []),
        "search": (["hello"], []),
        "import": (["-"], []),
        "copy": ([str(tmp_path / "copy.db")], []),
        "erase": ([], ["--user", "alice", "--tenant", "acme"]),
        "serve": ([], ["--port", "0"]),
    }.get(name, ([], []))


def variants(name: str, sid: str, tmp_path) -> list[list[str]]:
    """The command with each of its arguments and options, in turn, given
    each hostile value (flags and --follow, which never ends, left out)."""
    command = main.commands[name]
    positional, options = base_args(name, sid, tmp_path)
    out = [positional + options]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    for param in command.params:
        if isinstance(param, click.Option) and (param.is_flag or param.name == "follow"):
            continue
        for value in HOSTILE:
            if isinstance(param, click.Argument):
                args = positional + ["x"] * (len(arguments) - len(positional))
                args[arguments.index(param)] = value
                out.append([*args, *options])
            else:
                out.append([*positional, *options, param.opts[0], value])
    return out


def check(result, argv) -> None:
    shown_argv = [a.encode("unicode_escape").decode() for a in argv]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{shown_argv}: {result.exception!r}") from result.exception
    assert result.exit_code in (0, 1, 2, 3), (shown_argv, result.output)
    assert "Traceback" not in result.output, (shown_argv, result.output)
    assert SECRET not in result.output, (shown_argv, result.output)
    assert not any(c in result.stderr for c in ESC), (shown_argv, result.stderr)
    assert not any(c in result.stdout for c in ESC), (shown_argv, result.stdout)


@pytest.fixture
def seeded(db):
    """--db (with a password in it on PostgreSQL) holding one session of a
    user, and that session's id."""
    target = with_password(db) if db.postgres else str(db)
    made = CliRunner().invoke(main, ["--db", target, "create", "--title", "t",
                                     "--user", "alice", "--tenant", "acme"])
    assert made.exit_code == 0, made.output
    return target, made.stdout.strip()


@pytest.mark.parametrize("name", commands())
def test_every_command_with_hostile_arguments_is_one_line(seeded, name, tmp_path, monkeypatch):
    target, sid = seeded
    monkeypatch.chdir(tmp_path)  # files a hostile DEST or --output names land here
    if name == "serve":  # arguments it takes start a server that runs until Ctrl-C: here it
        # returns once bound (tests/web serves for real); what is checked is what it prints
        import uvicorn
        monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    for argv in variants(name, sid, tmp_path):
        result = CliRunner().invoke(main, ["--db", target, name, *argv], input="")
        check(result, [name, *argv])
        for path in os.listdir(tmp_path):  # copy and export need a new DEST each time
            if path not in ("log.db", "log.db-wal", "log.db-shm", "erasable.db", "erasable.db.key",
                            "erasable.db-wal", "erasable.db-shm") and os.path.isfile(path):
                os.remove(path)


@pytest.mark.parametrize("name", commands())
@pytest.mark.sqlite_only("the URL names no server: the same on every backend")
def test_an_unreachable_server_never_shows_the_password(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv in variants(name, "5b0c0000-0000-4000-8000-0000000000e1", tmp_path)[:3]:
        result = CliRunner().invoke(main, ["--db", UNREACHABLE, name, *argv], input="")
        check(result, [name, *argv])


@pytest.mark.sqlite_only("the URL is the destination; the source is a file")
def test_copy_to_an_unreachable_server_never_shows_the_password(tmp_path):
    src = str(tmp_path / "src.db")
    assert CliRunner().invoke(main, ["--db", src, "create"]).exit_code == 0
    for extra in ([], ["--erasable"], ["--json"]):
        result = CliRunner().invoke(main, ["--db", src, "copy", UNREACHABLE, *extra])
        check(result, ["copy", UNREACHABLE, *extra])
        assert result.exit_code == 1


@pytest.mark.sqlite_only("copy runs from a file into the test server")
def test_copy_into_a_non_empty_server_never_shows_the_password(tmp_path, pg_url):
    src = str(tmp_path / "src.db")
    dest = with_password(pg_url)
    assert CliRunner().invoke(main, ["--db", src, "create"]).exit_code == 0
    assert CliRunner().invoke(main, ["--db", dest, "create"]).exit_code == 0
    for extra in ([], ["--json"], ["--erasable"]):
        result = CliRunner().invoke(main, ["--db", src, "copy", dest, *extra])
        check(result, ["copy", dest, *extra])
        assert result.exit_code == 1


@pytest.mark.backends("sqlite-file", "postgres")  # a plain database: an erasable file erases
def test_erase_on_a_plain_database_never_shows_the_password(db):
    """`erase` on a plain database says how to move it, naming --db without its password."""
    assert not db.erasable
    target = with_password(db) if db.postgres else str(db)
    assert CliRunner().invoke(main, ["--db", target, "create"]).exit_code == 0
    result = CliRunner().invoke(main, ["--db", target, "erase", "--user", "a", "--tenant", "b"])
    check(result, ["erase"])
    assert result.exit_code == 1 and "copy NEW --erasable" in result.stderr


@pytest.mark.parametrize("argv", [
    ["--db", UNREACHABLE, "erase", "--user", "a", "--tenant", "b"],
    ["--db", UNREACHABLE, "verify", "--expect-hash", "x"],
    ["--db", UNREACHABLE, "tail", "--from", HUGE],
    ["--db", UNREACHABLE, "list", "--limit", "-1"],
])
@pytest.mark.sqlite_only("a real process, against a URL that names no server")
def test_a_real_process_prints_one_line_without_the_password(argv):
    done = subprocess.run([sys.executable, "-m", "sessionlog", *argv], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode in (1, 2), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert SECRET not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and len(lines) <= 4  # one line (a usage error adds usage)


@pytest.mark.sqlite_only("a real process: tail on a file, from past 64 bits (item 13)")
def test_tail_from_past_64_bits_in_a_real_process(tmp_path):
    db = str(tmp_path / "t.db")
    assert CliRunner().invoke(main, ["--db", db, "create"]).exit_code == 0
    done = subprocess.run([sys.executable, "-m", "sessionlog", "--db", db, "tail", "--from", HUGE],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode in (0, 1, 2), done.stderr
    assert "Traceback" not in done.stderr
