"""The plots: time against size, refbp's ratios against size, the step ladder's ratios.

Ratio axes are logarithmic with explicit tick labels chosen so that no two crowd each other
(matplotlib's own minor labels on a log axis print 0.9 over 1 and 1e+02 beside 90); value
labels sit to the right of their markers and are pushed apart when two would touch;
target lines differ in colour, style and legend; contended points are ringed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refbp_tools.bench.contention import BUSY_LIMIT
from refbp_tools.bench.formatting import fmt_flops, fmt_time
from refbp_tools.bench.model import IMPL_LABELS, IMPLS, LadderRow, Results, StepRow
from refbp_tools.bench.targets import TARGET_VS_BOUND, TARGET_VS_JAX

# Candidate ticks, most wanted first; a candidate is dropped when it would sit closer than
# MIN_TICK_GAP of the axis (in decades) to one already taken.
_TICK_PRIORITY = (1, 10, 100, 0.1, 1000, 0.01, 2, 5, 0.5, 0.2, 20, 50, 3, 1.5, 0.3, 0.7)
MIN_TICK_GAP = 0.06  # of the axis height
LABEL_GAP = 0.045  # of the axis height, between two value labels at one x
CONTENDED_LABEL = f"contended (others > {BUSY_LIMIT:.0%} of the CPUs)"
_RATIO_SERIES = (  # (impl, label, colour, marker)
    ("bound", "refbp / GEMM bound", "C3", "o"),
    ("jax", "refbp / JAX jit", "C1", "s"),
    ("torch", "refbp / PyTorch", "C2", "^"),
)
_TARGETS = (  # (value, label, colour, line style)
    (TARGET_VS_JAX, f"target vs JAX: {TARGET_VS_JAX:g}×", "C1", "--"),
    (TARGET_VS_BOUND, f"target vs bound (two largest): {TARGET_VS_BOUND:g}×", "C3", "-."),
)


def log_limits(values: Sequence[float], pad: float = 1.35) -> tuple[float, float]:
    """y limits around positive ``values`` on a log axis, at least a factor 4 apart."""
    lo, hi = min(values) / pad, max(values) * pad
    if hi / lo < 4:
        mid = math.sqrt(lo * hi)
        lo, hi = mid / 2, mid * 2
    return lo, hi


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks in [lo, hi] from the candidate list, no two closer than MIN_TICK_GAP of the
    axis; "nice" numbers first, so 1, the decades, then 2, 5, … as room allows."""
    span = math.log10(hi) - math.log10(lo)
    chosen: list[float] = []
    for t in _TICK_PRIORITY:
        if not lo <= t <= hi:
            continue
        if all(abs(math.log10(t) - math.log10(c)) >= MIN_TICK_GAP * span for c in chosen):
            chosen.append(t)
    return sorted(chosen)


def spread_labels(values: Sequence[float], gap: float) -> list[float]:
    """Log10 heights for value labels at one x: each at its value, pushed up just enough to
    be ``gap`` decades above the one below it (in the order of the values)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    heights = [0.0] * len(values)
    last = -math.inf
    for i in order:
        heights[i] = max(math.log10(values[i]), last + gap)
        last = heights[i]
    return heights


def time_ticks(lo: float, hi: float) -> list[float]:
    """Decades in [lo, hi]; with fewer than two, the 2s and 5s of each decade too."""
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    ticks = [10.0**d for d in decades if lo <= 10.0**d <= hi]
    if len(ticks) < 2:
        ticks = sorted(m * 10.0**d for d in decades for m in (1, 2, 5) if lo <= m * 10.0**d <= hi)
    return ticks


def _set_log_y(
    ax: Any, values: Sequence[float], ticks_of: Any = log_ticks, label: Any = "{:g}".format
) -> tuple[float, float]:
    """A log y axis around ``values`` with ticks ``ticks_of(lo, hi)`` labelled ``label``
    and no minor ticks (their labels are what crowded the old plots)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    lo, hi = log_limits(values)
    ticks = ticks_of(lo, hi)
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FixedFormatter([label(t) for t in ticks]))
    ax.yaxis.set_minor_locator(NullLocator())
    return lo, hi


