"""`OctaneSimulator`: seeded workspaces, sessions, faults and a clock behind one HTTP server."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from octane_sync.simulator.data import IdAllocator
from octane_sync.simulator.faults import Fault, FaultQueue
from octane_sync.simulator.protocol import Request
from octane_sync.simulator.server import SimulatorServer
from octane_sync.simulator.sessions import Clock, SessionStore
from octane_sync.simulator.workspace import Workspace

# The simulator's published test key: printed by the CLI, not a secret of anyone's.
DEFAULT_CLIENT_ID = "sim-client"
DEFAULT_CLIENT_SECRET = "sim-secret"  # noqa: S105


class LoggedRequest(NamedTuple):
    """One served request: tests count requests per endpoint with these."""

    method: str
    path: str
    query: dict[str, str | list[str]]
    status: int  # 0 when the connection was dropped


class OctaneSimulator:
    """A real HTTP server that behaves like ALM Octane, over seeded data.

    Args:
        shared_space_id: the one shared space served; workspaces get the following ids.
        workspaces: how many workspaces (their UDFs differ by position, cycling every 3).
        items: work items per workspace (tests ~items/10, runs ~items/5).
        seed: same seed, same data.
        client_id, client_secret: the accepted API key (also as user/password).
        max_page_size: the largest `limit`; above it the server answers 400.
        idle_timeout, global_timeout: session expiry in (simulated) seconds; None = never.
        rotate_every: a fresh `LWSSO_COOKIE_KEY` every this many responses; None = never.
        rotation_grace: seconds a rotated-out cookie still works.
        default_page_size: the page size when a request sends no `limit`.
        total_count_cap: report at most this `total_count`, with `exceeds_total_count`.
        strict_fields: answer 400 `platform.unknown_field` when `fields=` names a field the
            entity type does not have in that workspace (see `metadata/fields`); by default
            such names are left out silently. Whether real Octane refuses them is unknown.

    Example:
        with OctaneSimulator(workspaces=2, items=500) as sim:
            sim.start()
            requests.post(f"{sim.base_url}/authentication/sign_in", json=...)
            sim.update(sim.workspace_ids[0], "defects", 5)
            sim.inject_fault("rate_limit", count=2)
    """

    def __init__(
        self,
        shared_space_id: int = 1001,
        workspaces: int = 3,
        items: int = 5000,
        seed: int = 7,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        max_page_size: int = 1000,
        idle_timeout: float | None = None,
        global_timeout: float | None = None,
        rotate_every: int | None = None,
        rotation_grace: float = 30.0,
        default_page_size: int = 100,
        total_count_cap: int | None = None,
        strict_fields: bool = False,
    ) -> None:
        if workspaces < 1 or items < 0 or max_page_size < 1:
            raise ValueError("need workspaces >= 1, items >= 0 and max_page_size >= 1")
        self.shared_space_id = shared_space_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.max_page_size = max_page_size
        self.default_page_size = min(default_page_size, max_page_size)
        self.total_count_cap = total_count_cap
        self.strict_fields = strict_fields
        self.clock = Clock()
        self.sessions = SessionStore(
            self.clock, idle_timeout, global_timeout, rotate_every, rotation_grace
        )
        self.faults = FaultQueue()
        self.lock = threading.RLock()
        ids = IdAllocator()
        self.workspaces: dict[str, Workspace] = {}
        for position in range(workspaces):
            workspace_id = str(shared_space_id + 1 + position)
            rng = random.Random(seed * 1000 + position)
            self.workspaces[workspace_id] = Workspace(workspace_id, position, items, ids, rng)
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; port 0 picks a free port. Returns the base URL."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server = SimulatorServer((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"octane-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_all()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OctaneSimulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """`http://host:port`; Octane's `{base}` in `{base}/api/shared_spaces/...`."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    @property
    def workspace_ids(self) -> list[str]:
        return list(self.workspaces)

    # ------------------------------------------------------------ reading

    def now(self) -> datetime:
        """The simulated server time (what the `Date` header says)."""
        return datetime.fromtimestamp(int(self.clock.now()), UTC)

    def entities(self, workspace_id: str, collection: str) -> list[dict]:
        """Every entity of a collection as full JSON (UDFs included), in (last_modified, id)
        order; copies, so a test may change them freely."""
        with self.lock:
            workspace = self.workspaces[workspace_id]
            view_type = workspace.view_type(collection)
            rows = [
                {**r.full(), "type": view_type} if view_type else r.full()
                for r in workspace.table(collection).ordered()
            ]
        return orjson.loads(orjson.dumps(rows))

    def field_names(self, workspace_id: str, entity_type: str) -> set[str]:
        """The fields `metadata/fields` lists for `entity_type` in that workspace."""
        with self.lock:
            return set(self.workspaces[workspace_id].fields.names(entity_type))

    def issued_session_tokens(self) -> list[str]:
        """Every `LWSSO_COOKIE_KEY` value handed out (tests check none leaks anywhere)."""
        return list(self.sessions.issued)

    # ------------------------------------------------------------ changing data

    def _now_second(self) -> int:
        return int(self.clock.now())

    def update(self, workspace_id: str, collection: str, n: int = 1) -> list[str]:
        """Edit `n` random entities now (each a different change). Returns their ids."""
        with self.lock:
            return self.workspaces[workspace_id].update(collection, n, self._now_second())

    def bulk_edit(self, workspace_id: str, collection: str, m: int) -> list[str]:
        """One bulk edit: `m` entities get the same change and the same `last_modified`."""
        with self.lock:
            return self.workspaces[workspace_id].bulk_edit(collection, m, self._now_second())

    def create(
        self,
        workspace_id: str,
        collection: str,
        count: int = 1,
        fields: dict[str, Any] | None = None,
    ) -> list[str]:
        """Create `count` entities now; `fields` overrides generated values."""
        with self.lock:
            workspace = self.workspaces[workspace_id]
            return workspace.create(collection, count, self._now_second(), fields)

    def delete(self, workspace_id: str, collection: str, ids: Iterable[str]) -> int:
        """Hard-delete (Octane keeps no tombstone). Returns how many existed."""
        with self.lock:
            return self.workspaces[workspace_id].delete(collection, ids)

    def add_udf(
        self,
        workspace_id: str,
        name: str,
        values: Sequence[Any] | None = None,
        value_fn: Callable[[dict], Any] | None = None,
        collection: str = "work_items",
    ) -> None:
        """Add a user-defined field to every entity, cycling `values` or calling `value_fn`
        with each entity; `last_modified` is untouched, as in Octane."""
        with self.lock:
            self.workspaces[workspace_id].add_udf(name, values, value_fn, collection)

    def advance_clock(self, seconds: float) -> datetime:
        """Move the simulated clock (sessions expire, edits stamp the new time)."""
        self.clock.advance(seconds)
        return self.now()

    # ------------------------------------------------------------ faults and the log

    def inject_fault(
        self, kind: str, count: int = 1, path_contains: str | None = None, **opts: Any
    ) -> Fault:
        """The next `count` requests (whose path contains `path_contains`) fail as `kind`:
        rate_limit (429), unavailable (503 HTML), server_error (500), drop, slow, truncate.
        See `octane_sync.simulator.faults` for the options."""
        return self.faults.inject(kind, count, path_contains, **opts)

    def clear_faults(self) -> None:
        self.faults.clear()

    def log_request(self, request: Request, status: int) -> None:
        query = {k: v[-1] if len(v) == 1 else list(v) for k, v in request.params.items()}
        with self._log_lock:
            self._log.append(LoggedRequest(request.method, request.path, query, status))

    @property
    def request_log(self) -> list[LoggedRequest]:
        """(method, path, query, status) of every Octane request served, oldest first."""
        with self._log_lock:
            return list(self._log)

    def reset_request_log(self) -> None:
        with self._log_lock:
            self._log.clear()
