"""A plain search query takes a trailing `*` as a prefix and ignores the
punctuation that ends it, on every backend (issue 20, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from projections import SessionMessage, SessionRole

TEXTS = ["where is my parcel", "the parcels arrive on Monday", "a parking ticket"]


@pytest.fixture
def store(open_store):
    """The TEXTS in one session, on each backend."""
    with open_store() as s:
        sid = s.create_with_user("t", "alice", "acme").id
        s.add_messages(sid, [SessionMessage(SessionRole.USER, t, datetime.now(UTC)) for t in TEXTS])
        yield s


@pytest.mark.parametrize(("query", "expected"), [
    ("parc", [0, 1]),
    ("parc*", [0, 1]),
    ("parcel?", [0, 1]),
    ("parcel!", [0, 1]),
    ("parcel.", [0, 1]),
    ("parcel,", [0, 1]),
    ("where is my parc?", [0]),
    ("parc* arrive", [1]),        # a starred word is a prefix anywhere
    ("parc arrive", []),          # an unstarred word before the last is whole
    ("par* tick", [2]),
    ("parcel ?", [0, 1]),
])
def test_a_trailing_star_is_a_prefix_and_trailing_punctuation_is_ignored(store, query, expected):
    assert sorted(h.position - 2 for h in store.search(query)) == expected


def test_the_snippet_marks_what_a_starred_word_found(store):
    assert [h.snippet for h in store.search("parc*") if h.position == 3] == [
        "the [parcels] arrive on Monday"]

