"""Benchmark plumbing: machine description in the JSON, threads pinned, a quiet start for
every benchmark, and the machine's load recorded next to every timing (a 2-core machine
shared with a test run gives numbers that say more about the neighbour than about the code).

Read from the environment (``refbp bench`` sets them): REFBP_BENCH_THREADS (BLAS threads
to pin with threadpoolctl, 0 or unset: leave them), REFBP_BENCH_WAIT_IDLE (seconds to wait
for an idle machine before each benchmark), REFBP_BENCH_DEADLINE (a Unix time after which
the remaining benchmarks are skipped: the retry pass's budget)."""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import time
from collections.abc import Iterator
from typing import Any

import pytest

from refbp_tools.bench.contention import BUSY_LIMIT, IDLE_LIMIT, Usage
from tests.bench import cases


def settle_seconds() -> float:
    """The pause before each benchmark (REFBP_BENCH_SETTLE, default 0.2 s): another
    library's worker threads spin for a while after their last task (OpenBLAS, XLA's pool,
    PyTorch's OpenMP), and a pause lets them go to sleep first.  ``refbp bench`` asks for
    none when it pins every library to one thread: then nothing is left spinning, and on
    the VMs here the pause itself slowed the rounds after it (the vCPU idles)."""
    seconds: float = cases.env_setting(
        "REFBP_BENCH_SETTLE", "0.2", float, lambda s: 0 <= s < math.inf,
        "a number of seconds ≥ 0",
    )  # fmt: skip
    return seconds


# The retry pass gives up after this many waits in a row that ended with the machine still
# busy: a neighbour that stays is not waited out one benchmark at a time.
_GIVE_UP_AFTER = 12
_busy_waits_in_a_row = 0


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("numpy", "jax", "jaxlib", "torch", "pytest-benchmark"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def page_fault_seconds(pages: int = 2048) -> float | None:
    """What one minor page fault costs here: fresh anonymous pages touched once each, timed
    (None where mmap or getrusage are missing).  The cost of memory that glibc hands back
    to the kernel and takes again (see refbp_tools.bench.driver.KEEP_MEMORY)."""
    try:
        import mmap
        import resource
    except ImportError:
        return None
    size = pages * mmap.PAGESIZE
    best = None
    for _ in range(3):
        with mmap.mmap(-1, size) as m:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            for offset in range(0, size, mmap.PAGESIZE):
                m[offset] = 1
            seconds = time.perf_counter() - start
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        if faults >= pages // 2:  # a kernel that maps pages ahead would make fewer faults
            best = min(best or seconds / faults, seconds / faults)
    return best


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
        "REFBP_BENCH_THREADS",
        "REFBP_BENCH_PASSES",
        "REFBP_BENCH_SETTLE",
    )
    machine_info["refbp_bench"] = {
        "quick": cases.quick(),
        "passes": cases.passes(),
        "peers": list(cases.peers()),
        "cases": [c.label for c in cases.cases()],
        "op_shape": list(cases.op_shape()),
        "hidden_activation": "tanh",
        "output_activation": "identity",
        "loss": "mse",
        "ladder_cases": [c.label for c in cases.ladder_cases()],
        "ladder_configs": [c.label for c in cases.ladder_configs()],
        "versions": _versions(),
        "blas": _blas(),
        "env": {k: os.environ.get(k) for k in env_keys},
        "cpu_count": os.cpu_count(),
        "cpu_affinity": (
            sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        ),
        "loadavg_end": list(os.getloadavg()),
        "libc": list(platform.libc_ver()),
        "page_fault_seconds": page_fault_seconds(),
    }


