"""`serve`: the conversation viewer over --db, in a browser (the extra
`sessionlog[web]`): bound to loopback unless a token guards it, read-only."""

from __future__ import annotations

import ipaddress
import socket

import click

from .database import ERASABLE, open_db
from .options import argv_text

_MISSING = "the viewer needs the extra: pip install 'sessionlog[web]'"


def is_loopback(host: str) -> bool:
    """Whether `host` reaches only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one)."""
    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise click.ClickException(f"cannot resolve --host {host}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. Another than loopback needs --token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="The port (0: a free one; the URL printed says which).")
@click.option("--tenant", help="Show only this tenant's sessions, on every page and in search.")
@click.option("--token", envvar="SESSIONLOG_WEB_TOKEN", metavar="TOKEN",
              help="Every request needs `Authorization: Bearer TOKEN` (a browser opens "
                   "URL?token=TOKEN once; an HttpOnly cookie keeps it). Or set "
                   "SESSIONLOG_WEB_TOKEN, which stays out of the process list.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, tenant: str | None,
          token: str | None) -> None:
    """Look at conversations in a browser: the sessions, each transcript (now
    or as it stood at any position), its history, search and verify.
    Read-only; prints the URL, then serves until Ctrl-C.

    Example:

    \b
      sessionlog --db chats.db serve
      sessionlog --db chats.db serve --port 0 --tenant acme
      SESSIONLOG_WEB_TOKEN=s3cret sessionlog --db chats.db serve --host 0.0.0.0
    """
    tenant, token = argv_text(tenant, "'--tenant'"), argv_text(token, "'--token'")
    if token is not None and not token.strip():
        raise click.BadParameter("empty token", param_hint="'--token'")
    if not is_loopback(host) and token is None:
        raise click.ClickException(
            f"refusing to serve on {host} without --token: anyone who can reach it could read "
            "every conversation (pass --token, or keep the default --host 127.0.0.1)")
    try:
        import uvicorn

        from sessionlog.web import create_app
    except ImportError:
        raise click.ClickException(_MISSING) from None
    with open_db(ctx.obj, erasable=ctx.meta.get(ERASABLE, False), source="web") as store:
        # Without a token, only this machine's names: a DNS rebinding cannot read the pages.
        hosts = None if token is not None else frozenset(
            {"127.0.0.1", "localhost", "::1", host.strip("[]").lower()})
        app = create_app(store, tenant=tenant, token=token, hosts=hosts)
        config = uvicorn.Config(app, log_level="warning",
                                lifespan="off", access_log=False, server_header=False)
        sock = _bind(host, port)
        try:
            shown_host = f"[{host.strip('[]')}]" if ":" in host else host
            click.echo(f"http://{shown_host}:{sock.getsockname()[1]}/")
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:  # Ctrl-C: uvicorn shut down and raised it again; a quiet end
            pass
        finally:
            sock.close()
