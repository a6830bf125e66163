"""`make demo`: from a fresh clone to a finished incremental sync, with no Octane and no Oracle.

Starts the Octane simulator and one local Prefect server (each once, as child processes),
creates the blocks and a SQLite database, adds two connections with encrypted secrets,
runs the `octane-sync` flow, edits some items in the simulator, runs again to show that
only the changed rows move, and stops everything it started, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from secrets import token_urlsafe

import requests
from rich.console import Console
from rich.table import Table

console = Console()
ENTITIES = ["work_items", "releases", "sprints", "workspace_users"]
DEMO_CLIENT_ID = "demo-reporting"
PARAMETERS = {"max_concurrency": 3}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, what: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode} while starting")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{what} did not answer at {url} within {timeout:.0f} s")


@contextmanager
def child_processes() -> Iterator[list[subprocess.Popen]]:
    """Every process started here is stopped on the way out: normal end, error or Ctrl-C."""
    processes: list[subprocess.Popen] = []

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield processes
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        signal.signal(signal.SIGTERM, previous)


def start(processes: list[subprocess.Popen], args: list[str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        args, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    processes.append(process)
    return process


def rows_per_table(db_path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db_path) as db:
        out = []
        for entity in ENTITIES:
            sql = f"SELECT workspace_id, COUNT(*) FROM octane_{entity} GROUP BY workspace_id"  # noqa: S608 - fixed names
            out += [(entity, ws, n) for ws, n in db.execute(sql)]
    return out


def summary(db_path: Path, seconds: float) -> Table:
    table = Table(
        "entity", "workspace", "rows stored", title=f"Stored in {db_path} ({seconds:.1f} s)"
    )
    for entity, workspace, count in rows_per_table(db_path):
        table.add_row(entity, workspace, f"{count:,}")
    return table


def flush_prefect() -> None:
    """Send the queued logs and events to the server before the demo stops it."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all()