def _ring_contended(ax: Any, pts: Sequence[tuple[float, float]]) -> None:
    """Ring the contended points (drawn last, so the legend lists the series first)."""
    if not pts:
        return
    xs, ys = zip(*pts, strict=True)
    ax.plot(xs, ys, linestyle="none", marker="o", markersize=13, markerfacecolor="none",
            markeredgecolor="k", markeredgewidth=1.2, label=CONTENDED_LABEL)  # fmt: skip


def _legend_below(ax: Any) -> None:
    """The legend under the axes, clear of every point (inside, "best" still hid some)."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.27), ncol=3)


def _case_labels(rows: Sequence[StepRow]) -> list[str]:
    """ "[256,256,\n256,10]\nB=128\n103 MFLOP": long width lists two to a line, so that five
    networks' labels fit side by side without running into each other."""
    labels = []
    for r in rows:
        widths = ",".join(map(str, r.sizes))
        if len(widths) > 10:
            pairs = [",".join(map(str, r.sizes[i : i + 2])) for i in range(0, len(r.sizes), 2)]
            widths = ",\n".join(pairs)
        labels.append(f"[{widths}]\nB={r.batch}\n{fmt_flops(r.gemm_flops)}")
    return labels


def _time_axes(ax: Any, rows: Sequence[StepRow], dt: str) -> None:
    busy: list[tuple[float, float]] = []
    values: list[float] = []
    for impl, marker in zip(IMPLS, ("o", "s", "^", ""), strict=True):
        pts = [(i, r.median[impl]) for i, r in enumerate(rows) if impl in r.median]
        if not pts:
            continue
        values += [v for _, v in pts]
        color = {"refbp": "C0", "jax": "C1", "torch": "C2", "bound": "0.3"}[impl]
        ls = "--" if impl == "bound" else "-"
        ax.plot(*zip(*pts, strict=True), linestyle=ls, marker=marker or "None", color=color,
                label=IMPL_LABELS[impl])  # fmt: skip
        busy += [(i, v) for i, v in pts if rows[i].contended((impl,))]
    _ring_contended(ax, busy)
    if values:
        _set_log_y(ax, values, time_ticks, fmt_time)
    ax.set_xticks(list(range(len(rows))))
    ax.set_xticklabels(_case_labels(rows), fontsize=7)
    ax.set_ylabel("median time of one step")
    ax.set_title(f"one training step (forward + backward), {dt}")
    ax.grid(True, which="major", alpha=0.3)
    _legend_below(ax)


def _annotate_values(ax: Any, pts_by_x: dict[int, list[tuple[float, str]]], span: float) -> None:
    """Value labels right of their markers, pushed apart where two would touch."""
    for x, items in sorted(pts_by_x.items()):
        heights = spread_labels([v for v, _ in items], LABEL_GAP * span)
        for (v, color), h in zip(items, heights, strict=True):
            ax.annotate(f"{v:.2f}", (x, v), xytext=(x + 0.1, 10.0**h), textcoords="data",
                        ha="left", va="center", fontsize=7, color=color,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                              "alpha": 0.85})  # fmt: skip


def _ratio_axes(ax: Any, rows: Sequence[StepRow], dt: str) -> None:
    busy: list[tuple[float, float]] = []
    values = [t for t, *_ in _TARGETS]
    labels: dict[int, list[tuple[float, str]]] = {}
    for impl, label, color, marker in _RATIO_SERIES:
        pts = [(i, v) for i, r in enumerate(rows) if (v := r.ratio(impl)) is not None]
        if not pts:
            continue
        values += [v for _, v in pts]
        ax.plot(*zip(*pts, strict=True), linestyle="-", marker=marker, color=color, label=label)
        for i, v in pts:
            labels.setdefault(i, []).append((v, color))
        busy += [(i, v) for i, v in pts if rows[i].contended(("refbp", impl))]
    _ring_contended(ax, busy)
    for value, label, color, style in _TARGETS:
        ax.axhline(value, color=color, lw=1.4, ls=style, alpha=0.8, label=label)
    lo, hi = _set_log_y(ax, values)
    _annotate_values(ax, labels, math.log10(hi) - math.log10(lo))
    ax.set_xlim(-0.4, len(rows) - 0.4)
    ax.set_xticks(list(range(len(rows))))
    ax.set_xticklabels(_case_labels(rows), fontsize=7)
    ax.set_ylabel("refbp median / other median (log scale)")
    ax.set_title(f"refbp as a multiple of the bound and of its peers, {dt}")
    ax.grid(True, which="major", alpha=0.25)
    _legend_below(ax)


