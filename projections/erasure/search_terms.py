"""Search terms of an erasable store as keyed hashes (issue 19): the search
index of an erasable file holds no word in clear.

Each term (a word as FTS5's `unicode61` tokenizer folds it: the same tokens
as a plain store's index, found by that very tokenizer in a private
in-memory database, never in the file) is indexed as the HMAC-SHA256 of the
term under the file's search key, its first 80 bits in base32 (16
characters). The search key is 32 random bytes, one per file, wrapped by the
master key in `erasure_meta` (`Sealer.search_key`). A query's words are
hashed the same way, so `search` works for whoever holds the master key.

Columns of the index: `content` (each word's hash, in order: words and
phrases match as in a plain store), `cjk` (each CJK character's hash, in
order: CJK text matches any substring) and `prefixes`: for each word, in
order, the hashes of its first 1, 2, ... characters, at most
`PREFIX_CHARS`. A prefix (`parc*`, and the last word of a plain query) is
one of those hashes; a phrase that ends in a prefix (`R-8`) is the run of
its words' prefix hashes, which only a run of the same words can match. So
search finds what a plain store finds, except that words longer than
`PREFIX_CHARS` characters are told apart by their first `PREFIX_CHARS` in
a prefix query. In an FTS5 query (`syntax="fts5"`), words, "phrases",
prefix*, AND/OR/NOT, NEAR (of whole words) and parentheses work; column
filters and `^` are refused.

What the index still shows to someone without the key: how many words
each message has, and which messages share a word (equal hashes), not
which word -- though how often a hash occurs hints at common words.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import sqlite3
import threading
from collections.abc import Sequence

from ..views.fulltext import MAX_QUERY_TERMS, Phrase, cjk_text

#: Prefix hashes kept per word: a prefix query tells words apart by at most
#: this many first characters.
PREFIX_CHARS = 20
#: The columns of an erasable store's search index (its layout mark).
COLUMNS = ("content", "cjk", "prefixes")
_WORD, _PREFIX = b"w\0", b"p\0"
_MEMO = 65536
_local = threading.local()


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Each text's terms, in order, as FTS5's unicode61 tokenizer makes
    them (in an in-memory database of this thread: nothing reaches a file)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    out: list[list[str]] = [[] for _ in texts]
    with conn:
        conn.execute("DELETE FROM t")
        conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)",
                         [(i, text) for i, text in enumerate(texts) if text])
        for doc, term in conn.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
            out[doc].append(term)
        conn.execute("DELETE FROM t")
    return out


class TermHasher:
    """Hashes terms under one file's search key."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._memo: dict[tuple[bytes, str], str] = {}

    def _hash(self, kind: bytes, term: str) -> str:
        found = self._memo.get((kind, term))
        if found is None:
            if len(self._memo) >= _MEMO:
                self._memo.clear()
            digest = hmac.new(self._key, kind + term.encode(), hashlib.sha256).digest()
            found = self._memo[(kind, term)] = base64.b32encode(digest[:10]).decode().lower()
        return found

    def word(self, term: str) -> str:
        return self._hash(_WORD, term)

    def group(self, term: str, upto: int | None = None) -> list[str]:
        """The prefix hashes of a term: its first 1, 2, ... characters (up
        to `upto`, at most `PREFIX_CHARS`)."""
        end = min(len(term), PREFIX_CHARS if upto is None else min(upto, PREFIX_CHARS))
        return [self._hash(_PREFIX, term[:k]) for k in range(1, end + 1)]

    # -- rows -------------------------------------------------------------

    def rows(self, texts: Sequence[str]) -> list[tuple[str, str | None, str]]:
        """(content, cjk, prefixes) to index for each text."""
        cjks = [cjk_text(t) for t in texts]
        tokens = tokenize([*texts, *(c or "" for c in cjks)])
        out = []
        for i, cjk in enumerate(cjks):
            words = tokens[i]
            out.append((" ".join(map(self.word, words)),
                        None if cjk is None else " ".join(map(self.word, tokens[len(texts) + i])),
                        " ".join(h for w in words for h in self.group(w))))
        return out

    # -- queries ----------------------------------------------------------

    def phrase(self, text: str, prefix: bool, column: str | None = None) -> str:
        """A phrase of `text`'s words (the last a prefix when `prefix`) as an
        FTS5 expression over the hashed columns."""
        (words,) = tokenize([text])
        on = "" if column is None else f"{column} : "
        if not prefix or not words:
            return f'{on}"{" ".join(map(self.word, words))}"'
        run = [h for w in words[:-1] for h in self.group(w)]
        run += self.group(words[-1], len(words[-1]))
        if len(words) == 1:
            run = run[-1:]  # a prefix hash is only ever made at that place
        found = f'prefixes : "{" ".join(run)}"'
        if column is None and all(len(w) == 1 for w in words):  # CJK characters, one by one
            return f'({found} OR cjk : "{" ".join(map(self.word, words))}")'
        return found

    def plain(self, parts: Sequence[Phrase]) -> str:
        """A plain query's phrases (`fulltext.plain_phrases`) as an expression."""
        return " AND ".join(
            self.phrase(" ".join(p.tokens), p.prefix, "cjk" if p.cjk else "content")
            for p in parts)

    def fts(self, query: str, shown: str | None = None) -> str:
        """An FTS5 query with its words hashed (see the module docstring);
        `shown`: the query as the user wrote it, for errors.

        Raises:
            ValueError: column filters, `^` or `+`, or a prefix inside NEAR.
        """
        out, near, count, shown = [], 0, 0, query if shown is None else shown
        for m in _FTS_TOKEN.finditer(query):
            kind, piece = m.lastgroup, m.group()
            if kind == "space":
                out.append(" ")
            elif kind == "paren":
                near -= piece == ")" and near > 0
                out.append(piece)
            elif kind == "near":
                near += 1
                out.append("NEAR(")
            elif kind == "comma":
                out.append(piece)
            elif kind == "word" and piece in ("AND", "OR", "NOT"):
                out.append(f" {piece} ")
            elif kind in ("word", "string"):
                if kind == "string" and not _FTS_STRING.fullmatch(piece):
                    raise ValueError(f"bad search query {shown!r}: unterminated string "
                                     f"{piece!r}")  # as FTS5 says of a plain file's query
                text = piece[1:-1].replace('""', '"') if kind == "string" else piece
                prefix = query[m.end():].lstrip().startswith("*")
                if prefix and near:
                    raise ValueError(f"bad search query {shown!r}: on an erasable file, NEAR "
                                     "takes whole words, not prefixes")
                if near and kind == "word" and piece.isdigit() and "".join(out).rstrip()[-1:] == ",":
                    out.append(piece)  # NEAR(..., 10)
                    continue
                count += 1
                out.append(self.phrase(text, prefix))
            elif kind == "star":
                continue
            else:
                raise ValueError(f"bad search query {shown!r}: cannot search {query[m.start():]!r} "
                                 "on an erasable file: an FTS5 query there takes words, "
                                 "\"phrases\", prefix*, AND/OR/NOT, NEAR and parentheses (no "
                                 "column filter, ^ or +)")
        if count > MAX_QUERY_TERMS:
            raise ValueError(f"the search query has too many words: {count}")
        return "".join(out)


_FTS_STRING = re.compile(r'"(?:[^"]|"")*"')
_FTS_TOKEN = re.compile(
    r'(?P<string>"(?:[^"]|"")*"?)|(?P<near>NEAR\s*\()|(?P<paren>[()])|(?P<comma>,)'
    r"|(?P<star>\*)|(?P<space>\s+)|(?P<word>[A-Za-z0-9_\x1a\x80-\U0010ffff]+)|(?P<other>.)")
