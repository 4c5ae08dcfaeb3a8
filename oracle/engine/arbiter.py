"""Arbitration: when a target and the JAX oracle disagree on a small case, exact arithmetic decides.

The JAX oracle is float64, not exact: in saturation (tanh or sigmoid with |z| of 20 to 40)
its δ is 0 where the true value is tiny but not zero, and a target with stable derivatives
is closer to the truth than the oracle.  So a disagreement on a case small enough for
``oracle.exact`` is re-judged against the exact answer with the same tolerance model, its
conditioning measured in exact arithmetic; a target within the bound of the exact answer
is not failed, and the report says who was closer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from oracle.engine.cases import Case
from oracle.engine.reference import judge_case, magnitudes, output_rounding
from oracle.engine.tolerance import (
    Measurement,
    Sensitivity,
    once,
    perturbation,
    unit_roundoff,
)

__all__ = ["Arbitration", "arbitrate", "exact_module"]


@dataclass
class Arbitration:
    target_passes: bool
    measurements: list[Measurement]  # the target against the exact answer
    summary: str


def exact_module() -> ModuleType | None:
    """``oracle.exact`` if it can be used here (it needs mpmath), else None."""
    try:
        return importlib.import_module("oracle.exact")
    except ImportError:  # mpmath is part of the verify extra, not of the oracle's core
        return None


def knows(exact: ModuleType, s: Any) -> bool:
    """Does the arbiter have every function of the structure ``s``?  (A function new to the
    JAX oracle is still judged by it; only the exact arbitration waits for its mp entry.)"""
    acts: Any = getattr(exact, "EXACT_ACTIVATIONS", {})
    losses: Any = getattr(exact, "EXACT_LOSSES", {})
    return all(a in acts for a in s.activations) and s.loss in losses


def exact_reference(case: Case) -> tuple[Any, Callable[[], Sensitivity]] | None:
    """The exact answer for ``case`` rounded to float64, and (on demand) its exactly measured
    conditioning."""
    exact = exact_module()
    s = case.structure
    if exact is None or not exact.is_small(s.sizes, s.batch) or not knows(exact, s):
        return None
    args = (case.weights, case.biases, list(s.activations), s.loss, case.X, case.Y)
    answer = exact.exact_backprop(*args)
    ref = exact.rounded(answer, np.float64)

    def sensitivity() -> Sensitivity:
        runs = [
            exact.rounded(r, np.float64)
            for r in exact.exact_sensitivity(*args, rho=perturbation(s.dtype), seed=case.seed)
        ]
        zs = [_to_float64(z) for z in answer.zs]
        inputs = [np.asarray(case.X, np.float64), *_layer_outputs(zs, s.activations)[:-1]]
        share = unit_roundoff(np.float64) / unit_roundoff(s.dtype)
        return Sensitivity(
            runs=runs,
            magnitudes=magnitudes(case, ref, zs, inputs, share),
            chi_loss=output_rounding(case, ref),
            base=ref,
        )

    return ref, once(sensitivity)


def _to_float64(a: Any) -> np.ndarray:
    """An array of mpmath numbers, each rounded to the nearest float64."""
    arr = np.asarray(a, dtype=object)
    return np.array([float(v) for v in arr.ravel()], dtype=np.float64).reshape(arr.shape)


def _layer_outputs(zs: Sequence[np.ndarray], activations: Sequence[str]) -> list[np.ndarray]:
    """a = σ(z) of every layer at the exact z (only the magnitudes M use these)."""
    from oracle.fast import activation_vjp_fast

    return [
        activation_vjp_fast(a, z, np.zeros_like(z))[0] for a, z in zip(activations, zs, strict=True)
    ]


def arbitrate(
    case: Case, got: Any, families: Sequence[str], against_oracle: Sequence[Measurement]
) -> Arbitration | None:
    """Judge ``got`` against the exact answer; None where the case is too large or no mpmath."""
    found = exact_reference(case)
    if found is None:
        return None
    ref, sens = found
    ms = judge_case(case, got, ref, families, sens)
    passes = all(m.passed for m in ms)
    bad = next((m for m in against_oracle if not m.passed), None)
    exact_m = next((m for m in ms if bad is not None and m.quantity == bad.quantity), None)
    if bad is None or exact_m is None:
        return Arbitration(passes, ms, "exact arithmetic agrees with the target")
    oracle_error = float(np.linalg.norm(np.ravel(bad.expected) - np.ravel(exact_m.expected)))
    closer = "the target" if exact_m.error < oracle_error else "the JAX oracle"
    summary = (
        f"exact arithmetic on {bad.quantity.label}: target error {exact_m.error:.3e}, JAX "
        f"oracle error {oracle_error:.3e} (allowed {exact_m.bound:.3e}); {closer} is closer"
    )
    return Arbitration(passes, ms, summary)
