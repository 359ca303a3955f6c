"""Plain-text tables and JSON for the CLI."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from eventlog import RecordedEvent, format_timestamp
from projections import Session, SessionSummary, session_to_dict

# Characters that would drive the terminal instead of showing: C0 and C1
# controls (ESC starts ANSI sequences; BEL, CR, NUL, ...), DEL, the line and
# paragraph separators, and the bidi marks, embeddings, overrides and isolates
# that reorder what follows them. Human output shows them escaped (\x1b,
# \u202e); --json keeps the exact text.
_UNSAFE = [*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029,
           *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _UNSAFE}
_ESCAPES.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"})
_ESCAPES_KEEP_NEWLINE = {**_ESCAPES, ord("\n"): "\n"}


def visible(text: str, *, newlines: bool = False) -> str:
    """`text` with every control and bidi character escaped, so stored text
    cannot move the cursor, recolour, hide or reorder what the terminal shows.
    With `newlines`, line feeds are kept (the caller indents what follows)."""
    return text.translate(_ESCAPES_KEEP_NEWLINE if newlines else _ESCAPES)


# A password in a PostgreSQL URL (postgresql://user:PASSWORD@host) or in a
# libpq `password=` setting, wherever it appears in a message.
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^\s/@:]*:)[^\s@]*@", re.IGNORECASE)
_SETTING_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('[^']*'|[^\s&'\"]+)", re.IGNORECASE)


def error_text(text: str) -> str:
    """An error message as the CLI prints it: every password of a PostgreSQL
    URL or `password=` setting hidden (`***`), and control and bidi
    characters escaped (`visible`), whatever the database or input put there."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return visible(_SETTING_PASSWORD.sub(r"\1***", text))


def width(text: str) -> int:
    """Columns `text` takes on a terminal: wide and full-width characters
    (CJK, most emoji) two, combining marks and zero-width characters none."""
    n = 0
    for c in text:
        if c.isascii():
            n += 1
        elif unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        else:
            n += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return n


def _cut(text: str, max_width: int) -> str:
    """`text`, cut with an ellipsis to at most `max_width` columns."""
    if width(text) <= max_width:
        return text
    out, used = [], 0
    for c in text:
        w = width(c)
        if used + w > max_width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


def table_lines(headers: Sequence[str], rows: Iterable[Sequence[Any]], max_width: int = 60,
                chunk: int = 1000) -> Iterator[str]:
    """`table`, line by line, reading `rows` `chunk` at a time: columns fit
    the first chunk and widen (never narrow) for a later one that needs it."""
    def cell(value: Any) -> str:
        return _cut("" if value is None else visible(str(value)), max_width)

    widths = [width(h) for h in headers]
    rows = iter(rows)
    first = True
    while True:
        body = [[cell(v) for v in row] for _, row in zip(range(chunk), rows)]
        if not body and not first:
            return
        widths = [max([w] + [width(r[i]) for r in body]) for i, w in enumerate(widths)]
        if first:
            yield "  ".join(_pad(h, w) for h, w in zip(headers, widths)).rstrip()
            first = False
        for r in body:
            yield "  ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip()
        if len(body) < chunk:
            return


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], max_width: int = 60) -> str:
    """Left-aligned columns by display width (`width`), cells cut to
    `max_width` columns with an ellipsis; control and bidi characters
    escaped (`visible`)."""
    return "\n".join(table_lines(headers, rows, max_width, chunk=1 << 62))


def when(moment: datetime) -> str:
    """A moment for people: UTC, to the second."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def when_exactly(moment: datetime) -> str:
    """A moment for an audit: UTC, to the microsecond `--as-of` compares,
    so any time `history` prints selects exactly up to that row."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


SUMMARY_HEADERS = ("ID", "KEY", "TITLE", "USER", "TENANT", "ITEMS", "UPDATED (UTC)")


def summary_row(s: SessionSummary) -> tuple:
    """A `list` row: what a person looks a session up by."""
    return (s.id, s.key, s.title, s.user_id, s.tenant_id, s.item_count,
            when(s.updated_at or s.created_at))


