"""A PostgreSQL for the tests: `$SESSIONLOG_TEST_PG` (a libpq URL) if set,
else a throwaway cluster started from the machine's PostgreSQL binaries
(/usr/lib/postgresql/*/bin), one per test session, a fresh schema per test.

Without binaries the PostgreSQL tests skip, except under CI=true, where
they fail (CI must run every test on both backends).
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.parse
import uuid

#: The backends every store and log test runs against, unless it says
#: `sqlite_only(reason)`: "sqlite-erasable" is a SQLite file whose personal
#: fields are sealed (`EventSourcedSessionStore(path, erasable=True)`),
#: "postgres-erasable" the same on a PostgreSQL schema (master key: see
#: `ERASABLE`).
BACKENDS = ["sqlite-memory", "sqlite-file", "postgres", "sqlite-erasable", "postgres-erasable"]

#: The backends a database can be reopened on, or shared by two processes.
TARGETS = ["sqlite-file", "postgres", "sqlite-erasable"]

#: The erasable backends (the `erasable_target` fixture): an erasable SQLite
#: file, and an erasable PostgreSQL schema ("postgres-erasable": its master
#: key is `PG_MASTER_KEY`, given as `master_key=`; there is no key file).
ERASABLE = ["sqlite-erasable", "postgres-erasable"]

#: The backends that are no PostgreSQL (what a `sqlite_only` test runs on).
SQLITE = frozenset({"memory", "sqlite-memory", "sqlite-file", "sqlite-erasable"})


class Target(str):
    """Where a test's log or store lives (":memory:", a SQLite file's path,
    or a PostgreSQL URL), and which backend `kind` of `BACKENDS` it is."""

    kind: str

    def __new__(cls, where: str, kind: str) -> Target:
        self = super().__new__(cls, where)
        self.kind = kind
        return self

    @property
    def erasable(self) -> bool:
        """Whether stores on it must be opened with `erasable=True`."""
        return self.kind in ERASABLE

    @property
    def postgres(self) -> bool:
        return self.kind in ("postgres", "postgres-erasable")


def with_schema(url: str, schema: str, settings: str = "") -> str:
    """`url` with libpq's `options` setting search_path to `schema`."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    query = [(k, v) for k, v in query if k != "options"]
    query.append(("options", f"-csearch_path={schema} {settings}".strip()))
    # quote, not quote_plus: libpq does not read "+" as a space
    encoded = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return urllib.parse.urlunsplit(parts._replace(query=encoded))


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


