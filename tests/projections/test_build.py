"""Read-model objects built from trusted rows equal the validated ones, and
a builder must name every field: a new field cannot be dropped silently."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import attrs
import pytest

from projections import Session, SessionMessage, SessionRole
from projections.builders import builder
from projections.stores.cache import SESSION_FIELDS, copy_session


def test_a_builder_equals_the_constructor():
    now = datetime.now(UTC)
    build = builder(SessionMessage, ("role", "content", "timestamp"))
    assert build(SessionRole.USER, "hi", now) == SessionMessage(SessionRole.USER, "hi", now)
    session = Session(uuid.uuid4(), "t", now, [SessionMessage("user", "x", now)], "u", "acme")
    assert builder(Session, SESSION_FIELDS)(*(getattr(session, n) for n in SESSION_FIELDS)) == session


def test_a_builder_that_leaves_out_a_field_is_refused():
    @attrs.frozen
    class Grown:
        a: int
        b: int
        added_later: int = 0

    with pytest.raises(TypeError, match="added_later"):
        builder(Grown, ("a", "b"))
    assert builder(Grown, ("b", "added_later", "a"))(2, 3, 1) == Grown(1, 2, 3)


def test_the_stores_builders_cover_every_field():
    """get() builds sessions and items with builders made at import: were a
    field missing, importing the views would have raised."""
    from projections.views import session_reads as views
    now = datetime.now(UTC).isoformat()
    item = views._item("i1", "user", None, "hi", now)
    session = views._session((1, str(uuid.uuid4()), "t", now, None, None, None, None, 2, now),
                             [item])
    assert all(hasattr(session, f.name) for f in attrs.fields(Session))
    assert [m.content for m in session.messages] == ["hi"]
    assert copy_session(session) == session
