"""Test-wide set-up: an isolated Prefect home before anything imports Prefect, and the
fixture plugins each part of the package brings (simulator, databases, Prefect harness)."""

from __future__ import annotations

import os
import tempfile

_PREFECT_HOME = tempfile.mkdtemp(prefix="octane-sync-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("OCTANE_SYNC_KEY", None)
os.environ.pop("OCTANE_SYNC_DB_URL", None)

pytest_plugins = [
    "tests.plugins.simulator",
    "tests.plugins.databases",
]
