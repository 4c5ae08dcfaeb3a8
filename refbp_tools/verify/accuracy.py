"""The digits-kept section of a verification report: the target beside its peers, against
exact arithmetic (``oracle.accuracy``), on random small networks up to saturation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the command line imports this module; JAX only once verify runs
    from oracle.engine import Target

__all__ = ["digits_kept"]


def _as_impl(target: Target) -> Any:
    def impl(weights: Any, biases: Any, activations: Any, loss: str, X: Any, Y: Any) -> Any:
        net = target.build(
            weights=[np.array(w) for w in weights], biases=[np.array(b) for b in biases],
            activations=list(activations), loss=loss,
        )  # fmt: skip
        return target.backprop(net, np.array(X), np.array(Y))

    return impl


def digits_kept(target: Target, cases_per_cell: int, seed: int = 0) -> tuple[str, list[Any]]:
    """The Markdown section, and its worst cells as plain data for the JSON summary."""
    from oracle.accuracy import compare_implementations, markdown, worst_cells
    from oracle.accuracy.peers import peers

    impls = {target.name: _as_impl(target), **peers()}
    rows = compare_implementations(impls, cases_per_cell, seed)
    worst = [
        {"implementation": r.implementation, "dtype": r.dtype, "activation": r.activation,
         "loss": r.loss, "quantity": r.quantity, "digits": r.worst_digits, "error": r.worst_error}
        for r in worst_cells(rows)
    ]  # fmt: skip
    section = "## Digits kept against exact arithmetic\n\n" + markdown(rows)
    return section, worst
