"""Diagnosis: which classic mistake, if any, explains a target's disagreement.

The evidence is weighed in this order:

1. shapes: a bias gradient of shape (B,) that is δ summed over units, or a weight gradient
   that is the transpose of the right one;
2. a constant factor c shared by every quantity that disagrees (r ≈ c·o within the
   tolerance): −1 is ``sign_flipped``, B ``batch_mean_missing``, 1/B ``batch_mean_twice``,
   n_out or 1/n_out ``output_mean``; any other constant is ``scale`` with c reported.  Where
   B = n_out the case cannot tell them apart, so the target is run once more with another
   batch size;
3. the bug models of :mod:`oracle.engine.bugs`, one by one: the first the target matches in
   every quantity it returned, within the tolerance model, names the mistake (a kink
   convention is tried only where some z sits exactly on a kink);
4. ``inaccurate``: every disagreeing quantity points the right way (error under 5 % of its
   scale) but beyond the tolerance: digits lost.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oracle.engine.bugs import STRUCTURAL, Bug, kink_slopes, model_backprop
from oracle.engine.cases import Case
from oracle.engine.tolerance import (
    Measurement,
    Quantity,
    Sensitivity,
    judge,
    quantities,
    wrong_shapes,
)
from oracle.fast import forward_fast
from oracle.functions import ACTIVATION_SPECS
from oracle.network import OracleResult

__all__ = ["DIAGNOSES", "Diagnosis", "diagnose"]

DIAGNOSES: tuple[str, ...] = (
    "batch_mean_missing",
    "batch_mean_twice",
    "output_mean",
    "derivative_missing",
    "derivative_at_activation",
    "weights_not_transposed",
    "bias_not_summed",
    "sign_flipped",
    "kink_convention",
    "scale",
    "inaccurate",
)
#: relative error under which a disagreeing quantity still "points the right way"
INACCURATE_BELOW = 0.05


@dataclass(frozen=True)
class Diagnosis:
    id: str | None
    scale: float | None = None
    detail: str = ""
    activation: str | None = None  # kink_convention: whose kink


NONE = Diagnosis(None, detail="no classic mistake fits the evidence")
Rerun = Callable[[Case], tuple[Any, OracleResult] | None]


def _close(a: float, b: float, rel: float = 1e-4) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b))


def common_factor(bad: Sequence[Measurement]) -> float | None:
    """The constant c with r ≈ c·o for every disagreeing quantity, or None."""
    c: float | None = None
    for m in bad:
        o = np.asarray(m.expected, np.float64).ravel()
        r = np.asarray(m.got, np.float64).ravel()
        oo = float(o @ o)
        if oo == 0 or not np.isfinite(r).all():
            return None
        ck = float(r @ o) / oo
        residual = float(np.linalg.norm(r - ck * o))
        if residual > abs(ck) * max(m.bound, 1e-12 * m.norm):
            return None
        if c is None:
            c = ck
        elif not _close(c, ck):
            return None
    return c


def _name_factor(c: float, batch: int, n_out: int) -> list[str]:
    names = []
    if _close(c, -1.0):
        names.append("sign_flipped")
    if batch > 1 and _close(c, float(batch)):
        names.append("batch_mean_missing")
    if batch > 1 and _close(c, 1.0 / batch):
        names.append("batch_mean_twice")
    if n_out > 1 and (_close(c, float(n_out)) or _close(c, 1.0 / n_out)):
        names.append("output_mean")
    return names


def _by_factor(case: Case, c: float, rerun: Rerun | None, families: Sequence[str]) -> Diagnosis:
    s = case.structure
    names = _name_factor(c, s.batch, s.sizes[-1])
    if len(names) > 1 and rerun is not None:
        # B = n_out: run the target on the same structure with another batch size
        other = s.batch + 1 if s.batch + 1 <= 64 else s.batch - 1
        from oracle.engine.cases import fill

        variant = fill(
            type(s)(s.sizes, s.activations, s.loss, s.dtype, other),
            case.seed,
            *case.scales,
            case.zero_share,
        )
        again = rerun(variant)
        if again is not None:
            got, ref = again
            fams = [f for f in ("delta", "grad_W", "grad_b", "grad_X") if f in families]
            for (q, r), (_, o) in zip(quantities(got, fams), quantities(ref, fams), strict=True):
                o64 = np.asarray(o, np.float64).ravel()
                if q.family != "loss" and float(o64 @ o64) > 0:
                    c2 = float(np.asarray(r, np.float64).ravel() @ o64) / float(o64 @ o64)
                    names = _name_factor(c2, other, s.sizes[-1]) or names
                    break
    if names:
        return Diagnosis(names[0], scale=c, detail=f"the target's result is {c:.6g} × the oracle's")
    return Diagnosis("scale", scale=c, detail=f"the target's result is {c:.6g} × the oracle's")


def _kink_bugs(case: Case, trace: Any) -> list[tuple[Bug, str]]:
    s = case.structure
    out: list[tuple[Bug, str]] = []
    for i, name in enumerate(s.activations):
        for k in ACTIVATION_SPECS[name].kinks:
            if not (trace.pre_activations[i] == k).any():
                continue
            conv, left, right = kink_slopes(name, k)
            for slope in dict.fromkeys((left, right, 0.5 * (left + right))):
                if not _close(slope, conv, 1e-6):
                    why = f"{name}'({k:g}) = {slope:g} in the target, {conv:g} in the contract"
                    out.append((Bug("kink_convention", activation=name, slope=slope), why))
    if s.loss == "l1" and (trace.activations[-1] == np.asarray(case.Y, np.float64)).any():
        for slope in (1.0, -1.0):
            why = f"l1's slope at a = y is {slope:g} in the target, 0 in the contract"
            out.append((Bug("kink_convention", activation="l1", slope=slope), why))
    return out


def _fits(
    got: Any, model: Any, case: Case, families: Sequence[str], sens: Callable[[], Sensitivity]
) -> bool:
    if wrong_shapes(got, model, families):
        return False
    ms = judge(
        got,
        model,
        dtype=case.structure.dtype,
        depth=case.structure.depth,
        width=max(*case.structure.sizes, case.structure.batch),
        families=families,
        sensitivity=sens,
    )
    return all(m.passed for m in ms)


def _by_shape(
    case: Case, got: Any, ref: OracleResult, wrong: Sequence[Quantity]
) -> Diagnosis | None:
    for q in wrong:
        if q.family == "grad_b" and q.layer is not None:
            r = np.asarray(got.grad_biases[q.layer - 1], np.float64)
            d = np.asarray(ref.deltas[q.layer - 1])
            if r.shape == (d.shape[0],) and np.allclose(r, d.sum(axis=1), rtol=1e-4, atol=0):
                return Diagnosis(
                    "bias_not_summed", detail=f"∂C/∂b of layer {q.layer} is δ summed over units"
                )
        if q.family == "grad_W" and q.layer is not None:
            r = np.asarray(got.grad_weights[q.layer - 1], np.float64)
            o = np.asarray(ref.grad_weights[q.layer - 1])
            if r.shape == o.T.shape and np.allclose(r.T, o, rtol=1e-4, atol=1e-12):
                return Diagnosis(
                    "weights_not_transposed",
                    detail=f"∂C/∂W of layer {q.layer} is the transpose of the right one",
                )
    return None


def diagnose(
    case: Case,
    got: Any,
    ref: OracleResult,
    measurements: Sequence[Measurement],
    *,
    families: Sequence[str],
    sensitivity: Callable[[], Sensitivity],
    shapes: Sequence[Quantity] = (),
    rerun: Rerun | None = None,
) -> Diagnosis:
    """Name the classic mistake that explains the disagreement, if one does.

    ``shapes`` lists the quantities whose shape was wrong (then values are not compared).
    """
    if shapes:
        return _by_shape(case, got, ref, shapes) or NONE
    bad = [m for m in measurements if not m.passed]
    if not bad:
        return NONE
    c = common_factor(bad)
    if c is not None and not _close(c, 1.0):
        return _by_factor(case, c, rerun, families)
    s = case.structure
    trace = forward_fast(case.weights, case.biases, list(s.activations), case.X)
    tried = [*_kink_bugs(case, trace), *((b, "") for b in STRUCTURAL)]
    for bug, why in tried:
        model = model_backprop(case, trace, bug)
        if model is not None and _fits(got, model, case, families, sensitivity):
            detail = why or f"the target matches the oracle with this mistake ({bug.variant})"
            return Diagnosis(bug.id, detail=detail, activation=bug.activation or None)
    if all(math.isfinite(m.relative) and m.relative < INACCURATE_BELOW for m in bad):
        worst = max(m.relative for m in bad)
        digits = -math.log10(worst) if worst > 0 else math.inf
        return Diagnosis("inaccurate", detail=f"right direction, {digits:.1f} digits kept")
    return NONE
