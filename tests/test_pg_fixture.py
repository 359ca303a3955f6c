"""tests/pg.py: without PostgreSQL binaries the PostgreSQL tests skip, except
under CI=true, where they fail."""

from __future__ import annotations

import pg
import pytest


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception),
                                         ("true", pytest.fail.Exception)])
def test_no_binaries_skips_except_under_ci(monkeypatch, ci, outcome):
    monkeypatch.delenv("SESSIONLOG_TEST_PG", raising=False)
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(pg, "_bin_dir", lambda: None)
    with pytest.raises(outcome, match="no PostgreSQL binaries"):
        pg.start()


def test_a_schema_url_carries_the_schema_and_settings():
    url = pg.with_schema("postgresql://u@/db?host=%2Ftmp%2Fx", "t_1", "-csynchronous_commit=off")
    assert url == ("postgresql://u@/db?host=%2Ftmp%2Fx&options="
                   "-csearch_path%3Dt_1%20-csynchronous_commit%3Doff")
