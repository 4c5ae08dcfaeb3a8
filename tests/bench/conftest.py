"""Benchmark plumbing: machine description in the JSON, a quiet start for every benchmark,
and the machine's load recorded next to every timing (a 2-core machine shared with a test
run gives numbers that say more about the neighbour than about the code)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.bench import cases

# Another library's worker threads spin for a while after their last task (OpenBLAS, XLA's
# pool, PyTorch's OpenMP); a pause before each benchmark lets them go to sleep first.
_SETTLE_SECONDS = 0.2


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("numpy", "jax", "jaxlib", "torch", "pytest-benchmark"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _blas() -> list[dict[str, Any]]:
    try:
        import numpy  # noqa: F401  (threadpoolctl lists the libraries already loaded)
        import threadpoolctl
    except ImportError:
        return []
    return [
        {k: v for k, v in lib.items() if k != "filepath"} for lib in threadpoolctl.threadpool_info()
    ]


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    env_keys = (
        "OPENBLAS_CORETYPE",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "XLA_FLAGS",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_MMAP_THRESHOLD_",
        "GLIBC_TUNABLES",
        "REFBP_BENCH_QUICK",
        "REFBP_BENCH_PEERS",
    )
    machine_info["refbp_bench"] = {
        "quick": cases.quick(),
        "peers": list(cases.peers()),
        "cases": [c.label for c in cases.cases()],
        "op_shape": list(cases.op_shape()),
        "hidden_activation": "tanh",
        "output_activation": "identity",
        "loss": "mse",
        "versions": _versions(),
        "blas": _blas(),
        "env": {k: os.environ.get(k) for k in env_keys},
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_end": list(os.getloadavg()),
    }


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (all CPUs; steal included), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


class _Usage:
    """Machine-wide busy CPU seconds, this process's CPU seconds and the wall clock, now."""

    def __init__(self) -> None:
        self.busy, self.own, self.wall = _busy_seconds(), _own_seconds(), time.perf_counter()

    def others_since(self, start: _Usage) -> float | None:
        """Share of all CPUs busy with other processes between ``start`` and this moment."""
        if self.busy is None or start.busy is None or self.wall <= start.wall:
            return None
        capacity = (self.wall - start.wall) * (os.cpu_count() or 1)
        return max(0.0, ((self.busy - start.busy) - (self.own - start.own)) / capacity)


def _wait_for_idle(max_seconds: float, limit: float = 0.05, window: float = 0.5) -> float:
    """Wait (up to ``max_seconds``) until others use less than ``limit`` of the CPUs over
    ``window`` seconds; return the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < max_seconds:
        before = _Usage()
        time.sleep(window)
        share = _Usage().others_since(before)
        if share is None or share < limit:
            break
    return time.monotonic() - start


@pytest.fixture(autouse=True)
def _quiet_start_and_load(request: pytest.FixtureRequest) -> Iterator[None]:
    """Settle (and with REFBP_BENCH_WAIT_IDLE=s, wait up to s seconds for an idle machine),
    then record how much of the machine other processes used during the benchmark.

    ``others_cpu`` is the share of all CPUs, during the benchmark, that was busy but not
    with this process (its threads included): 0 on a quiet machine, 0.5 when a neighbour
    keeps one of two cores busy.  Linux only (None elsewhere).
    """
    if "benchmark" not in request.fixturenames:
        yield
        return
    benchmark = request.getfixturevalue("benchmark")
    waited = _wait_for_idle(float(os.environ.get("REFBP_BENCH_WAIT_IDLE") or 0))
    if not cases.quick():
        time.sleep(_SETTLE_SECONDS)
    start = _Usage()
    yield
    benchmark.extra_info["others_cpu"] = _Usage().others_since(start)
    benchmark.extra_info["waited_for_idle"] = round(waited, 1)
    benchmark.extra_info["loadavg"] = os.getloadavg()[0]