def ladder_label(row: LadderRow) -> str:
    """The hidden activation for the activation rows (identity output, mse); the loss, and
    its output activation when not the identity, for the loss rows (tanh hidden)."""
    if row.output == "identity" and row.loss == "mse":
        return row.hidden
    return row.loss if row.output == "identity" else f"{row.output} · {row.loss}"


def _ladder_axes(ax: Any, rows: Sequence[LadderRow], dt: str) -> None:
    configs = list(dict.fromkeys(r.config for r in rows))
    labels = {r.config: ladder_label(r) for r in rows}
    busy: list[tuple[float, float]] = []
    values = [TARGET_VS_JAX]
    for k, case in enumerate(dict.fromkeys(r.case for r in rows)):
        pts = [(configs.index(r.config) + 0.2 * (k - 1), v, r) for r in rows
               if r.case == case and (v := r.ratio("jax")) is not None]  # fmt: skip
        if not pts:
            continue
        values += [v for _, v, _ in pts]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle="none",
                marker="os^Dv"[k % 5], color=f"C{k}", label=case)  # fmt: skip
        busy += [(x, v) for x, v, r in pts if r.contended(("refbp", "jax"))]
    _ring_contended(ax, busy)
    ax.axhline(TARGET_VS_JAX, color="C3", lw=1.4, ls="--", label=f"target: {TARGET_VS_JAX:g}×")
    activations = sum(1 for c in configs if labels[c] == c.split(" → ")[0])
    if 0 < activations < len(configs):  # between the activation rows and the loss rows
        ax.axvline(activations - 0.5, color="0.5", lw=0.8, ls=":")
    _set_log_y(ax, values)
    ax.set_xticks(list(range(len(configs))))
    ax.set_xticklabels([labels[c] for c in configs], fontsize=7, rotation=30, ha="right")
    ax.set_xlabel("hidden activation (identity output, mse)  |  loss (tanh hidden)", fontsize=8)
    ax.set_ylabel("refbp / JAX jit (log scale)")
    ax.set_title(f"step ladder: refbp / JAX per hidden activation and per loss, {dt}")
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def write_plots(res: Results, out: Path, prefix: str) -> list[Path]:
    """``<prefix>-time.png``, ``<prefix>-ratio.png`` and, with a step ladder,
    ``<prefix>-ladder.png`` under ``out``; [] without matplotlib or rows.

    The networks are evenly spaced on the x axis, in order of their GEMM work (labelled):
    the two largest differ by only 4× in flops, which a log axis would crowd together.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    dtypes = sorted({r.dtype for r in res.steps})
    paths: list[Path] = []
    drawers: list[tuple[str, Any, Sequence[Any], tuple[float, float], int]] = []
    if dtypes:
        drawers += [("time", _time_axes, res.steps, (6.5, 4.8), 1),
                    ("ratio", _ratio_axes, res.steps, (6.5, 4.8), 1)]  # fmt: skip
    ladder_dtypes = sorted({r.dtype for r in res.ladder})
    if ladder_dtypes:
        drawers.append(("ladder", _ladder_axes, res.ladder, (11.0, 4.2), 0))
    for name, draw, rows, (w, h), side_by_side in drawers:
        kinds = sorted({r.dtype for r in rows})
        shape = (1, len(kinds)) if side_by_side else (len(kinds), 1)
        size = (w * len(kinds), h) if side_by_side else (w, h * len(kinds))
        fig, axes = plt.subplots(*shape, figsize=size, squeeze=False)
        for ax, dt in zip(axes.flat, kinds, strict=True):
            draw(ax, [r for r in rows if r.dtype == dt], dt)
        fig.tight_layout()
        path = out / f"{prefix}-{name}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths
