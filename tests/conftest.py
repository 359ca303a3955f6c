"""Fixtures: the stores the contract suite runs against, and the backends
every store and log test runs against (pyeventsourcing's one test case per
recorder, huey's StorageTests): SQLite in memory, a SQLite file, PostgreSQL,
an erasable SQLite file and an erasable PostgreSQL schema (`pg.BACKENDS`).

- `backend`: where a test's database lives, once per backend (a `pg.Target`:
  a str, with `.kind` and `.erasable`).
- `target`: the same for tests that reopen a database or share it between
  processes: only the backends that can (`pg.TARGETS`: no ":memory:").
- `open_store(**kwargs)` / `open_log(**kwargs)`: open an
  `EventSourcedSessionStore` / `EventLog` on the test's `target` if it asks
  for one, else on its `backend`; erasable on the erasable backend; closed
  when the test ends.
- `fresh_store(**kwargs)`: a store on a new, empty database of the test's
  backend each call (for Hypothesis examples).
- `store`: each SessionStore implementation, the in-memory one included.

A test about something only SQLite has says `@pytest.mark.sqlite_only(reason)`:
its PostgreSQL cases are not generated (rather than skipped). A library bug on
one backend: `@pytest.mark.xfail_on("postgres", reason="...")` (strict xfail).
"""

from __future__ import annotations

import inspect

import pytest
from helpers import STORES, Opener, make_store
from pg import BACKENDS, ERASABLE, SQLITE, TARGETS, Target, start, target_for


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "backends(*kinds): the only backends a test is about (e.g. a plain store's "
        "refusal to erase: no sqlite-erasable); the others are not generated")
    config.addinivalue_line(
        "markers", "xfail_on(*kinds, reason): a library bug on those backends: their cases are "
        "xfail(strict=True, reason=reason), so they pass once it is fixed only if the mark goes")


def _kinds(metafunc, kinds):
    """`kinds` that a test runs on: no PostgreSQL for a `sqlite_only` one,
    only those it names for a `backends(...)` one."""
    kinds = list(kinds)
    only = metafunc.definition.get_closest_marker("backends")
    if only is not None:
        kinds = [k for k in kinds if k in only.args]
    marker = metafunc.definition.get_closest_marker("sqlite_only")
    if marker is None:
        return kinds
    if not (marker.args and isinstance(marker.args[0], str) and marker.args[0].strip()):
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason")
    return [k for k in kinds if k in SQLITE]


def pytest_collection_modifyitems(items):
    """`xfail_on(*kinds, reason=...)`: the cases of those backends are strict xfails."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        kind = next((params[n] for n in ("backend", "target", "opened_on", "store") if n in params),
                    None)
        for mark in item.iter_markers("xfail_on"):
            if kind in mark.args:
                if not mark.kwargs.get("reason"):
                    raise pytest.UsageError(f"{item.nodeid}: xfail_on needs a reason")
                item.add_marker(pytest.mark.xfail(strict=True, reason=mark.kwargs["reason"]))


def _ours(metafunc, name) -> bool:
    """Whether `name` is one of this file's fixtures for the test (a test
    module or a deeper conftest may define its own `store` or `target`)."""
    defs = metafunc._arg2fixturedefs.get(name)
    return bool(defs) and inspect.getsourcefile(defs[-1].func) == __file__


def pytest_generate_tests(metafunc):
    names = metafunc.fixturenames
    for name, kinds in (("backend", BACKENDS), ("target", TARGETS), ("store", STORES),
                        ("erasable_target", ERASABLE)):
        if name in names and _ours(metafunc, name):
            metafunc.parametrize(name, _kinds(metafunc, kinds), indirect=True)
    if "opened_on" in names and "target" not in names and "backend" not in names:  # open_store & co
        metafunc.parametrize("opened_on", _kinds(metafunc, BACKENDS), indirect=True)


@pytest.fixture
def store(request, tmp_path):
    """Each SessionStore implementation, fresh."""
    s = make_store(request.param, tmp_path, request)
    yield s
    if hasattr(s, "close"):
        s.close()


@pytest.fixture(scope="session")
def pg_cluster():
    """One PostgreSQL server for the whole test session (see tests/pg.py)."""
    cluster = start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A URL on a fresh, empty schema of the test PostgreSQL."""
    return pg_cluster.new_schema()


@pytest.fixture
def backend(request, tmp_path):
    """Where to open a log or store, once per backend of `pg.BACKENDS`:
    ":memory:", a SQLite file path, or a PostgreSQL URL on a fresh schema."""
    return target_for(request.param, tmp_path, request)


@pytest.fixture
def target(request, tmp_path):
    """A database several stores and processes can open, on each backend of
    `pg.TARGETS`: a SQLite file's path (plain or erasable), or a PostgreSQL
    URL naming a fresh schema."""
    return target_for(request.param, tmp_path, request)


@pytest.fixture
def erasable_target(request, tmp_path):
    """An erasable database, on each backend of `pg.ERASABLE`: a SQLite file's
    path, or a PostgreSQL URL naming a fresh schema (open it with
    `helpers.store_on`, which passes the master key)."""
    return target_for(request.param, tmp_path, request)


@pytest.fixture
def opened_on(request, tmp_path):
    """The test's `target` or `backend` if it asks for one, else a database
    of each backend of `pg.BACKENDS`."""
    for name in ("target", "backend"):
        if name in request.fixturenames:
            return request.getfixturevalue(name)
    return target_for(request.param, tmp_path, request)


@pytest.fixture
def opener(opened_on):
    o = Opener(opened_on)
    yield o
    o.close()


@pytest.fixture
def fresh_store(request, opened_on, tmp_path, opener):
    """`fresh_store(**kwargs)`: a store on a new, empty database of this
    test's backend each call (a Hypothesis example each): a new file, or a
    new PostgreSQL schema. Closed when the test ends, if still open."""
    count = iter(range(1_000_000))

    def fresh(**kwargs):
        n = next(count)
        if opened_on.postgres:
            new = Target(request.getfixturevalue("pg_cluster").new_schema(), opened_on.kind)
        elif opened_on.kind == "sqlite-memory":
            new = opened_on
        else:
            new = Target(str(tmp_path / f"fresh-{n}.db"), opened_on.kind)
        o = Opener(new)
        opener.opened.append(o)
        return o.store(**kwargs)

    return fresh


@pytest.fixture
def open_store(opener):
    """`open_store(**kwargs)`: an `EventSourcedSessionStore` on this test's
    database (see the module docstring), as often as the test asks."""
    return opener.store


@pytest.fixture
def open_log(opener):
    """`open_log(**kwargs)`: an `EventLog` on this test's database (see the
    module docstring), as often as the test asks."""
    return opener.log
