"""`octane-sync run|status|reset`: run the parent flow here, see where things stand, rewind."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from octane_sync.cli.common import (
    DatabaseBlockOption,
    DbOption,
    KeyBlockOption,
    confirm,
    console,
    fail,
    open_store,
    say,
)
from octane_sync.cli.live import STATE_MARKS
from octane_sync.redaction import redact


def register(root: typer.Typer) -> None:
    root.command("run")(run)
    root.command("status")(status)
    root.command("reset")(reset)


def run(
    connection: Annotated[
        list[str] | None, typer.Option(help="Only this connection (repeatable).")
    ] = None,
    workspace: Annotated[
        list[str] | None, typer.Option(help="Only this workspace id (repeatable).")
    ] = None,
    entity: Annotated[list[str] | None, typer.Option(help="Only this entity (repeatable).")] = None,
    only_failed: Annotated[
        bool, typer.Option(help="Rerun the workspaces whose latest run failed.")
    ] = False,
    full_refresh: Annotated[
        bool, typer.Option(help="Reset watermarks and read everything.")
    ] = False,
    max_concurrency: Annotated[int, typer.Option(min=1, max=64, help="Workspaces at once.")] = 4,
    reconcile_deletes: Annotated[
        bool, typer.Option(help="Then list every id and mark rows gone from Octane deleted.")
    ] = False,
    db: DbOption = None,
    database_block: DatabaseBlockOption = "octane-sync-db",
    key_block: KeyBlockOption = "octane-sync-key",
) -> None:
    """Run the `octane-sync` flow in this process, with a live progress display."""
    if db:
        os.environ["OCTANE_SYNC_DB_URL"] = db
    from octane_sync.cli.live import run_flow_live

    parameters = {
        "database_block": database_block,
        "key_block": key_block,
        "connections": connection or None,
        "workspaces": workspace or None,
        "entities": entity or None,
        "only_failed": only_failed,
        "full_refresh": full_refresh,
        "max_concurrency": max_concurrency,
        "reconcile_deletes": reconcile_deletes,
    }
    try:
        state, _streams, elapsed = run_flow_live(console, parameters)
    except Exception as exc:
        fail(f"the flow could not run: {type(exc).__name__}: {redact(str(exc))}")
    say(f"{state.name}: {state.message or ''} ({elapsed:.1f} s)")
    if not state.is_completed():
        raise typer.Exit(code=1)


def status(db: DbOption = None) -> None:
    """The latest run of each workspace and entity and the watermark it left; failures first."""
    store = open_store(db)
    runs = store.latest_runs()
    if not runs:
        say(f"No runs logged yet in {store.url}; start one with `octane-sync run`.")
        return
    ordered = sorted(
        runs,
        key=lambda r: (r["status"] != "failed", r["connection"], r["workspace_id"], r["entity"]),
    )
    table = Table(
        title="Latest runs (rows fetched/written/rejected)", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("")  # state mark
    table.add_column("workspace", overflow="fold", min_width=9)
    table.add_column("entity", overflow="fold", min_width=10)
    table.add_column("ended UTC", no_wrap=True)
    table.add_column("f/w/r", justify="right", no_wrap=True)  # fetched/written/rejected
    table.add_column("watermark", overflow="fold", min_width=12)
    for r in ordered:
        counts = [r.get(key) or 0 for key in ("rows_fetched", "rows_written", "rows_rejected")]
        # Text, not str: names and error messages are not Rich markup.
        table.add_row(
            *map(
                Text,
                (
                    STATE_MARKS.get(r["status"], r["status"]),
                    f"{r['connection']}/{r['workspace_id']}",
                    r["entity"],
                    f"{r['ended_at']:%m-%d %H:%M}" if r.get("ended_at") else "",
                    "/".join(f"{n:,}" for n in counts),
                    r.get("watermark_after") or "",
                ),
            )
        )
    console.print(table)
    for r in ordered:
        if r.get("error"):
            say(f"✗ {r['connection']}/{r['workspace_id']} {r['entity']}: {r['error']}")
    failed = store.failed_workspaces()
    if failed:
        say("Failed in their latest run: " + ", ".join(f"{c}/{w}" for c, w in failed))
        say("Rerun them with `octane-sync run --only-failed`.")


def reset(
    connection: Annotated[str | None, typer.Option(help="The connection to reset.")] = None,
    workspace: Annotated[str | None, typer.Option(help="Only this workspace.")] = None,
    entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Reset every watermark.")] = False,
    db: DbOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget watermarks so the next run reads those streams from the beginning.

    Stored rows stay; the next run re-reads and upserts them.
    """
    if not connection and not all_:
        fail("say which: --connection NAME [--workspace ID] [--entity E], or --all")
    if all_ and (connection or workspace or entity):
        fail("--all resets everything; leave out --connection/--workspace/--entity")
    scope = (
        "every watermark"
        if all_
        else " ".join(
            part for part in (connection, workspace and f"workspace {workspace}", entity) if part
        )
    )
    confirm(f"Reset {scope}?", yes)
    from octane_sync.errors import OctaneSyncError

    store = open_store(db)
    try:
        count = store.reset_watermarks(connection, workspace, entity)
    except OctaneSyncError as exc:
        fail(f"{exc} (no watermark was reset)")
    if count:
        message = f"Reset {count} watermark(s) ({scope}); the next run reads them from the start."
    else:
        message = f"No watermark matched ({scope}); nothing was reset."
    say(message)
