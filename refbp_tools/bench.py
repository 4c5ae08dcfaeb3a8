"""``refbp bench``: time refbp against JAX, PyTorch and the three-GEMM bound; write reports.

The timing is done by the pytest-benchmark modules in ``tests/bench/`` (see
``tests/bench/cases.py`` for exactly what each implementation computes); this command runs
them in a fresh Python process with a progress display, then turns pytest-benchmark's JSON
into the reports:

* ``<out>/bench/<date>-<host>.json``  pytest-benchmark's JSON with the machine description
  (a second run on the same day gets ``-2``, ``-3``, ...; quick runs add ``-quick``);
* ``<out>/bench.md``  medians and ratios per size and dtype, targets met or not, the
  per-activation and per-loss microbenchmarks, the peak-memory account;
* ``<out>/bench-time.png`` (time against size per implementation) and
  ``<out>/bench-ratio.png`` (refbp as a multiple of the GEMM bound and of its peers).

``--quick`` is a smoke run (three smallest networks, fewer rounds) written to
``bench-quick.*`` so that it never replaces the report of a real run.  ``--compare`` compares
refbp's medians with the previous saved run of the same kind and exits 1 if any got slower
by more than ``--threshold`` (10%).  ``--from-json`` skips the run and reports on a saved JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from refbp_tools.progress import Progress

IMPLS = ("refbp", "jax", "torch", "bound")
IMPL_LABELS = {"refbp": "refbp", "jax": "JAX jit", "torch": "PyTorch", "bound": "GEMM bound"}
KNOWN_PEERS = ("jax", "torch")

# The targets (2 cores, medians of one run).
TARGET_VS_JAX = 1.0
TARGET_VS_BOUND = 1.15
TARGET_MEMORY = 1.3
BOUND_TARGET_CASES = 2  # the bound target applies to the two largest networks
BUSY_MACHINE = 0.10  # others' share of the CPUs above which a row's timings are marked

COMPARE_STATS = ("min", "median")

# pytest-benchmark settings: (min rounds, max seconds per benchmark)
_FULL_ROUNDS = ("10", "1.0")
_QUICK_ROUNDS = ("3", "0.05")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: the three smallest networks, fewer rounds (writes bench-quick.*)",
    )
    p.add_argument(
        "--peers",
        default=",".join(KNOWN_PEERS),
        help="comma-separated peers to time against refbp: jax, torch (a peer that is not "
        "installed is skipped); '' for none (default: %(default)s)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="compare with the previous saved run in <out>/bench/; exit 1 on a regression",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.10,
        help="relative slowdown that --compare flags (default: %(default)s)",
    )
    p.add_argument(
        "--compare-stat",
        choices=COMPARE_STATS,
        default="min",
        help="statistic --compare compares: min, the round least disturbed by the rest of the "
        "machine (the robust choice on a shared machine), or median (default: %(default)s)",
    )
    p.add_argument("--out", type=Path, default=Path("reports"), help="where to write reports")
    p.add_argument("--no-plots", action="store_true", help="write the markdown and JSON only")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for other processes to leave the CPUs idle, before the run and "
        "again before each benchmark (Linux; the wait is recorded in the JSON)",
    )
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        metavar="JSON",
        help="do not run: build the reports from this saved pytest-benchmark JSON",
    )


# --- reading pytest-benchmark's JSON ------------------------------------------------------


@dataclass
class StepRow:
    """One network size and dtype: the median of each implementation, refbp's memory."""

    case: str
    sizes: list[int]
    batch: int
    dtype: str
    gemm_flops: int
    median: dict[str, float] = field(default_factory=dict)
    minimum: dict[str, float] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)
    memory: dict[str, Any] | None = None
    others_cpu: list[float] = field(default_factory=list)
    faults: dict[str, float] = field(default_factory=dict)  # minor page faults per call

    def ratio(self, impl: str, stat: str = "median") -> float | None:
        """refbp's median (or min) as a multiple of ``impl``'s, if both were measured."""
        times = self.median if stat == "median" else self.minimum
        if "refbp" in times and impl in times and times[impl] > 0:
            return times["refbp"] / times[impl]
        return None


