"""A new erasable store never adopts a key file it did not make (issue 19,
item 3): a `X.key` already there (planted, world-readable) is refused in one
line, the key file is left as it was and no erasable file is made."""

from __future__ import annotations

import base64
import os
import sqlite3
import threading

import pytest
from click.testing import CliRunner

from projections import EventSourcedSessionStore, MasterKeyError
from sessionlog.cli import main

pytestmark = pytest.mark.sqlite_only("the key file lies beside a SQLite file")


def plant(db) -> bytes:
    """A key file someone else made, readable by all."""
    secret = base64.b64encode(b"k" * 32) + b"\n"
    path = f"{db}.key"
    with open(path, "wb") as f:
        f.write(secret)
    os.chmod(path, 0o644)
    return secret


def is_erasable(db) -> bool:
    if not os.path.exists(db):
        return False
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'erasure_meta'"
                            ).fetchone() is not None


def test_a_new_erasable_store_refuses_a_key_file_it_did_not_make(tmp_path):
    db = tmp_path / "chats.db"
    secret = plant(db)
    with pytest.raises(MasterKeyError, match="never adopts a key file") as e:
        EventSourcedSessionStore(db, erasable=True)
    assert "\n" not in str(e.value)
    assert open(f"{db}.key", "rb").read() == secret and not is_erasable(db)


def test_the_cli_refuses_a_planted_key_file_in_one_line(tmp_path):
    db = tmp_path / "chats.db"
    secret = plant(db)
    out = CliRunner().invoke(main, ["--db", str(db), "--erasable", "create", "--title", "x"])
    assert out.exit_code == 1, out.output
    assert out.output.count("\n") == 1 and "never adopts a key file" in out.output
    assert "Traceback" not in out.output
    assert not db.exists() and open(f"{db}.key", "rb").read() == secret


def test_the_store_that_made_its_key_file_opens_it_again(tmp_path):
    db = tmp_path / "chats.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        sid = store.create_session("hello").id
    with EventSourcedSessionStore(db, erasable=True) as store:
        assert store.get(sid).title == "hello"


def test_threads_making_one_new_erasable_store_share_the_key_made_once(tmp_path):
    """Racing opens of one new file: one makes the key under the write lock,
    the others find the file erasable and use that key; none is refused."""
    db = tmp_path / "chats.db"
    errors: list[BaseException] = []

    def open_and_write(n):
        try:
            with EventSourcedSessionStore(db, erasable=True) as store:
                store.create_session(f"chat {n}")
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=open_and_write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with EventSourcedSessionStore(db, erasable=True) as store:
        assert sorted(s.title for s in store.list()) == [f"chat {n}" for n in range(4)]
