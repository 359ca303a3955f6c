"""What several commands share besides the database: options (--json,
--tenant, --force-foreign), reading text from argv and stdin, parsing
--as-of, and a progress bar on a terminal."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import click

from projections import EventSourcedSessionStore, TenantSessionStore
from sessionlog.asof import AS_OF_HELP, as_of_value

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["AS_OF_HELP", "JsonError", "NulFree", "argv_text", "force_foreign_option", "json_option",
           "parse_as_of", "progress_bar", "scoped", "stdin_text", "tenant_option", "wants_json"]


def json_option(f: F) -> F:
    """--json: print JSON for machines instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(f)


def wants_json(args: list[str]) -> bool:
    """Whether a command line asks for JSON: `--json` among its arguments
    before a `--` (read before parsing, so that a parse error is JSON too)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


class JsonError(click.ClickException):
    """A command's error under --json: `{"error": "..."}` on stderr, one
    line, with the exit code the error had (1, or 2 for a usage error)."""

    def __init__(self, error: click.ClickException) -> None:
        super().__init__(error.format_message())
        self.exit_code = error.exit_code  # type: ignore[misc]  # click declares it per class

    def show(self, file: Any = None) -> None:
        click.echo(json.dumps({"error": self.message, "exit_code": self.exit_code},
                              ensure_ascii=False), file=file, err=file is None)


class NulFree(click.ParamType):
    """A path type (`click.File`, `click.Path`) that refuses a NUL in the
    path in one line: no file system takes one, and `open` would raise
    ValueError instead of saying so."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner = inner
        self.name = inner.name

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return self.inner.get_metavar(param, ctx)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail("a path cannot contain a NUL character", param, ctx)
        return self.inner.convert(value, param, ctx)


def force_foreign_option(f: F) -> F:
    """--force-foreign: a write may add our tables to another program's file."""
    return click.option(
        "--force-foreign", is_flag=True,
        help="Add sessionlog's tables to an SQLite file another program made "
             "(refused without this flag, so a wrong --db cannot alter that file).")(f)


def tenant_option(f: F) -> F:
    """--tenant: the command sees only this tenant's sessions."""
    return click.option("--tenant", help="Confine the command to this tenant's sessions.")(f)


def scoped(store: EventSourcedSessionStore,
           tenant: str | None) -> EventSourcedSessionStore | TenantSessionStore:
    """The store, or its view confined to one tenant (`for_tenant`)."""
    return store if tenant is None else store.for_tenant(tenant)


def parse_as_of(text: str | None) -> int | datetime | None:
    """`--as-of`: a position or a moment (see `sessionlog.asof`)."""
    if text is None:
        return None
    try:
        return as_of_value(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--as-of'") from None


def argv_text(value: str | None, what: str) -> str | None:
    """Text from the command line, refused in one line if it was not UTF-8
    (Python keeps such bytes as lone surrogates)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            os.fsencode(value).decode("utf-8")
        except (UnicodeError, ValueError) as e:
            where = f" at byte {e.start}" if isinstance(e, UnicodeDecodeError) else ""
            raise click.BadParameter(f"not valid UTF-8{where}", param_hint=what) from None
        raise click.BadParameter("not valid UTF-8", param_hint=what) from None
    return value


def stdin_text() -> str:
    """All of stdin as UTF-8 text, one trailing line ending removed (what
    `echo` adds); invalid UTF-8 refused naming the byte."""
    data = sys.stdin.buffer.read()  # click 8.5 deprecates get_binary_stream
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise click.ClickException(f"stdin is not valid UTF-8 at byte {e.start}") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    return text


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], Any]]:
    """click's progress bar on a terminal (stderr); silent otherwise.
    Yields a callback taking the number of events just done."""
    if not sys.stderr.isatty() or total == 0:
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield bar.update
