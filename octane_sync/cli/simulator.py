"""`octane-sync simulator`: serve the Octane simulator (owned by the simulator work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `simulator` command to the main app."""
