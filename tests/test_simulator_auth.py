"""Sign-in, cookies, expiry and rotation over real HTTP, as octane-api.md describes them."""

from __future__ import annotations

import pytest
import requests

from tests.plugins.simulator import sign_in


def _workspaces_url(sim) -> str:
    return f"{sim.base_url}/api/shared_spaces/{sim.shared_space_id}/workspaces"


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(("client_id", "client_secret"), id="client_id-client_secret"),
        pytest.param(("user", "password"), id="user-password"),
    ],
)
def test_sign_in_sets_both_cookies_and_opens_the_api(simulator, spelling) -> None:
    user_key, secret_key = spelling
    with requests.Session() as http:
        response = http.post(
            f"{simulator.base_url}/authentication/sign_in",
            json={user_key: simulator.client_id, secret_key: simulator.client_secret},
            timeout=10,
        )
        assert response.status_code == 200
        assert http.cookies.get("LWSSO_COOKIE_KEY") in simulator.issued_session_tokens()
        assert http.cookies.get("OCTANE_USER") == simulator.client_id
        listed = http.get(_workspaces_url(simulator), timeout=10)
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()["data"]] == simulator.workspace_ids


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"client_id": "sim-client", "client_secret": "wrong"}, id="wrong-secret"),
        pytest.param({"client_id": "nobody", "client_secret": "sim-secret"}, id="wrong-id"),
        pytest.param({"user": "sim-client"}, id="no-password"),
        pytest.param({}, id="empty"),
    ],
)
def test_bad_credentials_get_a_json_401_without_the_secret(simulator, body) -> None:
    with requests.Session() as http:
        response = http.post(f"{simulator.base_url}/authentication/sign_in", json=body, timeout=10)
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/json"
        error = response.json()
        assert {"error_code", "correlation_id", "description"} <= set(error)
        assert simulator.client_secret not in response.text
        assert "LWSSO_COOKIE_KEY" not in http.cookies


def test_sign_in_refuses_a_non_json_body_and_the_private_client_type(simulator) -> None:
    url = f"{simulator.base_url}/authentication/sign_in"
    form = requests.post(url, data={"client_id": "sim-client"}, timeout=10)
    assert form.status_code == 415
    typed = requests.post(
        url,
        json={"client_id": simulator.client_id, "client_secret": simulator.client_secret},
        headers={"HPECLIENTTYPE": "HPE_MQM_UI"},
        timeout=10,
    )
    assert typed.status_code == 401
    assert "LWSSO_COOKIE_KEY" not in typed.cookies


def test_requests_without_or_with_an_unknown_cookie_get_401(simulator) -> None:
    none = requests.get(_workspaces_url(simulator), timeout=10)
    assert none.status_code == 401
    assert none.json()["error_code"] == "VALIDATION_TOKEN_MISSING"
    forged = requests.get(
        _workspaces_url(simulator), cookies={"LWSSO_COOKIE_KEY": "forged"}, timeout=10
    )
    assert forged.status_code == 401
    assert forged.json()["error_code"] == "VALIDATION_TOKEN_INVALID"


def test_sign_out_ends_the_session(simulator, sim_http) -> None:
    assert sim_http.get(_workspaces_url(simulator), timeout=10).status_code == 200
    token = sim_http.cookies["LWSSO_COOKIE_KEY"]
    out = sim_http.post(f"{simulator.base_url}/authentication/sign_out", timeout=10)
    assert out.status_code == 200
    after = requests.get(
        _workspaces_url(simulator), cookies={"LWSSO_COOKIE_KEY": token}, timeout=10
    )
    assert after.status_code == 401


def test_idle_timeout_expires_a_quiet_session_only(make_simulator) -> None:
    sim = make_simulator(workspaces=1, items=10, idle_timeout=60)
    with requests.Session() as http:
        sign_in(sim, http)
        sim.advance_clock(50)
        assert http.get(_workspaces_url(sim), timeout=10).status_code == 200
        sim.advance_clock(50)  # 50 s since the last request: still active
        assert http.get(_workspaces_url(sim), timeout=10).status_code == 200
        sim.advance_clock(61)
        expired = http.get(_workspaces_url(sim), timeout=10)
        assert expired.status_code == 401
        assert expired.json()["error_code"] == "VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT"
        http.cookies.clear()
        sign_in(sim, http)
        assert http.get(_workspaces_url(sim), timeout=10).status_code == 200


def test_global_timeout_expires_even_a_busy_session(make_simulator) -> None:
    sim = make_simulator(workspaces=1, items=10, idle_timeout=60, global_timeout=100)
    with requests.Session() as http:
        sign_in(sim, http)
        for _ in range(3):
            sim.advance_clock(30)
            assert http.get(_workspaces_url(sim), timeout=10).status_code == 200
        sim.advance_clock(30)
        expired = http.get(_workspaces_url(sim), timeout=10)
    assert expired.status_code == 401
    assert expired.json()["error_code"] == "VALIDATION_TOKEN_EXPIRED_GLOBAL_TIME_OUT"


def test_cookie_rotation_with_a_grace_period(make_simulator) -> None:
    sim = make_simulator(workspaces=1, items=10, rotate_every=3, rotation_grace=30)
    with requests.Session() as http:
        sign_in(sim, http)
        first = http.cookies["LWSSO_COOKIE_KEY"]
        responses = [http.get(_workspaces_url(sim), timeout=10) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert "LWSSO_COOKIE_KEY" not in responses[0].cookies
        assert responses[2].cookies["LWSSO_COOKIE_KEY"] != first
        second = http.cookies["LWSSO_COOKIE_KEY"]
        assert second == responses[2].cookies["LWSSO_COOKIE_KEY"]
        # the old cookie still works inside the grace period ...
        old = {"LWSSO_COOKIE_KEY": first}
        assert requests.get(_workspaces_url(sim), cookies=old, timeout=10).status_code == 200
        sim.advance_clock(31)
        # ... and not after it, while the new one does
        assert requests.get(_workspaces_url(sim), cookies=old, timeout=10).status_code == 401
        assert http.get(_workspaces_url(sim), timeout=10).status_code == 200
