"""Run the Octane simulator in its own process, so its CPU and memory stay out of the figures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import requests

from octane_sync.simulator.control import RemoteSimulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SimulatorProcess:
    """`octane-sync simulator` as a child process, with a `RemoteSimulator` to drive it.

    Seeding happens before the server answers, so `start` returns the seeding time.
    """

    def __init__(self, workspaces: int, items: int, max_page_size: int = 1000) -> None:
        self.workspaces = workspaces
        self.items = items
        self.max_page_size = max_page_size
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.remote = RemoteSimulator(self.base_url)
        self._process: subprocess.Popen | None = None
        self._stderr: IO[bytes] | None = None
        self.info: dict = {}

    def start(self, timeout: float = 600.0) -> float:
        command = [
            str(Path(sys.executable).with_name("octane-sync")),
            "simulator",
            f"--port={self.port}",
            f"--workspaces={self.workspaces}",
            f"--items={self.items}",
            f"--max-page-size={self.max_page_size}",
        ]
        started = time.perf_counter()
        # A file, not a pipe: a pipe nobody reads would block a chatty simulator.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, stdout=subprocess.DEVNULL, stderr=self._stderr, env=os.environ.copy()
        )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self._process.poll() is not None:
                self._stderr.seek(0)
                error = self._stderr.read().decode(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"the simulator exited early: {error}")
            try:
                self.info = self.remote.info()
                return time.perf_counter() - started
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the simulator did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        self.remote.close()
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # the CLI stops cleanly on Ctrl-C
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def cpu_seconds(self) -> float:
        """CPU seconds the simulator process has used so far."""
        from bench.rss import process_cpu_seconds

        return process_cpu_seconds(self._process.pid) if self._process else 0.0

    def octane_requests(self) -> list[tuple]:
        """(method, path, query, status) of the Octane requests since the last reset."""
        return self.remote.request_log

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
