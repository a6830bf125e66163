"""Every injected fault kind, seen by a real `requests` client."""

from __future__ import annotations

import time

import pytest
import requests


@pytest.fixture
def url(simulator) -> str:
    ws = simulator.workspace_ids[0]
    return f"{simulator.base_url}/api/shared_spaces/1001/workspaces/{ws}/work_items?limit=50"


def test_rate_limit_answers_429_with_retry_after_for_count_requests(simulator, sim_http, url):
    simulator.inject_fault("rate_limit", count=2, retry_after=7)
    statuses = [sim_http.get(url, timeout=10) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "7"
    assert statuses[0].json()["error_code"]
    assert [entry.status for entry in simulator.request_log[-3:]] == [429, 429, 200]


def test_unavailable_is_an_html_page(simulator, sim_http, url) -> None:
    simulator.inject_fault("503")
    response = sim_http.get(url, timeout=10)
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Service Temporarily Unavailable" in response.text
    assert sim_http.get(url, timeout=10).status_code == 200


def test_server_error_is_an_octane_json_500(simulator, sim_http, url) -> None:
    simulator.inject_fault("server_error")
    response = sim_http.get(url, timeout=10)
    assert response.status_code == 500
    assert response.json()["error_code"] == "platform.general_error"


def test_drop_closes_the_connection_without_a_response(simulator, sim_http, url) -> None:
    assert sim_http.get(url, timeout=10).status_code == 200  # a kept-alive connection
    simulator.inject_fault("drop")
    with pytest.raises(requests.ConnectionError):
        sim_http.get(url, timeout=10)
    assert simulator.request_log[-1].status == 0
    assert sim_http.get(url, timeout=10).status_code == 200


def test_slow_delays_the_normal_response(simulator, sim_http, url) -> None:
    simulator.inject_fault("slow", delay=0.3)
    started = time.monotonic()
    response = sim_http.get(url, timeout=10)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    simulator.inject_fault("slow", delay=0.5)
    with pytest.raises(requests.Timeout):
        sim_http.get(url, timeout=0.1)


def test_truncate_cuts_the_json_body(simulator, sim_http, url) -> None:
    simulator.inject_fault("truncate")
    response = sim_http.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_truncate_with_full_length_breaks_the_read(simulator, sim_http, url) -> None:
    simulator.inject_fault("truncate", keep_length=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sim_http.get(url, timeout=10)
    assert sim_http.get(url, timeout=10).json()["data"]


def test_faults_hit_only_paths_containing_the_substring(simulator, sim_http, url) -> None:
    simulator.inject_fault("rate_limit", count=1, path_contains="/defects")
    assert sim_http.get(url, timeout=10).status_code == 200
    defects = url.replace("work_items", "defects")
    assert sim_http.get(defects, timeout=10).status_code == 429
    assert sim_http.get(defects, timeout=10).status_code == 200


def test_faults_can_hit_sign_in_and_spare_the_control_api(simulator) -> None:
    simulator.inject_fault("unavailable", path_contains="sign_in")
    info = requests.get(f"{simulator.base_url}/__sim__/info", timeout=10)
    assert info.status_code == 200
    body = {"client_id": simulator.client_id, "client_secret": simulator.client_secret}
    sign_in = f"{simulator.base_url}/authentication/sign_in"
    assert requests.post(sign_in, json=body, timeout=10).status_code == 503
    assert requests.post(sign_in, json=body, timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        pytest.param("teapot", {}, "unknown fault kind", id="unknown-kind"),
        pytest.param("drop", {"delay": 1}, "takes no option", id="bad-option"),
        pytest.param("slow", {"count": 0}, "count must be", id="zero-count"),
    ],
)
def test_bad_fault_requests_raise(simulator, kind, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        simulator.inject_fault(kind, **options)


def test_clear_faults(simulator, sim_http, url) -> None:
    simulator.inject_fault("server_error", count=5)
    simulator.clear_faults()
    assert sim_http.get(url, timeout=10).status_code == 200
