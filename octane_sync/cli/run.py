"""`octane-sync run|status|reset`: run the parent flow here, see where things stand, rewind."""

from __future__ import annotations

import os
import threading
import time
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from octane_sync.cli.common import (
    DatabaseBlockOption,
    DbOption,
    KeyBlockOption,
    console,
    fail,
    open_store,
)


def register(root: typer.Typer) -> None:
    root.command("run")(run)
    root.command("status")(status)
    root.command("reset")(reset)


def progress_table(streams: list) -> Table:
    table = Table(
        "connection",
        "workspace",
        "entity",
        "state",
        "fetched",
        "written",
        "rejected",
        "seconds",
        title="octane-sync",
    )
    for s in streams:
        table.add_row(
            s.connection,
            s.workspace_id,
            s.entity,
            s.status,
            f"{s.fetched:,}",
            f"{s.written:,}",
            f"{s.rejected:,}",
            f"{s.seconds:.1f}",
        )
    return table


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
    db: DbOption = None,
    database_block: DatabaseBlockOption = "octane-sync-db",
    key_block: KeyBlockOption = "octane-sync-key",
) -> None:
    """Run the `octane-sync` flow in this process, with a live progress display."""
    if db:
        os.environ["OCTANE_SYNC_DB_URL"] = db
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "octane_sync")
    from flows.parent import octane_sync
    from octane_sync.progress import BOARD

    BOARD.clear()
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["state"] = octane_sync(
                database_block=database_block,
                key_block=key_block,
                connections=connection or None,
                workspaces=workspace or None,
                entities=entity or None,
                only_failed=only_failed,
                full_refresh=full_refresh,
                max_concurrency=max_concurrency,
                return_state=True,
            )
        except BaseException as exc:  # shown below; the thread must not die silently
            outcome["error"] = exc

    started = time.perf_counter()
    worker = threading.Thread(target=target, name="octane-sync-flow", daemon=True)
    worker.start()
    with Live(progress_table([]), console=console, refresh_per_second=4, transient=False) as live:
        while worker.is_alive():
            worker.join(0.25)
            live.update(progress_table(BOARD.snapshot()))
        live.update(progress_table(BOARD.snapshot()))
    elapsed = time.perf_counter() - started
    if "error" in outcome:
        fail(f"the flow could not run: {outcome['error']}")
    state = outcome["state"]
    console.print(f"{state.name}: {state.message or ''} ({elapsed:.1f} s)")
    if not state.is_completed():
        raise typer.Exit(code=1)


def status(db: DbOption = None) -> None:
    """Watermarks and the latest run of each workspace and entity; failures first."""
    store = open_store(db)
    runs = store.latest_runs()
    table = Table(
        "connection",
        "workspace",
        "entity",
        "state",
        "ended",
        "fetched",
        "written",
        "rejected",
        "watermark",
        "error",
        title="Latest runs",
    )
    for r in sorted(
        runs,
        key=lambda r: (r["status"] != "failed", r["connection"], r["workspace_id"], r["entity"]),
    ):
        table.add_row(
            r["connection"],
            r["workspace_id"],
            r["entity"],
            r["status"],
            f"{r['ended_at']:%Y-%m-%d %H:%M:%S}" if r.get("ended_at") else "",
            str(r.get("rows_fetched") or 0),
            str(r.get("rows_written") or 0),
            str(r.get("rows_rejected") or 0),
            r.get("watermark_after") or "",
            (r.get("error") or "")[:80],
        )
    console.print(table)
    failed = store.failed_workspaces()
    if failed:
        console.print("Failed in their latest run: " + ", ".join(f"{c}/{w}" for c, w in failed))
        console.print("Rerun them with `octane-sync run --only-failed`.")


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
    if not yes:
        typer.confirm(f"Reset {scope}?", abort=True)
    store = open_store(db)
    count = store.reset_watermarks(connection, workspace, entity)
    console.print(f"Reset {count} watermark(s) ({scope}).")
