"""The report's tables: the size ladder, peak memory, the step ladder, the kernels, the
run-to-run spread.  Each function returns Markdown lines."""

from __future__ import annotations

from collections.abc import Sequence

from refbp_tools.bench.contention import BUSY_LIMIT
from refbp_tools.bench.formatting import fmt_bytes, fmt_ratio, fmt_share, fmt_time, table
from refbp_tools.bench.model import (
    FLOORS,
    IMPL_LABELS,
    IMPLS,
    LadderRow,
    OpRow,
    Results,
    Timings,
)
from refbp_tools.bench.targets import AIM_OPS, TARGET_MEMORY, TARGET_OPS, TARGET_VS_JAX

Worst = tuple[float, str, bool]  # (ratio, where, contended)


def worst_line(candidates: Sequence[Worst], what: str) -> list[str]:
    """ "Worst row: …" under a table, or nothing when no ratio was measured."""
    if not candidates:
        return []
    value, where, contended = max(candidates, key=lambda c: (c[0], c[1]))
    mark = " (measured under contention, †)" if contended else ""
    return ["", f"Worst row: {where}, refbp {value:.2f} × {what}{mark}."]


def _ratio_cell(row: Timings, impl: str, target: float | None = None) -> str:
    """refbp / ``impl``, bold over ``target``, † when either side was contended."""
    return fmt_ratio(row.ratio(impl), target, row.contended(("refbp", impl)))


def step_lines(res: Results) -> list[str]:
    """The size ladder (tanh, identity, mse at every size) and its min-time ratios."""
    header = ["network", "dtype", *(IMPL_LABELS[i] for i in IMPLS)]
    header += ["refbp / JAX", "refbp / PyTorch", "refbp / bound", "refbp faults", "others' CPU"]
    rows = [
        [
            row.case,
            row.dtype,
            *(fmt_time(row.median.get(i)) for i in IMPLS),
            _ratio_cell(row, "jax", TARGET_VS_JAX),
            _ratio_cell(row, "torch"),
            _ratio_cell(row, "bound"),
            f"{row.faults['refbp']:.0f}" if "refbp" in row.faults else "–",
            fmt_share(row.busiest(), row.contended()),
        ]
        for row in res.steps
    ]
    lines = [
        "## One training step at every size",
        "",
        "The size ladder: tanh on every hidden layer, an identity output and mse, from the "
        "tiny network to the largest, with the three-GEMM bound and peak memory beside it.",
        "",
        *table(header, rows),
    ]
    lines += worst_line(
        [
            (r, f"{row.case} {row.dtype}", row.contended(("refbp", "jax")))
            for row in res.steps
            if (r := row.ratio("jax")) is not None
        ],
        "JAX",
    )
    lines += [
        "",
        'Bold: over the target.  "others\' CPU" is the largest share of the CPUs the bench '
        "ran on that other processes used while one of the row's implementations was timed; "
        f"† marks more than {BUSY_LIMIT:.0%} (contended: the timing measures the neighbours "
        "more than the code), on the ratios whose two sides include a contended one.  "
        '"refbp faults" are minor page faults per call: memory that glibc handed back to the '
        "kernel at the end of one call and takes again in the next (a few µs each on a VM; "
        "how many depends on the allocation history, so it varies between runs).",
    ]
    return lines + _min_ratio_lines(res)


def _min_ratio_lines(res: Results) -> list[str]:
    rows = (
        [row.case, row.dtype, *(fmt_ratio(row.ratio(i, "min")) for i in ("jax", "torch", "bound"))]
        for row in res.steps
    )
    return [
        "",
        "The same ratios on minimum times (each implementation's least disturbed round): what "
        "the code does when nothing else on the machine interferes.",
        "",
        *table(["network", "dtype", "refbp / JAX", "refbp / PyTorch", "refbp / bound"], rows),
    ]


