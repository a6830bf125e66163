"""The library is plain Python: importing it never pulls in Prefect (DESIGN: flows are thin)."""

from __future__ import annotations

import subprocess
import sys

LIBRARY = [
    "octane_sync.client",
    "octane_sync.query",
    "octane_sync.mapping",
    "octane_sync.transform",
    "octane_sync.store",
    "octane_sync.secrets",
    "octane_sync.stream",
    "octane_sync.redaction",
    "octane_sync.simulator",
    "octane_sync.cli",  # the command itself imports Prefect only inside the commands that need it
]


def test_the_library_imports_without_prefect() -> None:
    code = (
        f"import sys; import {', '.join(LIBRARY)}; "
        "roots = {m.split('.')[0] for m in sys.modules}; "
        "print(','.join(sorted(roots & {'prefect', 'prefect_sqlalchemy', 'flows'})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