def bind_cpus(count: int) -> list[int] | None:
    """Bind this process (every thread it has, and so every thread it starts) to ``count``
    of the CPUs it may use; the CPUs it is bound to afterwards (None where Linux's
    affinity calls are missing).

    XLA sizes its thread pool from the affinity mask when its client starts and ignores
    the XLA_FLAGS that claim to limit it (``--xla_cpu_multi_thread_eigen=false`` left a
    1024² GEMM on two cores here), so the mask is what gives every implementation the
    same cores as NumPy's pinned BLAS."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) > count:
        chosen = allowed[:count]
        tasks = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ["0"]
        for tid in tasks:
            try:
                os.sched_setaffinity(int(tid), chosen)
            except OSError:  # a thread that ended since the listing
                pass
    return sorted(os.sched_getaffinity(0))


def pytest_configure(config: pytest.Config) -> None:
    """When asked for N threads: pin the BLAS threads already loaded (NumPy's; the
    variables that ``refbp bench`` sets reach libraries loaded later, but OpenBLAS reads
    them only once) and bind the process to N CPUs before JAX or PyTorch start theirs."""
    threads = int(os.environ.get("REFBP_BENCH_THREADS") or 0)
    if threads <= 0:
        return
    bind_cpus(threads)
    try:
        import threadpoolctl
    except ImportError:
        return
    threadpoolctl.threadpool_limits(threads)  # in force until the process ends


def _wait_for_idle(max_seconds: float, limit: float, window: float = 0.5) -> tuple[float, bool]:
    """Wait (up to ``max_seconds``) until others use less than ``limit`` of the CPUs over
    ``window`` seconds; (the seconds waited, whether that happened; True without a wait)."""
    start = time.monotonic()
    while time.monotonic() - start < max_seconds:
        before = Usage.now()
        time.sleep(window)
        share = Usage.now().others_since(before)
        if share is None or share < limit:
            return time.monotonic() - start, True
    return time.monotonic() - start, max_seconds <= 0


@pytest.fixture(autouse=True)
def _quiet_start_and_load(request: pytest.FixtureRequest) -> Iterator[None]:
    """Settle (and with REFBP_BENCH_WAIT_IDLE=s, wait up to s seconds for an idle machine),
    then record how much of the machine other processes used during the benchmark.  In the
    retry pass (REFBP_BENCH_DEADLINE set) a benchmark whose wait ends with the machine still
    busy, or that starts after the deadline or after ``_GIVE_UP_AFTER`` busy waits in a
    row, is skipped: its first attempt stands.

    ``others_cpu`` is the share of the CPUs this process may run on (all of them unless
    it is bound), during the benchmark, that was busy but not with this process (its
    threads included): 0 on a quiet machine, 0.5 when a neighbour keeps one of two busy.
    Linux only (None elsewhere).  ``own_cores`` is this process's CPU time over the wall
    time: how many cores the timed code kept busy.
    """
    if "benchmark" not in request.fixturenames:
        yield
        return
    global _busy_waits_in_a_row
    deadline = float(os.environ.get("REFBP_BENCH_DEADLINE") or 0)  # set in the retry pass only
    if deadline and time.time() > deadline:
        pytest.skip("the retry pass's time budget is spent: the first attempt stands")
    if deadline and _busy_waits_in_a_row >= _GIVE_UP_AFTER:
        pytest.skip(
            f"the machine stayed busy through {_GIVE_UP_AFTER} waits: the first attempt stands"
        )
    benchmark = request.getfixturevalue("benchmark")
    wait = float(os.environ.get("REFBP_BENCH_WAIT_IDLE") or 0)
    waited, idle = _wait_for_idle(wait, BUSY_LIMIT if deadline else IDLE_LIMIT)
    _busy_waits_in_a_row = 0 if idle else _busy_waits_in_a_row + 1
    if deadline and not idle:  # a retry under the same contention would only cost time
        pytest.skip("the machine is still busy: the first attempt stands")
    if not cases.quick() and (pause := settle_seconds()) > 0:
        time.sleep(pause)
    start = Usage.now()
    yield
    end = Usage.now()
    benchmark.extra_info["others_cpu"] = end.others_since(start)
    benchmark.extra_info["own_cores"] = end.own_cores_since(start)
    benchmark.extra_info["waited_for_idle"] = round(waited, 1)
    benchmark.extra_info["loadavg"] = os.getloadavg()[0]
