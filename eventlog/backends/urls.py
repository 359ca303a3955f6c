"""Log targets: a libpq URL names a PostgreSQL log, anything else a SQLite
path; and how a target may be shown (its password hidden)."""

from __future__ import annotations

import urllib.parse

#: URL schemes libpq accepts.
URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(target: object) -> bool:
    """Whether `target` is a PostgreSQL URL (not a SQLite path)."""
    return isinstance(target, str) and target.startswith(URL_PREFIXES)


def shown(target: str) -> str:
    """`target` as messages and `stats` may print it: a URL with its password
    hidden (in the user part and in a `password=` parameter), a path as is."""
    if not is_url(target):
        return target
    parts = urllib.parse.urlsplit(target)
    netloc = parts.netloc
    if parts.password is not None:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = "&".join(
        f"{k}=***" if k == "password" else f"{k}={v}"
        for k, v in (pair.split("=", 1) if "=" in pair else (pair, "")
                     for pair in parts.query.split("&") if pair))
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))
