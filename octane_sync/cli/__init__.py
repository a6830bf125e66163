"""The `octane-sync` command: one typer app, each command group in a module of its own.

Heavy imports (Prefect, SQLAlchemy dialects) happen inside the commands, so `--help`
stays fast.
"""

from __future__ import annotations

import typer

from octane_sync.cli import mapping, simulator

app = typer.Typer(
    name="octane-sync",
    help="Incremental ALM Octane extraction into Oracle, PostgreSQL or SQLite.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

simulator.register(app)
mapping.register(app)


def main() -> None:
    app()
