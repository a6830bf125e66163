"""`python -m bench` (`make bench`): the issue-8 benchmark, end to end on the simulator.

    .venv/bin/python -m bench                                  # 4 x 50,000, SQLite + PostgreSQL
    .venv/bin/python -m bench --workspaces 1 --items 300 --repeats 1 --databases sqlite

Full load (end to end), its two limits (fetch only, load only), the script-style baseline,
incremental runs (no change; 1 % changed), one no-change run through the Prefect parent
flow, and the peak-RSS pair. Prints a table and writes JSON (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.baseline import script_baseline
from bench.databases import DEFAULT_PG, BenchDatabase
from bench.e2e import (
    CONNECTION,
    ENTITY,
    bench_connection,
    prepare_database,
    sync_all,
    sync_all_processes,
)
from bench.flow_run import run_flow_twice
from bench.limits import LAG, fetch_only, load_only
from bench.rss import in_child
from bench.simproc import SimulatorProcess
from octane_sync.models import Connection
from octane_sync.secrets import SecretBox, generate_key
from octane_sync.simulator.core import DEFAULT_CLIENT_SECRET

SCENARIOS = ("full", "fetch", "load", "baseline", "incremental", "flow", "rss")
RESULTS_DIR = Path(__file__).resolve().parent / "results"

# The targets.
OVERLAP_FACTOR = 1.3
BASELINE_SPEEDUP = 20.0
NO_CHANGE_SECONDS = 5.0
RSS_FACTOR = 1.25


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=4)
    parser.add_argument("--items", type=int, default=50_000, help="work items per workspace")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument(
        "--full-repeats",
        type=int,
        default=1,
        help="runs of the full load, the biggest scenario (1 by default to stay within minutes)",
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--baseline-rows", type=int, default=5000)
    parser.add_argument(
        "--rss-items",
        default="50000,500000",
        help="small,big total work items for the memory pair (split over --workspaces)",
    )
    parser.add_argument("--rss-database", default="sqlite")
    parser.add_argument("--json", type=Path, default=None, help="default bench/results/<ts>.json")
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    args.databases = [d for d in args.databases.split(",") if d]
    args.rss_items = [int(n) for n in args.rss_items.split(",")]
    if len(args.rss_items) != 2:
        parser.error("--rss-items takes two sizes: small,big")
    return args


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    return {
        "host": socket.gethostname(),
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def median_of(runs: list[dict], key: str = "seconds") -> float:
    return statistics.median(run[key] for run in runs)


def repeated(count: int, measure: Callable[[], dict]) -> dict:
    runs = [measure() for _ in range(count)]
    return {"median_seconds": median_of(runs), "runs": runs}


def counted(sim: SimulatorProcess, fn: Callable[..., dict], *args: object) -> dict:
    """Run `fn` in a child and add the Octane requests the simulator served meanwhile, and
    the CPU seconds the simulator spent meanwhile."""
    sim.remote.reset_request_log()
    sim_cpu = sim.cpu_seconds()
    result = in_child(fn, *args)
    result["simulator_cpu_seconds"] = sim.cpu_seconds() - sim_cpu
    log = sim.octane_requests()
    result["requests"] = len(log)
    result["sign_ins"] = sum(1 for entry in log if entry[1].endswith("/sign_in"))
    return result


def fresh(db: BenchDatabase, connection: Connection) -> None:
    db.reset()
    prepare_database(db.url, connection)


def run_database(
    args: argparse.Namespace,
    name: str,
    sim: SimulatorProcess,
    connection: Connection,
    keyring: str,
    say: Callable[[str], None],
) -> dict:
    db = BenchDatabase(name, args.pg_url)
    out: dict = {}
    total = args.workspaces * args.items
    try:
        if "load" in args.scenarios:
            say(f"{name}: load only ({args.repeats} runs)")
            fresh(db, connection)
            out["load_only"] = counted(sim, load_only, db.url, connection, args.repeats)
            out["load_only"]["median_seconds"] = out["load_only"].pop("seconds")
        if "baseline" in args.scenarios:
            say(f"{name}: script-style baseline ({args.baseline_rows:,} rows)")
            fresh(db, connection)
            out["baseline"] = in_child(script_baseline, db.url, connection, args.baseline_rows)

        def full_load(sync: Callable[..., dict]) -> Callable[[], dict]:
            def measure() -> dict:
                fresh(db, connection)
                result = counted(sim, sync, db.url, connection)
                if result["written"] != total:
                    raise RuntimeError(f"full load wrote {result['written']} of {total} rows")
                return result

            return measure

        if {"full", "incremental", "flow"} & set(args.scenarios):
            runs = args.full_repeats if "full" in args.scenarios else 1
            say(f"{name}: full load ({runs} runs)")
            out["full"] = repeated(runs, full_load(sync_all))
        if "full" in args.scenarios:
            say(f"{name}: full load, a process per workspace ({args.full_repeats} runs)")
            out["full_processes"] = repeated(args.full_repeats, full_load(sync_all_processes))
        if "incremental" in args.scenarios:
            say(f"{name}: incremental, no change ({args.repeats} runs)")
            out["no_change"] = repeated(
                args.repeats, lambda: counted(sim, sync_all, db.url, connection)
            )
            changed = max(1, args.items // 100)

            def one_percent() -> dict:
                for workspace_id in connection.workspaces:
                    sim.remote.update(workspace_id, ENTITY, changed)
                # Past the lag, so this run reads the edits.
                sim.remote.advance_clock(LAG.total_seconds() + 1)
                result = counted(sim, sync_all, db.url, connection)
                result["changed"] = changed * len(connection.workspaces)
                return result

            say(f"{name}: incremental, 1 % changed ({args.repeats} runs)")
            out["one_percent"] = repeated(args.repeats, one_percent)
        if "flow" in args.scenarios:
            say(f"{name}: Prefect parent flow, no change (cold + warm)")
            out["flow_no_change"] = in_child(
                run_flow_twice, db.url, keyring, sim.base_url, CONNECTION
            )
    finally:
        db.drop()
    return out


def run_rss(args: argparse.Namespace, say: Callable[[str], None]) -> dict:
    out: dict = {"database": args.rss_database, "sizes": []}
    for total in args.rss_items:
        per_workspace = max(1, total // args.workspaces)
        say(f"memory: {args.workspaces} x {per_workspace:,} work items ({args.rss_database})")
        with SimulatorProcess(args.workspaces, per_workspace) as sim:
            connection = bench_connection(sim.base_url, sim.info["workspace_ids"], "unused")
            db = BenchDatabase(args.rss_database, args.pg_url)
            try:
                fresh(db, connection)
                result = counted(sim, sync_all, db.url, connection)
            finally:
                db.drop()
        result["rows"] = per_workspace * args.workspaces
        out["sizes"].append(result)
    small, big = out["sizes"]
    out["ratio"] = big["peak_rss_mb"] / small["peak_rss_mb"]
    return out


def targets(args: argparse.Namespace, results: dict) -> list[dict]:
    """Each target of the issue as measured: value, limit, ratio (value / limit), met."""
    found: list[dict] = []

    def add(name: str, database: str, value: float, limit: float, unit: str, lower=True) -> None:
        ratio = value / limit if limit else float("inf")
        met = value <= limit if lower else value >= limit
        found.append(
            {
                "target": name,
                "database": database,
                "measured": round(value, 3),
                "limit": round(limit, 3),
                "unit": unit,
                "ratio": round(ratio, 3),
                "met": met,
            }
        )

    fetch = results.get("fetch_only")
    for name, db in results["databases"].items():
        for key, how in (("full", "threads"), ("full_processes", "processes")):
            run = db.get(key)
            if run and fetch and "load_only" in db:
                bound = max(fetch["median_seconds"], db["load_only"]["median_seconds"])
                add(
                    f"e2e <= 1.3 x max(fetch, load), {how}",
                    name,
                    run["median_seconds"],
                    1.3 * bound,
                    "s",
                )
            if run and "baseline" in db:
                e2e_rate = args.workspaces * args.items / run["median_seconds"]
                speedup = e2e_rate / db["baseline"]["rows_per_s"]
                add(
                    f">= 20x script baseline (rows/s), {how}",
                    name,
                    speedup,
                    BASELINE_SPEEDUP,
                    "x",
                    False,
                )
        if "no_change" in db:
            runs = db["no_change"]["runs"]
            expected = 1 + args.workspaces  # one sign-in + one request per (workspace, entity)
            add("no-change requests", name, max(r["requests"] for r in runs), expected, "req")
            add("no-change time", name, db["no_change"]["median_seconds"], NO_CHANGE_SECONDS, "s")
        if "flow_no_change" in db:
            flow = db["flow_no_change"]
            expected = 1 + args.workspaces
            add("no-change requests (flow, cold)", name, flow["cold"]["requests"], expected, "req")
            add("no-change requests (flow, warm)", name, flow["warm"]["requests"], expected, "req")
            add(
                "no-change time (flow, warm)", name, flow["warm"]["seconds"], NO_CHANGE_SECONDS, "s"
            )
    if "rss" in results:
        small, big = results["rss"]["sizes"]
        add(
            "peak RSS big <= 1.25 x small",
            results["rss"]["database"],
            big["peak_rss_mb"],
            RSS_FACTOR * small["peak_rss_mb"],
            "MiB",
        )
    return found


def render(console: Console, args: argparse.Namespace, results: dict) -> None:
    table = Table(
        title=f"octane-sync benchmark — {results['date']} — {results['machine']['cpu']}"
        f", {results['machine']['cores']} cores"
    )
    for column in ("scenario", "database", "median s", "rows", "rows/s", "requests", "peak RSS"):
        table.add_column(column, justify="left" if column in ("scenario", "database") else "right")
    total = args.workspaces * args.items

    def row(scenario: str, db: str, seconds: float, rows: int, requests="", rss="") -> None:
        rate = f"{rows / seconds:,.0f}" if seconds and rows else ""
        rss_text = f"{rss:,.0f} MiB" if rss != "" else ""
        table.add_row(scenario, db, f"{seconds:.2f}", f"{rows:,}", rate, str(requests), rss_text)

    if "fetch_only" in results:
        f = results["fetch_only"]
        row(
            "fetch only (bare requests)",
            "-",
            f["median_seconds"],
            f["runs"][0]["rows"],
            f["runs"][0]["requests"],
            f["runs"][0]["peak_rss_mb"],
        )
    for name, db in results["databases"].items():
        if "load_only" in db:
            row(
                "load only (plain INSERT)",
                name,
                db["load_only"]["median_seconds"],
                db["load_only"]["rows"],
            )
        if "full" in db:
            runs = db["full"]["runs"]
            row(
                f"full load e2e ({len(runs)} runs)",
                name,
                db["full"]["median_seconds"],
                total,
                runs[0]["requests"],
                max(r["peak_rss_mb"] for r in runs),
            )
        if "full_processes" in db:
            runs = db["full_processes"]["runs"]
            row(
                f"full load e2e, process per workspace ({len(runs)} runs)",
                name,
                db["full_processes"]["median_seconds"],
                total,
                runs[0]["requests"],
            )
        if "baseline" in db:
            b = db["baseline"]
            row(
                "script baseline (slice)",
                name,
                b["seconds"],
                b["rows"],
                b["requests"],
                b["peak_rss_mb"],
            )
        if "no_change" in db:
            runs = db["no_change"]["runs"]
            row(
                "incremental, no change",
                name,
                db["no_change"]["median_seconds"],
                0,
                runs[0]["requests"],
            )
        if "one_percent" in db:
            runs = db["one_percent"]["runs"]
            row(
                "incremental, 1 % changed",
                name,
                db["one_percent"]["median_seconds"],
                runs[0]["written"],
                runs[0]["requests"],
            )
        if "flow_no_change" in db:
            f = db["flow_no_change"]
            row("flow no change, cold", name, f["cold"]["seconds"], 0, f["cold"]["requests"])
            row("flow no change, warm", name, f["warm"]["seconds"], 0, f["warm"]["requests"])
    if "rss" in results:
        for size in results["rss"]["sizes"]:
            row(
                "memory pair: full load",
                results["rss"]["database"],
                size["seconds"],
                size["rows"],
                size["requests"],
                size["peak_rss_mb"],
            )
    console.print(table)
    console.print(targets_table(results["targets"]))


def targets_table(found: list[dict]) -> Table:
    checks = Table(title="targets")
    for column in ("target", "database", "measured", "limit", "ratio", "met"):
        checks.add_column(column)
    for t in found:
        checks.add_row(
            t["target"],
            t["database"],
            f"{t['measured']:g} {t['unit']}",
            f"{t['limit']:g} {t['unit']}",
            f"{t['ratio']:.2f}",
            "yes" if t["met"] else "NO",
        )
    return checks


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 120)

    def say(text: str) -> None:
        console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/dim] {text}", highlight=False)

    started = datetime.now(UTC)
    results: dict = {
        "date": f"{started:%Y-%m-%d %H:%M} UTC",
        "machine": machine(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "databases": {},
    }
    keyring = generate_key()
    secret_enc = SecretBox([keyring]).encrypt(DEFAULT_CLIENT_SECRET)
    main_scenarios = set(args.scenarios) - {"rss"}
    if main_scenarios:
        sim = SimulatorProcess(args.workspaces, args.items)
        say(f"simulator: seeding {args.workspaces} x {args.items:,} work items")
        try:
            results["simulator_seed_seconds"] = sim.start()
            connection = bench_connection(sim.base_url, sim.info["workspace_ids"], secret_enc)
            if "fetch" in args.scenarios:
                say(f"fetch only ({args.repeats} runs)")
                results["fetch_only"] = repeated(
                    args.repeats, lambda: counted(sim, fetch_only, connection)
                )
            for name in args.databases:
                results["databases"][name] = run_database(args, name, sim, connection, keyring, say)
        finally:
            sim.stop()
    if "rss" in args.scenarios:
        results["rss"] = run_rss(args, say)
    results["targets"] = targets(args, results)
    results["seconds"] = (datetime.now(UTC) - started).total_seconds()

    path = args.json or RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))
    render(console, args, results)
    say(f"JSON: {path} ({results['seconds']:.0f} s in all)")
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