def memory_lines(res: Results) -> list[str]:
    rows = [
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
        for row in res.steps
        if (m := row.memory) is not None
    ]
    header = ["network", "dtype", "W, b", "z, a", "δ, ∂C/∂X", "must hold", "peak", "peak / must"]
    return [
        "## Peak memory of one backprop",
        "",
        *table(header, rows),
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


def _ladder_table(rows: Sequence[LadderRow], dtypes: Sequence[str]) -> list[str]:
    header = ["hidden → output · loss"]
    for d in dtypes:
        header += [f"refbp {d}", f"JAX {d}", f"refbp / JAX {d}", f"refbp / PyTorch {d}"]
    by_config: dict[str, dict[str, LadderRow]] = {}
    for row in rows:
        by_config.setdefault(row.config, {})[row.dtype] = row
    body = []
    for config, per_dtype in by_config.items():
        cells = [config]
        for d in dtypes:
            r = per_dtype.get(d)
            if r is None:
                cells += ["–"] * 4
                continue
            cells += [fmt_time(r.median.get("refbp")), fmt_time(r.median.get("jax"))]
            cells += [_ratio_cell(r, "jax", TARGET_VS_JAX), _ratio_cell(r, "torch")]
        body.append(cells)
    return table(header, body)


def ladder_lines(res: Results) -> list[str]:
    """One table per network size: every hidden activation and every loss, both dtypes."""
    if not res.ladder:
        return []
    dtypes = sorted({r.dtype for r in res.ladder})
    lines = [
        "## The step ladder: every activation, every loss",
        "",
        "One training step (forward + backward, the loss, every ∂C/∂W, ∂C/∂b and ∂C/∂X) with "
        "each elementwise activation of the registry on every hidden layer (identity output, "
        "mse), then each loss of the registry at the output (tanh hidden, an output activation "
        "valid for the loss).  JAX differentiates with respect to the parameters and X, like "
        "refbp.  Bold: over the target of "
        f"{TARGET_VS_JAX:.2f}; †: refbp's or the peer's timing was contended.",
    ]
    for case in dict.fromkeys(r.case for r in res.ladder):
        rows = [r for r in res.ladder if r.case == case]
        lines += ["", f"### {case}", "", *_ladder_table(rows, dtypes)]
        lines += worst_line(
            [
                (v, f"{r.config} {r.dtype}", r.contended(("refbp", "jax")))
                for r in rows
                if (v := r.ratio("jax")) is not None
            ],
            "JAX",
        )
    return lines


_PHASES = {"activation": ("forward", "backward"), "loss": ("value", "grad")}


def _op_table(kind: str, rows: Sequence[OpRow], dtypes: Sequence[str]) -> list[str]:
    phases = _PHASES[kind]
    header = [kind]
    for d in dtypes:
        for p in phases:
            header += [f"{p} {d}", "× JAX"]
    body = []
    for op in rows:
        cells = [op.name]
        for d in dtypes:
            for p in phases:
                cell = op.cell(p, d)
                cells.append(fmt_time(cell.median.get("refbp")))
                cells.append(
                    fmt_ratio(cell.ratio("jax"), TARGET_OPS, cell.contended(("refbp", "jax")))
                )
        body.append(cells)
    return table(header, body)


def op_lines(res: Results) -> list[str]:
    """The per-activation and per-loss microbenchmarks, each with its ratio to JAX jit."""
    lines: list[str] = []
    shape = res.op_shape
    where = f" on a {shape[0]}×{shape[1]} array" if shape else ""
    for kind, title in (("activation", "Activations"), ("loss", "Losses")):
        rows = [r for r in res.ops if r.kind == kind]
        if not rows:
            continue
        dtypes = sorted({d for r in rows for (_, d) in r.cells})
        lines += ["", f"## {title}{where}", "", *_op_table(kind, rows, dtypes)]
        lines += worst_line(
            [
                (v, f"{op.name} {p} {d}", c.contended(("refbp", "jax")))
                for op in rows
                for (p, d), c in sorted(op.cells.items())
                if (v := c.ratio("jax")) is not None
            ],
            "JAX",
        )
    lines += _floor_lines(res)
    if lines:
        lines += [
            "",
            "× JAX: refbp's median as a multiple of `jax.jit`'s on the same arrays (the oracle's "
            "JAX function of the same name; backward is `jax.vjp` from z, which recomputes the "
            "forward that refbp is handed as a; grad is `jax.grad` of the loss).  Bold: over "
            f"the target of {TARGET_OPS:.0f}× (the aim is {AIM_OPS}×); †: contended.",
        ]
    return lines


def _floor_lines(res: Results) -> list[str]:
    """What NumPy itself takes on the same array: each transcendental pass and a copy."""
    if not res.floor:
        return []
    dtypes = sorted({d for _, d in res.floor})
    labels = {name: "one copy (`np.copyto`)" if name == "copy" else f"`np.{name}`"
              for name in FLOORS}  # fmt: skip
    parts = [
        f"{label} {', '.join(f'{fmt_time(res.floor.get((name, d)))} ({d})' for d in dtypes)}"
        for name, label in labels.items()
        if any((name, d) in res.floor for d in dtypes)
    ]
    return [
        "",
        "The floor on the same array (each function's fastest round, what a kernel that calls "
        f"it cannot beat): {'; '.join(parts)}.",
    ]


def _memory_mix(history: Sequence[Results]) -> str:
    """How many of the runs kept their freed memory and how many ran on glibc's defaults,
    when they differ (a run from before ``--malloc`` ran on the defaults)."""
    kept = sum(1 for run in history if run.guard.get("malloc") == "keep")
    if kept in (0, len(history)):
        return ""
    return (
        f"  {kept} of them kept the memory they freed (--malloc keep), {len(history) - kept} "
        "ran on glibc's defaults, which fault freed memory in again on the next call."
    )


def spread_lines(res: Results, history: Sequence[Results]) -> list[str]:
    """The median ratios of this run next to their range over every saved run of its kind."""
    if len(history) < 2:
        return []
    lines = [
        "",
        f"## Run-to-run spread ({len(history)} saved runs of this kind)",
        "",
        "The median ratios of this run, then their lowest and highest over all saved runs in "
        "the same directory: on a shared VM the spread says how far one run can be trusted."
        + _memory_mix(history),
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
    lines += table(["network", "dtype", "refbp / JAX", "refbp / PyTorch", "refbp / bound"], rows)
    return lines