def sessions_table(sessions: Sequence[Session]) -> str:
    return table(
        ["ID", "KEY", "TITLE", "USER", "TENANT", "MESSAGES", "CREATED (UTC)"],
        [(s.id, s.key, s.title, s.user_id, s.tenant_id, len(s.messages), when(s.created_at))
         for s in sessions],
        max_width=40,
    )


def summary_dict(s: SessionSummary) -> dict[str, Any]:
    """A session's summary for `list --json`."""
    return {"id": str(s.id), "key": s.key, "title": s.title, "user_id": s.user_id,
            "tenant_id": s.tenant_id, "created_at": format_timestamp(s.created_at),
            "updated_at": None if s.updated_at is None else format_timestamp(s.updated_at),
            "version": s.version, "item_count": s.item_count}


def json_array(values: Iterable[Any]) -> Iterator[str]:
    """A JSON array, one element per line, as it is read: `[`, the
    elements (JSON, comma-separated), `]`."""
    yield "["
    previous = None
    for value in values:
        if previous is not None:
            yield f"  {previous},"
        previous = json.dumps(value, ensure_ascii=False)
    if previous is not None:
        yield f"  {previous}"
    yield "]"


def item_text(role: str, text: str | None, data: Any) -> str:
    """What a person should read of an item: its text, else (an item an
    adapter stored without one) its JSON, cut short."""
    if text is not None:
        return text
    if role.startswith("langgraph.") and isinstance(data, dict):
        return langgraph_line(role, data)
    shown = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return shown if len(shown) <= 200 else shown[:199] + "…"


def langgraph_line(role: str, data: dict) -> str:
    """One short line for the bookkeeping items of a LangGraph thread
    (`sessionlog.integrations.langgraph`): which checkpoint, writes, fork
    or prune, not their JSON."""
    ns = f" in {data['ns']!r}" if data.get("ns") else ""
    if role == "langgraph.checkpoint":
        meta = data.get("meta", {}).get("j", {})
        meta = meta if isinstance(meta, dict) else {}
        step = f"step {meta['step']} " if "step" in meta else ""
        source = f"({meta['source']}) " if "source" in meta else ""
        return f"{step}{source}checkpoint{ns} {data.get('id')}"
    if role == "langgraph.writes":
        channels = ", ".join(sorted({str(w[1]) for w in data.get("w", []) if len(w) > 1}))
        return f"writes to {channels or 'nothing'}{ns} by task {data.get('task')}"
    if role == "langgraph.fork":
        return (f"forked from thread {data.get('thread')!r} (session {data.get('session')} "
                f"at version {data.get('version')})")
    if role == "langgraph.forget":
        return (f"{data.get('reason', 'forget')}: {len(data.get('checkpoints', []))} "
                "checkpoint(s) no longer read")
    return role


def session_text(session: Session) -> str:
    owner = ""
    if session.user_id is not None or session.tenant_id is not None:
        owner = f" (user {session.user_id}, tenant {session.tenant_id})"
    key = f"\nKey:     {visible(session.key)}" if session.key is not None else ""
    extra = (f", {len(session.items)} item(s)" if len(session.items) != len(session.messages)
             else "")
    head = f"Session {session.id}{visible(owner)}\n" \
           f"Title:   {visible(session.title or '(none)')}{key}\n" \
           f"Created: {when(session.created_at)} UTC, {len(session.messages)} message(s){extra}"
    # Items (messages are items too); a session folded without them shows its messages.
    entries = ([(i.timestamp, i.role, item_text(i.role, i.text, i.data)) for i in session.items]
               if session.items or not session.messages else
               [(m.timestamp, m.role.value, m.content) for m in session.messages])
    lines = [head, ""] if entries else [head]
    for at, role, text in entries:
        # Continuation lines are indented: a message cannot pose as the next one.
        content = visible(text, newlines=True).replace("\n", "\n    ")
        lines.append(f"[{when(at)}] {visible(role)}: {content}")
    return "\n".join(lines)


def _delta(delta: dict) -> str:
    return ", ".join(f"{k}={'(removed)' if v is None else json.dumps(v, ensure_ascii=False)}"
                     for k, v in delta.items())


