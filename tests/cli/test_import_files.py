"""`import` reads the files people have: UTF-8 with a BOM (Windows tools),
gzip (by its magic bytes, whatever the name; stdin too), and says so in one
line when a gzip file is cut short."""

from __future__ import annotations

import gzip
import json
import uuid

from clirun import run

SID = str(uuid.UUID(int=7))
RECORD = json.dumps({"id": SID, "title": "café ☕", "created_at": "2026-01-02T03:04:05Z",
                     "messages": [{"role": "user", "content": "hi", "timestamp":
                                   "2026-01-02T03:04:06Z"}]}, ensure_ascii=False) + "\n"


def shown_title(db) -> str:
    result = run(db, "show", SID, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["title"]


def test_a_utf8_file_with_a_bom_imports(db, tmp_path):
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + RECORD.encode("utf-8"))
    result = run(db, "import", str(path))
    assert result.exit_code == 0, result.output
    assert shown_title(db) == "café ☕"


def test_a_bom_before_a_json_array_imports(db, tmp_path):
    path = tmp_path / "windows.json"
    path.write_bytes(b"\xef\xbb\xbf[" + RECORD.strip().encode("utf-8") + b"]")
    assert run(db, "import", str(path)).exit_code == 0
    assert shown_title(db) == "café ☕"


def test_a_gzip_file_imports_by_its_magic_bytes_not_its_name(db, tmp_path):
    named = tmp_path / "export.jsonl.gz"
    named.write_bytes(gzip.compress(RECORD.encode("utf-8")))
    unnamed = tmp_path / "export.jsonl"
    unnamed.write_bytes(named.read_bytes())
    result = run(db, "import", str(unnamed))
    assert result.exit_code == 0, result.output
    assert "imported 1 session(s)" in result.output
    assert shown_title(db) == "café ☕"
    again = run(db, "import", str(named))
    assert again.exit_code == 0 and "skipped 1 already present" in again.output


def test_gzip_on_stdin_imports(db):
    data = gzip.compress(b"\xef\xbb\xbf" + RECORD.encode("utf-8"))
    result = run(db, "import", "-", input=data)
    assert result.exit_code == 0, result.output
    assert shown_title(db) == "café ☕"


def test_a_truncated_gzip_file_is_one_line_and_writes_nothing(db, tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress((RECORD * 50).encode("utf-8"))[:-20])
    result = run(db, "import", str(path))
    assert result.exit_code == 1
    assert f"{path}: a gzip file cut short" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert run(db, "show", SID).exit_code == 1
