"""The reference side of a comparison: the JAX oracle's answer for a case, and its conditioning.

``dispatch`` hands the case to the oracle and returns (XLA runs on the second core while the
target computes on this one); ``sensitivity`` measures what the tolerance model needs when
the cheap relative bound is not enough: the oracle on perturbed copies of the case (s), the
magnitudes of the summed terms (M), and the loss value's sensitivity to rounding the output
(χ).  See :mod:`oracle.engine.tolerance` for how they enter the bound.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from oracle.domains import PROBABILITY_OUTPUT_LOSSES
from oracle.engine.cases import Case, exact_l1_ties
from oracle.engine.tolerance import (
    Measurement,
    Quantity,
    Sensitivity,
    judge,
    norm,
    perturbation,
    perturbed_copies,
    unit_roundoff,
)
from oracle.fast import (
    PendingResult,
    activation_vjp_fast,
    backprop_fast_async,
    backprop_many,
    forward_fast,
    loss_grad_fast,
)
from oracle.functions import ACTIVATION_SPECS, LOSS_SPECS
from oracle.network import OracleResult

__all__ = ["dispatch", "judge_case", "magnitudes", "output_rounding", "sensitivity"]


def judge_case(
    case: Case,
    got: Any,
    ref: Any,
    families: Sequence[str],
    sens: Callable[[], Sensitivity] | None,
) -> list[Measurement]:
    """The tolerance model applied to ``got`` against ``ref`` on ``case``'s structure."""
    s = case.structure
    return judge(
        got, ref, dtype=s.dtype, depth=s.depth, width=max(*s.sizes, s.batch),
        families=families, sensitivity=sens,
    )  # fmt: skip


def dispatch(case: Case) -> PendingResult:
    s = case.structure
    return backprop_fast_async(
        case.weights, case.biases, list(s.activations), s.loss, case.X, case.Y
    )


def output_rounding(case: Case, ref: OracleResult) -> float:
    """χ of the loss value: its sensitivity to relative perturbations ±ρ of the output aᴸ."""
    s = case.structure
    rho = perturbation(s.dtype)
    a = ref.output
    y = np.asarray(case.Y, np.float64)
    c0, _ = loss_grad_fast(s.loss, a, y)
    chi = 1.0
    for (a_k,) in perturbed_copies([a], s.dtype, seed=1):
        if s.loss in PROBABILITY_OUTPUT_LOSSES:
            # stay a probability: where rounding up would reach 1, round down instead
            a_k = np.where(a_k >= 1.0, a - (a_k - a), a_k)
        c_k, _ = loss_grad_fast(s.loss, a_k, y)
        if c0 != 0 and np.isfinite(c_k):
            chi = max(chi, abs(c_k - c0) / (rho * abs(c0)))
    return chi


