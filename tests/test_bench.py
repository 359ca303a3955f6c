"""The benchmark runs end to end (not a timed test: it asserts no speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_bench_quick_check_runs_and_writes_its_table(tmp_path):
    out = tmp_path / "BENCH.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--check",
         "--output", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    print(result.stdout)  # the table, shown with pytest -s
    assert result.returncode == 0, result.stdout + result.stderr
    table = out.read_text()
    for section in ("add_message", "create", "get", "list", "replay", "import", "rebuild",
                    "growth"):
        assert f"| {section} |" in table, section
    assert "Machine:" in table and "SQLite" in table


def test_the_fast_loop_leaves_out_the_benchmark():
    """`pytest -m "not slow"` (the README's development loop) skips the benchmark run."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not slow",
         str(Path(__file__))],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert "test_the_fast_loop_leaves_out_the_benchmark" in result.stdout
    assert "test_bench_quick_check_runs_and_writes_its_table" not in result.stdout
