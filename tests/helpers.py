"""Helpers shared by the test files."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from eventlog import EventLog, SessionCreated
from projections import EventSourcedSessionStore, InMemorySessionStore, Session

STORES = ["memory", "sqlite-memory", "sqlite-file", "sqlite-erasable", "postgres",
          "postgres-erasable"]

#: The master key of the erasable PostgreSQL backend's stores (a PostgreSQL
#: log has no key file beside it): one per test run, handed to child
#: processes through the environment (not $SESSIONLOG_MASTER_KEY, which would
#: change the key SQLite files get).
PG_MASTER_KEY = base64.b64decode(os.environ.setdefault(
    "SESSIONLOG_TEST_PG_MASTER_KEY", base64.b64encode(os.urandom(32)).decode()))


def pg_master_key():
    """`PG_MASTER_KEY` as a master key provider."""
    from projections.erasure.masterkey import StaticKey

    return StaticKey(PG_MASTER_KEY, "the tests' PostgreSQL master key")


def sealer_for(path):
    """The sealer an erasable store at `path` gives its log, built the way
    `EventSourcedSessionStore(path, erasable=True)` builds it (master key:
    $SESSIONLOG_MASTER_KEY, else the key file `<path>.key`)."""
    from eventlog.backends.factory import is_url
    from projections.erasure.masterkey import default_provider
    from projections.erasure.sealer import Sealer

    if getattr(path, "postgres", False) or is_url(os.fspath(path)):
        return Sealer(pg_master_key())
    return Sealer(default_provider(os.fspath(path)))


def store_on(where, **kwargs) -> EventSourcedSessionStore:
    """`EventSourcedSessionStore(where, **kwargs)`, erasable when `where` is
    the erasable backend (a `pg.Target`; a plain path or URL opens plainly).
    For tests that reopen a test's `target` by hand, again and again."""
    if getattr(where, "erasable", False):
        kwargs.setdefault("erasable", True)
        if getattr(where, "postgres", False):
            kwargs.setdefault("master_key", pg_master_key())
    return EventSourcedSessionStore(where, **kwargs)


def child_args(where) -> list[str]:
    """The extra arguments that tell a child process (tests/reliability/
    writer.py and the like) to open `where` as the erasable store it is."""
    return ["erasable"] if getattr(where, "erasable", False) else []


#: The share of a Hypothesis test's examples each backend runs: all of them in
#: memory, fewer where every example opens a new file (and, erasable, a key) or
#: a PostgreSQL schema. The properties are the backend's as much as the
#: store's, but each example costs 5-20x as much there (suite time, issue #18).
SHARE = {"sqlite-memory": 1.0, "sqlite-file": 0.15, "sqlite-erasable": 0.15, "postgres": 0.2,
         "postgres-erasable": 0.2}


def examples(where, n: int) -> int:
    """`max_examples` for a Hypothesis test of `n` examples on the backend of
    `where` (a `pg.Target`; anything else: all `n`)."""
    return max(5, round(n * SHARE.get(getattr(where, "kind", ""), 1.0)))


class _Qmark:
    """A psycopg connection taking `?` placeholders, as a hand edit uses it."""

    def __init__(self, url) -> None:
        import psycopg

        self.raw = psycopg.connect(url)

    def execute(self, sql, params=()):
        from eventlog.backends.postgres import convert

        return self.raw.execute(convert(sql), params)

    def commit(self) -> None:
        self.raw.commit()

    def close(self) -> None:
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, *rest) -> None:
        if kind is None:
            self.commit()
        self.close()


def raw_connection(where):
    """A connection of another program to a test's database (a hand edit):
    sqlite3's, or psycopg's taking `?` placeholders too. As a context manager
    it commits; close it yourself."""
    import sqlite3

    from eventlog.backends.factory import is_url

    return _Qmark(where) if is_url(where) else sqlite3.connect(where)


def drop_trigger(conn, where, name: str) -> None:
    """DROP TRIGGER `name` (of `events`) in either dialect."""
    from eventlog.backends.factory import is_url

    conn.execute(f"DROP TRIGGER {name} ON events" if is_url(where) else f"DROP TRIGGER {name}")


