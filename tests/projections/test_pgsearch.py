"""PostgreSQL search without a database: the tsvector indexed for a message
and the tsquery of a search cut words as the SQLite search does."""

from __future__ import annotations

import pytest

from projections.views.pgsearch import fts_tsquery, plain_tsquery, tsvector


def test_words_are_folded_and_cjk_runs_kept_apart_by_a_position_gap():
    vector = tsvector("Héllo hello R-88 日本 語")
    assert vector == "'hello':1,2 'r':3 '88':4 '日':5 '本':6 '語':8"


def test_a_plain_query_is_phrases_that_must_all_match_the_last_as_a_prefix():
    assert plain_tsquery("R-88 日本 wor")[0] == "('r' <-> '88') & ('日' <-> '本') & 'wor':*"
    assert plain_tsquery("c++")[0] == "'c'"


@pytest.mark.parametrize(("query", "tsquery"), [
    ('"a phrase" OR b*', "(('a' <-> 'phrase') | 'b':*)"),
    ("a NOT b c", "(('a' & !'b') & 'c')"),
    ("(a OR b) AND 日本", "(('a' | 'b') & ('日' <-> '本'))"),
])
def test_fts5_syntax_becomes_the_same_tsquery(query, tsquery):
    assert fts_tsquery(query)[0] == tsquery


@pytest.mark.parametrize(("query", "why"), [
    ("a AND", "ends where a word"), ("NEAR(a b)", "NEAR is not supported"),
    ("x:y", "column filters"), ('"open', "not closed"), ("a ) b", "unexpected"),
    ("(a", "not closed"), ("1142.", "syntax error near '.'"), ("*a", "cannot start with"),
])
def test_malformed_fts5_queries_are_one_clear_value_error(query, why):
    with pytest.raises(ValueError, match=why):
        fts_tsquery(query)


def test_lexemes_are_quoted_and_bounded():
    assert tsvector("") == ""
    assert "x" * 3000 not in tsvector("x" * 3000 + " ok")
    assert tsvector("x" * 3000 + " ok") == "'ok':2"
