"""`octane-sync simulator`: serve the Octane simulator until Ctrl-C (tests, demo, benchmarks)."""

from __future__ import annotations

import contextlib
import threading
from typing import Annotated

import typer

from octane_sync.cli.common import console
from octane_sync.simulator.core import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


def wait_until_interrupted() -> None:
    """Block until Ctrl-C; tests replace this to stop the command."""
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8089,
    shared_space: Annotated[int, typer.Option("--shared-space", help="Shared space id.")] = 1001,
    workspaces: Annotated[int, typer.Option(min=1, help="Number of workspaces.")] = 3,
    items: Annotated[int, typer.Option(min=0, help="Work items per workspace.")] = 5000,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 7,
    client_id: Annotated[str, typer.Option(help="Accepted API client id.")] = DEFAULT_CLIENT_ID,
    client_secret: Annotated[
        str, typer.Option(help="Accepted API client secret.")
    ] = DEFAULT_CLIENT_SECRET,
    max_page_size: Annotated[int, typer.Option(min=1, help="Largest accepted limit.")] = 1000,
    idle_timeout: Annotated[
        float | None, typer.Option(help="Session idle expiry, seconds.")
    ] = None,
    global_timeout: Annotated[
        float | None, typer.Option(help="Session global expiry, seconds.")
    ] = None,
    rotate_every: Annotated[
        int | None, typer.Option(help="New LWSSO_COOKIE_KEY every N responses.")
    ] = None,
    strict_fields: Annotated[
        bool, typer.Option(help="Answer 400 when fields= names a field the workspace lacks.")
    ] = False,
) -> None:
    """Serve a simulated ALM Octane (REST, cookies, queries, faults) until Ctrl-C."""
    from octane_sync.simulator import OctaneSimulator

    sim = OctaneSimulator(
        shared_space_id=shared_space,
        workspaces=workspaces,
        items=items,
        seed=seed,
        client_id=client_id,
        client_secret=client_secret,
        max_page_size=max_page_size,
        idle_timeout=idle_timeout,
        global_timeout=global_timeout,
        rotate_every=rotate_every,
        strict_fields=strict_fields,
    )
    base_url = sim.start(host, port)
    try:
        console.print(f"Octane simulator at {base_url}", highlight=False)
        console.print(f"  shared space   {sim.shared_space_id}", highlight=False)
        console.print(f"  workspaces     {', '.join(sim.workspace_ids)}", highlight=False)
        console.print(f"  client id      {sim.client_id}", highlight=False)
        console.print(f"  client secret  {sim.client_secret}", highlight=False)
        if strict_fields:
            console.print("  fields=        strict (unknown names answer 400)", highlight=False)
        console.print(f"  control API    {base_url}/__sim__/info   (Ctrl-C stops)", highlight=False)
        wait_until_interrupted()
    finally:
        sim.stop()


def register(app: typer.Typer) -> None:
    """Add the `simulator` command to the main app."""
    app.command("simulator")(serve)
