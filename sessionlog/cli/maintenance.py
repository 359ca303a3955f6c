"""Commands that look after a database: `rebuild` and `catch-up` (the
views from the log), `repair-triggers`, `compact` and `stats`."""

from __future__ import annotations

import click

from .. import render
from .database import open_store
from .options import json_option, progress_bar


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--force", is_flag=True,
              help="Fold a log whose hash chain is broken anyway (recorded in the log's notes).")
@click.pass_context
def rebuild(ctx: click.Context, names: tuple[str, ...], force: bool) -> None:
    """Rebuild projections (all, or the NAMEs) from the log.

    Folds every event from position 0 into fresh tables, in batches, then
    swaps them in in one transaction: readers never see a half-built view,
    and writes made meanwhile are not lost. Names: sessions, tenants, search.
    The hash chain is checked on the way: a broken one stops the rebuild,
    views untouched, unless --force.

    Example:

    \b
      sessionlog rebuild
      sessionlog rebuild search
    """
    with open_store(ctx, catch_up=False) as store:  # rebuild works when catch-up cannot
        chosen = store.runner.select(names)
        total = store.log.last_position() or 0
        with progress_bar("rebuilding", total) as step:
            folded = store.rebuild(names, progress=step, force=force)
        notes = store.log.notes()
    click.echo(f"rebuilt {', '.join(p.name for p in chosen)} from {folded} events")
    if force and notes and notes[-1]["kind"] == "rebuild_forced":
        click.echo(f"forced over a broken chain at position {notes[-1]['position']} "
                   "(recorded in the log's notes)")


@click.command(name="repair-triggers")
@click.pass_context
def repair_triggers(ctx: click.Context) -> None:
    """Reinstall the append-only triggers on events if any was dropped.

    Records it in the log's notes, with the position reached, so `verify`
    and `stats` keep showing the gap. Edits made while the triggers were
    missing are caught by the hash chain: run `sessionlog verify` too.

    Example:

    \b
      sessionlog repair-triggers && sessionlog verify
    """
    with open_store(ctx) as store:
        fixed = store.repair_triggers()
    if fixed:
        click.echo(f"reinstalled {', '.join(fixed)} (recorded in the log's notes)")
    else:
        click.echo("the append-only triggers are in place; nothing written")


@click.command()
@click.pass_context
def compact(ctx: click.Context) -> None:
    """Give back the space of failed or killed rebuilds to the disk.

    Drops the tables of builds whose process is gone, folds the WAL into the
    database and truncates it, then rewrites the file without its free pages
    (VACUUM: needs free disk space about the size of the database). On
    PostgreSQL it rewrites each table of the schema (VACUUM FULL: each table
    is locked while it is rewritten, so run it when nothing writes).

    Example:

    \b
      sessionlog compact
    """
    with open_store(ctx) as store:
        result = store.compact()
    click.echo(f"dropped {result['tables_dropped']} leftover table(s); "
               f"{result['bytes_before'] / 1e6:.2f} MB -> {result['bytes_after'] / 1e6:.2f} MB")


@click.command(name="catch-up")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.pass_context
def catch_up(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Apply events newer than each projection's checkpoint.

    Needed only after events were appended without the store (by
    EventLog.append, an older release, or an interrupted rebuild); opening a
    store does it too.

    Example:

    \b
      sessionlog catch-up
    """
    with open_store(ctx) as store:
        store.runner.select(names)
        behind = sum(c["behind"] for c in store.stats()["checkpoints"].values())
        with progress_bar("catching up", behind) as step:
            applied = store.catch_up(names, progress=step)
    click.echo(", ".join(f"{name}: {n} event(s) applied" for name, n in applied.items()))


@click.command()
@json_option
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Events, sessions, messages, file size and projection checkpoints.

    Example:

    \b
      sessionlog stats --json
    """
    with open_store(ctx) as store:
        info = store.stats()
    if as_json:
        click.echo(render.to_json(info))
        return
    click.echo(render.table(["WHAT", "VALUE"], [
        ("database", info["path"]), ("events", info["events"]), ("streams", info["streams"]),
        ("live sessions", info["sessions"]), ("live messages", info["messages"]),
        ("deleted sessions", info["deleted_sessions"]),
        ("file size", f"{info['file_bytes'] / 1e6:.2f} MB"),
        *render.erasable_rows(info.get("erasable")),
    ]))
    click.echo()
    click.echo(render.table(["PROJECTION", "CHECKPOINT", "BEHIND"], [
        (name, c["position"], c["behind"]) for name, c in info["checkpoints"].items()]))
    if info["unfinished_builds"]:
        click.echo()
        click.echo(render.table(["UNFINISHED BUILD", "TABLES", "SIZE", "OWNER"], [
            (b["token"], len(b["tables"]),
             "?" if b["bytes"] is None else f"{b['bytes'] / 1e6:.2f} MB",
             f"pid {b['pid']} running" if b["alive"] else "gone (`sessionlog compact` drops it)")
            for b in info["unfinished_builds"]]))
    if info["notes"]:
        click.echo()
        click.echo(render.table(["NOTE", "POSITION", "RECORDED AT (UTC)", "DETAIL"], [
            (n["kind"], n["position"], n["recorded_at"][:19].replace("T", " "), n["detail"])
            for n in info["notes"]], max_width=90))
