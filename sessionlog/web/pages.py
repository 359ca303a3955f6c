"""The templates (Jinja2, autoescaped: content is always data, never
markup) and the filters they use; shared by the server and by the
self-contained page `show --html` writes."""

from __future__ import annotations

import base64
import functools
import hashlib
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2

from eventlog import RecordedEvent, format_timestamp
from projections import Session
from sessionlog.render import describe, when, when_exactly

from .present import fields, shown
from .reads import dom_id

__all__ = ["environment", "standalone_html", "static_text"]


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment: autoescape on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sessionlog.web", "templates"),
        autoescape=True)
    env.filters.update(
        when=when, when_exactly=when_exactly, dom_id=dom_id, fields=fields,
        iso=lambda d: format_timestamp(d) if isinstance(d, datetime) else "",
        describe=_describe,
        epoch=lambda t: when(datetime.fromtimestamp(t, UTC)))
    return env


def _describe(event: RecordedEvent) -> str:
    return describe(event) or event.type


def static_text(name: str) -> str:
    """A file of the package's static folder, as text."""
    return resources.files("sessionlog.web").joinpath("static", name).read_text("utf-8")


def render(name: str, **context: Any) -> str:
    context.setdefault("standalone", None)
    context.setdefault("tenant", None)
    return environment().get_template(name).render(**context)


def standalone_html(session: Session) -> str:
    """One self-contained page of a whole session: the transcript as the
    server renders it, its CSS inlined (allowed by its hash in the page's
    CSP), no script, no request outside the page."""
    css = static_text("style.css")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
    csp = (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    return render("transcript.html", session=session, items=[shown(i) for i in session.items],
                  standalone={"css": css, "csp": csp}, as_of=None, audit=False, stepper=None,
                  earlier=False, earlier_url="", page=1, later_url="", live_url=None,
                  last_item="", trail=None)
