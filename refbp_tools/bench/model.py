"""pytest-benchmark's JSON, as the rows the report is made of.

The benchmark modules in ``tests/bench`` describe each benchmark in its ``extra_info``:
``kind`` (step: the size ladder; ladder: the step ladder over activations and losses;
activation or loss: a microbenchmark; floor: np.exp and a copy of the microbenchmarks'
array), ``impl`` (refbp, jax, torch, bound) and what was
timed.  Rows gather the implementations of one thing so that ratios can be taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refbp_tools.bench.contention import BUSY_LIMIT, is_contended
from refbp_tools.bench.passes import merge_passes, pass_of

IMPLS = ("refbp", "jax", "torch", "bound")
IMPL_LABELS = {"refbp": "refbp", "jax": "JAX jit", "torch": "PyTorch", "bound": "GEMM bound"}
PEER_LABELS = {"jax": "JAX", "torch": "PyTorch", "bound": "bound"}
#: what tests/bench/test_bench_floor.py times under the kernels, in the report's order:
#: each transcendental function a kernel calls, and one copy
FLOORS = ("exp", "expm1", "log1p", "tanh", "copy")


@dataclass
class Timings:
    """Per implementation: median and minimum seconds, rounds, others' CPU share, cores
    kept busy."""

    median: dict[str, float] = field(default_factory=dict)
    minimum: dict[str, float] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)
    others: dict[str, float] = field(default_factory=dict)
    cores: dict[str, float] = field(default_factory=dict)  # own CPU time / wall time

    def add(self, impl: str, bench: dict[str, Any]) -> None:
        stats = bench["stats"]
        median = float(stats["median"])
        self.median[impl] = median
        self.minimum[impl] = float(stats.get("min", median))
        self.rounds[impl] = int(stats.get("rounds", 0))
        share = bench.get("extra_info", {}).get("others_cpu")
        if share is not None:
            self.others[impl] = float(share)
        cores = bench.get("extra_info", {}).get("own_cores")
        if cores is not None:
            self.cores[impl] = float(cores)

    def ratio(self, impl: str, stat: str = "median") -> float | None:
        """refbp's median (or min) as a multiple of ``impl``'s, if both were measured."""
        times = self.median if stat == "median" else self.minimum
        if "refbp" in times and impl in times and times[impl] > 0:
            return times["refbp"] / times[impl]
        return None

    def busiest(self, impls: tuple[str, ...] | None = None) -> float | None:
        """The largest others' share while any of ``impls`` (default: all) was timed."""
        shares = [v for k, v in self.others.items() if impls is None or k in impls]
        return max(shares) if shares else None

    def contended(self, impls: tuple[str, ...] | None = None, limit: float = BUSY_LIMIT) -> bool:
        return is_contended(self.busiest(impls), limit)


@dataclass
class StepRow(Timings):
    """The size ladder: one network size and dtype (tanh hidden, identity output, mse)."""

    case: str = ""
    sizes: list[int] = field(default_factory=list)
    batch: int = 0
    dtype: str = ""
    gemm_flops: int = 0
    memory: dict[str, Any] | None = None
    faults: dict[str, float] = field(default_factory=dict)  # minor page faults per call


@dataclass
class LadderRow(Timings):
    """The step ladder: one size, dtype and (hidden activation, output activation, loss)."""

    case: str = ""
    sizes: list[int] = field(default_factory=list)
    batch: int = 0
    dtype: str = ""
    hidden: str = ""
    output: str = ""
    loss: str = ""
    gemm_flops: int = 0

    @property
    def config(self) -> str:
        """``gelu → identity · mse``: the hidden activation, the output one, the loss."""
        return f"{self.hidden} → {self.output} · {self.loss}"


@dataclass
class OpRow:
    """A microbenchmark of one registry entry: timings per (phase, dtype)."""

    kind: str
    name: str
    cells: dict[tuple[str, str], Timings] = field(default_factory=dict)

    def cell(self, phase: str, dtype: str) -> Timings:
        return self.cells.get((phase, dtype), Timings())


@dataclass
class Results:
    path: Path | None
    machine: dict[str, Any]
    datetime: str
    steps: list[StepRow]
    ladder: list[LadderRow]
    ops: list[OpRow]
    raw: list[dict[str, Any]]
    floor: dict[tuple[str, str], float] = field(default_factory=dict)  # (np.exp | copy, dtype)

    @property
    def meta(self) -> dict[str, Any]:
        """What tests/bench and ``refbp bench`` wrote about the run (machine_info)."""
        return dict(self.machine.get("refbp_bench", {}))

    @property
    def quick(self) -> bool:
        return bool(self.meta.get("quick", False))

    @property
    def op_shape(self) -> list[int] | None:
        shape = self.meta.get("op_shape")
        return list(shape) if shape else None

    def rows(self) -> list[Timings]:
        """Every timed row: the size ladder, the step ladder and each kernel's cells."""
        return [*self.steps, *self.ladder, *(c for op in self.ops for c in op.cells.values())]

    @property
    def guard(self) -> dict[str, Any]:
        """How ``refbp bench`` guarded the run against contention; {} if not recorded."""
        return dict(self.meta.get("guard", {}))


