"""The data keys of an erasable store as `verify` saw them when it began
(#19 item 7): verify reads the log in short transactions, so "as of its
snapshot" is kept by copying the key tables into its scratch database at
the position it checks up to, and having every key look-up of its reads
and fresh views (`Sealer.look_up`, `ViewWriter`, parents of session keys)
find that copy first. Keys made later are added before the last step;
keys destroyed meanwhile (an erase that commits while verify runs) stay in
the copy, so the events verify folds open as they did when they were
written, and the removals the erase appended apply to them as they did
to the live views. The copy lives in the scratch database only (SQLite:
verify's own temporary file; PostgreSQL: its temporary schema), which
dies with verify.
"""

from __future__ import annotations

import copy
from typing import Any

from .sealed_views import ViewCipher
from .sealer import KEYS, STREAMS, Sealer

#: The tables whose rows verify reads keys from, each with the column it is
#: looked up by. A new table of keys belongs here.
KEY_TABLES = ((KEYS, "key_id"), (STREAMS, "stream_id"))


def freeze_keys(conn: Any, src: str, into: str) -> None:
    """Copy the key tables (of the store's schema `src`, e.g. '"log".') into
    `into` ("main." on SQLite, "" for PostgreSQL's temporary schema, which
    `CREATE TEMP TABLE` fills), inside verify's first short transaction."""
    temp = "TEMP " if not into else ""
    for table, column in KEY_TABLES:
        conn.execute(f"CREATE {temp}TABLE {into}{table} AS SELECT * FROM {src}{table}")
        conn.execute(f"CREATE INDEX {into}{table}__verify ON {table} ({column})")


def add_new_keys(conn: Any, src: str, into: str) -> None:
    """Rows of the key tables made since `freeze_keys` (sessions and users
    created while verify ran), added to the copy; destroyed ones are kept."""
    for table, _ in KEY_TABLES:
        conn.execute(f"INSERT INTO {into}{table} SELECT * FROM {src}{table} "
                     f"EXCEPT SELECT * FROM {into}{table}")


def frozen_cipher(sealer: Sealer, log: Any) -> tuple[Sealer, ViewCipher]:
    """A sealer and a view cipher that look keys up through `log` (verify's
    reading log over its own connection) rather than the store's, so they
    find the frozen copy; the store's own sealer is left as it is."""
    bound = copy.copy(sealer)
    bound.log = log
    return bound, ViewCipher(bound)
