"""The control API under `/__sim__/`, and `RemoteSimulator`, its client for a separate process.

Every route mirrors an `OctaneSimulator` method, so the demo drives a simulator started
with `octane-sync simulator` the way tests drive an in-process one. No authentication:
the simulator is a test double and binds to localhost by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from octane_sync.simulator.protocol import Request, Response, error_response, json_response
from octane_sync.simulator.workspace import UnknownCollection

if TYPE_CHECKING:
    from octane_sync.simulator.core import OctaneSimulator

PREFIX = "/__sim__/"


def _update(sim: OctaneSimulator, body: dict) -> Any:
    return {"ids": sim.update(body["workspace_id"], body["collection"], int(body.get("n", 1)))}


def _bulk_edit(sim: OctaneSimulator, body: dict) -> Any:
    return {"ids": sim.bulk_edit(body["workspace_id"], body["collection"], int(body["m"]))}


def _create(sim: OctaneSimulator, body: dict) -> Any:
    ids = sim.create(
        body["workspace_id"],
        body["collection"],
        int(body.get("count", 1)),
        fields=body.get("fields"),
    )
    return {"ids": ids}


def _delete(sim: OctaneSimulator, body: dict) -> Any:
    return {"deleted": sim.delete(body["workspace_id"], body["collection"], body["ids"])}


def _add_udf(sim: OctaneSimulator, body: dict) -> Any:
    sim.add_udf(
        body["workspace_id"],
        body["name"],
        values=body.get("values"),
        collection=body.get("collection", "work_items"),
    )
    return {}


def _advance_clock(sim: OctaneSimulator, body: dict) -> Any:
    return {"now": sim.advance_clock(float(body["seconds"])).isoformat()}


def _fault(sim: OctaneSimulator, body: dict) -> Any:
    options = {k: v for k, v in body.items() if k not in ("kind", "count", "path_contains")}
    sim.inject_fault(body["kind"], int(body.get("count", 1)), body.get("path_contains"), **options)
    return {"pending": len(sim.faults.pending())}


def _clear_faults(sim: OctaneSimulator, body: dict) -> Any:
    sim.clear_faults()
    return {}


def _request_log(sim: OctaneSimulator, body: dict) -> Any:
    return {"requests": [entry._asdict() for entry in sim.request_log]}


def _reset_request_log(sim: OctaneSimulator, body: dict) -> Any:
    sim.reset_request_log()
    return {}


def _info(sim: OctaneSimulator, body: dict) -> Any:
    return {
        "base_url": sim.base_url,
        "shared_space_id": sim.shared_space_id,
        "workspace_ids": sim.workspace_ids,
        "client_id": sim.client_id,
        "strict_fields": sim.strict_fields,
        "now": sim.now().isoformat(),
    }


ROUTES: dict[tuple[str, str], Callable[[OctaneSimulator, dict], Any]] = {
    ("POST", "update"): _update,
    ("POST", "bulk_edit"): _bulk_edit,
    ("POST", "create"): _create,
    ("POST", "delete"): _delete,
    ("POST", "add_udf"): _add_udf,
    ("POST", "advance_clock"): _advance_clock,
    ("POST", "fault"): _fault,
    ("POST", "clear_faults"): _clear_faults,
    ("GET", "request_log"): _request_log,
    ("POST", "reset_request_log"): _reset_request_log,
    ("GET", "info"): _info,
}


def handle(sim: OctaneSimulator, request: Request) -> Response:
    """Run one control call; bad input answers 400 with the reason."""
    name = request.path[len(PREFIX) :].strip("/")
    route = ROUTES.get((request.method, name))
    if route is None:
        return error_response(404, "sim.unknown_control", f"No control route {name!r}.")
    try:
        body = request.json() if request.body else {}
        if not isinstance(body, dict):
            raise TypeError("the body must be a JSON object")
        return json_response(200, route(sim, body))
    except UnknownCollection as exc:
        return error_response(404, "sim.unknown_collection", f"Unknown collection {exc.args[0]}")
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
        return error_response(400, "sim.bad_control_request", f"{type(exc).__name__}: {exc}")


class RemoteSimulator:
    """Drive a simulator in another process over `/__sim__/` (same methods as in-process).

    Example:
        sim = RemoteSimulator("http://127.0.0.1:8089")
        ids = sim.update("1002", "work_items", 10)
        sim.inject_fault("rate_limit", count=2, retry_after=1)
    """

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteSimulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: str, name: str, body: dict | None = None) -> Any:
        response = self._http.request(
            method, f"{self.base_url}{PREFIX}{name}", json=body, timeout=self.timeout
        )
        if response.status_code != 200:
            raise RuntimeError(f"simulator control {name} failed: {response.text}")
        return response.json()

    def info(self) -> dict:
        return self._call("GET", "info")

    def update(self, workspace_id: str, collection: str, n: int = 1) -> list[str]:
        body = {"workspace_id": workspace_id, "collection": collection, "n": n}
        return self._call("POST", "update", body)["ids"]

    def bulk_edit(self, workspace_id: str, collection: str, m: int) -> list[str]:
        body = {"workspace_id": workspace_id, "collection": collection, "m": m}
        return self._call("POST", "bulk_edit", body)["ids"]

    def create(
        self, workspace_id: str, collection: str, count: int = 1, fields: dict | None = None
    ) -> list[str]:
        body = {
            "workspace_id": workspace_id,
            "collection": collection,
            "count": count,
            "fields": fields,
        }
        return self._call("POST", "create", body)["ids"]

    def delete(self, workspace_id: str, collection: str, ids: list[str]) -> int:
        body = {"workspace_id": workspace_id, "collection": collection, "ids": list(ids)}
        return self._call("POST", "delete", body)["deleted"]

    def add_udf(
        self, workspace_id: str, name: str, values: list | None = None, collection="work_items"
    ) -> None:
        body = {"workspace_id": workspace_id, "name": name, "values": values}
        self._call("POST", "add_udf", {**body, "collection": collection})

    def advance_clock(self, seconds: float) -> str:
        return self._call("POST", "advance_clock", {"seconds": seconds})["now"]

    def inject_fault(
        self, kind: str, count: int = 1, path_contains: str | None = None, **options: Any
    ) -> None:
        body = {"kind": kind, "count": count, "path_contains": path_contains, **options}
        self._call("POST", "fault", body)

    def clear_faults(self) -> None:
        self._call("POST", "clear_faults")

    @property
    def request_log(self) -> list[tuple]:
        rows = self._call("GET", "request_log")["requests"]
        return [(r["method"], r["path"], r["query"], r["status"]) for r in rows]

    def reset_request_log(self) -> None:
        self._call("POST", "reset_request_log")
