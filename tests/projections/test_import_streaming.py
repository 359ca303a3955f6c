"""Import reads a single-line JSON array (what json.dumps and serde_json write)
record by record: memory stays bounded, not proportional to the file."""

from __future__ import annotations

import json
import tracemalloc
import uuid

from projections.transfer import read_records


def _session(i: int) -> dict:
    return {"id": str(uuid.UUID(int=i)), "title": f"chat {i}", "created_at": "2026-01-01T00:00:00Z",
            "messages": [{"role": "user", "content": "x" * 200, "timestamp": "2026-01-01T00:00:00Z"}
                         for _ in range(10)]}


def _peak_while_reading(path) -> tuple[int, int]:
    with open(path, encoding="utf-8") as f:
        tracemalloc.start()
        try:
            count = sum(1 for _ in read_records(f, str(path)))
            return count, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_a_single_line_array_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "one-line.json"
    path.write_text(json.dumps([_session(i) for i in range(3000)]), encoding="utf-8")
    size = path.stat().st_size
    assert size > 7_000_000 and path.read_text().count("\n") == 0
    count, peak = _peak_while_reading(path)
    assert count == 3000
    assert peak < 1_500_000, f"peak {peak} bytes for a {size}-byte file"


def test_a_record_larger_than_a_chunk_is_read_whole(tmp_path):
    path = tmp_path / "big-record.json"
    big = _session(1)
    big["messages"] = big["messages"] * 200  # about 500 KB in one record
    path.write_text(json.dumps([_session(0), big, _session(2)]), encoding="utf-8")
    with open(path, encoding="utf-8") as f:
        values = [v for _, v in read_records(f, "big-record.json")]
    assert [len(v["messages"]) for v in values] == [10, 2000, 10]
