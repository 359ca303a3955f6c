"""`search` on a SQLite file that cannot be written (a read-only mount, or a
directory the user cannot write), whose search view was never built or is
behind the log (#19 item 9): it found nothing, or missed what came after
the view's checkpoint, with a warning. It now answers from a temporary index
built from the log, as a writable copy of the file answers, in the library
and the CLI (a note on stderr says so), plain and erasable, and writes
nothing to the file."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import textwrap
from datetime import UTC, datetime

import helpers
import pytest

from projections import EventSourcedSessionStore, SessionMessage, SessionRole

pytestmark = pytest.mark.sqlite_only("a SQLite file on a read-only mount")

QUERIES = ("banana", "hello 2", "tenant-only")

SCENARIO = textwrap.dedent("""
    import json, sys, warnings
    from click.testing import CliRunner
    from projections import EventSourcedSessionStore
    from sessionlog.cli import main
    path, erasable = sys.argv[1], sys.argv[2] == "erasable"
    queries = json.loads(sys.argv[3])
    out = {"lib": {}, "cli": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with EventSourcedSessionStore(path, erasable=erasable) as store:
            out["read_only"] = store.log.read_only
            steps = []
            for q in queries:
                out["lib"][q] = [[h.session_id, h.position, h.snippet]
                                 for h in store.search(q, progress=steps.append)]
            out["acme"] = [h.position for h in store.search("hello", "acme")]
            out["steps"] = sum(steps)
    for q in queries:
        r = CliRunner().invoke(main, ["--db", path, "search", q, "--json"])
        out["cli"][q] = [r.exit_code, r.stdout, r.stderr]
    print(json.dumps(out))
""")


def say(text: str) -> SessionMessage:
    return SessionMessage(SessionRole.USER, text, datetime.now(UTC))


def make(path, erasable: bool, *, searched: bool) -> None:
    """Sessions with messages; the search view built only when `searched`,
    and then more messages written past it (so it is behind)."""
    with EventSourcedSessionStore(path, erasable=erasable) as store:
        for i in range(4):
            s = store.create(f"s{i}") if i % 2 else \
                store.create_session(f"s{i}", user_id="u", tenant_id="acme")
            store.add_messages(s.id, [say(f"hello {i} banana {j}") for j in range(3)])
        if searched:
            assert store.search("banana")
            late = store.create_session("late", user_id="u", tenant_id="acme")
            store.add_messages(late.id, [say("hello 2 tenant-only banana")])
        else:
            store.add_messages(s.id, [say("tenant-only words")])


def expected(path, erasable: bool, tmp_path) -> dict:
    """What a writable copy of the file answers (and its event count)."""
    copy = tmp_path / "writable"
    copy.mkdir()
    for extra in ("", "-wal", "-shm", ".key"):
        if (path.parent / f"{path.name}{extra}").exists():
            shutil.copy(path.parent / f"{path.name}{extra}", copy / f"{path.name}{extra}")
    with EventSourcedSessionStore(copy / path.name, erasable=erasable) as store:
        return {q: [[h.session_id, h.position, h.snippet] for h in store.search(q)]
                for q in QUERIES} | {"acme": [h.position for h in store.search("hello", "acme")],
                                     "events": store.log.last_position()}


def files(d) -> dict:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.mark.parametrize("erasable", [False, True], ids=["plain", "erasable"])
@pytest.mark.parametrize("searched", [False, True], ids=["never-built", "behind"])
@pytest.mark.parametrize("leftover", ["clean", "wal"])
def test_search_on_a_read_only_file_answers_as_a_writable_copy(tmp_path, erasable, searched,
                                                               leftover):
    """`leftover` "wal": a -wal and -shm beside the file (a reader had it
    open), so the file opens without an error and a write finds out."""
    d = tmp_path / "ro"
    d.mkdir()
    path = d / "s.db"
    make(path, erasable, searched=searched)
    want = expected(path, erasable, tmp_path)
    assert all(want[q] for q in QUERIES) and want["acme"]
    with contextlib.ExitStack() as held:
        if leftover == "wal":
            conn = held.enter_context(contextlib.closing(sqlite3.connect(path)))
            conn.execute("SELECT count(*) FROM events").fetchone()
        before = files(d)
        out = helpers.run_read_only(d, SCENARIO, path, "erasable" if erasable else "plain",
                                    json.dumps(QUERIES))
        after = files(d)
    assert out["read_only"] == (leftover == "clean")
    assert {q: out["lib"][q] for q in QUERIES} == {q: want[q] for q in QUERIES}
    assert out["acme"] == want["acme"]
    assert out["steps"] == want["events"]  # the whole log, once (progress)
    for q in QUERIES:
        code, stdout, stderr = out["cli"][q]
        assert code == 0, stderr
        assert [[h["session_id"], h["position"], h["snippet"]] for h in json.loads(stdout)] \
            == want[q]
        assert "note: " in stderr and "temporary index" in stderr
        assert "Traceback" not in stderr
    # nothing written (the -shm is the readers' shared memory)
    assert {n: b for n, b in after.items() if not n.endswith("-shm")} == \
        {n: b for n, b in before.items() if not n.endswith("-shm")}


def test_a_current_view_is_searched_as_it_is(tmp_path):
    """A read-only file whose search view is at the log's end needs no
    temporary index: no note, no progress."""
    d = tmp_path / "ro"
    d.mkdir()
    path = d / "s.db"
    make(path, False, searched=True)
    with EventSourcedSessionStore(path) as store:
        assert store.search("tenant-only")  # the view catches up to the end
    out = helpers.run_read_only(d, SCENARIO, path, "plain", json.dumps(QUERIES))
    assert out["lib"]["tenant-only"] and out["steps"] == 0
    assert all(out["cli"][q][2] == "" for q in QUERIES)


NO_INDEX = textwrap.dedent("""
    import json, sys, warnings
    from click.testing import CliRunner
    from sessionlog.cli import main
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        r = CliRunner().invoke(main, ["--db", sys.argv[1], "search", "banana"])
    print(json.dumps([r.exit_code, r.stdout, r.stderr, repr(r.exception),
                      [str(w.message) for w in seen]]))
""")


def test_no_temporary_index_possible_is_one_line(tmp_path):
    """An erasable file whose search key is gone (nothing to hash the words
    with, and no way to make one on a read-only mount): a warning that says
    so, then one error line, no traceback, nothing written."""
    d = tmp_path / "ro"
    d.mkdir()
    path = d / "s.db"
    make(path, True, searched=False)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("DELETE FROM erasure_meta WHERE name = 'search_key'")
        conn.commit()
    before = files(d)
    code, stdout, stderr, exc, seen = helpers.run_read_only(d, NO_INDEX, path)
    assert code == 1 and "Traceback" not in stdout + stderr, (stdout, stderr, exc)
    *warned, error = stderr.strip().splitlines()
    assert error.startswith("Error: ") and "search key" in error
    assert all(w.startswith("warning: ") for w in warned)
    assert any("no temporary index could be made" in w for w in [*warned, *seen])
    assert files(d) == before
