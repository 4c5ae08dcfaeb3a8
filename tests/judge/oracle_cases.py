"""Networks, valid targets and the fast-equals-plain comparison the oracle's self-checks share.

Targets are drawn from each loss's declared domain (``oracle.functions.LOSS_SPECS``), so a new
loss needs no entry here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat

import numpy as np

import oracle
from oracle.functions import ACTIVATION_SPECS, LOSS_SPECS

__all__ = [
    "assert_fast_equals_plain",
    "net",
    "one_unit",
    "outputs_for",
    "probability_outputs",
    "rel",
    "targets",
]


def net(
    rng: np.random.Generator, widths: Sequence[int], gain: float = 1.0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """W_l ~ N(0, gain²/fan_in): pre-activations of order 1, units neither saturated nor linear."""
    ws = [
        rng.normal(0.0, gain / np.sqrt(widths[i]), (widths[i], widths[i + 1]))
        for i in range(len(widths) - 1)
    ]
    bs = [rng.normal(0.0, 0.3, widths[i + 1]) for i in range(len(widths) - 1)]
    return ws, bs


def one_unit(act: str, loss: str, x: float, y: float) -> dict[str, Any]:
    """W = [[1]], b = [0], X = [[x]]: z = x exactly (keyword arguments of a backprop call)."""
    return dict(
        weights=[np.ones((1, 1))],
        biases=[np.zeros(1)],
        activations=[act],
        loss=loss,
        X=np.array([[x]]),
        Y=np.array([[y]]),
    )


def targets(rng: np.random.Generator, loss: str, B: int, O: int) -> np.ndarray:
    """Targets ``(B, O)`` valid for ``loss``: probability rows, [0, 1] entries, or any reals."""
    kind = LOSS_SPECS[loss].targets
    if kind == "probability_rows":
        p: np.ndarray = rng.gamma(1.0, 1.0, (B, O)) + 1e-3
        rows: np.ndarray = p / p.sum(axis=1, keepdims=True)
        return rows
    if kind == "unit_interval":
        return rng.uniform(0.0, 1.0, (B, O))
    return rng.normal(0.0, 1.0, (B, O))


def outputs_for(rng: np.random.Generator, loss: str, shape: tuple[int, int]) -> np.ndarray:
    """Network outputs ``a`` a loss is defined on: probabilities in (0.05, 0.95) for a loss
    on probabilities, logits of order 2 otherwise."""
    if LOSS_SPECS[loss].probability_output:
        return rng.uniform(0.05, 0.95, shape)
    return rng.normal(0, 2, shape)


def probability_outputs(width: int) -> tuple[str, ...]:
    """Output activations a loss on probabilities may follow at this output width (a row-wise
    activation of one unit is identically 1, where such a loss is infinite)."""
    return tuple(
        name
        for name, spec in ACTIVATION_SPECS.items()
        if spec.probability and (width > 1 or not spec.rowwise)
    )


def rel(a: np.ndarray | float, b: np.ndarray | float) -> float:
    """Normwise relative difference ‖a − b‖ / ‖b‖ (0 if both are 0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if np.array_equal(a, b):
        return 0.0
    nb, d = float(np.linalg.norm(b)), float(np.linalg.norm(a - b))
    if nb == 0.0:
        return 0.0 if d == 0.0 else np.inf
    return d / nb


def assert_fast_equals_plain(
    f: oracle.OracleResult,
    p: oracle.OracleResult,
    ws: Sequence[np.ndarray],
    bs: Sequence[np.ndarray],
    acts: Sequence[str],
    X: np.ndarray,
    rtol: float = 1e-14,
) -> None:
    """Fast and plain agree to rounding: ‖fast − plain‖ <= rtol · max(‖plain‖, S).

    S is the size of what was summed to get the quantity, so that a sum that cancels
    (∂C/∂b = Σ_rows δ with l1's ±1 signs, ∂C/∂W = aᵀδ, δ Wᵀ) is judged by the rounding
    of its terms, not against its own tiny result: S = ‖Σ_rows |δ|‖ for ∂C/∂b,
    ‖|a|ᵀ|δ|‖ for ∂C/∂W, ‖|δ¹| |W¹|ᵀ‖ for ∂C/∂X and 2‖|δˡ⁺¹| |Wˡ⁺¹|ᵀ‖ for δˡ
    (every activation's VJP at most doubles its upstream: |σ'| <= 1.13, softmax <= 2).
    """

    def close(
        label: str, got: np.ndarray | float, want: np.ndarray | float, S: SupportsFloat
    ) -> None:
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        assert got.shape == want.shape, (label, got.shape, want.shape)
        if np.array_equal(got, want):
            return
        err = float(np.linalg.norm(got - want))
        scale = max(float(np.linalg.norm(want)), float(S))
        assert err <= rtol * scale, f"{label}: ‖fast − plain‖ = {err:.3e}, scale {scale:.3e}"

    L = len(ws)
    assert len(f.deltas) == len(p.deltas) == len(f.grad_weights) == len(f.grad_biases) == L
    inputs = [X, *oracle.forward_fast(ws, bs, acts, X).activations[:-1]]
    norm = np.linalg.norm
    # The loss of outputs close to their targets cancels (mse of a ≈ y); its rounding is
    # relative to the outputs' own size, ‖a‖² / (B·O) per entry, not to the small result.
    close("loss", f.loss, p.loss, float(np.sum(p.output**2)) / p.output.size)
    close("output", f.output, p.output, 0.0)
    # T: the running size of what each δ is summed from.  At the output the loss gradient is
    # a difference of terms as large as the outputs (2(a − y)/(B·O) for mse, p − y, ...):
    # where a ≈ y it cancels, so T starts from |a| / (B·O) as well as |δᴸ|; each layer's
    # VJP at most doubles it (|σ'| <= 1.13, softmax <= 2) on its way through |W|ᵀ.
    T = [np.zeros(0)] * L
    T[L - 1] = np.abs(p.deltas[L - 1]) + 4.0 * np.abs(p.output) / p.output.size
    for i in range(L - 2, -1, -1):
        T[i] = np.maximum(np.abs(p.deltas[i]), 2.0 * (T[i + 1] @ np.abs(ws[i + 1]).T))
    close("grad_input", f.grad_input, p.grad_input, norm(T[0] @ np.abs(ws[0]).T))
    for i in range(L):
        close(f"deltas[{i}]", f.deltas[i], p.deltas[i], norm(T[i]))
        close(
            f"grad_weights[{i}]",
            f.grad_weights[i],
            p.grad_weights[i],
            norm(np.abs(inputs[i]).T @ T[i]),
        )
        close(f"grad_biases[{i}]", f.grad_biases[i], p.grad_biases[i], norm(T[i].sum(axis=0)))
