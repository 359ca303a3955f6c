"""Words and layout of the finding commands: no `title None`, one wording
for a deleted session, columns aligned by display width (issue 20, item 8)."""

from __future__ import annotations

import unicodedata

from clirun import ok, run


def width(text: str) -> int:
    """Terminal columns: wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_history_of_an_untitled_session_prints_no_python_none(db):
    sid = ok(db, "create").strip()
    trail = ok(db, "history", sid)
    assert "None" not in trail and "no title" in trail


def test_a_deleted_session_is_said_the_same_by_show_add_and_delete(db):
    sid = ok(db, "create").strip()
    ok(db, "delete", sid)
    said = {command: run(db, *args).stderr for command, args in (
        ("show", ["show", sid]), ("add", ["add", sid, "--role", "user", "x"]),
        ("delete", ["delete", sid]))}
    assert len(set(said.values())) == 1
    assert f"session {sid} was deleted (position 2)" in said["add"]


def test_list_columns_align_by_display_width(db):
    for title in ("日本語のタイトル", "emoji 😀😀", "plain"):
        ok(db, "create", "--title", title, "--user", "u", "--tenant", "t")
    lines = ok(db, "list").splitlines()
    starts = {width(line[:line.index(" u ") + 1]) for line in lines[1:]}
    assert len(starts) == 1, lines
    assert width(lines[0][:lines[0].index("USER")]) in starts
