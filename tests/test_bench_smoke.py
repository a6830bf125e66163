"""The benchmark entry point runs end to end at a tiny size and writes the JSON it promises."""

from __future__ import annotations

import json

from bench.__main__ import main

# The Prefect flow scenario is left out: its temporary server alone takes ~20 s.
SCENARIOS = "full,fetch,load,baseline,incremental,rss"


def test_bench_runs_at_tiny_size_and_writes_json(tmp_path) -> None:
    out = tmp_path / "bench.json"

    main(
        [
            "--workspaces=1",
            "--items=300",
            "--repeats=1",
            "--databases=sqlite",
            f"--scenarios={SCENARIOS}",
            "--baseline-rows=50",
            "--rss-items=300,600",
            f"--json={out}",
        ]
    )

    results = json.loads(out.read_text())
    assert {"date", "machine", "params", "fetch_only", "databases", "rss", "targets"} <= set(
        results
    )
    sqlite = results["databases"]["sqlite"]
    assert set(sqlite) == {
        "load_only",
        "baseline",
        "full",
        "full_processes",
        "no_change",
        "one_percent",
    }
    full = sqlite["full"]["runs"][0]
    assert (full["written"], full["rejected"]) == (300, 0)
    assert sqlite["full_processes"]["runs"][0]["written"] == 300
    assert full["peak_rss_mb"] > 0
    assert results["fetch_only"]["runs"][0]["rows"] == 300
    assert sqlite["load_only"]["rows"] == 300
    assert sqlite["baseline"]["rows"] == 50
    # No change: one sign-in plus one page request for the one (workspace, entity).
    no_change = sqlite["no_change"]["runs"][0]
    assert (no_change["requests"], no_change["sign_ins"], no_change["written"]) == (2, 1, 0)
    assert sqlite["one_percent"]["runs"][0]["written"] == 3
    assert [size["rows"] for size in results["rss"]["sizes"]] == [300, 600]
    assert {t["target"] for t in results["targets"]} >= {
        "e2e <= 1.3 x max(fetch, load), threads",
        "e2e <= 1.3 x max(fetch, load), processes",
        ">= 20x script baseline (rows/s), threads",
        "no-change requests",
        "peak RSS big <= 1.25 x small",
    }
