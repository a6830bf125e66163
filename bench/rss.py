"""Peak memory and CPU time of processes, and one measurement in a fresh child process.

A fresh spawned child per measurement keeps each figure's peak RSS its own: the peak of
the parent (or of an earlier, bigger run) never leaks into a later one.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_child(fn: Callable[..., dict], *args: Any, **kwargs: Any) -> dict:
    """Run `fn(*args, **kwargs)` in a new spawned process and return its result dict.

    `fn` must be a module-level function; its result gets `peak_rss_mb` of the child added.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_measured, fn, args, kwargs).result()


def _measured(fn: Callable[..., dict], args: tuple, kwargs: dict) -> dict:
    result = fn(*args, **kwargs)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result
