"""An erasable file's search index holds keyed hashes of words, not words
(issue 19, item 1): a copy without the key gives up no word of a live
message, yet `search` finds what a plain store finds; a file of the earlier
release (words in clear) is rebuilt hashed when opened for writing, and
searched as it is when it cannot be written."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import helpers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import EventSourcedSessionStore, NewItem, SessionMessage, SessionRole
from projections.erasure.masterkey import StaticKey
from projections.erasure.search_terms import PREFIX_CHARS

pytestmark = pytest.mark.sqlite_only("raw bytes of an erasable SQLite file")

FIXTURES = Path(__file__).parent.parent / "fixtures"
KEY = StaticKey(b"s" * 32)
CORPUS = [
    "Zebulon Quagmire parcels the marmalade",
    "where is my parcel? tracking R-88, order 1142",
    "the xylophonic parcel arrived at midnight",
    "Café crème brûlée for Zoë",
    "日本語のメッセージ",
    "東京で日本の本を買った",
    "e-mail me at ada@example.org about c++",
    "parcelforce parcel parcels parcelled",
    "supercalifragilisticexpialidocious words are long",
    "R-88 refund opened; R-8 is another",
]
#: Every word of the corpus, as the raw bytes would show it.
WORDS = sorted({w.lower() for text in CORPUS for w in
                text.replace("?", " ").replace(",", " ").replace(";", " ").split()
                if len(w) >= 4 and w.isalpha()} - {"where"} | {"日本語", "メッセージ", "東京"})
#: ("where" is in the schema's SQL)
QUERIES = ["parcel", "parc", "parc*", "Parcels", "r-88", "R-8", "r 88", "order 11", "本語",
           "日本", "where is my parc?", "cafe", "creme brulee", "zoe", "e-mail", "c++", "c",
           "supercalifragilisticexpialidocious", "supercalifragilisticexpi", "xylo", "p",
           "the parcel", "arrived at mid", "nothing here", "1142"]
FTS_QUERIES = ['"order 1142" OR 日本', "parcel NOT marmalade", "parc* AND midnight",
               "(zebulon OR zoe) NOT crème", 'NEAR(parcel arrived, 3)', '"the parc"*',
               "日本*", "R 88"]


def raw(db: Path) -> bytes:
    """db, -wal and -shm, and the key table's rows, lower-cased."""
    data = b"".join(Path(f"{db}{ext}").read_bytes() for ext in ("", "-wal", "-shm")
                    if Path(f"{db}{ext}").exists())
    with sqlite3.connect(db) as conn:
        data += repr(conn.execute("SELECT * FROM erasure_keys").fetchall()).encode()
        data += repr(conn.execute("SELECT * FROM erasure_meta").fetchall()).encode()
    return data.lower()


def words_in(data: bytes) -> list[str]:
    return [w for w in WORDS if w.encode() in data]


def write(store, texts):
    s = store.create_session("t", user_id="u1", tenant_id="t1")
    store.add_messages(s.id, [SessionMessage(SessionRole.USER, t, datetime(2026, 12, 1, tzinfo=UTC))
                              for t in texts])
    store.add_items(s.id, [NewItem("tool", {"x": 1}, text=texts[0])])
    return s


def results(store, query, syntax="plain"):
    """The hits, in order when no word is a prefix (a prefix ranks by other
    index columns on an erasable file, so its order may differ)."""
    hits = [(h.position, h.role, h.snippet)
            for h in store.search(query, limit=100, syntax=syntax)]
    return hits if syntax == "fts5" and "*" not in query else sorted(hits)


def test_no_word_of_a_live_message_is_in_the_file_once_searched(tmp_path):
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        write(store, CORPUS)
        assert store.search("xylophonic") and store.search("日本")
        assert words_in(raw(db)) == []  # open: db, -wal and -shm
    assert words_in(raw(db)) == []  # closed: the WAL folded in


def test_search_finds_what_a_plain_store_finds(tmp_path):
    with EventSourcedSessionStore(tmp_path / "p.db") as plain, \
            EventSourcedSessionStore(tmp_path / "e.db", erasable=True) as sealed:
        for store in (plain, sealed):
            write(store, CORPUS)
        for q in QUERIES:
            assert results(sealed, q) == results(plain, q), q
        for q in FTS_QUERIES:
            assert results(sealed, q, "fts5") == results(plain, q, "fts5"), q


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.lists(st.sampled_from(
    ["parcel", "parcels", "Parc", "R-88", "r", "88", "日本", "本語", "東", "Zoë", "zoe", "cafe",
     "café", "x" * (PREFIX_CHARS - 1), "the", "!", "c++", "ma", "marmalade"]),
    min_size=1, max_size=8).map(" ".join), min_size=1, max_size=6),
    query=st.lists(st.sampled_from(["parc", "parcel", "r-8", "R-88", "日", "本語", "zo", "café",
                                    "x" * (PREFIX_CHARS - 1), "the par", "m", "c++", "88"]),
                   min_size=1, max_size=3).map(" ".join))
def test_search_matches_a_plain_store_for_any_writes(texts, query):
    with EventSourcedSessionStore() as plain, \
            EventSourcedSessionStore(erasable=True, master_key=KEY) as sealed:
        for store in (plain, sealed):
            write(store, texts)
        assert results(sealed, query) == results(plain, query)


def test_a_file_with_words_in_clear_is_rebuilt_hashed_when_opened_for_writing(tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(FIXTURES / "erasable_clear_terms.db", db)
    shutil.copy(FIXTURES / "erasable_clear_terms.db.key", f"{db}.key")
    assert b"xylophonic" in db.read_bytes()  # the earlier release's index
    with EventSourcedSessionStore(db, erasable=True) as store:
        assert sorted(h.snippet for h in store.search("parc")) == [
            "Ophelia tracks [parcel] R-88", "Zebulon Quagmire [parcels] the marmalade",
            "the xylophonic [parcel] arrived"]
        assert [h.snippet for h in store.search("parc", tenant_id="t2")] == []
        assert [h.snippet for h in store.search("本語")] == ["日[本語]のメッセージ"]
        assert [w for w in ("xylophonic", "zebulon", "marmalade", "ophelia")
                if w.encode() in raw(db)] == []
        assert store.verify().ok


READ_ONLY_SEARCH = textwrap.dedent("""
    import json, sys, warnings
    from projections import EventSourcedSessionStore
    warnings.simplefilter("ignore")
    with EventSourcedSessionStore(sys.argv[1], erasable=True) as store:
        print(json.dumps([store.log.read_only] + [h.snippet for h in store.search("parc")]))
""")


def test_a_read_only_file_with_words_in_clear_searches_as_it_is(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    db = d / "old.db"
    shutil.copy(FIXTURES / "erasable_clear_terms.db", db)
    shutil.copy(FIXTURES / "erasable_clear_terms.db.key", f"{db}.key")
    found = helpers.run_read_only(d, READ_ONLY_SEARCH, db)
    assert found == [True, "the xylophonic [parcel] arrived",
                                       "Zebulon Quagmire [parcels] the marmalade",
                                       "Ophelia tracks [parcel] R-88"]