class NotABenchRun(ValueError):
    """A file that is not a run of ``refbp bench``: the reason is the message."""


def load_results(path: Path) -> Results:
    """Parse a pytest-benchmark JSON written by the tests/bench modules; anything else, an
    empty run included, raises NotABenchRun saying what it is instead."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise NotABenchRun(f"cannot be read: {exc}") from None
    except ValueError as exc:
        raise NotABenchRun(f"not JSON ({exc})") from None
    benchmarks = data.get("benchmarks", []) if isinstance(data, dict) else None
    if not isinstance(benchmarks, list) or not all(
        isinstance(b, dict) and isinstance(b.get("stats"), dict) for b in benchmarks
    ):
        raise NotABenchRun(
            "not a pytest-benchmark JSON (an object whose benchmarks are a list, each with "
            "its stats)"
        )
    if not benchmarks:
        raise NotABenchRun("holds no benchmarks")
    merge_passes(data)  # a JSON straight from pytest, timed in passes; saved runs are merged
    unmerged = [
        str(b.get("name")) for b in data["benchmarks"] if pass_of(str(b.get("fullname", "")))[1]
    ]
    if unmerged:
        raise NotABenchRun(
            f"holds single passes ({unmerged[0]}, ...) without their rounds to pool: "
            "a run of several passes needs pytest-benchmark's raw timings (its JSON has them)"
        )
    try:
        return parse_results(data, Path(path))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise NotABenchRun(
            f"not a pytest-benchmark JSON of refbp bench ({type(exc).__name__}: {exc})"
        ) from None


def _step_row(rows: dict[Any, Any], info: dict[str, Any]) -> StepRow:
    key = (info["case"], info["dtype"])
    if key not in rows:
        rows[key] = StepRow(
            case=info["case"],
            sizes=list(info["sizes"]),
            batch=int(info["batch"]),
            dtype=info["dtype"],
            gemm_flops=int(info["gemm_flops"]),
        )
    row: StepRow = rows[key]
    return row


def _ladder_row(rows: dict[Any, Any], info: dict[str, Any]) -> LadderRow:
    key = (info["case"], info["dtype"], info["hidden"], info["output"], info["loss"])
    if key not in rows:
        rows[key] = LadderRow(
            case=info["case"],
            sizes=list(info["sizes"]),
            batch=int(info["batch"]),
            dtype=info["dtype"],
            hidden=info["hidden"],
            output=info["output"],
            loss=info["loss"],
            gemm_flops=int(info["gemm_flops"]),
        )
    row: LadderRow = rows[key]
    return row


def parse_results(data: dict[str, Any], path: Path | None = None) -> Results:
    """Rows from a pytest-benchmark JSON; benchmarks of an unknown kind are kept in ``raw``."""
    steps: dict[Any, StepRow] = {}
    ladder: dict[Any, LadderRow] = {}
    ops: dict[tuple[str, str], OpRow] = {}
    floor: dict[tuple[str, str], float] = {}
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        kind, impl = info.get("kind"), info.get("impl", "refbp")
        if kind == "step":
            row = _step_row(steps, info)
            row.add(impl, bench)
            if info.get("memory"):
                row.memory = info["memory"]
            if info.get("page_faults_per_call") is not None:
                row.faults[impl] = float(info["page_faults_per_call"])
        elif kind == "ladder":
            _ladder_row(ladder, info).add(impl, bench)
        elif kind in ("activation", "loss"):
            op = ops.setdefault((kind, info["name"]), OpRow(kind=kind, name=info["name"]))
            op.cells.setdefault((info["phase"], info["dtype"]), Timings()).add(impl, bench)
        elif kind == "floor":
            # a floor is what a kernel calling the function cannot beat: its fastest round
            stats = bench["stats"]
            floor[(info["name"], info["dtype"])] = float(stats.get("min", stats["median"]))
    return Results(
        path=path,
        machine=data.get("machine_info", {}),
        datetime=str(data.get("datetime", "")),
        steps=sorted(steps.values(), key=lambda r: (r.gemm_flops, r.dtype)),
        ladder=sorted(ladder.values(), key=lambda r: (r.gemm_flops, r.dtype)),
        ops=sorted(ops.values(), key=lambda r: (r.kind, r.name)),
        raw=list(data.get("benchmarks", [])),
        floor=floor,
    )