class Demo:
    """The demo's steps, in the order `run` takes them."""

    def __init__(self, items: int, edits: int, work: Path) -> None:
        self.items, self.edits, self.work = items, edits, work
        self.db_path = work / "octane.sqlite"
        self.sim_url = f"http://127.0.0.1:{free_port()}"
        self.api_url = f"http://127.0.0.1:{free_port()}/api"
        # The simulator's made-up API key; the demo stores it encrypted like a real one.
        self.secret = token_urlsafe(18)
        self.workspaces: list[str] = []

    def start_services(self, processes: list[subprocess.Popen]) -> None:
        console.rule("1. Octane simulator and Prefect server")
        sim_port = self.sim_url.rsplit(":", 1)[1]
        prefect_port = self.api_url.rsplit(":", 1)[1].removesuffix("/api")
        sim = start(
            processes,
            [
                sys.executable,
                "-m",
                "octane_sync",
                "simulator",
                "--port",
                sim_port,
                "--workspaces",
                "3",
                "--items",
                str(self.items),
                "--seed",
                "7",
                "--strict-fields",  # like a server that refuses fields a workspace lacks
                "--client-id",
                DEMO_CLIENT_ID,
                "--client-secret",
                self.secret,
            ],
            self.work / "simulator.log",
        )
        server = start(
            processes,
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                prefect_port,
            ],
            self.work / "prefect-server.log",
        )
        wait_for(f"{self.sim_url}/__sim__/info", "the simulator", sim, 120)
        console.print(f"Simulator at {self.sim_url} (3 workspaces, {self.items:,} work items each)")
        wait_for(f"{self.api_url}/health", "the Prefect server", server, 180)
        console.print(f"Prefect server at {self.api_url.removesuffix('/api')}")

    def set_up(self) -> None:
        from blocks import create_blocks
        from octane_sync.models import Connection
        from octane_sync.secrets import SecretBox, generate_key
        from octane_sync.simulator.control import RemoteSimulator
        from octane_sync.store import Store

        console.rule("2. Blocks, database, connections")
        db_url = f"sqlite+pysqlite:///{self.db_path}"
        key = generate_key()
        create_blocks(db_url, key, overwrite=True)
        console.print("Blocks octane-sync-db (SQLite) and octane-sync-key (Fernet key) created")
        store = Store.from_url(db_url)
        store.init()
        with RemoteSimulator(self.sim_url) as remote:
            info = remote.info()
        box = SecretBox([key])
        self.workspaces = [str(ws) for ws in info["workspace_ids"]]
        split = {"acme-main": self.workspaces[:2], "acme-labs": self.workspaces[2:]}
        for name, workspaces in split.items():
            store.add_connection(
                Connection(
                    name=name,
                    base_url=self.sim_url,
                    shared_space_id=str(info["shared_space_id"]),
                    client_id=DEMO_CLIENT_ID,
                    client_secret_enc=box.encrypt(self.secret),
                    workspaces=workspaces,
                    entities=ENTITIES,
                    options={"lag_seconds": 60},
                )
            )
            console.print(f"Connection {name}: workspaces {', '.join(workspaces)}")
        console.print("Client secrets are stored as Fernet tokens; the key is in the block.")
        store.dispose()

    def first_run(self) -> bool:
        from octane_sync.cli.live import run_flow_live

        console.rule("3. First run: everything")
        state, _streams, seconds = run_flow_live(console, PARAMETERS, "first run")
        console.print(f"{state.name}: {state.message}")
        console.print(summary(self.db_path, seconds))
        return state.is_completed()

    def edit_and_rerun(self) -> bool:
        from octane_sync.cli.live import run_flow_live
        from octane_sync.simulator.control import RemoteSimulator

        console.rule("4. Edit some items in Octane, run again")
        with RemoteSimulator(self.sim_url) as remote:
            edited = set(remote.update(self.workspaces[0], "work_items", self.edits))
            edited |= set(remote.bulk_edit(self.workspaces[1], "work_items", self.edits))
            # Rows newer than Octane's clock minus the lag (60 s) wait for the next run:
            # move the simulated clock on instead of waiting a minute.
            remote.advance_clock(120)
        console.print(
            f"Edited {self.edits} work items in workspace {self.workspaces[0]} and bulk-edited "
            f"{self.edits} in {self.workspaces[1]} (all in the same second)"
        )
        state, streams, seconds = run_flow_live(console, PARAMETERS, "second run")
        console.print(f"{state.name}: {state.message}")
        fetched = sum(s.fetched for s in streams)
        written = sum(s.written for s in streams)
        console.print(
            f"Second run: fetched {fetched} and wrote {written} rows, for {len(edited)} edited "
            f"items: only the changed rows moved ({seconds:.1f} s)."
        )
        return state.is_completed() and written == len(edited)

    def next_steps(self, seconds: float) -> None:
        console.rule("Done")
        query = "SELECT workspace_id, team, risk, COUNT(*) FROM octane_work_items GROUP BY 1, 2, 3"
        console.print(
            f"Finished in {seconds:.0f} s; the simulator and the Prefect server are stopped.\n"
            "See the runs, logs and artifacts in the Prefect UI:\n"
            f"  PREFECT_HOME={self.work / 'prefect'} .venv/bin/prefect server start\n"
            "  then open http://127.0.0.1:4200/runs\n"
            "Query the data (the same team and risk columns from three differently named UDFs):\n"
            f"  .venv/bin/python -c \"import sqlite3; db = sqlite3.connect('{self.db_path}'); "
            f"print(*db.execute('{query}'), sep=chr(10))\"",
            highlight=False,
            soft_wrap=True,
        )

    def run(self) -> int:
        started = time.perf_counter()
        os.environ.update(
            PREFECT_HOME=str(self.work / "prefect"),
            PREFECT_API_URL=self.api_url,  # this process and its children share one server
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_EXTRA_LOGGERS="octane_sync",
            PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="WARNING",  # the UI keeps every log
        )
        for name in ("OCTANE_SYNC_DB_URL", "OCTANE_SYNC_KEY"):
            os.environ.pop(name, None)
        with child_processes() as processes:
            self.start_services(processes)
            self.set_up()
            ok = self.first_run() and self.edit_and_rerun()
            flush_prefect()
        if not ok:
            console.print("[red]The demo did not end as expected; see the messages above.[/]")
            return 1
        self.next_steps(time.perf_counter() - started)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000, help="work items per workspace")
    parser.add_argument("--edits", type=int, default=25, help="items edited before run 2")
    parser.add_argument("--workdir", type=Path, default=Path("demo-work"))
    args = parser.parse_args(argv)
    work = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return Demo(args.items, args.edits, work).run()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        console.print("Interrupted; every process the demo started has been stopped.")
        sys.exit(130)
