"""Run the parent flow in this process while a live table shows each stream's progress."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from octane_sync.stream import StreamResult

STATE_MARKS = {"running": "…", "completed": "✓", "failed": "✗"}


def progress_table(streams: list[StreamResult], title: str = "octane-sync") -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("", no_wrap=True)  # state
    table.add_column("workspace", no_wrap=True)
    table.add_column("entity", no_wrap=True)
    for number in ("fetched", "written", "rejected", "seconds"):
        table.add_column(number, justify="right", no_wrap=True)
    for s in streams:
        table.add_row(
            STATE_MARKS.get(s.status, s.status),
            f"{s.connection}/{s.workspace_id}",
            s.entity,
            f"{s.fetched:,}",
            f"{s.written:,}",
            f"{s.rejected:,}",
            f"{s.seconds:.1f}",
        )
    return table


def run_flow_live(
    console: Console, parameters: dict[str, Any], title: str = "octane-sync"
) -> tuple[Any, list[StreamResult], float]:
    """Run `octane-sync` with `parameters`; return its final state, the streams and seconds.

    The flow runs in a worker thread so this thread can redraw the table; an exception in
    the flow is re-raised here rather than lost with the thread.
    """
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "octane_sync")
    # The live table is the console's view; every log still reaches the Prefect UI.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    from flows.parent import octane_sync
    from octane_sync.progress import BOARD

    BOARD.clear()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["state"] = octane_sync(**parameters, return_state=True)
        except BaseException as exc:
            outcome["error"] = exc

    started = time.perf_counter()
    worker = threading.Thread(target=target, name="octane-sync-flow", daemon=True)
    worker.start()
    with Live(progress_table([], title), console=console, refresh_per_second=4) as live:
        while worker.is_alive():
            worker.join(0.25)
            live.update(progress_table(BOARD.snapshot(), title))
        live.update(progress_table(BOARD.snapshot(), title))
    console.line()  # a file or pipe gets the table without its closing newline
    if "error" in outcome:
        raise outcome["error"]
    return outcome["state"], BOARD.snapshot(), time.perf_counter() - started
