"""The verification table for a terminal, a log or a file: it fits the width it is given.

Wide layout (one row per activation × loss × dtype cell) where it fits; otherwise a narrow
layout grouped by loss, whose rows fit 80 columns.  Figures are rounded to two digits here;
full precision stays in the Markdown and JSON reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports this module; JAX only once verify runs
    from oracle.engine.summary import Cell, Summary


def _families() -> tuple[str, ...]:
    from oracle.engine.tolerance import FAMILIES

    return FAMILIES


__all__ = ["render_table"]

HEADS = {"loss": "C", "delta": "δ", "grad_W": "∂C/∂W", "grad_b": "∂C/∂b", "grad_X": "∂C/∂X"}


def fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def _rows(
    summary: Summary, with_loss: bool, keys: Sequence[tuple[str, str, str]]
) -> list[list[str]]:
    out = []
    for act, loss, dt in keys:
        cell = summary.cells.get((act, loss, dt))
        lead = [act, loss, dt] if with_loss else [act, dt]
        if cell is None:
            out.append([*lead, "0", *([""] * (len(_families()) + 1))])
            continue
        out.append([*lead, *_figures(cell, summary)])
    return out


def _figures(cell: Cell, summary: Summary) -> list[str]:
    missing = set(summary.not_returned)
    figs = ["—" if f in missing else fmt(cell.worst[f]) for f in _families()]
    return [str(cell.examples), *figs, f"{cell.bound_used:.2f}"]


def _layout(head: list[str], rows: list[list[str]], left: int, sep: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(r: list[str]) -> str:
        parts = [
            r[i].ljust(widths[i]) if i < left else r[i].rjust(widths[i]) for i in range(len(r))
        ]
        return sep.join(parts).rstrip()

    return [line(head), *(line(r) for r in rows)]


def render_table(summary: Summary, width: int) -> str:
    """The table as text no wider than ``width`` columns (the narrow layout needs 75)."""
    keys = summary.cell_keys()
    figures = ["networks", *(HEADS[f] for f in _families()), "bound"]
    wide = _layout(["activation", "loss", "dtype", *figures], _rows(summary, True, keys), 3)
    title = "worst error relative to the quantity's scale, per activation × loss × dtype"
    if max(len(x) for x in wide) <= width:
        return "\n".join([title, *wide])
    lines = [title]
    for loss in dict.fromkeys(k[1] for k in keys):
        part = [k for k in keys if k[1] == loss]
        lines += ["", f"loss {loss}"]
        lines += [
            "  " + x
            for x in _layout(["activation", "dtype", *figures], _rows(summary, False, part), 2, " ")
        ]
    return "\n".join(lines)
