"""What every response of the viewer passes through: only GET and HEAD
(405 otherwise: nothing writes), the token when one is set (401 without it;
`?token=` once sets an HttpOnly cookie for a browser), without a token only
this machine's host names (a DNS rebinding cannot read the pages), and
headers that forbid inline script, other origins, framing and sniffing."""

from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

__all__ = ["CSP", "COOKIE", "Guard"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
COOKIE = "sessionlog_token"
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class Guard:
    """ASGI middleware around the viewer (see the module docstring)."""

    def __init__(self, app: App, token: str | None,
                 hosts: frozenset[str] | None = None) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        if self.hosts is not None and _host(scope) not in self.hosts:
            # A page of another site that a DNS rebinding points at this address
            # names its own host: without a token, only this machine's names pass.
            await _plain(send_with_headers, 400, "unexpected Host header", [])
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send_with_headers, 405, "read-only: only GET and HEAD",
                         [(b"allow", b"GET, HEAD")])
            return
        if self.token is not None:
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("token", [None])[-1]
            if given is not None and self._matches(given):
                rest = [(k, v) for k, vs in query.items() if k != "token" for v in vs]
                location = scope.get("root_path", "") + scope["path"]
                if rest:
                    location += "?" + urllib.parse.urlencode(rest)
                cookie = (f"{COOKIE}={urllib.parse.quote(given)}; HttpOnly; SameSite=Strict; "
                          "Path=/")
                await _plain(send_with_headers, 303, "signed in",
                             [(b"location", location.encode()), (b"set-cookie", cookie.encode())])
                return
            if not self._allowed(scope):
                await _plain(send_with_headers, 401, "a token is needed: "
                             "Authorization: Bearer TOKEN, or open the page once with ?token=TOKEN",
                             [(b"www-authenticate", b'Bearer realm="sessionlog"')])
                return
        await self.app(scope, receive, send_with_headers)

    def _matches(self, given: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                   self.token.encode("utf-8", "surrogateescape"))

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, given = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and self._matches(given.strip()):
                    return True
            elif name == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:  # a malformed cookie header is no token
                    continue
                if COOKIE in jar and self._matches(urllib.parse.unquote(jar[COOKIE].value)):
                    return True
        return False


def _host(scope: Scope) -> str:
    """The host a request names (its Host header without the port), lower-case."""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):
                return host[1:].split("]", 1)[0]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


async def _plain(send: Send, status: int, text: str,
                 headers: list[tuple[bytes, bytes]]) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
