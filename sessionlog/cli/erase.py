"""`erase`: forget a person in an erasable file, keep the audit trail.
`--erasable` (a new erasable file) is the group's option; `copy --erasable`
(move a plain file into an erasable one) lives with `copy` in transfer.py."""

from __future__ import annotations

import getpass
import json

import click

from eventlog.backends.factory import is_url, shown

from .database import open_store
from .options import json_option


@click.command()
@click.argument("session_id", metavar="ID", required=False)
@click.option("--user", "user_id", metavar="U",
              help="Erase this user's sessions and user state (with --tenant).")
@click.option("--tenant", "tenant_id", metavar="T",
              help="The tenant of --user (the same user id in another tenant is another person).")
@click.option("--reason", help="Why (recorded in the SubjectErased event; no personal data).")
@click.option("--by", "requested_by", metavar="WHO",
              help="Who asked (recorded; default: the OS user running the command).")
@json_option
@click.pass_context
def erase(ctx: click.Context, session_id: str | None, user_id: str | None, tenant_id: str | None,
          reason: str | None, requested_by: str | None, as_json: bool) -> None:
    """Forget a person in an erasable file: destroy the data key of a user
    of a tenant (all their sessions and user state) or of one session (the
    user's other sessions and state stay), remove them from every view and
    search, and leave no plain copy in the file. The log stays whole: `history` shows every event with
    `[erased]` in place of the text, and `verify` passes.

    One SubjectErased event records who asked, when and why. A second erase
    of a session is a no-op (exit 0, "already erased"). A plain file refuses:
    move it with `copy NEW --erasable`.

    Exit status: 0 when erased (now, or a session earlier); 1 on an error;
    3 when the file holds no data of --user U --tenant T, so nothing was
    erased: the user was never written here, or was erased earlier (the file
    keeps no trace of whom it erased, so it cannot tell which).

    Example:

    \b
      sessionlog --db chats.db erase --user alice --tenant acme --reason "GDPR request 114"
      sessionlog --db chats.db erase 5b0c...e1 --reason "user asked in chat"
      sessionlog --db chats.db history 5b0c...e1
    """
    by_user = user_id is not None or tenant_id is not None
    if by_user == (session_id is not None):
        raise click.ClickException("give either ID or --user U --tenant T; nothing was written")
    if by_user and (not user_id or not tenant_id):
        raise click.ClickException("--user and --tenant go together (a user id is per tenant); "
                                   "nothing was written")
    if requested_by is None:
        requested_by = _os_user()
    with open_store(ctx) as store:
        if by_user:
            assert user_id and tenant_id  # checked above
            done = store.erase_user(user_id, tenant_id, reason=reason, requested_by=requested_by)
            what = f"user {user_id!r} of tenant {tenant_id!r}"
        else:
            assert session_id is not None  # checked above
            done = store.erase(session_id, reason=reason, requested_by=requested_by)
            what = f"session {session_id}"
    if not done.found:
        raise NothingToErase(
            f"{what} is not known in {shown(ctx.obj)}: nothing was erased (no data of that user "
            "is in the file: never written here, or erased earlier)")
    if as_json:
        click.echo(json.dumps({"already": done.already, "sessions": done.sessions,
                               "position": done.position, "subject": done.subject,
                               "detail": done.detail}))
    elif done.already:
        click.echo(f"{what}: {done.detail}")
    else:
        where = ("in the log's tables (PostgreSQL's own WAL and backups: see the README)"
                 if is_url(ctx.obj) else "in the file")
        click.echo(f"{what}: {done.detail}; its text is unreadable from now on and no plain copy "
                   f"is left {where}")


class NothingToErase(click.ClickException):
    """No data of the subject in the file: nothing was erased (exit 3)."""

    exit_code = 3


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
