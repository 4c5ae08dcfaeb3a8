"""Runs against runs: refbp's times now and in the previous saved run, and the saved runs
of one kind (quick or full) that give the run-to-run spread."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refbp_tools.bench.model import NotABenchRun, Results, load_results

COMPARE_STATS = ("min", "median")


@dataclass(frozen=True)
class Change:
    name: str
    previous: float
    now: float
    bound_change: float | None  # the same case's GEMM bound: a measure of the machine's drift

    @property
    def change(self) -> float:
        return self.now / self.previous - 1.0


def _bench_key(bench: dict[str, Any]) -> str:
    return str(bench.get("fullname") or bench.get("name"))


def _stat(bench: dict[str, Any], stat: str) -> float:
    return float(bench["stats"].get(stat, bench["stats"]["median"]))


def _bounds(res: Results, stat: str) -> dict[tuple[Any, Any], float]:
    return {
        (b["extra_info"].get("case"), b["extra_info"].get("dtype")): _stat(b, stat)
        for b in res.raw
        if b.get("extra_info", {}).get("impl") == "bound"
    }


def compare_runs(previous: Results, current: Results, stat: str = "min") -> list[Change]:
    """refbp's benchmarks present in both runs, with their ``stat`` (min or median) then
    and now; benchmarks are matched by full name (by name in JSON that has none)."""
    prev = {_bench_key(b): b for b in previous.raw}
    bound_prev, bound_now = _bounds(previous, stat), _bounds(current, stat)
    changes = []
    for bench in current.raw:
        info = bench.get("extra_info", {})
        if info.get("impl") != "refbp":
            continue
        old = prev.get(_bench_key(bench))
        if old is None:
            continue
        key = (info.get("case"), info.get("dtype"))
        drift = None
        if key in bound_prev and key in bound_now and bound_prev[key] > 0:
            drift = bound_now[key] / bound_prev[key] - 1.0
        changes.append(
            Change(
                name=str(bench.get("name")),
                previous=_stat(old, stat),
                now=_stat(bench, stat),
                bound_change=drift,
            )
        )
    return changes


def regressions(changes: Iterable[Change], threshold: float) -> list[Change]:
    """The changes over ``threshold`` (at it is not a regression)."""
    return [c for c in changes if c.change > threshold]


def previous_of(runs: Sequence[Results], current: Path | None, now: str) -> Results | None:
    """The newest of ``runs`` (oldest first) older than ``now``, the file ``current`` left out."""
    older = [
        r
        for r in runs
        if not (
            current is not None and r.path is not None and r.path.resolve() == current.resolve()
        )
        and (not now or r.datetime < now)
    ]
    return older[-1] if older else None


def previous_run(bench_dir: Path, current: Path | None, quick: bool) -> Path | None:
    """The most recent saved run in ``bench_dir`` of the same kind (quick or full), if any.

    "Most recent" by the run's own timestamp, and older than ``current`` when that is given.
    """
    now = ""
    if current is not None:
        try:
            now = load_results(current).datetime
        except NotABenchRun:
            pass
    found = previous_of(saved_runs(bench_dir, quick), current, now)
    return found.path if found is not None else None


def saved_runs(bench_dir: Path, quick: bool) -> list[Results]:
    """Every readable saved run of the given kind in ``bench_dir``, oldest first."""
    runs = []
    for path in sorted(bench_dir.glob("*.json")):
        try:
            res = load_results(path)
        except NotABenchRun:
            continue
        if res.quick == quick and res.datetime:
            runs.append(res)
    return sorted(runs, key=lambda r: r.datetime)