class Cluster:
    """A PostgreSQL server the tests may use: `url` (its `postgres`
    database), `new_schema()` a URL on a fresh schema."""

    def __init__(self, url: str, folder: str | None = None, bindir: str | None = None) -> None:
        self.url, self.folder, self.bindir = url, folder, bindir
        self.schemas: list[str] = []
        self._stopped = False
        import psycopg

        self._admin = psycopg.connect(url, autocommit=True)

    def new_schema(self, settings: str = "") -> str:
        """A URL whose search_path is a new, empty schema (`settings`: more
        `-c name=value` server settings for its sessions)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin.execute(f'CREATE SCHEMA "{name}"')
        self.schemas.append(name)
        return with_schema(self.url, name, settings)

    def restart(self) -> None:
        """Restart a throwaway cluster (`pg_ctl restart -m fast`, with the
        options it was started with): every connection to it is cut; returns
        once it accepts connections again. Never the session's shared
        cluster under other tests: start a private one (`start_cluster()`)."""
        if self.folder is None or self.bindir is None:
            raise RuntimeError("only a throwaway cluster can be restarted")
        import psycopg

        self._admin.close()
        _as_postgres([f"{self.bindir}/pg_ctl", "-D", f"{self.folder}/data", "-w", "-m", "fast",
                      "-l", f"{self.folder}/server.log", "restart"])
        self._admin = psycopg.connect(self.url, autocommit=True)

    def stop(self) -> None:
        """Drop the schemas of a server we were given; stop and remove a
        throwaway cluster. Idempotent: pytest's teardown, `atexit` and a
        signal handler may all call it."""
        if self._stopped:
            return
        self._stopped = True
        if self.folder is None:  # someone else's server: leave it as found
            for name in self.schemas:
                try:
                    self._admin.execute("SET lock_timeout = '2s'")
                    self._admin.execute(f'DROP SCHEMA "{name}" CASCADE')
                except Exception:  # best effort: a live connection may hold it
                    pass
        self._admin.close()
        if self.folder is not None and self.bindir is not None:
            _as_postgres([f"{self.bindir}/pg_ctl", "-D", f"{self.folder}/data", "-m",
                          "immediate", "stop"], check=False)
            shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a server binary; as root through `runuser -u postgres` (initdb and
    the server refuse root)."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class Unavailable(RuntimeError):
    """No PostgreSQL can be had here (the message says why)."""


def start() -> Cluster:
    """The cluster for this test session (see the module's docstring)."""
    try:
        return start_cluster(os.environ.get("SESSIONLOG_TEST_PG"))
    except Unavailable as e:
        _unavailable(str(e))
        raise  # not reached: skip or fail raise


def start_cluster(url: str | None = None, *, fsync: bool = False) -> Cluster:
    """A server at `url`, else a throwaway cluster (also used by
    scripts/bench.py, with `fsync`: the tests' cluster does not flush).

    Raises:
        Unavailable: no psycopg, no binaries, or the cluster did not start.
    """
    if url:
        return Cluster(url)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg is not installed (pip install -e '.[test]')") from None
    bindir = _bin_dir()
    if bindir is None:
        raise Unavailable("no PostgreSQL binaries in /usr/lib/postgresql/*/bin")
    folder = tempfile.mkdtemp(prefix="sessionlog-pg-")
    try:
        os.chmod(folder, 0o755)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        _as_postgres([f"{bindir}/initdb", "-D", f"{folder}/data", "--no-sync", "-A", "trust",
                      "-U", "postgres", "-E", "UTF8", "--locale=C"])
        durable = "" if fsync else "-c fsync=off -c full_page_writes=off "
        options = (f"-c listen_addresses='' -c unix_socket_directories={folder} {durable}"
                   "-c max_connections=400 -c shared_buffers=64MB")
        _as_postgres([f"{bindir}/pg_ctl", "-D", f"{folder}/data", "-w", "-l",
                      f"{folder}/server.log", "-o", options, "start"])
    except (subprocess.CalledProcessError, OSError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"could not start a PostgreSQL cluster: {detail.strip()}") from None
    url = f"postgresql://postgres@/postgres?host={urllib.parse.quote(folder, safe='')}"
    cluster = Cluster(url, folder, bindir)
    _stop_on_exit(cluster)
    return cluster


def _stop_on_exit(cluster: Cluster) -> None:
    """Stop a throwaway cluster however this process ends: normally
    (`atexit`), or killed by SIGTERM or SIGHUP, which would otherwise leave
    the server running and its folder behind. (SIGKILL cannot be caught.)"""
    atexit.register(cluster.stop)

    def on_signal(signum, frame):
        cluster.stop()
        previous = handlers.get(signum)
        if callable(previous):
            previous(signum, frame)
        else:  # the default action: end the process with this signal
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    handlers = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            handlers[signum] = signal.signal(signum, on_signal)
        except ValueError:  # not the main thread: atexit still covers a normal end
            pass


def _unavailable(why: str) -> None:
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL tests cannot run under CI: {why}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {why}")


def target_for(kind: str, tmp_path, request) -> Target:
    """What `EventLog(...)` / `EventSourcedSessionStore(...)` opens for a
    backend kind: ":memory:", a file path, or a URL on a fresh schema."""
    if kind == "sqlite-memory":
        return Target(":memory:", kind)
    if kind == "sqlite-file":
        return Target(str(tmp_path / "log.db"), kind)
    if kind == "sqlite-erasable":
        return Target(str(tmp_path / "erasable.db"), kind)
    if kind in ("postgres", "postgres-erasable"):
        return Target(request.getfixturevalue("pg_url"), kind)
    raise ValueError(f"unknown backend {kind!r}")
