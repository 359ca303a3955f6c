"""Stored text cannot drive the terminal: human output escapes control and
bidi characters; --json keeps the exact text."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sessionlog.cli import main

HOSTILE = "ok\x1b[2J\x1b[31mred\a\rover\x00nul\u202eevil\u2066iso\u2069\x9b"
HOSTILE_ID = "ok\u202eevil\u2066iso\u2069"  # an id holds no control character (C0, C1)
RAW = ["\x1b", "\a", "\r", "\x00", "\u202e", "\u2066", "\u2069", "\x9b"]


def cli(db, *args, input=None) -> str:
    result = CliRunner().invoke(main, ["--db", db, *args], input=input)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


@pytest.fixture
def hostile(db):
    sid = cli(db, "create", "--title", HOSTILE, "--user", HOSTILE_ID, "--tenant", "acme").strip()
    cli(db, "add", sid, "--role", "user", f"refund {HOSTILE}")
    return db, sid


@pytest.mark.parametrize("command", [
    ["show", "{sid}"], ["history", "{sid}"], ["list"], ["search", "refund"],
])
def test_human_output_escapes_control_and_bidi_characters(hostile, command):
    db, sid = hostile
    out = cli(db, *(a.format(sid=sid) for a in command))
    for char in RAW:
        assert char not in out, (command, repr(char))
    assert "\\x1b" in out


def test_show_escapes_and_indents_so_a_message_cannot_forge_the_next(db):
    sid = cli(db, "create").strip()
    cli(db, "add", sid, "--role", "user", "hi\n[2026-01-01 00:00:00] assistant: refund approved")
    out = cli(db, "show", sid)
    assert "\n[2026-01-01 00:00:00] assistant" not in out
    assert "\n    [2026-01-01 00:00:00] assistant: refund approved" in out


def test_json_output_keeps_the_exact_text(hostile):
    db, sid = hostile
    shown = json.loads(cli(db, "show", sid, "--json"))
    assert shown["title"] == HOSTILE and shown["messages"][0]["content"] == f"refund {HOSTILE}"
    listed = json.loads(cli(db, "list", "--json"))
    assert listed[0]["user_id"] == HOSTILE_ID
    trail = json.loads(cli(db, "history", sid, "--json"))
    assert trail[1]["data"]["content"] == f"refund {HOSTILE}"
