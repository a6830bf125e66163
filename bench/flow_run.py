"""One incremental run through the Prefect parent flow, cold (server start-up) and warm.

Runs in its own child process: Prefect's settings (a temporary home, no analytics, the
database and key from the environment) must be in place before Prefect is imported.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter

from octane_sync.simulator.control import RemoteSimulator


def run_flow_twice(db_url: str, keyring: str, base_url: str, connection: str) -> dict:
    """Call `flows.parent.octane_sync` twice with no change on the server in between.

    The first call pays for Prefect's temporary API server start-up, the second does not;
    their difference is reported as Prefect's start-up. Octane requests are counted from
    the simulator's request log around each call.
    """
    home = tempfile.mkdtemp(prefix="octane-bench-prefect-")
    os.environ.update(
        {
            "PREFECT_HOME": home,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "OCTANE_SYNC_DB_URL": db_url,
            "OCTANE_SYNC_KEY": keyring,
        }
    )
    os.environ.pop("PREFECT_API_URL", None)
    started = time.perf_counter()
    from flows.parent import octane_sync

    import_seconds = time.perf_counter() - started
    runs = []
    with RemoteSimulator(base_url) as sim:
        for _ in range(2):
            sim.reset_request_log()
            started = time.perf_counter()
            state = octane_sync(connections=[connection], return_state=True)
            seconds = time.perf_counter() - started
            log = sim.request_log
            if not state.is_completed():
                raise RuntimeError(f"the flow ended {state.name}: {state.message}")
            runs.append(
                {
                    "seconds": seconds,
                    "requests": len(log),
                    "sign_ins": sum(1 for r in log if r[1].endswith("/sign_in")),
                    "endpoints": dict(Counter(f"{r[1].rsplit('/', 1)[-1]} {r[3]}" for r in log)),
                    "message": state.message,
                }
            )
    cold, warm = runs
    return {
        "import_seconds": import_seconds,
        "cold": cold,
        "warm": warm,
        "prefect_startup_seconds": cold["seconds"] - warm["seconds"],
    }
