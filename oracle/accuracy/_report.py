"""The comparison as Markdown: the worst cells first, then every cell side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence

from oracle.accuracy._measure import QUANTITIES, Row, unit_roundoff

__all__ = ["markdown", "worst_cells"]


def worst_cells(rows: Sequence[Row]) -> list[Row]:
    """Per implementation and dtype, the cell and quantity that kept the fewest digits."""
    best: dict[tuple[str, str], Row] = {}
    for r in rows:
        key = (r.implementation, r.dtype)
        if key not in best or (r.worst_digits, -r.worst_error) < (
            best[key].worst_digits,
            -best[key].worst_error,
        ):
            best[key] = r
    return list(best.values())


def _e(x: float) -> str:
    return f"{x:.1e}"


def markdown(rows: Sequence[Row]) -> str:
    """Worst cells per implementation and dtype, then worst / median digits per cell."""
    impls = list(dict.fromkeys(r.implementation for r in rows))
    cases = max((r.cases for r in rows), default=0)
    caps = ", ".join(f"{-math.log10(unit_roundoff(d)):.2f} in {d}" for d in ("float64", "float32"))
    lines = [
        "Error of a quantity = ‖r − exact‖ / ‖m‖, worst layer, where m is the quantity's "
        "magnitude (the reverse pass over absolute values: ‖m‖ = ‖exact‖ where nothing "
        "cancels); *relative* is ‖r − exact‖ / ‖exact‖ of the same case. Digits kept = "
        f"−log₁₀ error, capped at {caps}. s is the worst case's conditioning, measured in "
        "exact arithmetic (the quantity's change, over its magnitude, when every input moves "
        "by a relative ±1e-10, per 1e-10): no evaluation with unit roundoff u can be expected "
        f"to err by much less than u·s. Up to {cases} cases per activation × loss × dtype "
        "cell; the exact values are mpmath's at 60 digits.",
        "",
        "### Worst cells",
        "",
        "| implementation | dtype | cell | quantity | digits | error | relative | s | failures "
        "| case |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in worst_cells(rows):
        lines.append(
            f"| {r.implementation} | {r.dtype} | {r.activation} × {r.loss} | {r.quantity} | "
            f"{r.worst_digits:.1f} | {_e(r.worst_error)} | {_e(r.worst_relative)} | "
            f"{_e(r.worst_conditioning)} | {r.failures} | {r.worst_case} |"
        )
    lines += [
        "",
        "### Every cell: worst / median digits kept",
        "",
        "| dtype | activation | loss | quantity | " + " | ".join(impls) + " |",
        "|---|---|---|---|" + "---:|" * len(impls),
    ]
    table: dict[tuple[str, str, str, str], dict[str, Row]] = {}
    for r in rows:
        table.setdefault((r.dtype, r.activation, r.loss, r.quantity), {})[r.implementation] = r
    order = list(QUANTITIES)
    for key in sorted(table, key=lambda k: (k[0], k[1], k[2], order.index(k[3]))):
        cells = [
            f"{table[key][i].worst_digits:.1f} / {table[key][i].median_digits:.1f}"
            if i in table[key]
            else "–"
            for i in impls
        ]
        lines.append("| " + " | ".join(key) + " | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
