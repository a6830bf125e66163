"""A real HTTP server that behaves like ALM Octane, for the tests, the demo and the benchmarks.

    from octane_sync.simulator import OctaneSimulator
    with OctaneSimulator(workspaces=3, items=5000, seed=7) as sim:
        print(sim.base_url, sim.workspace_ids)

Modules: `data` seeds entities, `table` indexes them, `query_parser` and `predicate` read
Octane's `query`, `api` holds the Octane routes, `control` the `/__sim__/` routes,
`metadata` the fields of each entity type, `sessions` the cookies, `faults` the injected
failures, `server` the HTTP plumbing.
"""

from octane_sync.simulator.control import RemoteSimulator
from octane_sync.simulator.core import LoggedRequest, OctaneSimulator
from octane_sync.simulator.faults import KINDS as FAULT_KINDS
from octane_sync.simulator.query_parser import QuerySyntaxError, parse

__all__ = [
    "FAULT_KINDS",
    "LoggedRequest",
    "OctaneSimulator",
    "QuerySyntaxError",
    "RemoteSimulator",
    "parse",
]
