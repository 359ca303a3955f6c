"""Import and export of serde JSON sessions."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from helpers import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import sessions

from projections import (
    session_from_json,
    session_to_dict,
    session_to_json,
)
from projections.transfer import (
    ImportConflictError,
    ImportFileError,
    export_sessions,
    import_sessions,
    read_sessions,
)
from sessionlog.cli import main


def session_dict(i=0, **changes):
    d = {"id": str(uuid.UUID(int=i + 1)), "title": f"s{i}", "created_at": "2026-01-01T00:00:00Z",
         "messages": [{"role": "user", "content": f"hello {i}", "timestamp": "2026-01-01T00:00:01Z"},
                      {"role": "assistant", "content": "hi", "timestamp": "2026-01-01T00:00:02.5Z"}]}
    d.update(changes)
    return d


def run_import(store, text, name="f.jsonl", **kw):
    return import_sessions(store, read_sessions(io.StringIO(text), name), **kw)


@pytest.fixture
def store(open_store):
    """An empty store on each backend."""
    with open_store() as s:
        yield s


@pytest.mark.parametrize("layout", ["array", "object", "jsonl", "pretty-array"])
def test_every_layout_imports(store, layout):
    records = [session_dict(i) for i in range(3)] if layout != "object" else [session_dict()]
    text = {"array": json.dumps(records), "pretty-array": json.dumps(records, indent=2),
            "object": json.dumps(records[0], indent=2),
            "jsonl": "\n".join(json.dumps(r) for r in records) + "\n"}[layout]
    summary = run_import(store, text)
    assert (summary.sessions, summary.messages, summary.skipped) == (len(records), 2 * len(records), 0)
    for r in records:
        assert session_to_dict(store.get(r["id"])) == r | {
            "messages": [m | {"timestamp": m["timestamp"].replace("2.5Z", "2.500Z")}
                         for m in r["messages"]]}


def test_each_session_becomes_created_plus_one_event_per_message(store):
    run_import(store, json.dumps(session_dict()), name="old-store.json")
    trail = store.history(uuid.UUID(int=1))
    assert [e.type for e in trail] == ["SessionCreated", "MessageAdded", "MessageAdded"]
    assert all(e.metadata == {"source": "import", "file": "old-store.json"} for e in trail)
    assert trail[1].data["timestamp"] == "2026-01-01T00:00:01.000000Z"


@pytest.mark.parametrize("bad_line, field", [
    ('{"id": "nope", "title": null, "created_at": "2026-01-01T00:00:00Z", "messages": []}', "id"),
    ('{"id": "00000000-0000-0000-0000-000000000009", "title": null, "created_at": "noon", "messages": []}', "created_at"),
    ('{"id": "00000000-0000-0000-0000-000000000009", "title": null, "created_at": "2026-01-01T00:00:00Z", "messages": [{"role": 5, "content": "x", "timestamp": "2026-01-01T00:00:00Z"}]}', "messages[0].role"),  # "system" is imported now (issue 20)
    ('{"id": "00000000-0000-0000-0000-000000000009", "title": null, "messages": []}', "created_at"),
    ('{"id": "00000000-0000-0000-0000-000000000009", "title": null, "created_at": "2026-01-01T00:00:00Z", "messages": [{"role": "user", "timestamp": "2026-01-01T00:00:00Z"}]}', "messages[0].content"),
    ('[1, 2]', "JSON object"),
    ('"just a string"', "JSON object"),
    ('{"id": "00000000-0000-0000-0000-00000000000', "broken JSON"),
])
def test_a_bad_record_writes_nothing_and_names_the_line_and_field(store, bad_line, field):
    good = [json.dumps(session_dict(i)) for i in range(3)]
    text = "\n".join(good[:2] + [bad_line] + good[2:])
    with pytest.raises(ImportFileError) as info:
        run_import(store, text, name="in.jsonl")
    assert str(info.value).startswith("in.jsonl:3: ")
    assert field in str(info.value)
    assert store.log.last_position() == 0 and store.list() == []


def test_array_errors_name_the_record(store):
    records = [session_dict(0), session_dict(1, created_at="never"), session_dict(2)]
    with pytest.raises(ImportFileError, match=r"^a.json: record 2: .*created_at"):
        run_import(store, json.dumps(records), name="a.json")
    with pytest.raises(ImportFileError, match=r"^a.json: record 3: broken JSON"):
        run_import(store, json.dumps([session_dict(i) for i in range(3)])[:-30], name="a.json")
    assert store.log.last_position() == 0


def test_lone_surrogates_are_refused_with_the_line(store):
    text = json.dumps(session_dict(0)) + "\n" + json.dumps(session_dict(1, title="\ud800"))
    with pytest.raises(ImportFileError, match=r"^f.jsonl:2: .*surrogate"):
        run_import(store, text)
    assert store.log.last_position() == 0


def test_reimport_is_a_no_op_and_conflicts_are_named(store):
    text = "\n".join(json.dumps(session_dict(i)) for i in range(3))
    run_import(store, text)
    before = store.log.last_position()
    again = run_import(store, text)
    assert (again.sessions, again.skipped) == (0, 3)
    changed = json.dumps(session_dict(1, title="edited"))
    with pytest.raises(ImportConflictError, match="already in the log with other content") as refused:
        run_import(store, changed, name="new.jsonl")
    assert "--on-conflict skip" in str(refused.value) and "'append'" in str(refused.value)
    kept = run_import(store, changed, on_conflict="skip")
    assert (kept.sessions, kept.conflicts) == (0, 1)
    assert store.log.last_position() == before
    assert store.get(uuid.UUID(int=2)).title == "s1"


def test_importing_a_deleted_session_is_a_conflict(store):
    run_import(store, json.dumps(session_dict()))
    store.delete(uuid.UUID(int=1))
    with pytest.raises(ImportConflictError, match="was deleted"):
        run_import(store, json.dumps(session_dict()))


def test_timestamps_with_nanoseconds_and_offsets(store):
    d = session_dict(0, created_at="2026-01-01T02:00:00.123456789+02:00")
    run_import(store, json.dumps(d))
    s = store.get(d["id"])
    assert s.created_at == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert session_to_dict(s)["created_at"] == "2026-01-01T00:00:00.123456Z"


def test_export_then_import_round_trips(fresh_store, opened_on):
    """On every backend (fewer examples where each opens new databases)."""

    @settings(max_examples=examples(opened_on, 30), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(sessions, max_size=6, unique_by=lambda s: s.id))
    def check(batch):
        with fresh_store() as source, fresh_store() as target:
            run_import(source, "\n".join(session_to_json(s) for s in batch))
            lines = list(export_sessions(source, page=2))
            assert lines == [session_to_json(s) for s in source.list()]
            assert [session_to_json(session_from_json(line)) for line in lines] == lines
            run_import(target, "\n".join(lines))
            assert sorted(map(session_to_json, target.list())) == sorted(map(session_to_json, batch))
            for line in lines:  # what the seed's serde writes: Z, no null owners
                assert '"user_id":null' not in line and '"tenant_id":null' not in line

    check()


def test_export_filters_by_tenant(store):
    run_import(store, "\n".join(json.dumps(session_dict(i, tenant_id="acme" if i else "globex",
                                                        user_id="u")) for i in range(3)))
    assert [json.loads(x)["tenant_id"] for x in export_sessions(store, "acme")] == ["acme", "acme"]


def test_cli_import_export(tmp_path, target):
    src, dst = str(tmp_path / "a.db"), target
    data = tmp_path / "in.json"
    data.write_text(json.dumps([session_dict(i) for i in range(4)]))
    out = CliRunner().invoke(main, ["--db", src, "import", str(data)])
    assert out.exit_code == 0 and out.stdout.startswith("imported 4 session(s) with 8 message(s)")
    backup = tmp_path / "backup.jsonl"
    out = CliRunner().invoke(main, ["--db", src, "export", "-o", str(backup)])
    assert out.exit_code == 0 and "exported 4 session(s)" in out.stderr
    out = CliRunner().invoke(main, ["--db", dst, "import", "-"], input=backup.read_text())
    assert out.exit_code == 0
    out = CliRunner().invoke(main, ["--db", dst, "import", "-"], input=backup.read_text())
    assert "skipped 4 already present" in out.stdout
    again = CliRunner().invoke(main, ["--db", dst, "export"])  # the same lines back out of dst
    assert again.exit_code == 0
    assert sorted(again.stdout.splitlines()) == sorted(backup.read_text().splitlines())
    bad = CliRunner().invoke(main, ["--db", dst, "import", "-"], input='{"id": 5}\n')
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: <stdin>:1: ")
    assert "Traceback" not in bad.output


# One backend (a plain SQLite file): the bound is the import's (it streams the file
# and writes in batches), the same on every backend; 200k messages on each would
# add minutes to the slow run, and the import runs on every backend elsewhere.
@pytest.mark.slow
def test_a_200k_message_file_imports_within_the_memory_bound(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w") as f:
        for i in range(2000):
            f.write(json.dumps({
                "id": str(uuid.UUID(int=i + 1)), "title": None, "created_at": "2026-01-01T00:00:00Z",
                "messages": [{"role": "user", "content": f"message {j} " + "x" * 100,
                              "timestamp": "2026-01-01T00:00:01Z"} for j in range(100)]}) + "\n")
    code = (
        "import sys\n"
        "from projections import EventSourcedSessionStore\n"
        "from projections.transfer import import_sessions, read_sessions\n"
        "with EventSourcedSessionStore(sys.argv[2]) as s, open(sys.argv[1]) as f:\n"
        "    print(import_sessions(s, read_sessions(f, 'big')).messages)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent.
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "big.db")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    messages, peak_kb = map(int, out.stdout.split())
    assert messages == 200_000
    file_mb = path.stat().st_size / 1e6
    assert file_mb > 25 and peak_kb / 1e3 < 100, (file_mb, peak_kb)


def test_json_lines_longer_than_a_read_chunk(store):
    long = [session_dict(i, title="t" * 100_000) for i in range(3)]
    summary = run_import(store, "\n".join(json.dumps(r) for r in long))
    assert summary.sessions == 3 and store.get(long[2]["id"]).title == "t" * 100_000
