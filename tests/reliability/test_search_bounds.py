"""Search work is bounded: a snippet reads a bounded window of a long message,
queries are capped, and FTS5's special queries give no bogus hits (issue 10,
items 4 and 15). Work is checked by its bounds, never by a clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import projections.views.search
from projections import SessionMessage, SessionRole
from projections.views.fulltext import SNIPPET_SCAN, SNIPPET_WORDS


def msg(text):
    return SessionMessage(SessionRole.USER, text, datetime.now(UTC))




@pytest.fixture
def spied(monkeypatch):
    """The lengths of the texts snippets are cut from."""
    lengths = []
    real = projections.views.search.snippet

    def spy(text, terms, truncated=False):
        lengths.append(len(text))
        return real(text, terms, truncated)

    monkeypatch.setattr(projections.views.search, "snippet", spy)
    return lengths


def test_a_long_message_of_one_repeated_word_is_cut_from_a_bounded_window(spied, open_store):
    with open_store() as store:
        sid = store.create("t").id
        store.add_messages(sid, [msg("spam " * 200_000), msg("a little spam here")])
        hits = store.search("spam")
        assert sorted(h.position for h in hits) == [2, 3]
        long_hit = next(h for h in hits if h.position == 2)
        assert long_hit.snippet == " ".join(["[spam]"] * SNIPPET_WORDS) + "…"
        assert max(spied) <= SNIPPET_SCAN < 1_000_000
        hits = store.search("spam", syntax="fts5")
        assert len(hits) == 2 and max(spied) <= SNIPPET_SCAN


def test_a_match_past_the_window_is_still_a_hit(spied, open_store):
    with open_store() as store:
        sid = store.create("t").id
        store.add_message(sid, msg("filler " * 100_000 + "needle at the end"))
        (hit,) = store.search("needle")
        assert hit.position == 2
        assert hit.snippet.startswith("filler filler") and hit.snippet.endswith("…")
        assert max(spied) <= SNIPPET_SCAN


@pytest.mark.parametrize("query", ["*reads", "*id", " *reads", "*reads the"])
def test_fts5_special_queries_give_no_bogus_hit(query, open_store):
    with open_store() as store:
        sid = store.create("t").id
        store.add_message(sid, msg("nobody reads the id"))
        with pytest.raises(ValueError, match="cannot start with"):
            store.search(query, syntax="fts5")
        hits = store.search(query)  # plain text: just the words
        assert [(h.session_id, h.position) for h in hits] == [(str(sid), 2)]
