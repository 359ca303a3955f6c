"""Text for the search view, without SQL: what gets indexed for CJK text, how a
query becomes an FTS5 expression, and the snippet shown for a hit.

FTS5's `unicode61` tokenizer keeps a run of CJK characters as one token
(`日本語のメッセージ`), so a part of it could not be found. Each message's CJK
characters are therefore also indexed one per token in a second column,
`cjk`, and CJK text in a query becomes a phrase of single characters there:
any substring matches.

Snippets are cut here, from at most `SNIPPET_SCAN` characters of the message:
FTS5's own `snippet()` takes time quadratic in the hits inside one message.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable

import attrs

#: Longest query accepted, in characters.
MAX_QUERY_CHARS = 1000
#: Most words (letters/digits runs, CJK characters, operators) in one query.
MAX_QUERY_TERMS = 64
#: A snippet is cut from at most this many characters at the start of a message.
SNIPPET_SCAN = 64 * 1024
#: Words shown in a snippet (as FTS5's snippet() with 12 tokens).
SNIPPET_WORDS = 12

# Han (with extensions and compatibility forms), kana, Hangul, bopomofo.
_CJK_RANGES = ("\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u318f\u31a0-\u31ff"
               "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
               "\uff66-\uff9f\U00020000-\U0003134f")
#: One CJK character (a regular expression).
CJK_CHAR = f"[{_CJK_RANGES}]"
_CJK_RUN = re.compile(f"{CJK_CHAR}+")
#: A word as the index sees it: letters and digits, a CJK character alone.
UNIT = re.compile(f"{CJK_CHAR}|[^\\W_{_CJK_RANGES}]+")
_WORD = re.compile(f"[^\\W_{_CJK_RANGES}]+")
#: Between two CJK runs in the `cjk` column, so that a phrase never spans a
#: gap: a private-use character, which nobody searches for.
_RUN_BREAK = "\ue000"
_SPACE = re.compile(r"\s")
#: Punctuation ignored at the end of a plain query (and the spaces around it).
_TRAILING = "?!.,;:…？！。，、；：" + " \t\r\n\u3000"
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
# FTS5 syntax pieces: a "string" ("" escapes a quote), or anything else.
_FTS_PIECE = re.compile(r'"(?:[^"]|"")*"?|[^"]+')


def cjk_text(content: str) -> str | None:
    """What the `cjk` column indexes for a message: its CJK characters one per
    token, runs kept apart; None when it has none."""
    if content.isascii():
        return None
    runs = _CJK_RUN.findall(content)
    if not runs:
        return None
    return f" {_RUN_BREAK} ".join(" ".join(run) for run in runs)


@attrs.frozen
class Terms:
    """What a query looks for, to mark it in a snippet: folded words (with
    whether each is a prefix) and CJK strings."""

    words: tuple[tuple[str, bool], ...] = ()
    cjk: tuple[str, ...] = ()


@attrs.frozen
class Phrase:
    """One part of a plain query: words (or CJK characters) that must follow
    each other, the last one as a prefix when `prefix`."""

    cjk: bool
    tokens: tuple[str, ...]
    prefix: bool = False


def plain_phrases(query: str) -> tuple[list[Phrase], Terms]:
    """Plain text as phrases that must all match: every word, a word ending
    in `*` as a prefix, and the last word as a prefix too (it may be still
    being typed). Punctuation at the end of the query (`?`, `!`, `.`, `,`,
    `;`, `:`, `…`) is ignored: `where is my parc?` is `where is my parc`.
    Other punctuation only separates words (`R-88` is the phrase "r 88";
    `c++` is the whole word `c`); CJK text is a phrase of its characters, so
    it matches as a substring.

    Raises:
        ValueError: the query is empty, too long, or has no letters or digits.
    """
    _check_size(query)
    parts: list[Phrase] = []
    words: list[tuple[str, bool]] = []
    cjk: list[str] = []
    chunks = query.rstrip().rstrip(_TRAILING).split()
    for i, chunk in enumerate(chunks):
        pieces = [(bool(_CJK_RUN.fullmatch(p)), p) for p in _split_cjk(chunk)]
        for j, (is_cjk, piece) in enumerate(pieces):
            if is_cjk:
                parts.append(Phrase(True, tuple(piece)))
                cjk.append(piece)
                continue
            starred = piece.endswith("*")
            piece = piece.rstrip("*")
            tokens = _WORD.findall(piece)
            if not tokens:
                continue
            # A word ending in "*" is a prefix; so is the last word while it
            # ends in a letter or digit ("c++" is the whole word "c").
            prefix = starred or (i == len(chunks) - 1 and j == len(pieces) - 1
                                 and _WORD.fullmatch(piece[-1]) is not None)
            parts.append(Phrase(False, tuple(tokens), prefix))
            words.extend((fold_word(t), prefix and k == len(tokens) - 1) for k, t in enumerate(tokens))
    if not parts:
        raise ValueError(f"the search query {query!r} has no letters or digits to look for")
    _check_terms(len(words) + sum(map(len, cjk)))
    return parts, Terms(tuple(words), tuple(cjk))


def plain_query(query: str) -> tuple[str, Terms]:
    """Plain text (see `plain_phrases`) as an FTS5 expression.

    Raises:
        ValueError: the query is empty, too long, or has no letters or digits.
    """
    parts, terms = plain_phrases(query)
    return " AND ".join(
        f'{"cjk" if p.cjk else "content"} : "{" ".join(p.tokens)}"' + (" *" if p.prefix else "")
        for p in parts), terms


def fts_query(query: str) -> tuple[str, Terms]:
    """An FTS5 query, as given (CJK text made a phrase of single characters
    so that it matches as a substring), and the terms to mark.

    Raises:
        ValueError: the query is empty, too long, or a special query.
    """
    _check_size(query)
    if query.lstrip().startswith("*"):
        raise ValueError(f"bad search query {query!r}: a query cannot start with '*'")
    out, words, cjk, count = [], [], [], 0
    for piece in _FTS_PIECE.findall(query):
        quoted = piece.startswith('"')
        for is_cjk, part in ((bool(_CJK_RUN.fullmatch(p)), p) for p in _split_cjk(piece)):
            if is_cjk:
                cjk.append(part)
                count += len(part)
                spaced = " ".join(part)
                out.append(f" {spaced} " if quoted else f' "{spaced}" ')
                continue
            out.append(part)
            for m in _WORD.finditer(part):
                count += 1
                word = m.group()
                if not quoted and (word in _OPERATORS or part[m.end():].lstrip().startswith(":")):
                    continue
                prefix = part[m.end():].lstrip().startswith("*")
                words.append((fold_word(word), prefix))
    _check_terms(count)
    return "".join(out), Terms(tuple(words), tuple(cjk))


def snippet(text: str, terms: Terms, truncated: bool = False) -> str:
    """Up to `SNIPPET_WORDS` words of `text` around its first match, matches
    in [brackets], "…" where text is left out. Linear in `len(text)`: call it
    with at most `SNIPPET_SCAN` characters (`truncated`: there was more)."""
    units = [m.span() for m in UNIT.finditer(text)]
    if not units:
        return text[:200] + ("…" if truncated or len(text) > 200 else "")
    hit = _matched(text, units, terms)
    first = min(hit, default=0)
    start = max(0, min(first - 2, len(units) - SNIPPET_WORDS))
    end = min(len(units), start + SNIPPET_WORDS)
    begin = 0 if start == 0 else units[start][0]
    finish = len(text) if end == len(units) else units[end - 1][1]
    parts = ["…"] if start > 0 else []
    pos = begin
    k = start
    while k < end:
        if k not in hit:
            k += 1
            continue
        run_end = k  # neighbouring hits with no space between: one bracket ("[R-88]")
        while (run_end + 1 < end and run_end + 1 in hit
               and not _SPACE.search(text, units[run_end][1], units[run_end + 1][0])):
            run_end += 1
        a, b = units[k][0], units[run_end][1]
        parts += [text[pos:a], "[", text[a:b], "]"]
        pos = b
        k = run_end + 1
    parts.append(text[pos:finish])
    if end < len(units) or truncated:
        parts.append("…")
    return "".join(parts)


def _matched(text: str, units: list[tuple[int, int]], terms: Terms) -> set[int]:
    """Indexes of the units that match a term."""
    hit: set[int] = set()
    exact = {w for w, prefix in terms.words if not prefix}
    prefixes = tuple(w for w, prefix in terms.words if prefix)
    if exact or prefixes:
        for k, (a, b) in enumerate(units):
            word = fold_word(text[a:b])
            if word in exact or (prefixes and word.startswith(prefixes)):
                hit.add(k)
    starts = [a for a, _ in units]
    for phrase in terms.cjk:
        at = text.find(phrase)
        while at >= 0:
            k = bisect.bisect_left(starts, at)
            hit.update(range(k, k + len(phrase)))
            at = text.find(phrase, at + len(phrase))
    return hit


def _split_cjk(text: str) -> Iterable[str]:
    """`text` cut into CJK runs and the pieces between them."""
    pos = 0
    for m in _CJK_RUN.finditer(text):
        if m.start() > pos:
            yield text[pos:m.start()]
        yield m.group()
        pos = m.end()
    if pos < len(text):
        yield text[pos:]


def fold_word(word: str) -> str:
    """A word as unicode61 compares it: case and diacritics removed."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _check_size(query: object) -> None:
    if not isinstance(query, str) or not query.strip():
        raise ValueError("the search query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"the search query is too long: {len(query)} characters "
                         f"(at most {MAX_QUERY_CHARS})")


def _check_terms(count: int) -> None:
    if count > MAX_QUERY_TERMS:
        raise ValueError(f"the search query has too many words: {count} (at most "
                         f"{MAX_QUERY_TERMS})")
