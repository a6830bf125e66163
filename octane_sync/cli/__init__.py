"""The `octane-sync` command: one typer app, each command group in a module of its own.

Heavy imports (Prefect, SQLAlchemy dialects) happen inside the commands, so `--help`
stays fast.
"""

from __future__ import annotations

import logging

import typer

from octane_sync.cli import blocks, connections, database, keys, mapping, run, simulator

app = typer.Typer(
    name="octane-sync",
    help="Incremental ALM Octane extraction into Oracle, PostgreSQL or SQLite.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

database.register(app)
connections.register(app)
run.register(app)
keys.register(app)
blocks.register(app)
mapping.register(app)
simulator.register(app)


def main() -> None:
    # Prefect's background senders note "Still processing items" while a short command
    # exits; that is progress, not a problem, so keep it off the operator's screen.
    for sender in ("EventsWorker", "APILogWorker"):
        logging.getLogger(sender).setLevel(logging.ERROR)
    app()
