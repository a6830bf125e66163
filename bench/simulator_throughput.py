"""How fast the Octane simulator serves keyset pages: pages/s and entities/s (median of runs).

    .venv/bin/python -m bench.simulator_throughput            # 4 x 50,000, page size 1000
    .venv/bin/python -m bench.simulator_throughput --items 5000 --in-process

The simulator runs in its own process by default, so client and server do not share a GIL,
as when a sync runs against a separately started `octane-sync simulator`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import time

import requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(port: int, workspaces: int, items: int, ready, stop) -> None:
    from octane_sync.simulator import OctaneSimulator

    started = time.perf_counter()
    sim = OctaneSimulator(workspaces=workspaces, items=items, max_page_size=1000)
    seeded = time.perf_counter() - started
    sim.start(port=port)
    ready.put(seeded)
    stop.wait()
    sim.stop()


def fetch_all(base_url: str, workspace: str, page_size: int, fields: str | None) -> tuple[int, int]:
    """Keyset-page through every work item of `workspace`; returns (pages, entities)."""
    url = f"{base_url}/api/shared_spaces/1001/workspaces/{workspace}/work_items"
    pages = entities = 0
    with requests.Session() as http:
        http.post(
            f"{base_url}/authentication/sign_in",
            json={"client_id": "sim-client", "client_secret": "sim-secret"},
            timeout=30,
        ).raise_for_status()
        query = None
        while True:
            params = {"order_by": "last_modified,id", "limit": page_size}
            if fields:
                params["fields"] = fields
            if query:
                params["query"] = f'"{query}"'
            response = http.get(url, params=params, timeout=60)
            response.raise_for_status()
            rows = response.json()["data"]
            pages += 1
            entities += len(rows)
            if len(rows) < page_size:
                return pages, entities
            t, i = rows[-1]["last_modified"], rows[-1]["id"]
            query = f"last_modified GT ^{t}^ || (last_modified EQ ^{t}^ ; id GT {i})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=4)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fields", default=None, help="e.g. id,last_modified,name (default all)")
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()

    port = _free_port()
    if args.in_process:
        from octane_sync.simulator import OctaneSimulator

        started = time.perf_counter()
        sim = OctaneSimulator(workspaces=args.workspaces, items=args.items)
        seeded = time.perf_counter() - started
        sim.start(port=port)
        stop = None
    else:
        context = multiprocessing.get_context("spawn")
        ready, stop = context.Queue(), context.Event()
        process = context.Process(
            target=_serve, args=(port, args.workspaces, args.items, ready, stop), daemon=True
        )
        process.start()
        seeded = ready.get(timeout=300)
    base_url = f"http://127.0.0.1:{port}"
    print(f"seeded {args.workspaces} x {args.items:,} work items in {seeded:.1f} s")
    try:
        results = []
        for run in range(args.runs):
            started = time.perf_counter()
            pages, entities = fetch_all(base_url, "1002", args.page_size, args.fields)
            elapsed = time.perf_counter() - started
            results.append((pages / elapsed, entities / elapsed))
            print(
                f"run {run + 1}: {pages} pages, {entities:,} entities in {elapsed:.2f} s "
                f"({pages / elapsed:.1f} pages/s, {entities / elapsed:,.0f} entities/s)"
            )
        print(
            f"median: {statistics.median(r[0] for r in results):.1f} pages/s, "
            f"{statistics.median(r[1] for r in results):,.0f} entities/s "
            f"(page size {args.page_size}, fields {args.fields or 'all'})"
        )
    finally:
        if stop is None:
            sim.stop()
        else:
            stop.set()
            process.join(timeout=10)


if __name__ == "__main__":
    main()
