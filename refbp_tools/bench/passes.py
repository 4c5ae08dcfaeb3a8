"""A benchmark timed in several passes, as one: its rounds pooled, its guard record merged.

With ``--passes N`` every benchmark of tests/bench is N pytest tests whose ids end in
``@p1`` ... ``@pN`` (tests/bench/cases.py, ``PASS_MARK``), and the implementations of a
row take turns: refbp, JAX, ..., then refbp, JAX, ... again.  Pooling each implementation's
rounds over its passes gives each of them the same stretches of the run, so a machine that
slows down while a row is timed slows all of its implementations, not only the one that
happened to be running.  The report then reads one benchmark per implementation, as with
one pass; each keeps its passes' medians (``pass_medians``) to show how far they moved.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from typing import Any

from refbp_tools.bench.contention import BUSY_LIMIT, is_contended, others_of

__all__ = ["contended_passes", "merge_passes", "pass_of"]

_PASS = re.compile(r"@p(\d+)\]$")

# How the passes' records of the machine add up to the merged benchmark's.  The CPU shares
# are the passes' means weighted by their timed seconds: what one window around all of them
# would have read (a pass's window is short, and /proc/stat counts in 10 ms ticks); the
# waits add up.
_WEIGHTED = ("others_cpu", "own_cores")
_MERGE: dict[str, Callable[[list[float]], float]] = {
    "loadavg": max,
    "waited_for_idle": sum,
    "page_faults_per_call": statistics.fmean,
}


def _weighted(passes: list[dict[str, Any]], key: str) -> float | None:
    """``key`` of the passes' extra_info, their mean weighted by each pass's timed seconds."""
    pairs = [
        (float(b["extra_info"][key]), float(b["stats"]["total"]))
        for b in passes
        if b.get("extra_info", {}).get(key) is not None and b.get("stats", {}).get("total")
    ]
    seconds = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / seconds if seconds > 0 else None


def _groups(benches: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The benchmarks of several passes, by their name without the pass."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for bench in benches:
        full, k = pass_of(str(bench.get("fullname", "")))
        if k is not None:
            groups.setdefault(full, []).append(bench)
    return groups


def contended_passes(data: dict[str, Any], limit: float = BUSY_LIMIT) -> list[str]:
    """The node ids to time again: every pass of a benchmark whose passes together were
    contended (the share its merged benchmark will have), and each contended benchmark of
    one pass.  A pass is too short for /proc/stat's 10 ms ticks to judge alone: one tick
    of a kernel thread in a 0.1 s pass is 5% of two CPUs."""
    benches: list[dict[str, Any]] = data.get("benchmarks", [])
    groups = _groups(benches)
    busy = {
        full
        for full, passes in groups.items()
        if is_contended(_weighted(passes, "others_cpu"), limit)
    }
    ids = []
    for bench in benches:
        name = str(bench.get("fullname") or "")
        full, k = pass_of(name)
        if not name:  # nothing to name it by: not retried
            continue
        if (full in busy) if k is not None else is_contended(others_of(bench), limit):
            ids.append(name)
    return ids


def pass_of(name: str) -> tuple[str, int | None]:
    """(the name without its pass, the pass number; None for a benchmark of one pass)."""
    m = _PASS.search(name)
    if m is None:
        return name, None
    return name[: m.start()] + "]", int(m.group(1))


def merge_passes(data: dict[str, Any]) -> int:
    """Replace, in ``data`` (pytest-benchmark's JSON, raw timings still in it), each
    benchmark's passes by one benchmark with their rounds pooled; returns how many merged
    benchmarks there are.  Benchmarks without a pass, or whose raw timings are gone, are
    left as they are."""
    benches: list[dict[str, Any]] = data.get("benchmarks", [])
    groups = {
        full: passes
        for full, passes in _groups(benches).items()
        if all(b.get("stats", {}).get("data") for b in passes)
    }
    order: list[Any] = []  # each group where its first pass stood, and the others as they were
    placed: set[str] = set()
    for bench in benches:
        full, _ = pass_of(str(bench.get("fullname", "")))
        if full not in groups:
            order.append(bench)
        elif full not in placed:
            placed.add(full)
            order.append(full)
    data["benchmarks"] = [
        _merged(key, groups[key]) if isinstance(key, str) else key for key in order
    ]
    return len(groups)


def _merged(fullname: str, passes: list[dict[str, Any]]) -> dict[str, Any]:
    passes = sorted(passes, key=lambda b: pass_of(str(b["fullname"]))[1] or 0)
    first = passes[0]
    # pytest-benchmark's own statistics (its quartiles, its outliers), as in unmerged
    # entries; imported here: `refbp` builds every command's parser, and an install for
    # `refbp verify` alone has no pytest-benchmark (a run to merge always has it)
    from pytest_benchmark.stats import Stats

    stats: Any = Stats()  # type: ignore[no-untyped-call]
    for bench in passes:
        for seconds in bench["stats"]["data"]:
            stats.update(seconds)
    pooled = stats.as_dict()
    pooled["iterations"] = first["stats"].get("iterations", 1)
    pooled["data"] = list(stats.data)
    info = dict(first.get("extra_info", {}))
    for key in _WEIGHTED:
        if (value := _weighted(passes, key)) is not None:
            info[key] = value
    for key, combine in _MERGE.items():
        values = [
            b["extra_info"][key] for b in passes if b.get("extra_info", {}).get(key) is not None
        ]
        if values:
            info[key] = combine(values)
    for bench in passes:  # an account taken once (refbp's memory) is in one pass only
        for key, value in bench.get("extra_info", {}).items():
            info.setdefault(key, value)
    info.pop("pass", None)
    info["passes"] = len(passes)
    info["pass_medians"] = [float(b["stats"]["median"]) for b in passes]
    if any("attempts" in b.get("extra_info", {}) for b in passes):
        info["attempts"] = max(b.get("extra_info", {}).get("attempts", 1) for b in passes)
    name, _ = pass_of(str(first.get("name", "")))
    params = {k: v for k, v in (first.get("params") or {}).items() if k != "k"}
    return {
        **first,
        "name": name,
        "fullname": fullname,
        "param": (first.get("param") or "").rsplit("@p", 1)[0] or None,
        "params": params or None,
        "extra_info": info,
        "stats": pooled,
    }
