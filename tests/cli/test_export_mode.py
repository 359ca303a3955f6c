"""`export -o FILE` of an erasable store is created 0600, like the store
itself: whoever may not read the database may not read its export either.
A plain store's export keeps the mode the umask gives a new file."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from sessionlog.cli import main


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def ok(db, *args) -> str:
    result = CliRunner().invoke(main, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_export_of_an_erasable_store_is_0600(db, tmp_path, umask_022):
    """Through the CLI, on every backend: erasable -> 0600, plain -> 0644
    (umask 022), also over an existing world-readable FILE; the content is
    the same either way."""
    sid = ok(db, "create", "--title", "private").strip()
    ok(db, "add", sid, "--role", "user", "my address is 1 Main St")
    out = tmp_path / "export.jsonl"
    out.write_text("old\n")
    os.chmod(out, 0o644)
    ok(db, "export", "-o", str(out))
    assert mode(out) == (0o600 if db.erasable else 0o644)
    assert "1 Main St" in out.read_text()
    fresh = tmp_path / "fresh.jsonl"
    ok(db, "export", "--tenant", "nobody", "-o", str(fresh))
    assert mode(fresh) == (0o600 if db.erasable else 0o644)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