def magnitudes(
    case: Case,
    ref: OracleResult,
    zs: Sequence[np.ndarray],
    layer_inputs: Sequence[np.ndarray],
    oracle_share: float,
) -> dict[Quantity, float]:
    """M of the tolerance model for every gradient quantity.

    ``zs[l]`` and ``layer_inputs[l]`` are z and the input a of layer l + 1 (X first), from the
    oracle's forward.  T is the running magnitude of δ's terms, propagated through |W| like δ
    through W, so an error allowed in δˡ⁺¹ reaches δˡ, ∂C/∂Wˡ and ∂C/∂bˡ through the same
    products.  ``oracle_share`` = u₆₄ / u covers the reference's own float64 rounding (its
    derivative rules round relative to the upstream gradient, not to σ').
    """
    s = case.structure
    y = np.asarray(case.Y, np.float64)
    _, g_out = loss_grad_fast(s.loss, ref.output, y)
    spec = LOSS_SPECS[s.loss]
    count = y.size if spec.normaliser == "entries" else len(y)
    # ∇ₐC's own terms: p − y cancels where a softmax is confident and right, and the
    # oracle's float64 p − y keeps |y| u₆₄, not |p − y| u₆₄.
    g_terms = np.abs(g_out) + (np.abs(ref.output) + np.abs(y)) / count
    T = np.maximum(np.abs(g_out), oracle_share * g_terms)
    w = [np.abs(np.asarray(x, np.float64)) for x in case.weights]
    outputs = [*layer_inputs[1:], ref.output]
    out: dict[Quantity, float] = {}
    for i in range(s.depth - 1, -1, -1):
        upstream = T if i == s.depth - 1 else T @ w[i + 1].T
        name = s.activations[i]
        if ACTIVATION_SPECS[name].rowwise:
            a = np.abs(outputs[i])
            terms = a * (upstream + (upstream * a).sum(axis=1, keepdims=True))
        else:
            _, slope = activation_vjp_fast(name, zs[i], np.ones_like(zs[i]))
            terms = upstream * np.abs(slope)
        T = np.maximum(terms, oracle_share * upstream)
        out[Quantity("delta", i + 1)] = norm(T)
        # The oracle's forward rounds a to about u₆₄ on unit scale: the + share term.
        a_in = np.abs(np.asarray(layer_inputs[i], np.float64)) + oracle_share
        out[Quantity("grad_W", i + 1)] = norm(a_in.T @ T)
        out[Quantity("grad_b", i + 1)] = norm(T.sum(axis=0))
    out[Quantity("grad_X", None)] = norm(T @ w[0].T)
    return out


def sensitivity(case: Case, ref: OracleResult) -> Sensitivity:
    """s, M and χ of the tolerance model for ``case``, measured with the oracle."""
    s = case.structure
    L = s.depth
    # Targets are inputs too: perturbing them exposes cancellation in ∇ₐC such as p − y with
    # p ≈ y.  A probability row then sums to 1 ± ρ, which the oracle's formulas accept.
    runs = [
        (c[:L], c[L : 2 * L], c[2 * L], c[2 * L + 1])
        for c in perturbed_copies(case.arrays, s.dtype, seed=case.seed, aligned=True)
    ]
    if exact_l1_ties(case):
        runs = [_ties_kept(case, x, y) for _, _, x, y in runs]
    trace = forward_fast(case.weights, case.biases, list(s.activations), case.X)
    inputs = [np.asarray(case.X, np.float64), *trace.activations[:-1]]
    share = unit_roundoff(np.float64) / unit_roundoff(s.dtype)
    return Sensitivity(
        runs=backprop_many(runs, list(s.activations), s.loss),
        magnitudes=magnitudes(case, ref, trace.pre_activations, inputs, share),
        chi_loss=output_rounding(case, ref),
        base=ref,
    )


def _ties_kept(case: Case, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any, Any, Any]:
    """A perturbed l1 tie case with its ties intact.  W = I and b = 0 are exact, and so is
    a = X in any arithmetic: no rounding moves an output off a target it equals, so the
    perturbations that measure what rounding can do keep them equal (Y takes X's value
    where they tie) and leave W and b alone.  Without this a tie measures as a kink whose
    slope jumps by 2, and a target's slope at a = y could be off by 0.5 and pass."""
    tie = np.asarray(case.Y) == np.asarray(case.X)
    w, b = ([np.asarray(a, np.float64)] for a in (case.weights[0], case.biases[0]))
    return w, b, x, np.where(tie, x, y)


def representable(case: Case, ref: OracleResult) -> bool:
    """Can the case be computed in its dtype?  Not if a probability-valued output lies within
    rounding reach of 0 or 1 under a loss on probabilities, where the loss is infinite."""
    if case.structure.loss not in PROBABILITY_OUTPUT_LOSSES:
        return True
    out = ref.output
    reach = 64 * unit_roundoff(case.structure.dtype)
    return not bool((np.minimum(out, 1.0 - out) <= reach).any())
