"""Google ADK events as sessionlog items and back (for `adk`): the role and
text an event is stored under, its JSON form read back as an `Event`, ADK's
state scoping and `GetSessionConfig` filtering."""

from __future__ import annotations

import json
from typing import Any

from google.adk.events.event import Event
from google.adk.sessions.base_session_service import GetSessionConfig
from google.adk.sessions.state import State
from google.genai import types

__all__ = ["event_role", "event_text", "filter_events", "json_state", "last_update_time",
           "split_state", "to_event"]


def split_state(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ADK's scoping of a state dict: app, user and session keys; temp dropped."""
    scopes: dict[str, dict[str, Any]] = {"app": {}, "user": {}, "session": {}}
    for key, value in state.items():
        if key.startswith(State.APP_PREFIX):
            scopes["app"][key.removeprefix(State.APP_PREFIX)] = value
        elif key.startswith(State.USER_PREFIX):
            scopes["user"][key.removeprefix(State.USER_PREFIX)] = value
        elif not key.startswith(State.TEMP_PREFIX):
            scopes["session"][key] = value
    return scopes


def json_state(state: dict[str, Any]) -> dict[str, Any]:
    """`state` as JSON values, or a one-line ValueError naming the bad key."""
    for key, value in state.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(f"state[{key!r}]: not a JSON value: {value!r}") from None
    return state


def _parts(event: Event) -> list[Any]:
    return list(event.content.parts or []) if event.content is not None else []


def event_role(event: Event) -> str:
    """The role an ADK event is stored under."""
    if any(p.function_response is not None for p in _parts(event)):
        return "tool"
    return "user" if event.author == "user" else "assistant"


def event_text(event: Event) -> str | None:
    """What `history` and `show` print for an ADK event (None: nothing readable)."""
    lines = []
    for p in _parts(event):
        if p.text and not p.thought:
            lines.append(p.text)
        elif p.function_call is not None:
            args = json.dumps(p.function_call.args or {}, ensure_ascii=False, default=str)
            lines.append(f"function_call {p.function_call.name}({args})")
        elif p.function_response is not None:
            lines.append(f"function_response {p.function_response.name}")
        elif p.inline_data is not None:
            lines.append(f"[{p.inline_data.mime_type or 'inline data'}]")
        elif p.file_data is not None:
            lines.append(f"[{p.file_data.mime_type or 'file'} {p.file_data.file_uri or ''}]".strip())
        elif p.executable_code is not None and p.executable_code.code:
            lines.append(p.executable_code.code)
        elif p.code_execution_result is not None and p.code_execution_result.output:
            lines.append(p.code_execution_result.output)
    return "\n".join(lines) or None


def to_event(item: Any) -> Event:
    """An item of the session back as an ADK event."""
    data = item.data
    if set(data) == {"role", "content"}:  # a plain message added by other means
        return Event(
            id=item.id, author="user" if item.role == "user" else "assistant",
            invocation_id="", timestamp=item.timestamp.timestamp(),
            content=types.Content(role="user" if item.role == "user" else "model",
                                  parts=[types.Part(text=data["content"])]),
        )
    return Event.model_validate_json(json.dumps(data))


def last_update_time(stored: Any) -> float:
    """ADK's `last_update_time` of a stored session: the last event's timestamp
    exactly as ADK gave it, else the creation time."""
    if stored.items:
        last = stored.items[-1]
        ts = last.data.get("timestamp")
        return float(ts) if isinstance(ts, (int, float)) else last.timestamp.timestamp()
    return stored.created_at.timestamp()


def filter_events(events: list[Event], config: GetSessionConfig | None) -> list[Event]:
    """ADK's `GetSessionConfig`: the last n events, then those at or after a time."""
    if config is None:
        return events
    if config.num_recent_events is not None:
        events = events[-config.num_recent_events:] if config.num_recent_events else []
    if config.after_timestamp is not None:
        i = len(events) - 1
        while i >= 0 and events[i].timestamp >= config.after_timestamp:
            i -= 1
        events = events[i + 1:]
    return events