@dataclass
class OpRow:
    """One registry entry (activation or loss): the median per (phase, dtype)."""

    kind: str
    name: str
    median: dict[tuple[str, str], float] = field(default_factory=dict)


@dataclass
class Results:
    path: Path | None
    machine: dict[str, Any]
    datetime: str
    steps: list[StepRow]
    ops: list[OpRow]
    raw: list[dict[str, Any]]

    @property
    def quick(self) -> bool:
        return bool(self.machine.get("refbp_bench", {}).get("quick", False))

    @property
    def op_shape(self) -> list[int] | None:
        shape = self.machine.get("refbp_bench", {}).get("op_shape")
        return list(shape) if shape else None


def load_results(path: Path) -> Results:
    """Parse a pytest-benchmark JSON written by the tests/bench modules."""
    data = json.loads(Path(path).read_text())
    return parse_results(data, Path(path))


def parse_results(data: dict[str, Any], path: Path | None = None) -> Results:
    steps: dict[tuple[str, str], StepRow] = {}
    ops: dict[tuple[str, str], OpRow] = {}
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        median = float(bench["stats"]["median"])
        kind = info.get("kind")
        if kind == "step":
            key = (info["case"], info["dtype"])
            row = steps.get(key)
            if row is None:
                row = steps[key] = StepRow(
                    case=info["case"],
                    sizes=list(info["sizes"]),
                    batch=int(info["batch"]),
                    dtype=info["dtype"],
                    gemm_flops=int(info["gemm_flops"]),
                )
            impl = info["impl"]
            row.median[impl] = median
            row.minimum[impl] = float(bench["stats"].get("min", median))
            row.rounds[impl] = int(bench["stats"].get("rounds", 0))
            if info.get("memory"):
                row.memory = info["memory"]
            if info.get("others_cpu") is not None:
                row.others_cpu.append(float(info["others_cpu"]))
            if info.get("page_faults_per_call") is not None:
                row.faults[impl] = float(info["page_faults_per_call"])
        elif kind in ("activation", "loss"):
            okey = (kind, info["name"])
            op = ops.setdefault(okey, OpRow(kind=kind, name=info["name"]))
            op.median[(info["phase"], info["dtype"])] = median
    step_rows = sorted(steps.values(), key=lambda r: (r.gemm_flops, r.dtype))
    op_rows = sorted(ops.values(), key=lambda r: (r.kind, r.name))
    return Results(
        path=path,
        machine=data.get("machine_info", {}),
        datetime=str(data.get("datetime", "")),
        steps=step_rows,
        ops=op_rows,
        raw=list(data.get("benchmarks", [])),
    )


# --- formatting --------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r: float | None, target: float | None = None) -> str:
    if r is None:
        return "–"
    text = f"{r:.2f}"
    return f"**{text}**" if target is not None and r > target else text


