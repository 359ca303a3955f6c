"""The viewer's routes (Starlette): the list of sessions and search, a
transcript now or as of a position, its history, `/verify`, and the small
JSON and fragment reads the page script polls for live updates. Read-only;
every read confined to the viewer's tenant (`reads`)."""

from __future__ import annotations

import itertools
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from projections import EventSourcedSessionStore, SessionNotFoundError
from sessionlog.asof import as_of_value
from sessionlog.render import error_text

from . import reads
from .checking import Check
from .guard import Guard
from .pages import environment, render
from .present import shown

__all__ = ["create_app"]


def create_app(store: EventSourcedSessionStore, *, tenant: str | None = None,
               token: str | None = None, hosts: frozenset[str] | None = None) -> Guard:
    """The viewer over an open store: an ASGI app.

    Args:
        tenant: show only this tenant's sessions (another tenant's is a 404).
        token: every request needs `Authorization: Bearer TOKEN` (or the
            cookie a `?token=TOKEN` visit sets).
        hosts: the only Host header names accepted (None: any).
    """
    viewer = _Viewer(store, tenant)
    routes = [
        Route("/", viewer.index),
        Route("/fragments/sessions", viewer.rows),
        Route("/sessions/{sid}", viewer.transcript),
        Route("/sessions/{sid}/live", viewer.live),
        Route("/sessions/{sid}/history", viewer.history),
        Route("/verify", viewer.verify),
        Route("/verify/status", viewer.verify_status),
        Mount("/static", StaticFiles(packages=[("sessionlog.web", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={
        HTTPException: viewer.http_error, ValueError: viewer.bad_input,
        Exception: viewer.server_error})
    return Guard(app, token, hosts)


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value or None


def _int(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 9 or int(value) < 1:
        raise HTTPException(400, f"{name} must be a positive whole number")
    return int(value)


def _as_of(request: Request) -> int | datetime | None:
    """?as_of=: a position, or a moment read as the CLI's --as-of reads it
    (`sessionlog.asof`: UTC without an offset, to the end of its last digit)."""
    text = _text(request, "as_of")
    if text is None:
        return None
    if text.isascii() and text.isdigit() and len(text) > 18:
        raise HTTPException(400, "as_of is past any position")
    try:
        return as_of_value(text)
    except ValueError as e:
        raise HTTPException(400, f"as_of: {e}") from None


def _query(**params: Any) -> str:
    return urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _macro(name: str) -> Callable[..., Any]:
    """A macro of templates/macros.html (what a page and its live update share)."""
    macro: Callable[..., Any] = getattr(environment().get_template("macros.html").module, name)
    return macro


def _buffered(parts: Iterator[str], size: int = 1 << 16) -> Iterator[str]:
    """Template output in pieces of about `size` characters: each piece is a
    hop to the thread pool, so a piece per tag would be slow."""
    buffer: list[str] = []
    held = 0
    for part in parts:
        buffer.append(part)
        held += len(part)
        if held >= size:
            yield "".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield "".join(buffer)


class _Viewer:
    def __init__(self, store: EventSourcedSessionStore, tenant: str | None) -> None:
        self.store = store
        self.tenant = tenant
        self.check = Check(store)

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render(name, tenant=self.tenant, **context), status_code=status)

    # -- errors -------------------------------------------------------------

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        heading = {404: "Not found", 400: "Bad request"}.get(exc.status_code, "Error")
        return self.page("error.html", exc.status_code, code=exc.status_code,
                         heading=heading, message=exc.detail)

    async def bad_input(self, request: Request, exc: Exception) -> Response:
        """ValueError: the library's word for bad input (a position past range)."""
        return self.page("error.html", 400, code=400, heading="Bad request",
                         message=error_text(str(exc)))

    async def server_error(self, request: Request, exc: Exception) -> Response:
        return self.page("error.html", 500, code=500, heading="Error",
                         message=error_text(f"{type(exc).__name__}: {exc}"))

    def _sid(self, request: Request) -> str:
        try:
            return reads.session_id(request.path_params["sid"])
        except reads.Missing:
            raise HTTPException(404, "no such session") from None

    # -- the list -----------------------------------------------------------

    def _filters(self, request: Request) -> tuple[str | None, str | None]:
        return self.tenant or _text(request, "tenant"), _text(request, "user")

    def index(self, request: Request) -> Response:
        tenant, user = self._filters(request)
        shown_tenant = None if self.tenant else tenant
        q = request.query_params.get("q", "").strip()
        context: dict[str, Any] = dict(q=q, user=user, tenant_filter=shown_tenant, error=None,
                                       sessions=[], results=[], more=False, before=None,
                                       next_url="", first_url="", live_url=None)
        if q:
            page = _int(request, "page", 1)
            try:
                context["results"], context["more"] = reads.hits(self.store, q, tenant, page)
            except ValueError as e:
                context["error"] = error_text(str(e))
                return self.page("index.html", 400, **context)
            context["next_url"] = "/?" + _query(q=q, tenant=shown_tenant, page=page + 1)
            return self.page("index.html", **context)
        before = _text(request, "before")
        try:
            sessions, more = reads.sessions_page(self.store, tenant=tenant, user=user,
                                                 before=before)
        except (ValueError, SessionNotFoundError):
            raise HTTPException(400, "before names no live session") from None
        context.update(sessions=sessions, more=more, before=before,
                       first_url="/?" + _query(tenant=shown_tenant, user=user))
        if sessions:
            context["next_url"] = "/?" + _query(tenant=shown_tenant, user=user,
                                                before=sessions[-1].id)
        if before is None:
            context["live_url"] = "/fragments/sessions?" + _query(tenant=shown_tenant, user=user)
        return self.page("index.html", **context)

    def rows(self, request: Request) -> Response:
        """The first page's rows, for the list's live update."""
        tenant, user = self._filters(request)
        sessions, _ = reads.sessions_page(self.store, tenant=tenant, user=user, before=None)
        return HTMLResponse(str(_macro("session_rows")(sessions)))

    # -- one session ----------------------------------------------------------

    def transcript(self, request: Request) -> Response:
        sid = self._sid(request)
        audit = request.query_params.get("audit") == "1"
        page = _int(request, "page", 1)
        event = _int(request, "event", 0)
        as_of = _as_of(request)
        if event:  # the slider: the session as of its n-th event
            try:
                stream = [e for batch in reads.stream(self.store, sid, self.tenant) for e in batch]
            except reads.Missing:
                raise HTTPException(404, "no such session") from None
            chosen = stream[min(event, len(stream)) - 1].position
            return RedirectResponse(f"/sessions/{sid}?" + _query(as_of=chosen,
                                                                  audit="1" if audit else None),
                                    status_code=303)
        try:
            t = reads.session_page(self.store, sid, self.tenant, page=page, as_of=as_of)
        except reads.Missing:
            raise HTTPException(404, "no such session" if as_of is None else
                                "no such session at that point") from None
        except reads.Gone as gone:
            return self.page("gone.html", gone=gone, as_of=as_of)
        base = dict(audit="1" if audit else None, as_of=as_of if as_of is not None else None)
        items = [shown(i) for i in t.session.items]
        return self.page(
            "transcript.html", session=t.session, items=items, as_of=as_of, audit=audit,
            stepper=self._stepper(sid, as_of) if as_of is not None else None,
            trail=reads.trail(self.store, sid, as_of) if audit else None,
            earlier=t.earlier, earlier_url=f"/sessions/{sid}?" + _query(page=page + 1, **base),
            page=page, later_url=f"/sessions/{sid}?" + _query(page=page - 1, **base),
            live_url=f"/sessions/{sid}/live" if as_of is None and page == 1 else None,
            last_item=items[-1].id if items else "")

    def _stepper(self, sid: str, as_of: int | datetime) -> dict[str, Any]:
        events = [(e.position, e.recorded_at) for batch in self.store.history_batches(sid)
                  for e in batch]
        index = max(1, sum(1 for position, at in events
                           if (position <= as_of if isinstance(as_of, int) else at <= as_of)))
        position, at = events[index - 1]
        return dict(position=position, at=at, index=index, count=len(events),
                    prev=events[index - 2][0] if index > 1 else None,
                    next=events[index][0] if index < len(events) else None)

    def live(self, request: Request) -> Response:
        """Items added after `?after=ITEM_ID`, as HTML, for the open transcript."""
        sid = self._sid(request)
        after = request.query_params.get("after", "")
        try:
            t = reads.session_page(self.store, sid, self.tenant)
        except reads.Missing:
            raise HTTPException(404, "no such session") from None
        except reads.Gone:
            return JSONResponse({"reload": True})
        ids = [i.id for i in t.session.items]
        if after == (ids[-1] if ids else ""):
            return JSONResponse({"html": "", "last": after})
        if after and after not in ids:
            return JSONResponse({"reload": True})
        start = ids.index(after) + 1 if after else 0
        item = _macro("item")
        html = "".join(str(item(shown(i))) for i in t.session.items[start:])
        return JSONResponse({"html": html, "last": ids[-1]})

    def history(self, request: Request) -> Response:
        sid = self._sid(request)
        try:
            batches = reads.stream(self.store, sid, self.tenant)
        except reads.Missing:
            raise HTTPException(404, "no such session") from None
        first = next(batches)
        created = first[0].data if first[0].type == "SessionCreated" else {}
        gone = reads.gone(self.store, sid) if self.store.get(sid, last_n=1) is None else None
        template = environment().get_template("history.html")
        chunks = template.generate(session_id=sid, batches=itertools.chain([first], batches),
                                   gone=gone, title=created.get("title"),
                                   tenant=self.tenant, standalone=None)
        return StreamingResponse(_buffered(chunks), media_type="text/html; charset=utf-8")

    # -- verify -----------------------------------------------------------------

    def verify(self, request: Request) -> Response:
        if request.query_params.get("run") == "1":
            self.check.start()
            return RedirectResponse("/verify", status_code=303)
        return self.page("verify.html", state=self.check.progress())

    def verify_status(self, request: Request) -> Response:
        state = self.check.progress()
        return JSONResponse({"running": state.running, "done": state.done, "total": state.total})
