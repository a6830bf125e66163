"""`octane-sync simulator`: serves with the given options and prints how to reach it."""

from __future__ import annotations

import socket

import requests
import typer
from typer.testing import CliRunner

from octane_sync.cli import simulator as simulator_cli


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_simulator_command_serves_and_prints_the_connection_details(monkeypatch) -> None:
    port = _free_port()
    seen: dict[str, object] = {}

    def instead_of_waiting() -> None:
        base = f"http://127.0.0.1:{port}"
        with requests.Session() as http:
            signed = http.post(
                f"{base}/authentication/sign_in",
                json={"user": "cli-id", "password": "cli-secret"},
                timeout=10,
            )
            seen["sign_in"] = signed.status_code
            listed = http.get(f"{base}/api/shared_spaces/2001/workspaces", timeout=10)
            seen["workspaces"] = [w["id"] for w in listed.json()["data"]]

    monkeypatch.setattr(simulator_cli, "wait_until_interrupted", instead_of_waiting)
    app = typer.Typer()
    simulator_cli.register(app)
    args = ["--port", str(port), "--shared-space", "2001", "--workspaces", "2", "--items", "20"]
    args += ["--seed", "3", "--client-id", "cli-id", "--client-secret", "cli-secret"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}" in result.output
    assert "2002, 2003" in result.output
    assert "cli-id" in result.output
    assert "cli-secret" in result.output
    assert seen == {"sign_in": 200, "workspaces": ["2002", "2003"]}
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the server stopped on exit"
