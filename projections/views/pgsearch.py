"""Full-text search on PostgreSQL, without SQL: the `tsvector` indexed for a
message and the `tsquery` of a search, so that both databases find the same
messages for the same query.

The words are cut and folded here, as for SQLite (`fulltext`): letters and
digits runs, each CJK character alone, case and diacritics removed. The
`tsvector` is written literally (positions included), so PostgreSQL's own
parser and dictionaries never see the text: no stemming, no stop words.
CJK runs are kept apart by a gap in the positions, so a phrase never spans
two of them, as FTS5's `cjk` column does.

Differences from SQLite, all from PostgreSQL's `tsvector` limits: positions
stop at 16383 (a phrase is not found past about 16,000 words into one
message; single words are), a word longer than 2046 bytes is not indexed,
and at most `MAX_VECTOR_BYTES` of lexemes are kept per message. A word that
mixes letters and CJK (`abc日本`) is separate words here (in FTS5 it is one
token, found by a prefix only).

An erasable store (issue 19, item 5) passes its `TermHasher`
(`projections.erasure.search_terms`): each word is then indexed as the
keyed hash of the word and, at the same position, the keyed hashes of its
first 1, 2, ... `PREFIX_CHARS` characters; a query's words become the same
hashes (a prefix: the hash of the prefix), so words, phrases and prefixes
match as in clear, and no word is in the database.
"""

from __future__ import annotations

import re
from typing import Any

from .fulltext import CJK_CHAR, UNIT, Terms, fold_word, fts_query, plain_phrases

#: The longest lexeme PostgreSQL takes, in bytes.
MAX_LEXEME_BYTES = 2046
#: Lexemes kept per message (the tsvector limit is 1 MB).
MAX_VECTOR_BYTES = 512 * 1024
_CJK_ONE = re.compile(CJK_CHAR)


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector(content: str | None, hasher: Any = None) -> str:
    """The `tsvector` literal indexed for a message ('' when it has no word);
    with `hasher`, of the words' keyed hashes (see the module docstring)."""
    if not content:
        return ""
    positions: dict[str, list[int]] = {}
    size, pos, last_end, last_cjk = 0, 0, -1, False
    for m in UNIT.finditer(content):
        is_cjk = _CJK_ONE.fullmatch(m.group()) is not None
        # A CJK character that does not touch the previous one starts a new
        # run: skip a position, so no phrase spans the gap.
        pos += 2 if is_cjk and last_cjk and m.start() != last_end else 1
        last_end, last_cjk = m.end(), is_cjk
        folded = fold_word(m.group())
        words = [folded] if hasher is None else [hasher.word(folded), *hasher.group(folded)]
        for word in words:
            found = positions.get(word)
            if found is None:
                size += len(word.encode()) + 8
                if len(word.encode()) > MAX_LEXEME_BYTES or size > MAX_VECTOR_BYTES:
                    continue
                positions[word] = found = []
            if len(found) < 256 and pos <= 16383:
                found.append(pos)
    return " ".join(f"{_lexeme(w)}:{','.join(map(str, p))}" if p else _lexeme(w)
                    for w, p in positions.items())


def _phrase(tokens: list[str], prefix: bool, hasher: Any = None) -> str:
    words = [fold_word(t) for t in tokens]
    if hasher is None:
        parts = [_lexeme(w) for w in words]
        if prefix:
            parts[-1] += ":*"
    else:
        parts = [_lexeme(hasher.word(w)) for w in words]
        if prefix:
            parts[-1] = _lexeme(hasher.group(words[-1], len(words[-1]))[-1])
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def plain_tsquery(query: str, hasher: Any = None) -> tuple[str, Terms]:
    """A plain query (see `fulltext.plain_phrases`) as a `tsquery`, and the
    terms to mark in snippets (`hasher`: an erasable store's)."""
    parts, terms = plain_phrases(query)
    return " & ".join(_phrase(list(p.tokens), p.prefix, hasher) for p in parts), terms


# FTS5 syntax, read here: "strings" ("" escapes a quote), barewords (letters,
# digits, _ and any non-ASCII character), ( ) * and the operators.
_TOKEN = re.compile(r'\s+|"(?:[^"]|"")*"|[\w\u0080-\U0010ffff]+|[()*]|.', re.DOTALL)
_UNSUPPORTED = {":": "column filters", "^": "'^' (start of column)", "+": "'+' phrases",
                "{": "column sets"}


def fts_tsquery(query: str, hasher: Any = None) -> tuple[str, Terms]:
    """A query in FTS5 syntax ("a phrase", prefix*, AND, OR, NOT, brackets)
    as a `tsquery`, and the terms to mark in snippets.

    Raises:
        ValueError: an empty, too long or malformed query, or one that uses
            what PostgreSQL search does not have (NEAR, column filters).
    """
    _, terms = fts_query(query)  # the same size limits and terms
    tokens = [t for t in _TOKEN.findall(query) if not t.isspace()]
    parser = _Parser(query, tokens, hasher)
    out = parser.expr()
    if parser.i != len(tokens):
        raise parser.bad(f"unexpected {tokens[parser.i]!r}")
    return out, terms


class _Parser:
    """Recursive descent over FTS5 tokens: OR < AND (or none) < NOT."""

    def __init__(self, query: str, tokens: list[str], hasher: Any = None) -> None:
        self.query, self.tokens, self.i, self.hasher = query, tokens, 0, hasher

    def bad(self, why: str) -> ValueError:
        return ValueError(f"bad search query {self.query!r}: {why}")

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def expr(self) -> str:
        parts = [self.conj()]
        while self.peek() == "OR":
            self.i += 1
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"

    def conj(self) -> str:
        parts = [self.negation()]
        while True:
            token = self.peek()
            if token == "AND":
                self.i += 1
            elif token is None or token in ("OR", ")", "NOT"):
                break
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"

    def negation(self) -> str:
        out = self.primary()
        while self.peek() == "NOT":
            self.i += 1
            out = f"({out} & !{self.primary()})"
        return out

    def primary(self) -> str:
        token = self.peek()
        if token is None:
            raise self.bad("it ends where a word or phrase is expected")
        self.i += 1
        if token == "(":
            out = self.expr()
            if self.peek() != ")":
                raise self.bad("a '(' is not closed")
            self.i += 1
            return out
        if token in ("AND", "OR", "NOT", ")", "*"):
            raise self.bad(f"{token!r} where a word or phrase is expected")
        if token == "NEAR" and self.peek() == "(":
            raise self.bad("NEAR is not supported on PostgreSQL")
        if token[0] in _UNSUPPORTED:
            raise self.bad(f"{_UNSUPPORTED[token[0]]} are not supported on PostgreSQL")
        if token.startswith('"'):
            if len(token) < 2 or not token.endswith('"'):
                raise self.bad("a '\"' is not closed")
            text = token[1:-1].replace('""', '"')
        elif re.fullmatch(r"[\w\u0080-\U0010ffff]+", token):
            text = token
        else:
            raise self.bad(f"syntax error near {' '.join(self.tokens[self.i - 1:])!r}")
        if self.peek() == ":":
            raise self.bad("column filters are not supported on PostgreSQL")
        prefix = self.peek() == "*"
        if prefix:
            self.i += 1
        words = [m.group() for m in UNIT.finditer(text)]
        if not words:
            raise self.bad(f"{token} has no letters or digits to look for")
        return _phrase(words, prefix, self.hasher)