def db_args(where) -> list[str]:
    """The CLI's leading arguments for a test's database: `--db where`, and
    `--erasable` on the erasable backend (a new erasable file needs it)."""
    return ["--db", where, *(["--erasable"] if getattr(where, "erasable", False) else [])]


class Opener:
    """Opens stores and logs on one test's backend (a `pg.Target`), again
    and again on the same database (":memory:" gives a new one each time),
    and closes whatever is still open when the test ends."""

    def __init__(self, where) -> None:
        self.where = where
        self.opened: list = []

    @property
    def erasable(self) -> bool:
        return getattr(self.where, "erasable", False)

    def store(self, **kwargs) -> EventSourcedSessionStore:
        """`EventSourcedSessionStore(where, **kwargs)`, erasable on the
        erasable backend."""
        store = store_on(self.where, **kwargs)
        self.opened.append(store)
        return store

    def log(self, **kwargs) -> EventLog:
        """`EventLog(where, **kwargs)`; on the erasable backend with the
        sealer an erasable store's log has."""
        if self.erasable and "sealer" not in kwargs:
            kwargs["sealer"] = sealer_for(self.where)
        log = EventLog(self.where, **kwargs)
        self.opened.append(log)
        return log

    def close(self) -> None:
        for thing in reversed(self.opened):
            try:
                thing.close()
            except Exception:  # already closed, or the test broke it on purpose
                pass


def make_store(kind: str, tmp_path, request=None):
    """A fresh store of a kind of `STORES` ("postgres": a schema of its own,
    through the `pg_url` fixture of `request`)."""
    if kind == "memory":
        return InMemorySessionStore()
    if kind == "sqlite-memory":
        return EventSourcedSessionStore(":memory:")
    if kind == "postgres":
        return EventSourcedSessionStore(request.getfixturevalue("pg_url"))
    if kind == "postgres-erasable":  # issue 19, item 5
        return EventSourcedSessionStore(request.getfixturevalue("pg_url"), erasable=True,
                                        master_key=pg_master_key())
    if kind == "sqlite-erasable":  # personal fields sealed (issue #14): reads the same
        return EventSourcedSessionStore(tmp_path / "sessions.db", erasable=True)
    return EventSourcedSessionStore(tmp_path / "sessions.db")


def seed(store, session: Session) -> None:
    """Put an empty session with a chosen `created_at` into any store, the way
    its own writes would (one SessionCreated event)."""
    event = SessionCreated(session.id, session.title, session.created_at,
                           session.user_id, session.tenant_id)
    if isinstance(store, InMemorySessionStore):
        store.apply(event)
    else:
        store.log.append(str(session.id), [event], expected_version=0)
        store.runner.catch_up()


def run_read_only(directory, scenario: str, *args) -> dict:
    """Run the Python `scenario` (its argv: `args`) in a child process that sees
    `directory` read-only: a plain chmod for a normal user, a read-only bind
    mount in a mount namespace for root (whom file modes do not stop). The
    scenario prints one JSON object, returned."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    import pytest

    script = [sys.executable, "-c", scenario, *map(str, args)]
    if os.geteuid() != 0:
        os.chmod(directory, 0o555)
        try:
            done = subprocess.run(script, capture_output=True, text=True, timeout=300)
        finally:
            os.chmod(directory, 0o755)
    else:
        # A missing component may skip only outside CI (CI=true: it fails).
        missing = pytest.fail if os.environ.get("CI") == "true" else pytest.skip
        if shutil.which("unshare") is None:
            missing("running as root without unshare(1): no way to make a read-only mount")
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
        if probe.returncode:
            missing(f"running as root without mount namespaces: {probe.stderr.decode()!r}")
        d = str(directory)
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', d, *script],
            capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def leaks(db: Path, words: list[str]) -> list[tuple[str, str]]:
    """Which of `words` are in a SQLite file's bytes, its -wal or its -shm
    (lowercased), as (file name, word) pairs."""
    found = []
    for ext in ("", "-wal", "-shm"):
        p = Path(str(db) + ext)
        data = p.read_bytes().lower() if p.exists() else b""
        found += [(p.name, w) for w in words if w.encode() in data]
    return found
