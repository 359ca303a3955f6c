"""Hypothesis strategies shared by the test files."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from eventlog import (
    ItemAdded,
    ItemsRemoved,
    MessageAdded,
    ScopeStateChanged,
    SessionCleared,
    SessionCreated,
    SessionDeleted,
    SessionRole,
    StateChanged,
    SubjectErased,
)
from projections import Session, SessionMessage

# Any text SQLite and JSON can hold: every plane, NULs, but no lone surrogates.
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
short_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
timestamps = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
roles = st.sampled_from(list(SessionRole))
owners = st.one_of(st.none(), short_texts)
# What a store takes as a new user, tenant or key id: no control character.
id_texts = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
new_owners = st.one_of(st.none(), id_texts)

messages = st.builds(SessionMessage, roles, texts, timestamps)
sessions = st.builds(
    Session, st.uuids(), st.one_of(st.none(), short_texts), timestamps,
    st.lists(messages, max_size=5), new_owners, new_owners,
)

nonempty = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)
keys = st.one_of(st.none(), nonempty)

# JSON values as JSON holds them exactly (finite floats, str keys).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_texts, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(short_texts, json_values, max_size=5)
item_roles = st.one_of(st.sampled_from(["user", "assistant", "system", "developer", "tool"]),
                       nonempty)

session_created = st.builds(
    SessionCreated, st.uuids(), st.one_of(st.none(), short_texts), timestamps, owners, owners,
    keys,
)
message_added = st.builds(MessageAdded, st.uuids(), roles, texts, timestamps)
session_deleted = st.builds(SessionDeleted, st.uuids(), timestamps)
item_added = st.builds(ItemAdded, st.uuids(), nonempty, item_roles, json_objects, timestamps,
                       st.one_of(st.none(), texts))
items_removed = st.builds(ItemsRemoved, st.uuids(), st.integers(1, 10**6), timestamps)
session_cleared = st.builds(SessionCleared, st.uuids(), timestamps)
state_changed = st.builds(StateChanged, st.uuids(), json_objects, timestamps)
scope_state_changed = st.one_of(
    st.builds(ScopeStateChanged, st.just("tenant"), nonempty, st.none(), json_objects,
              timestamps),
    st.builds(ScopeStateChanged, st.just("user"), nonempty, nonempty, json_objects, timestamps),
)
subject_erased = st.builds(SubjectErased, nonempty, st.sampled_from(["user", "session"]),
                           st.integers(0, 10**6), timestamps, st.one_of(st.none(), texts),
                           st.one_of(st.none(), texts))
EVENT_STRATEGIES = [session_created, message_added, session_deleted, item_added, items_removed,
                    session_cleared, state_changed, scope_state_changed, subject_erased]
events = st.one_of(*EVENT_STRATEGIES)
