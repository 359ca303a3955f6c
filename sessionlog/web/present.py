"""How a person reads an item: its kind (a message, a tool call, a tool's
output, reasoning, or bookkeeping such as a LangGraph checkpoint), a one-line
headline, and its data as nested fields instead of raw JSON. Pure functions
of the read model; the templates only lay them out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from projections import SessionItem
from sessionlog.render import item_text

__all__ = ["Field", "Shown", "fields", "shown", "summary"]

#: Roles whose items with text are read as the conversation itself.
CONVERSATION_ROLES = frozenset({"user", "assistant", "system", "developer", "human", "ai", "model"})
_CALL_TYPES = ("function_call", "tool_call", "custom_tool_call", "computer_call",
               "mcp_call", "file_search_call", "web_search_call", "code_interpreter_call",
               "local_shell_call", "image_generation_call")
HEADLINE = 160  # characters of a collapsed item's headline


@attrs.frozen
class Field:
    """One field of an item's data: its name, and either a short value
    (`text`) or nested fields (`children`)."""

    name: str
    text: str | None
    children: tuple[Field, ...] = ()


@attrs.frozen
class Shown:
    """An item as the page shows it. `kind`: message, tool_call,
    tool_output, reasoning or other; `open`: whether its body shows
    without a click (messages); `label`: the kind in words."""

    id: str
    role: str
    kind: str
    label: str
    headline: str
    body: str
    open: bool
    timestamp: Any
    fields: tuple[Field, ...]
    raw: str


def _kind(role: str, data: Mapping[str, Any], text: str | None) -> str:
    kind = data.get("type")
    kind = kind if isinstance(kind, str) else ""
    if kind == "reasoning" or kind == "thinking" or data.get("thought") is True:
        return "reasoning"
    if kind in _CALL_TYPES or kind.endswith("_call"):
        return "tool_call"
    if kind.endswith("_call_output") or kind.endswith("_output") or role in ("tool", "function"):
        return "tool_output"
    if role in CONVERSATION_ROLES and text is not None:
        inner = data.get("data")
        calls = data.get("tool_calls") or (inner.get("tool_calls") if isinstance(inner, Mapping)
                                           else None)
        if calls and not _has_prose(data):
            return "tool_call"
        return "message"
    return "other"


def _has_prose(data: Mapping[str, Any]) -> bool:
    inner = data.get("data")
    content = data.get("content", inner.get("content") if isinstance(inner, Mapping) else None)
    return bool(content) if isinstance(content, str) else bool(content) and any(
        isinstance(p, Mapping) and p.get("type") in ("text", "output_text") for p in content)


_LABELS = {"message": "", "tool_call": "tool call", "tool_output": "tool output",
           "reasoning": "reasoning", "other": "item"}


def shown(item: SessionItem) -> Shown:
    """The item as a page shows it (see `Shown`)."""
    data = item.data
    kind = _kind(item.role, data, item.text)
    body = item_text(item.role, item.text, data) if kind == "message" else (item.text or "")
    return Shown(id=item.id, role=item.role, kind=kind, label=_LABELS[kind],
                 headline=summary(item.text if item.text is not None else _default(data)),
                 body=body, open=kind == "message", timestamp=item.timestamp,
                 fields=fields(data), raw=json.dumps(data, ensure_ascii=False, indent=2,
                                                     sort_keys=True, default=str))


def _default(data: Mapping[str, Any]) -> str:
    """A headline for an item without text: its type and names of its fields."""
    kind = data.get("type")
    name = data.get("name")
    if isinstance(name, str):
        args = data.get("arguments", data.get("input", data.get("args", "")))
        return f"{name}({args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)})"
    names = ", ".join(str(k) for k in list(data)[:6])
    return f"{kind}: {names}" if isinstance(kind, str) else names or "(empty)"


def summary(text: str, limit: int = HEADLINE) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _value(value: Any) -> str:
    if isinstance(value, str):
        parsed = _json_text(value)
        return value if parsed is None else json.dumps(parsed, ensure_ascii=False, indent=2)
    return json.dumps(value, ensure_ascii=False, default=str)


def _json_text(value: str) -> Any:
    """A string that holds a JSON object or array (tool arguments), parsed; else None."""
    if value[:1] not in ("{", "["):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def fields(value: Any, depth: int = 0) -> tuple[Field, ...]:
    """A JSON value as nested fields (objects and lists unfold, at most six
    levels; a string holding JSON, such as tool arguments, unfolds too)."""
    if isinstance(value, str):
        parsed = _json_text(value)
        if parsed is not None:
            value = parsed
    if isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        pairs = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        return ()
    out = []
    for name, v in pairs:
        nested = isinstance(v, Mapping | list | tuple) and bool(v)
        if nested and depth < 6:
            out.append(Field(name, None, fields(v, depth + 1)))
        else:
            out.append(Field(name, _value(v)))
    return tuple(out)
