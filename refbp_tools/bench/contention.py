"""Whether a benchmark measured the code or the neighbours: /proc/stat sampling, the busy
mark, waiting for an idle machine, and keeping the better of two attempts at a benchmark.

On two shared cores a process that takes one core makes every two-thread GEMM wait for
its slower thread, so a timing taken then says more about the neighbour than the code.
``others_since`` is what the benchmark session records around every benchmark; a
benchmark is *contended* when other processes kept more than ``BUSY_LIMIT`` of the CPUs
it runs on busy while it ran (the whole machine, unless the session is bound to some).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

BUSY_LIMIT = 0.10  # others' share of the CPUs above which a timing is marked contended
IDLE_LIMIT = 0.05  # others' share below which the machine counts as idle


def machine_busy_seconds(cpus: Collection[int] | None = None) -> tuple[float, float] | None:
    """(busy, total) CPU seconds since boot, from /proc/stat: of the whole machine, or of
    the CPUs ``cpus`` alone; None where /proc/stat cannot be read.

    Busy is everything but idle and iowait, summed over the CPUs (steal included)."""
    wanted = None if cpus is None else {f"cpu{c}" for c in cpus}
    busy = total = 0
    try:
        with open("/proc/stat") as f:
            for line in f:
                name, *values = line.split()
                if not (name == "cpu" if wanted is None else name in wanted):
                    continue
                fields = [int(v) for v in values]
                idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
                busy, total = busy + sum(fields) - idle, total + sum(fields)
                if wanted is None:
                    break
    except (OSError, ValueError, IndexError):
        return None
    if total == 0:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, total / tick


def own_seconds() -> float:
    """CPU seconds of this process, all its threads, user and system."""
    t = os.times()
    return t.user + t.system


def bound_cpus() -> list[int] | None:
    """The CPUs this process may run on, when that is fewer than the machine has."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    mask = sorted(os.sched_getaffinity(0))
    return mask if len(mask) < (os.cpu_count() or len(mask)) else None


@dataclass(frozen=True)
class Usage:
    """Busy CPU seconds of the CPUs this process may run on (the whole machine when it is
    not bound to some), this process's CPU seconds and the wall clock at one moment
    (``Usage.now()``); ``cpus``: how many CPUs ``busy`` covers (None: all of them)."""

    busy: float | None
    own: float
    wall: float
    cpus: int | None = None

    @classmethod
    def now(cls) -> Usage:
        mask = bound_cpus()
        sample = machine_busy_seconds(mask)
        return cls(
            None if sample is None else sample[0],
            own_seconds(),
            time.perf_counter(),
            None if mask is None else len(mask),
        )

    def own_cores_since(self, start: Usage) -> float | None:
        """Cores this process kept busy between ``start`` and this moment, on average:
        1.0 for one thread that never waited, 2.0 for two."""
        if self.wall <= start.wall:
            return None
        return (self.own - start.own) / (self.wall - start.wall)

    def others_since(self, start: Usage, cpus: int | None = None) -> float | None:
        """Share of the CPUs (those this process may run on) busy with other processes
        between ``start`` and this moment: 0 on a quiet machine, 0.5 when a neighbour keeps
        one of two cores busy.  A neighbour on a CPU this process is not bound to does not
        count: it takes none of this process's time."""
        if self.busy is None or start.busy is None or self.wall <= start.wall:
            return None
        capacity = (self.wall - start.wall) * (cpus or self.cpus or os.cpu_count() or 1)
        return max(0.0, ((self.busy - start.busy) - (self.own - start.own)) / capacity)


def others_share(window: float = 2.0) -> float | None:
    """The share of the CPUs (see ``Usage``) that processes other than this one kept busy
    over the next ``window`` seconds (None where /proc/stat cannot be read)."""
    start = Usage.now()
    if start.busy is None:
        return None
    time.sleep(window)
    return Usage.now().others_since(start)


def wait_idle(
    max_seconds: float, limit: float = IDLE_LIMIT, window: float = 3.0, say: bool = True
) -> bool:
    """Wait until others use less than ``limit`` of the CPUs over ``window`` seconds;
    False when ``max_seconds`` passed first.  ``say``: print each busy reading."""
    deadline = time.monotonic() + max_seconds
    while True:
        share = others_share(window)
        if share is None or share < limit:
            return True
        if time.monotonic() > deadline:
            return False
        if say:
            print(f"refbp bench: waiting for an idle machine (others use {share:.0%})", flush=True)


def others_of(bench: dict[str, Any]) -> float | None:
    """The others' CPU share recorded with one pytest-benchmark entry, if any."""
    value = bench.get("extra_info", {}).get("others_cpu")
    return None if value is None else float(value)


def is_contended(share: float | None, limit: float = BUSY_LIMIT) -> bool:
    """Over the limit (at it is not); an unrecorded share is not evidence of contention."""
    return share is not None and share > limit


@dataclass(frozen=True)
class RetryOutcome:
    """What a retry pass did: benchmarks retried, those whose retry was kept (less
    contended), those still contended after it."""

    retried: int
    improved: int
    still_contended: int


def merge_retry(
    first: dict[str, Any], retry: dict[str, Any], limit: float = BUSY_LIMIT
) -> RetryOutcome:
    """Keep, in ``first`` (changed in place), the less contended attempt at each benchmark
    that ``retry`` measured again.  A kept retry records ``attempts`` = 2 and the first
    attempt's share as ``others_cpu_first``; a discarded one its share as
    ``others_cpu_retry``."""
    again = {str(b.get("fullname")): b for b in retry.get("benchmarks", []) if b.get("fullname")}
    improved = 0
    benches = first.get("benchmarks", [])
    for i, bench in enumerate(benches):
        new = again.get(str(bench.get("fullname")))
        if new is None:
            continue
        old_share, new_share = others_of(bench), others_of(new)
        if new_share is not None and (old_share is None or new_share < old_share):
            new.setdefault("extra_info", {}).update(attempts=2, others_cpu_first=old_share)
            benches[i] = new
            improved += 1
        else:
            bench.setdefault("extra_info", {}).update(attempts=2, others_cpu_retry=new_share)
    still = sum(
        1 for b in benches if str(b.get("fullname")) in again and is_contended(others_of(b), limit)
    )
    return RetryOutcome(retried=len(again), improved=improved, still_contended=still)
