"""Search takes plain text by default, FTS5 syntax on request, finds CJK text
by any substring, and upgrades the search view of older files (issue 9,
item 1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from projections import EventSourcedSessionStore, SessionMessage, SessionRole
from projections.views.fulltext import MAX_QUERY_CHARS, MAX_QUERY_TERMS
from sessionlog.cli import main

TEXTS = [
    "Sorry about that. I have opened refund R-88 for order 1142.",
    "Send it by e-mail to Mr O'Brien, he knows c++ well.",
    "My order 1142. arrived broken. Can I get a refund?",
    "Use the -foo flag, not --bar.",
    "Cars and card games",
    "日本語のメッセージ",
    "中文测试消息，你好世界",
    "한국어 메시지입니다",
]


@pytest.fixture
def store(open_store):
    """The TEXTS in one session, on each backend."""
    with open_store() as s:
        sid = s.create_with_user("t", "alice", "acme").id
        s.add_messages(sid, [SessionMessage(SessionRole.USER, t, datetime.now(UTC)) for t in TEXTS])
        yield s


def found(store, query, **kw) -> list[int]:
    """The positions of the messages a query finds (message i is at i + 2)."""
    return sorted(h.position - 2 for h in store.search(query, **kw))


@pytest.mark.parametrize(("query", "expected"), [
    ("R-88", [0]),
    ("e-mail", [1]),
    ("O'Brien", [1]),
    ("c++", [1]),          # the word "c", not every word starting with c
    ("1142.", [0, 2]),
    ("refund?", [0, 2]),
    ("-foo", [3]),
    ("--bar", [3]),
    ("order 1142", [0, 2]),
    ("refun", [0, 2]),      # the last word is a prefix while it is being typed
    ("broken refun", [2]),  # every word must match
    ("car", [4]),
    ('"refund', [0, 2]),    # a stray quote is just punctuation
    ("AND OR NOT", []),     # operators are words here
    ("NEAR(refund)", []),
])
def test_plain_text_queries_are_words_not_syntax(store, query, expected):
    assert found(store, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("日本語", [5]), ("メッセージ", [5]), ("本語の", [5]), ("の", [5]),
    ("你好", [6]), ("测试消息", [6]), ("메시지", [7]), ("국어", [7]),
    ("日本 メッセ", [5]), ("日本人", []), ("你好 refund", []),
])
def test_cjk_text_is_found_by_any_substring(store, query, expected):
    assert found(store, query) == expected


def test_snippets_mark_the_match(store):
    (hit,) = store.search("R-88")
    assert hit.snippet == "Sorry about that. I have opened refund [R-88] for order 1142."
    (hit,) = store.search("本語")
    assert hit.snippet == "日[本語]のメッセージ"


def test_fts5_syntax_only_on_request(store):
    assert found(store, '"order 1142" OR 你好', syntax="fts5") == [0, 2, 6]
    assert found(store, "refund NOT broken", syntax="fts5") == [0]
    with pytest.raises(ValueError, match=r"^bad search query 'R-88': .*88") as e:
        store.search("R-88", syntax="fts5")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="syntax must be one of"):
        store.search("x", syntax="regex")


@pytest.mark.parametrize("query", ["", "   ", "?", "++ --", "x" * (MAX_QUERY_CHARS + 1),
                                   " ".join(["w"] * (MAX_QUERY_TERMS + 1)),
                                   " OR ".join(["w"] * 20_000)])
@pytest.mark.parametrize("syntax", ["plain", "fts5"])
def test_bad_queries_are_one_clear_error(store, query, syntax):
    if syntax == "fts5" and query.strip() in ("?", "++ --"):
        return  # FTS5 itself says what is wrong (tested above)
    with pytest.raises(ValueError, match=r"empty|too long|too many words|no letters") as e:
        store.search(query, syntax=syntax)
    assert "\n" not in str(e.value)


def run(path, *args):
    return CliRunner().invoke(main, ["--db", str(path), *args])


def test_cli_search_takes_words_and_leading_dashes(target, store):
    path = store.log.path
    hits = json.loads(run(path, "search", "refund", "R-88", "--json").stdout)
    assert [h["position"] for h in hits] == [2]
    for args in (["--json", "--", "-foo"], ["-foo", "--json"]):
        result = run(path, "search", *args)
        assert result.exit_code == 0, result.output
        assert [h["position"] for h in json.loads(result.stdout)] == [5]
    result = run(path, "search", "--fts", "R-88")
    assert result.exit_code == 1 and result.stderr.startswith("Error: bad search query 'R-88'")
    assert len(result.stderr.strip().splitlines()) == 1
    hits = json.loads(run(path, "search", "--fts", "refund NOT broken", "--json").stdout)
    assert [h["position"] for h in hits] == [2]


OLD_SEARCH_DDL = ("CREATE VIRTUAL TABLE message_search USING fts5("
                  "content, session_id UNINDEXED, tenant_id UNINDEXED, role UNINDEXED)")


def make_old_layout(path) -> None:
    """A file whose search view has the layout of the release before the
    `cjk` column (the DDL that release ran), caught up to the log."""
    with EventSourcedSessionStore(path) as s:
        sid = s.create_with_user("t", "alice", "acme").id
        s.add_messages(sid, [SessionMessage(SessionRole.USER, t, datetime.now(UTC)) for t in TEXTS])
        with s.log.transaction() as conn:
            conn.execute("DROP TABLE message_search")
            conn.execute(OLD_SEARCH_DDL)
            conn.execute("INSERT INTO message_search (rowid, content, session_id, tenant_id, role) "
                         "SELECT m.position, m.text, s.id, s.tenant_id, m.role "
                         "FROM items m JOIN sessions s ON s.position = m.session")
            last = conn.execute("SELECT max(position) FROM events").fetchone()[0]
            conn.execute("UPDATE projection_checkpoints SET position = ? WHERE name = 'search'",
                         (last,))


@pytest.mark.sqlite_only("FTS5 layouts of earlier releases")
def test_an_older_search_view_is_rebuilt_on_open(tmp_path):
    path = tmp_path / "old.db"
    make_old_layout(path)
    with EventSourcedSessionStore(path) as s:
        assert found(s, "メッセージ") == [5] and found(s, "R-88") == [0]
        assert s.runner.checkpoints()["search"] == s.log.last_position()
        assert s.verify().ok
    with EventSourcedSessionStore(path, catch_up=False) as s:  # the lazy path alone
        assert found(s, "你好") == [6]


@pytest.mark.sqlite_only("FTS5 layouts of earlier releases")
def test_an_older_search_view_is_upgraded_lazily_by_search(tmp_path):
    path = tmp_path / "old.db"
    make_old_layout(path)
    with EventSourcedSessionStore(path, catch_up=False) as s:
        # Opened without catch-up (as `verify` does): the first search upgrades it.
        columns = {r[1] for r in s.log.connection.execute(
            "SELECT * FROM pragma_table_xinfo('message_search')")}
        assert "cjk" in columns  # setup() upgraded the layout on open
        assert s.runner.checkpoints()["search"] == 0
        assert found(s, "本語") == [5]


def test_items_with_text_are_searched_and_pops_and_clears_remove_them(open_store):
    """ItemAdded text is indexed (items without text are not, but count for a
    pop); popped and cleared items are no longer found."""
    from projections import NewItem
    with open_store() as s:
        sid = s.create("t").id
        s.add_items(sid, [NewItem("user", {"q": 1}, "where is parcel 77"),
                          NewItem("tool", {"call": "track"}),  # no text: not searchable
                          NewItem("tool", {"r": 2}, "parcel 77 is in Lisbon"),
                          NewItem("assistant", {"a": 3}, "在里斯本的包裹")])
        assert sorted(h.role for h in s.search("parcel 77")) == ["tool", "user"]
        assert [h.role for h in s.search("里斯本")] == ["assistant"]
        assert s.search("track") == []
        s.pop_items(sid, 2)  # the assistant's and the tool's text items
        assert [h.role for h in s.search("parcel")] == ["user"]
        assert s.search("里斯本") == []
        s.pop_items(sid, 1)  # the item without text
        assert [h.role for h in s.search("parcel")] == ["user"]
        s.add_message(sid, SessionMessage(SessionRole.USER, "parcel again", datetime.now(UTC)))
        s.clear(sid)
        assert s.search("parcel") == []
        s.add_items(sid, [NewItem("user", {}, "parcel after the clear")])
        assert [h.snippet for h in s.search("parcel")] == ["[parcel] after the clear"]
        assert s.verify().ok