def fmt_flops(n: float) -> str:
    for unit, scale in (("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} FLOP"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit, scale in (("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


# --- targets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetCheck:
    name: str
    met: bool | None  # None: nothing was measured that the target applies to
    worst: str


def check_targets(res: Results) -> list[TargetCheck]:
    def worst_of(pairs: list[tuple[float, str]], limit: float, name: str) -> TargetCheck:
        if not pairs:
            return TargetCheck(name, None, "not measured")
        value, where = max(pairs)
        return TargetCheck(name, value <= limit, f"{value:.2f} ({where})")

    vs_jax = [
        (r, f"{row.case} {row.dtype}") for row in res.steps if (r := row.ratio("jax")) is not None
    ]
    flops = sorted({row.gemm_flops for row in res.steps})
    largest = set(flops[-BOUND_TARGET_CASES:]) if not res.quick else set()
    vs_bound = [
        (r, f"{row.case} {row.dtype}")
        for row in res.steps
        if row.gemm_flops in largest and (r := row.ratio("bound")) is not None
    ]
    memory = [
        (float(row.memory["ratio"]), f"{row.case} {row.dtype}")
        for row in res.steps
        if row.memory is not None
    ]
    return [
        worst_of(
            vs_jax, TARGET_VS_JAX, f"refbp / JAX jit ≤ {TARGET_VS_JAX:.2f} at every size and dtype"
        ),
        worst_of(
            vs_bound,
            TARGET_VS_BOUND,
            f"refbp ≤ {TARGET_VS_BOUND:.2f} × the three-GEMM bound at the two largest sizes",
        ),
        worst_of(
            memory,
            TARGET_MEMORY,
            f"peak memory of one backprop ≤ {TARGET_MEMORY} × what it must hold",
        ),
    ]


# --- comparison with a previous run ----------------------------------------------------------


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
    and now."""
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
    return [c for c in changes if c.change > threshold]


def _run_meta(path: Path) -> tuple[str, bool] | None:
    """(the run's timestamp, whether it was a quick run) of a saved JSON, or None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    quick = bool(data.get("machine_info", {}).get("refbp_bench", {}).get("quick", False))
    return str(data.get("datetime", "")), quick


def previous_run(bench_dir: Path, current: Path | None, quick: bool) -> Path | None:
    """The most recent saved run in ``bench_dir`` of the same kind (quick or full), if any.

    "Most recent" by the run's own timestamp, and older than ``current`` when that is given.
    """
    now = ""
    if current is not None and (meta := _run_meta(current)) is not None:
        now = meta[0]
    found: list[tuple[str, Path]] = []
    for path in bench_dir.glob("*.json"):
        if current is not None and path.resolve() == current.resolve():
            continue
        meta = _run_meta(path)
        if meta is None or meta[1] != quick or not meta[0] or (now and meta[0] >= now):
            continue
        found.append((meta[0], path))
    return max(found)[1] if found else None


# --- the markdown report -------------------------------------------------------------------


def _spread_lines(res: Results, history: Sequence[Results]) -> list[str]:
    """The median ratios of this run next to their range over every saved run of its kind."""
    if len(history) < 2:
        return []
    lines = [
        "",
        f"## Run-to-run spread ({len(history)} saved runs of this kind)",
        "",
        "The median ratios of this run, then their lowest and highest over all saved runs in "
        "the same directory: on a shared VM the spread says how far one run can be trusted.",
        "",
    ]
    rows = []
    for row in res.steps:
        cells = [row.case, row.dtype]
        for impl in ("jax", "torch", "bound"):
            seen = [
                r
                for run in history
                for other in run.steps
                if other.case == row.case and other.dtype == row.dtype
                if (r := other.ratio(impl)) is not None
            ]
            now = row.ratio(impl)
            cells.append(
                f"{fmt_ratio(now)} ({min(seen):.2f}–{max(seen):.2f})" if now and seen else "–"
            )
        rows.append(cells)
    lines += _table(["network", "dtype", "refbp / JAX", "refbp / PyTorch", "refbp / bound"], rows)
    return lines


def saved_runs(bench_dir: Path, quick: bool) -> list[Results]:
    """Every readable saved run of the given kind in ``bench_dir``, oldest first."""
    runs = []
    for path in sorted(bench_dir.glob("*.json")):
        meta = _run_meta(path)
        if meta is not None and meta[1] == quick and meta[0]:
            try:
                runs.append(load_results(path))
            except (KeyError, TypeError, ValueError):
                continue
    return sorted(runs, key=lambda r: r.datetime)


def _describe_pool(lib: dict[str, Any]) -> str:
    """One threadpoolctl entry: "openblas 0.3.31 (SkylakeX kernels, 2 threads)"."""
    name = " ".join(str(v) for v in (lib.get("internal_api"), lib.get("version")) if v)
    detail = [f"{lib['architecture']} kernels"] if lib.get("architecture") else []
    if lib.get("prefix"):
        detail.insert(0, str(lib["prefix"]))
    detail.append(f"{lib.get('num_threads')} threads")
    return f"{name} ({', '.join(detail)})"


def _machine_lines(res: Results) -> list[str]:
    m = res.machine
    rb = m.get("refbp_bench", {})
    versions = rb.get("versions", {})
    cpu = m.get("cpu", {})
    blas = ", ".join(_describe_pool(lib) for lib in rb.get("blas", []))
    env = rb.get("env", {})
    coretype = env.get("OPENBLAS_CORETYPE") or "unset"
    libs = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    others = [c for row in res.steps for c in row.others_cpu]
    busy = (
        f"other processes used {min(others):.0%}–{max(others):.0%} of the CPUs while the "
        f"steps were timed (median {sorted(others)[len(others) // 2]:.0%})"
        if others
        else "other processes' CPU use was not recorded"
    )
    return [
        f"Run {res.datetime or '?'} on `{m.get('node', '?')}`: {cpu.get('brand_raw', '?')}, "
        f"{rb.get('cpu_count', cpu.get('count', '?'))} logical CPUs; {libs}.",
        f"BLAS: {blas or 'unknown'}; OPENBLAS_CORETYPE {coretype}; {busy}.",
    ]


def render_markdown(
    res: Results,
    changes: list[Change] | None = None,
    previous: Path | None = None,
    threshold: float = 0.10,
    plots: Sequence[str] = (),
    stat: str = "min",
    history: Sequence[Results] = (),
) -> str:
    """The markdown report of ``res``; ``changes`` from ``compare_runs``; ``history``: the
    saved runs of the same kind (``res`` among them) for the run-to-run spread."""
    title = "refbp benchmark" + (" (quick smoke run)" if res.quick else "")
    lines = [f"# {title}", ""]
    lines += _machine_lines(res)
    lines += [
        "",
        "One step = one training step's gradient: forward and backward through a network with "
        "tanh hidden layers, an identity output and mse, giving the loss, ∂C/∂W and ∂C/∂b of "
        "every layer and ∂C/∂X.  refbp is `net.backprop(X, Y)`; JAX is "
        "`jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))` (x64 enabled, arrays in the "
        "row's dtype) with `block_until_ready`; PyTorch is CPU autograd "
        "(`torch.autograd.grad`); the GEMM bound is the three GEMMs per layer (x W, xᵀ δ, "
        "δ Wᵀ) alone, with NumPy on preallocated arrays.  Times are medians (pytest-benchmark); "
        "ratios are refbp's median over the other's.",
        "",
        "## Targets",
        "",
    ]
    checks = check_targets(res)
    lines += _table(
        ["target", "result", "worst case"],
        ([c.name, {True: "met", False: "**not met**", None: "–"}[c.met], c.worst] for c in checks),
    )
    lines += ["", "## One training step", ""]
    header = ["network", "dtype", *(IMPL_LABELS[i] for i in IMPLS)]
    header += ["refbp / JAX", "refbp / PyTorch", "refbp / bound", "refbp faults", "others' CPU"]
    rows = []
    for row in res.steps:
        others = "–"
        if row.others_cpu:
            busiest = max(row.others_cpu)
            others = f"{busiest:.0%}" + (" †" if busiest > BUSY_MACHINE else "")
        rows.append(
            [
                row.case,
                row.dtype,
                *(fmt_time(row.median.get(i)) for i in IMPLS),
                fmt_ratio(row.ratio("jax"), TARGET_VS_JAX),
                fmt_ratio(row.ratio("torch")),
                fmt_ratio(row.ratio("bound")),
                f"{row.faults['refbp']:.0f}" if "refbp" in row.faults else "–",
                others,
            ]
        )
    lines += _table(header, rows)
    lines += [
        "",
        'Bold: over the target.  "others\' CPU" is the largest share of the machine that other '
        "processes used while one of the row's implementations was timed; † marks more than "
        f"{BUSY_MACHINE:.0%}, where the timings measure the contention more than the code (two "
        "BLAS threads on two shared cores wait for each other whenever one is preempted).  "
        '"refbp faults" are minor page faults per call: memory that glibc handed back to the '
        "kernel at the end of one call and takes again in the next (a few µs each on a VM; "
        "how many depends on the allocation history, so it varies between runs).",
    ]
    lines += [
        "",
        "The same ratios on minimum times (each implementation's least disturbed round): what "
        "the code does when nothing else on the machine interferes.",
        "",
    ]
    lines += _table(
        ["network", "dtype", "refbp / JAX", "refbp / PyTorch", "refbp / bound"],
        (
            [
                row.case,
                row.dtype,
                fmt_ratio(row.ratio("jax", "min")),
                fmt_ratio(row.ratio("torch", "min")),
                fmt_ratio(row.ratio("bound", "min")),
            ]
            for row in res.steps
        ),
    )
    lines += ["", "## Peak memory of one backprop", ""]
    mem_rows = []
    for row in res.steps:
        m = row.memory
        if m is None:
            continue
        mem_rows.append(
            [
                row.case,
                row.dtype,
                fmt_bytes(m["parameters"]),
                fmt_bytes(m["z"] + m["a"]),
                fmt_bytes(m["deltas"] + m["grad_input"]),
                fmt_bytes(m["must_hold"]),
                fmt_bytes(m["peak"]),
                fmt_ratio(float(m["ratio"]), TARGET_MEMORY),
            ]
        )
    lines += _table(
        ["network", "dtype", "W, b", "z, a", "δ, ∂C/∂X", "must hold", "peak", "peak / must"],
        mem_rows,
    )
    lines += [
        "",
        "Must hold = parameters + their gradients (the same bytes again) + z of every layer + "
        "a of every layer whose activation is not the identity (the identity returns z itself) "
        "+ δ of every layer + ∂C/∂X; all of it exists at once when `backprop` returns.  Peak = "
        "parameter bytes + tracemalloc's peak during one call on a warmed-up network (NumPy "
        "reports its buffers to tracemalloc), so it counts every array, every temporary and the "
        "Python objects around them; X and Y are the caller's and count on neither side.  On the "
        "tiny networks the Python objects (array headers, lists, tuples: about 100 bytes each) "
        "outweigh the data, so their ratio measures object overhead, not temporaries.",
    ]
    for kind, phases in (("activation", ("forward", "backward")), ("loss", ("value", "grad"))):
        op_rows = [r for r in res.ops if r.kind == kind]
        if not op_rows:
            continue
        dtypes = sorted({d for r in op_rows for (_, d) in r.median})
        shape = res.op_shape
        where = f" on a {shape[0]}×{shape[1]} array" if shape else ""
        title = "Activations" if kind == "activation" else "Losses"
        lines += ["", f"## {title}{where}", ""]
        lines += _table(
            [kind, *(f"{p} {d}" for d in dtypes for p in phases)],
            (
                [r.name, *(fmt_time(r.median.get((p, d))) for d in dtypes for p in phases)]
                for r in op_rows
            ),
        )
    lines += _spread_lines(res, history)
    if changes is not None:
        lines += ["", "## Compared with the previous run", ""]
        if previous is not None:
            lines.append(
                f"Previous run: `{previous.name}`.  Compared: each benchmark's {stat} "
                f'time; flagged: refbp more than {threshold:.0%} slower.  "bound" is the '
                "same case's GEMM bound then and now: when it moved too, the machine changed, "
                "not the code."
            )
            lines.append("")
        flagged = {c.name for c in regressions(changes, threshold)}
        if not changes:
            lines.append("No earlier run of the same kind to compare with.")
        else:
            lines += _table(
                ["benchmark", "previous", "now", "change", "bound"],
                (
                    [
                        f"**{c.name}**" if c.name in flagged else c.name,
                        fmt_time(c.previous),
                        fmt_time(c.now),
                        f"{c.change:+.0%}",
                        f"{c.bound_change:+.0%}" if c.bound_change is not None else "–",
                    ]
                    for c in changes
                ),
            )
            lines += ["", f"{len(flagged)} regression(s) over {threshold:.0%}."]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    lines.append("")
    return "\n".join(lines)


# --- plots ---------------------------------------------------------------------------------


def _case_labels(rows: Sequence[StepRow]) -> list[str]:
    labels = []
    for r in rows:
        widths, _, batch = r.case.partition("B=")
        labels.append(f"{widths}\nB={batch}\n{fmt_flops(r.gemm_flops)}")
    return labels


def write_plots(res: Results, out: Path, prefix: str) -> list[Path]:
    """``<prefix>-time.png`` and ``<prefix>-ratio.png`` under ``out``; [] without matplotlib.

    The networks are evenly spaced on the x axis, in order of their GEMM work (labelled):
    the two largest differ by only 4× in flops, which a log axis would crowd together.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FormatStrFormatter
    except ImportError:
        return []
    dtypes = sorted({r.dtype for r in res.steps})
    if not dtypes:
        return []
    paths = []
    colors = {"refbp": "C0", "jax": "C1", "torch": "C2", "bound": "0.3"}
    styles = {"refbp": "-o", "jax": "-s", "torch": "-^", "bound": "--"}

    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.5 * len(dtypes), 4.8), squeeze=False)
    for ax, dt in zip(axes[0], dtypes, strict=True):
        rows = [r for r in res.steps if r.dtype == dt]
        idx = list(range(len(rows)))
        for impl in IMPLS:
            pts = [(i, r.median[impl]) for i, r in zip(idx, rows, strict=True) if impl in r.median]
            if pts:
                ax.plot(
                    *zip(*pts, strict=True),
                    styles[impl],
                    color=colors[impl],
                    label=IMPL_LABELS[impl],
                )
        ax.set_yscale("log")
        ax.set_xticks(idx)
        ax.set_xticklabels(_case_labels(rows), fontsize=7)
        ax.set_ylabel("median time of one step (s)")
        ax.set_title(f"one training step (forward + backward), {dt}")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path = out / f"{prefix}-time.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)

    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.5 * len(dtypes), 4.8), squeeze=False)
    series = (
        ("bound", "refbp / GEMM bound", "C3", "-o", 7),
        ("jax", "refbp / JAX jit", "C1", "-s", -12),
        ("torch", "refbp / PyTorch", "C2", "-^", -12),
    )
    for ax, dt in zip(axes[0], dtypes, strict=True):
        rows = [r for r in res.steps if r.dtype == dt]
        idx = list(range(len(rows)))
        for impl, label, color, style, dy in series:
            pts = [
                (i, v) for i, r in zip(idx, rows, strict=True) if (v := r.ratio(impl)) is not None
            ]
            if not pts:
                continue
            ax.plot(*zip(*pts, strict=True), style, color=color, label=label)
            for i, v in pts:
                ax.annotate(
                    f"{v:.2f}",
                    (i, v),
                    textcoords="offset points",
                    xytext=(0, dy),
                    ha="center",
                    fontsize=7,
                    color=color,
                )
        ax.axhline(TARGET_VS_JAX, color="C1", lw=0.8, ls=":", label="target vs JAX: 1.0")
        ax.axhline(
            TARGET_VS_BOUND, color="C3", lw=0.8, ls=":", label="target vs bound (two largest): 1.15"
        )
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xticks(idx)
        ax.set_xticklabels(_case_labels(rows), fontsize=7)
        ax.set_ylabel("refbp median / other median (log scale)")
        ax.set_title(f"refbp as a multiple of the bound and of its peers, {dt}")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"{prefix}-ratio.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths


# --- running the benchmark modules ----------------------------------------------------------


def _project_root() -> Path | None:
    import refbp

    root = Path(refbp.__file__).resolve().parent.parent
    return root if (root / "tests" / "bench").is_dir() else None


def json_path(bench_dir: Path, quick: bool, when: datetime | None = None) -> Path:
    """``<date>-<host>[-quick].json``, with ``-2``, ``-3``, ... if that name is taken."""
    when = when or datetime.now()
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname().split(".")[0]) or "host"
    stem = f"{when:%Y-%m-%d}-{host}" + ("-quick" if quick else "")
    path = bench_dir / f"{stem}.json"
    n = 2
    while path.exists():
        path = bench_dir / f"{stem}-{n}.json"
        n += 1
    return path


_RESULT_LINE = re.compile(r"^(\S+::\S+)\s+(PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)")
_COLLECTED = re.compile(r"collected (\d+) items?(?:.* (\d+) selected)?")


def _strip_raw_timings(path: Path) -> None:
    """Drop pytest-benchmark's per-round timings: 45 MB a run, while the report and
    --compare need only the statistics kept beside them."""
    if not path.exists():
        return
    data = json.loads(path.read_text())
    for bench in data.get("benchmarks", []):
        bench.get("stats", {}).pop("data", None)
    path.write_text(json.dumps(data, indent=1))


def run_benchmarks(
    root: Path,
    json_out: Path,
    quick: bool,
    peers: Sequence[str],
    log_path: Path,
    wait_idle: float = 0.0,
) -> int:
    """Run tests/bench in a fresh interpreter, showing progress; return pytest's exit code.

    ``wait_idle`` > 0: before each benchmark, wait up to that many seconds for other
    processes to leave the CPUs idle (REFBP_BENCH_WAIT_IDLE, read by tests/bench/conftest.py).
    """
    rounds, max_time = _QUICK_ROUNDS if quick else _FULL_ROUNDS
    cmd = [
        sys.executable,
        "-u",  # unbuffered: the progress display follows pytest line by line
        "-m",
        "pytest",
        "tests/bench",
        "-m",
        "bench",
        "-v",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        f"--benchmark-json={json_out}",
        f"--benchmark-min-rounds={rounds}",
        f"--benchmark-max-time={max_time}",
        "--benchmark-warmup=off",  # each benchmark warms up its own function first
        "--benchmark-columns=min,median,max,rounds",
    ]
    env = dict(os.environ)
    env["REFBP_BENCH_QUICK"] = "1" if quick else "0"
    env["REFBP_BENCH_PEERS"] = ",".join(peers)
    env["REFBP_BENCH_WAIT_IDLE"] = str(wait_idle)
    print(f"refbp bench: {' '.join(cmd[1:])}  (log: {log_path})", flush=True)
    failed: list[str] = []
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as proc,
    ):
        assert proc.stdout is not None
        bar: Progress | None = None
        try:
            for line in proc.stdout:
                log.write(line)
                if bar is None and (m := _COLLECTED.search(line)) is not None:
                    total = int(m.group(2) or m.group(1))  # "N selected" when some deselected
                    bar = Progress("benchmarking", total=total).__enter__()
                    continue
                if (m := _RESULT_LINE.match(line)) is not None:
                    test, outcome = m.group(1), m.group(2)
                    if outcome in ("FAILED", "ERROR"):
                        failed.append(test)
                    if bar is not None:
                        bar.advance(text=f"{test.split('::')[-1]} {outcome.lower()}")
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        code = proc.wait()
    for test in failed:
        print(f"refbp bench: {test} failed (see {log_path})")
    _strip_raw_timings(json_out)
    return code


def _report_names(quick: bool) -> tuple[str, str]:
    """(markdown file name, plot prefix)."""
    return ("bench-quick.md", "bench-quick") if quick else ("bench.md", "bench")


def write_reports(
    res: Results,
    out: Path,
    compare: bool,
    threshold: float,
    plots: bool = True,
    stat: str = "min",
) -> tuple[Path, list[Path], list[Change]]:
    """Write the markdown and the plots for ``res``; with ``compare``, against the run before.

    The saved runs next to ``res``'s JSON give the run-to-run spread.  Returns the markdown
    path, the plot paths and the flagged regressions.
    """
    md_name, prefix = _report_names(res.quick)
    out.mkdir(parents=True, exist_ok=True)
    pngs = write_plots(res, out, prefix) if plots else []
    bench_dir = res.path.parent if res.path is not None else out / "bench"
    changes: list[Change] | None = None
    prev_path: Path | None = None
    if compare:
        prev_path = previous_run(bench_dir, res.path, res.quick)
        changes = compare_runs(load_results(prev_path), res, stat) if prev_path else []
    history = saved_runs(bench_dir, res.quick) if bench_dir.is_dir() else []
    md = render_markdown(res, changes, prev_path, threshold, [str(p) for p in pngs], stat, history)
    md_path = out / md_name
    md_path.write_text(md)
    return md_path, pngs, regressions(changes or [], threshold)


def _machine_busy_seconds() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat; or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields) - idle) / tick, sum(fields) / tick


def others_share(window: float = 2.0) -> float | None:
    """The share of all CPUs that other processes kept busy over the next ``window`` seconds."""
    first = _machine_busy_seconds()
    if first is None:
        return None
    time.sleep(window)
    second = _machine_busy_seconds()
    assert second is not None
    busy, total = second[0] - first[0], second[1] - first[1]
    return max(0.0, busy / total) if total > 0 else None


def wait_idle(max_seconds: float, limit: float = 0.05) -> bool:
    """Wait until others use less than ``limit`` of the CPUs for 3 s; False on timeout."""
    deadline = time.monotonic() + max_seconds
    while True:
        share = others_share(3.0)
        if share is None or share < limit:
            return True
        if time.monotonic() > deadline:
            return False
        print(f"refbp bench: waiting for an idle machine (others use {share:.0%})", flush=True)


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    bench_dir = out / "bench"
    peers = [p.strip() for p in str(args.peers).split(",") if p.strip()]
    unknown = sorted(set(peers) - set(KNOWN_PEERS))
    if unknown:
        print(f"refbp bench: unknown peer(s) {unknown}; valid are {list(KNOWN_PEERS)}")
        return 2
    if not 0 < args.threshold < 10:
        print(f"refbp bench: --threshold must be in (0, 10), got {args.threshold}")
        return 2
    code = 0
    if args.from_json is not None:
        json_file: Path = args.from_json
        if not json_file.exists():
            print(f"refbp bench: no such file {json_file}")
            return 2
    else:
        root = _project_root()
        if root is None:
            print(
                "refbp bench: the benchmark modules (tests/bench) were not found next to the "
                "refbp package; run it from a source checkout (pip install -e '.[bench]')"
            )
            return 2
        if args.wait_idle > 0 and not wait_idle(args.wait_idle):
            print(
                f"refbp bench: the machine stayed busy for {args.wait_idle:.0f} s; running anyway"
            )
        bench_dir.mkdir(parents=True, exist_ok=True)
        json_file = json_path(bench_dir, args.quick).resolve()
        start = time.perf_counter()
        code = run_benchmarks(
            root, json_file, args.quick, peers, json_file.with_suffix(".log"), args.wait_idle
        )
        print(f"refbp bench: ran in {time.perf_counter() - start:.0f} s")
        if not json_file.exists():
            print("refbp bench: pytest wrote no benchmark JSON; see the log")
            return code or 1
    res = load_results(json_file)
    md_path, plots, flagged = write_reports(
        res, out, args.compare, args.threshold, not args.no_plots, args.compare_stat
    )
    print(f"refbp bench: wrote {json_file}, {md_path}" + "".join(f", {p}" for p in plots))
    for check in check_targets(res):
        state = {True: "met", False: "NOT met", None: "n/a"}[check.met]
        print(f"  {check.name}: {state} (worst {check.worst})")
    busy = [r for r in res.steps if r.others_cpu and max(r.others_cpu) > BUSY_MACHINE]
    if busy:
        print(
            f"  note: {len(busy)} of {len(res.steps)} step rows were timed while other processes "
            f"used more than {BUSY_MACHINE:.0%} of the CPUs (marked † in the report); "
            "rerun on an idle machine (--wait-idle) for numbers about the code"
        )
    if args.compare:
        for c in flagged:
            print(
                f"  regression: {c.name} {fmt_time(c.previous)} -> {fmt_time(c.now)} "
                f"({c.change:+.0%})"
            )
        if flagged:
            return 1
    return code
