"""A thread-safe board of stream progress, so `octane-sync run` can draw what the flow does."""

from __future__ import annotations

import threading
from dataclasses import replace

from octane_sync.stream import StreamResult


class ProgressBoard:
    """Latest StreamResult per (connection, workspace, entity), updated from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[tuple[str, str, str], StreamResult] = {}

    def update(self, result: StreamResult) -> None:
        with self._lock:
            key = (result.connection, result.workspace_id, result.entity)
            self._streams[key] = replace(result)

    def snapshot(self) -> list[StreamResult]:
        with self._lock:
            return [self._streams[key] for key in sorted(self._streams)]

    def clear(self) -> None:
        with self._lock:
            self._streams.clear()


BOARD = ProgressBoard()
