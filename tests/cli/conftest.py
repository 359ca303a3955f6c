"""The CLI suites run on every backend --db can name, by default: `db` is
parametrized (through tests/conftest.py's `target`) over a SQLite file,
PostgreSQL and an erasable SQLite file. A test about something only a
SQLite file has says `@pytest.mark.sqlite_only(reason)`; its PostgreSQL case
is then not generated."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sessionlog.cli import main


@pytest.fixture
def db(target):
    """The --db value of a CLI test, once per backend: a SQLite file's path,
    a PostgreSQL URL on a fresh, empty schema, or an erasable SQLite file's
    path (a `pg.Target`: a str with `.kind`, `.erasable` and `.postgres`).

    Not SQLite in memory: each CLI invocation opens --db anew, and
    ":memory:" is a new, empty database every time, so nothing would persist
    from one command to the next.

    The plain file does not exist yet (the first writing command creates it)
    and the schema is empty. The erasable file is made the way a user makes
    one, with `--erasable` on the first command (here an `import` of
    nothing, so it holds no event); later commands recognise it without
    the flag.
    """
    if target.erasable:
        made = CliRunner().invoke(main, ["--db", target, "--erasable", "import", "-"], input="")
        assert made.exit_code == 0, made.output
    return target

