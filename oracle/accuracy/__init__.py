"""How many digits each implementation keeps, measured against exact arithmetic.

For a dict of named implementations (each ``impl(weights, biases, activations, loss, X, Y)``
returning a mapping or object with some of loss, deltas, grad_weights, grad_biases and
grad_input), :func:`compare_implementations` draws random small networks per activation ×
loss × dtype cell (``_cases``: every activation in the hidden and output layers, every loss
with valid targets, scales up to saturation), evaluates each implementation and the exact
arbiter (``oracle.exact``), and returns one :class:`Row` per implementation × cell ×
quantity; :func:`markdown` renders them.  :func:`evaluate` keeps the cases for
:func:`behind` (a target more than 8× less accurate than the best peer), :func:`beyond`
and :func:`disagreements`.  Ready-made peers are in :mod:`oracle.accuracy.peers`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from oracle.accuracy._cases import DTYPES, ZMAX, Case, draw_cases
from oracle.accuracy._measure import (
    QUANTITIES,
    Evaluation,
    Finding,
    Implementation,
    QuantityError,
    Row,
    behind,
    beyond,
    digits,
    disagreements,
    evaluate,
    rows,
    unit_roundoff,
)
from oracle.accuracy._report import markdown, worst_cells

__all__ = [
    "DTYPES",
    "QUANTITIES",
    "ZMAX",
    "Case",
    "Evaluation",
    "Finding",
    "Implementation",
    "QuantityError",
    "Row",
    "behind",
    "beyond",
    "compare_implementations",
    "digits",
    "disagreements",
    "draw_cases",
    "evaluate",
    "markdown",
    "rows",
    "unit_roundoff",
    "worst_cells",
]


def compare_implementations(
    impls: Mapping[str, Implementation],
    cases_per_cell: int,
    seed: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[Row]:
    """``cases_per_cell`` random cases per cell, every implementation against exact."""
    return rows(evaluate(impls, draw_cases(cases_per_cell, seed), progress=progress))
