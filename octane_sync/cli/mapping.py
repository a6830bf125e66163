"""`octane-sync mapping show|check` (owned by the mapping work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `mapping` command group to the main app."""
