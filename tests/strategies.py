"""Hypothesis strategies shared by the test files."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from eventlog import MessageAdded, SessionCreated, SessionDeleted, SessionRole
from projections import Session, SessionMessage

# Any text SQLite and JSON can hold: every plane, NULs, but no lone surrogates.
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
short_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
timestamps = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
roles = st.sampled_from(list(SessionRole))
owners = st.one_of(st.none(), short_texts)

messages = st.builds(SessionMessage, roles, texts, timestamps)
sessions = st.builds(
    Session, st.uuids(), st.one_of(st.none(), short_texts), timestamps,
    st.lists(messages, max_size=5), owners, owners,
)

session_created = st.builds(
    SessionCreated, st.uuids(), st.one_of(st.none(), short_texts), timestamps, owners, owners
)
message_added = st.builds(MessageAdded, st.uuids(), roles, texts, timestamps)
session_deleted = st.builds(SessionDeleted, st.uuids(), timestamps)
events = st.one_of(session_created, message_added, session_deleted)
