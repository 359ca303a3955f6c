"""The tenant index: `tenant_sessions`, the live sessions of each tenant,
newest first (what `list_for_tenant` pages through). Inline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from operator import attrgetter
from typing import ClassVar

from eventlog import RecordedEvent
from eventlog.backends.dialect import Db


class TenantIndexProjection:
    """`tenant_sessions`: the live sessions of each tenant, newest first."""

    name = "tenants"
    tables: ClassVar[tuple[str, ...]] = ("tenant_sessions",)
    inline = True

    def create(self, db: Db, names: Mapping[str, str]) -> None:
        db.execute(
            f"CREATE TABLE {db.q(names['tenant_sessions'])} ("
            f"session {db.dialect.int_type} PRIMARY KEY, session_id TEXT NOT NULL UNIQUE, "
            f"tenant_id {db.dialect.sorted_text} NOT NULL, created_at {db.dialect.sorted_text} "
            "NOT NULL, "
            "UNIQUE (tenant_id, created_at, session))"
        )

    def apply(self, db: Db, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        t = db.q(names["tenant_sessions"])
        for type_name, run in groupby(events, key=attrgetter("type")):
            if type_name == "SessionCreated":
                rows = [(e.position, d["session_id"], d["tenant_id"], d["created_at"])
                        for e in run for d in (e.data,) if d.get("tenant_id") is not None]
                db.run(
                    f"INSERT INTO {t} (session, session_id, tenant_id, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    rows,
                )
            elif type_name == "SessionDeleted":
                db.run(
                    f"DELETE FROM {t} WHERE session_id = ?",
                    [(e.data["session_id"],) for e in run],
                )


def tenant_index(db: Db) -> set[tuple[str, str]]:
    """Every (session id, tenant id) the tenant index holds."""
    return {tuple(r) for r in db.execute(
        "SELECT session_id, tenant_id FROM tenant_sessions")}
