"""`make demo` end to end, as a newcomer runs it: real processes, a real Prefect server."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.demo

ROOT = Path(__file__).resolve().parents[1]


def demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "OCTANE_"))}
    env["COLUMNS"] = "100"
    return env


def ports(output: str) -> list[int]:
    found = re.findall(r"(?:Simulator|Prefect server) at http://127\.0\.0\.1:(\d+)", output)
    return [int(port) for port in found]


def is_listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "octane_sync.demo",
            "--items",
            "300",
            "--edits",
            "7",
            "--workdir",
            str(work),
        ],
        cwd=ROOT,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "fetched 14 and wrote 14 rows, for 14 edited items" in output
    assert "open http://127.0.0.1:4200/runs" in output
    with sqlite3.connect(work / "octane.sqlite") as db:
        counts = dict(db.execute("SELECT workspace_id, COUNT(*) FROM octane_work_items GROUP BY 1"))
        tokens = [row[0] for row in db.execute("SELECT client_secret_enc FROM octane_connections")]
    assert counts == {"1002": 300, "1003": 300, "1004": 300}
    assert all(token.startswith("gAAAA") for token in tokens)  # Fernet tokens, not secrets
    found = ports(output)
    assert len(found) == 2
    assert not any(is_listening(port) for port in found)


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "octane_sync.demo",
            "--items",
            "300",
            "--workdir",
            str(tmp_path / "demo"),
        ],
        cwd=ROOT,
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    deadline = time.monotonic() + 240
    assert demo.stdout is not None
    while time.monotonic() < deadline and len(ports(output)) < 2:
        line = demo.stdout.readline()
        if not line:
            break
        output += line
    found = ports(output)
    assert len(found) == 2, output
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 130, output + rest
    assert "every process the demo started has been stopped" in rest
    assert not any(is_listening(port) for port in found)
