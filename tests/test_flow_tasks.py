"""The flows' small decisions, tested without a Prefect server."""

from __future__ import annotations

import pytest
from prefect.states import Completed, Failed

from flows.tasks import transient_only
from octane_sync.errors import OctaneRequestError, StoreError, TransientError
from octane_sync.stream import StreamFailed, StreamResult


def failed_stream(cause: Exception) -> StreamFailed:
    result = StreamResult("prod", "1002", "defects", status="failed", error=str(cause))
    try:
        raise StreamFailed(result) from cause
    except StreamFailed as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        pytest.param(TransientError("503 for too long"), True, id="transient"),
        pytest.param(failed_stream(TransientError("429")), True, id="stream-transient"),
        pytest.param(failed_stream(StoreError("ORA-01031")), False, id="stream-store"),
        pytest.param(failed_stream(OctaneRequestError("403")), False, id="stream-403"),
        pytest.param(OctaneRequestError("400 bad query"), False, id="request-error"),
        pytest.param(ValueError("bug"), False, id="other"),
    ],
)
def test_only_transient_failures_are_retried(error: Exception, retry: bool) -> None:
    assert transient_only(None, None, Failed(data=error)) is retry


def test_a_completed_state_is_not_retried() -> None:
    assert transient_only(None, None, Completed(data=1)) is False


def test_stream_failed_names_the_stream_and_keeps_its_counts() -> None:
    exc = failed_stream(StoreError("disk full"))
    assert "prod workspace 1002 defects: disk full" in str(exc)
    assert exc.result.as_dict()["status"] == "failed"
