"""Export writes through a safely created temporary file and reads one
consistent snapshot of the store."""

from __future__ import annotations

import json
import os
import threading

import pytest
from click.testing import CliRunner
from helpers import store_on

from projections import EventSourcedSessionStore
from projections.transfer import export_sessions
from sessionlog.cli import main


@pytest.mark.sqlite_only("the output file's safety, not the store's: a SQLite file is the source")
def test_export_never_writes_through_a_planted_symlink(tmp_path):
    db = str(tmp_path / "x.db")
    with EventSourcedSessionStore(db) as store:
        store.create("one")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out.jsonl"
    os.symlink(victim, tmp_path / "out.jsonl.partial")  # the name export used to write to
    result = CliRunner().invoke(main, ["--db", db, "export", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert victim.read_text() == "precious\n"
    assert [json.loads(line)["title"] for line in out.read_text().splitlines()] == ["one"]
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl", "out.jsonl.partial", "victim.txt", "x.db"]


@pytest.mark.sqlite_only("the output file's mode, not the store's: a SQLite file is the source")
def test_export_output_gets_the_usual_permissions(tmp_path):
    db = str(tmp_path / "x.db")
    with EventSourcedSessionStore(db) as store:
        store.create("one")
    out = tmp_path / "out.jsonl"
    assert CliRunner().invoke(main, ["--db", db, "export", "-o", str(out)]).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_export_is_one_snapshot_while_sessions_are_deleted_and_created(target):
    db = target
    with store_on(db) as store:
        ids = [str(store.create(f"s{i}").id) for i in range(5)]
        lines = export_sessions(store, page=2)
        first = json.loads(next(lines))["id"]

        def meddle():  # another writer, as another process would be
            with store_on(db) as other:
                for sid in ids:
                    other.delete(sid)
                other.create("late")

        t = threading.Thread(target=meddle)
        t.start()
        t.join()
        rest = [json.loads(line)["id"] for line in lines]
        assert [first, *rest] == ids[::-1]
        assert [s.title for s in store.list()] == ["late"]