def describe(event: RecordedEvent) -> str:
    """What an event did, in a few words."""
    d = event.data
    if event.type == "SessionCreated":
        owner = "".join(f", {what} {d[name]}" for what, name in (("user", "user_id"),
                                                                    ("tenant", "tenant_id"))
                        if d.get(name) is not None)
        key = f", key {d['key']!r}" if d.get("key") is not None else ""
        title = f"title {d['title']!r}" if d.get("title") is not None else "no title"
        return f"{title}{owner}{key}"
    if event.type == "MessageAdded":
        return f"{d.get('role', '?')}: {d.get('content', '')}"
    if event.type == "ItemAdded":
        return f"{d.get('role', '?')}: {item_text(d.get('role', '?'), d.get('text'), d.get('data'))}"
    if event.type == "ItemsRemoved":
        return f"removed the last {d.get('count')} item(s)"
    if event.type == "SessionCleared":
        return "cleared every item"
    if event.type == "StateChanged":
        return f"state: {_delta(d.get('delta', {}))}"
    if event.type == "ScopeStateChanged":
        return f"{d.get('scope')} state: {_delta(d.get('delta', {}))}"
    if event.type == "SessionDeleted" and event.metadata.get("erasure"):
        return f"erased (key {event.metadata['erasure']} destroyed)"
    if event.type == "SubjectErased":
        by = f", asked by {d['requested_by']}" if d.get("requested_by") else ""
        why = f", reason {d['reason']!r}" if d.get("reason") else ""
        return f"{d.get('scope')} key {d.get('subject')} destroyed, {d.get('sessions')} session(s){by}{why}"
    return ""


def erasable_rows(info: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The `stats` rows of an erasable file (none for a plain one)."""
    if not info:
        return [("erasable", "no")]
    return [("erasable", f"yes, master key: {info['master_key']}"),
            ("data keys", info["data_keys"]), ("subjects erased", info["subjects_erased"])]


HISTORY_HEADERS = ("POS", "VER", "TYPE", "RECORDED AT (UTC)", "SOURCE", "WHAT")


def history_row(e: RecordedEvent) -> tuple:
    return (e.position, e.version, e.type, when_exactly(e.recorded_at), e.metadata.get("source"),
            describe(e))


def history_table(events: Sequence[RecordedEvent]) -> str:
    return table(HISTORY_HEADERS, map(history_row, events))


def event_dict(event: RecordedEvent) -> dict[str, Any]:
    return {
        "position": event.position, "event_id": str(event.event_id),
        "stream_id": event.stream_id, "version": event.version, "type": event.type,
        "data": event.data, "metadata": event.metadata,
        "recorded_at": format_timestamp(event.recorded_at), "hash": event.hash,
    }


def session_dict(session: Session) -> dict[str, Any]:
    """The session's seed JSON, plus its key, version, items and state."""
    out = session_to_dict(session)
    out["key"] = session.key
    out["version"] = session.version
    out["updated_at"] = (None if session.updated_at is None
                         else format_timestamp(session.updated_at))
    out["items"] = [{"id": i.id, "role": i.role, "text": i.text, "data": i.data,
                     "timestamp": format_timestamp(i.timestamp)} for i in session.items]
    out["state"] = session.state
    return out


def to_json(value: Any) -> str:
    if isinstance(value, Session):
        value = session_dict(value)
    elif isinstance(value, list) and value and isinstance(value[0], Session):
        value = [session_dict(s) for s in value]
    elif isinstance(value, list) and value and isinstance(value[0], RecordedEvent):
        value = [event_dict(e) for e in value]
    return json.dumps(value, ensure_ascii=False, indent=2)


def tail_line(event: RecordedEvent) -> str:
    """One event on one line, for `tail`: position, time, stream, type,
    source and what it did (control characters escaped)."""
    return visible(f"{event.position}  {when_exactly(event.recorded_at)}  {event.stream_id}  "
                   f"{event.type}  {event.metadata.get('source')}  {describe(event)}").rstrip()
