"""`sessionlog`: the command line, a thin shell over the library.

Each command calls the library, turns its errors into one clear line on
stderr with a non-zero exit, and prints a table (or JSON with --json). This
module holds the `main` group and registers every command explicitly; the
commands live one module per group beside it.
"""

from __future__ import annotations

import click

from sessionlog.render import error_text

from . import audit, demo, erase, maintenance, serve, sessions, tail, transfer
from .database import ERASABLE
from .options import JsonError, wants_json

JSON_ERRORS = "sessionlog.json_errors"  # ctx.meta: the command line asked for --json


class _Main(click.Group):
    """The group: every command's error is printed with URL passwords hidden
    and control characters escaped (`error_text`: a database's error text or
    a hostile argument cannot drive the terminal or show a secret); under
    --json it is a JSON object on stderr, with the same exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[JSON_ERRORS] = wants_json(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.ClickException as e:
            # click declares `message` Final; the error is reworded before it shows
            setattr(e, "message", error_text(e.message))  # noqa: B010
            if isinstance(e, JsonError):
                raise
            if ctx.meta.get(JSON_ERRORS):
                raise JsonError(e) from None
            raise


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="SESSIONLOG_DB", default="sessions.db", show_default=True,
              metavar="PATH|URL",
              help="The SQLite file, or a PostgreSQL URL such as postgresql://user@host/db "
                   "(or set SESSIONLOG_DB).")
@click.option("--erasable", is_flag=True,
              help="Create a new --db as an erasable file: personal fields encrypted per person "
                   "(key file PATH.key, or $SESSIONLOG_MASTER_KEY), so `erase` can forget them. "
                   "An existing erasable file is recognised without it.")
@click.version_option(package_name="sessionlog")
@click.pass_context
def main(ctx: click.Context, db: str, erasable: bool) -> None:
    """An event-sourced, tamper-evident log of AI-agent conversations.

    Every create, message and delete is an event in an append-only log (a
    SQLite file, or PostgreSQL); sessions are views folded from it.

    Example:

    \b
      sessionlog demo
      sessionlog list
      sessionlog --db chats.db create --title "Support chat"
      sessionlog --db postgresql://me@dbhost/chats list
      sessionlog --db private.db --erasable create --title "Support chat"
    """
    ctx.obj = db
    ctx.meta[ERASABLE] = erasable


# Every command, registered here and nowhere else.
main.add_command(sessions.create)
main.add_command(sessions.add)
main.add_command(sessions.show)
main.add_command(sessions.list_)
main.add_command(sessions.delete)
main.add_command(audit.history)
main.add_command(demo.demo)
main.add_command(audit.search)
main.add_command(maintenance.rebuild)
main.add_command(maintenance.repair_triggers)
main.add_command(maintenance.compact)
main.add_command(maintenance.catch_up)
main.add_command(audit.verify)
main.add_command(maintenance.stats)
main.add_command(transfer.import_)
main.add_command(transfer.export)
main.add_command(erase.erase)
main.add_command(transfer.copy)
main.add_command(tail.tail)
main.add_command(serve.serve)
