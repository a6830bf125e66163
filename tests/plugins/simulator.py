"""Fixtures that start the Octane simulator in-process on a free port (simulator work)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from octane_sync.simulator import OctaneSimulator

# Every collection the simulator must serve (the list, plus teams and list nodes).
COLLECTIONS = [
    "work_items",
    "epics",
    "features",
    "stories",
    "defects",
    "quality_stories",
    "releases",
    "sprints",
    "phases",
    "teams",
    "workspace_users",
    "tests",
    "runs",
    "list_nodes",
]


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., OctaneSimulator]]:
    """A factory: `make_simulator(workspaces=2, items=50, rotate_every=3)` returns a started
    simulator; every one it made is stopped at teardown."""
    started: list[OctaneSimulator] = []

    def make(**kwargs) -> OctaneSimulator:
        sim = OctaneSimulator(**kwargs)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(make_simulator) -> OctaneSimulator:
    """A small running simulator: 3 workspaces x 200 work items, seed 7, page size 1000."""
    return make_simulator(workspaces=3, items=200, seed=7)


def sign_in(sim: OctaneSimulator, session: requests.Session) -> requests.Response:
    """Sign `session` in to `sim` with its API key; the response carries the cookies."""
    response = session.post(
        f"{sim.base_url}/authentication/sign_in",
        json={"client_id": sim.client_id, "client_secret": sim.client_secret},
        timeout=10,
    )
    response.raise_for_status()
    return response


@pytest.fixture
def sim_http(simulator) -> Iterator[requests.Session]:
    """A `requests.Session` signed in to the `simulator` fixture."""
    with requests.Session() as session:
        sign_in(simulator, session)
        yield session
