"""Diagnosis: which classic mistake, if any, explains a target's disagreement.

The evidence is weighed in this order:

1. shapes: a bias gradient of shape (B,) that is δ summed over units, or a weight gradient
   that is the transpose of the right one;
2. a constant factor c shared by every quantity that disagrees (r ≈ c·o within the
   tolerance) that names a mistake: −1 is ``sign_flipped``, B ``batch_mean_missing``, 1/B
   ``batch_mean_twice``, n_out or 1/n_out ``output_mean``;
3. the bug models of :mod:`oracle.engine.bugs`: of those the target matches in every
   quantity it returned, within the tolerance model, the closest names the mistake (a kink
   convention is tried only where some z sits exactly on a kink);
4. any other constant but 0 shared by every case that disagrees, fitted on at least one
   quantity of two or more entries (any two single numbers have a ratio): ``scale``, with c
   reported;
5. ``inaccurate``: every disagreeing quantity points the right way (error under 5 % of its
   scale) but beyond the tolerance, and on the fuller variants, whose inputs are moderate,
   the error stays within what a narrower arithmetic explains (``rounding_reach``): digits
   lost to rounding, not a formula that is slightly wrong.

The shrunk case alone is weak evidence (on a 1 × 1 network every mistake is a constant
factor, and where B = n_out a missing batch mean looks like an output mean), so the target
is also run on a few fuller variants of it (widths and batch of at least 3, moderate
scales): a diagnosis must hold on every one of them on which the target disagrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from oracle.engine.bugs import STRUCTURAL, Bug, kink_slopes, model_backprop
from oracle.engine.cases import Case
from oracle.engine.reference import judge_case
from oracle.engine.tolerance import (
    Measurement,
    Quantity,
    Sensitivity,
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


def rounding_reach(dtype: str) -> float:
    """The largest relative error on moderate inputs still called rounding: u^(1/3) of the
    dtype (6e-6 in float64, 5e-3 in float32).  float32 arithmetic inside a float64 network
    errs by 1e-9 to 1e-8 there, a narrower float by its own u; a formula that is slightly
    wrong (the exact GELU for the tanh form: 3e-5 to 2e-4) errs by its own difference,
    which no precision removes."""
    u = float(np.finfo(dtype).eps) / 2.0
    reach: float = u ** (1.0 / 3.0)
    return reach


@dataclass(frozen=True)
class Diagnosis:
    id: str | None
    scale: float | None = None
    detail: str = ""
    activation: str | None = None  # kink_convention: whose kink


NONE = Diagnosis(None, detail="no classic mistake fits the evidence")


class Evidence(NamedTuple):
    """One case the target disagreed on: its result, the oracle's, and how they compared."""

    case: Case
    got: Any
    ref: OracleResult
    measurements: Sequence[Measurement]
    families: Sequence[str]
    sensitivity: Callable[[], Sensitivity]

    @property
    def bad(self) -> list[Measurement]:
        return [m for m in self.measurements if not m.passed]


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


def factor_names(c: float, batch: int, n_out: int) -> set[str]:
    """The mistakes a factor c can mean on a case with this batch and output width."""
    names = set()
    if _close(c, -1.0):
        names.add("sign_flipped")
    if batch > 1 and _close(c, float(batch)):
        names.add("batch_mean_missing")
    if batch > 1 and _close(c, 1.0 / batch):
        names.add("batch_mean_twice")
    if n_out > 1 and (_close(c, float(n_out)) or _close(c, 1.0 / n_out)):
        names.add("output_mean")
    return names


def _named_factor(evidence: Sequence[Evidence]) -> Diagnosis | None:
    names: set[str] | None = None
    first: float | None = None
    for e in evidence:
        c = common_factor(e.bad)
        if c is None:
            return None
        s = e.case.structure
        here = factor_names(c, s.batch, s.sizes[-1])
        names = here if names is None else names & here
        first = c if first is None else first
    if not names or first is None:
        return None
    order = [d for d in DIAGNOSES if d in names]
    return Diagnosis(
        order[0], scale=first, detail=f"the target's result is {first:.6g} × the oracle's"
    )


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


def _fit(e: Evidence, bug: Bug, trace: Any) -> float | None:
    """The worst error/bound ratio of the target against the bug's model; None if no fit."""
    model = model_backprop(e.case, trace, bug)
    if model is None or wrong_shapes(e.got, model, e.families):
        return None
    ms = judge_case(e.case, e.got, model, e.families, e.sensitivity)
    return max((m.ratio for m in ms), default=0.0) if all(m.passed for m in ms) else None


def _structural(evidence: Sequence[Evidence]) -> Diagnosis | None:
    main = evidence[0]
    s = main.case.structure
    traces = [
        forward_fast(e.case.weights, e.case.biases, list(s.activations), e.case.X) for e in evidence
    ]
    best: tuple[float, Bug, str] | None = None
    for bug, why in [*_kink_bugs(main.case, traces[0]), *((b, "") for b in STRUCTURAL)]:
        worst = 0.0
        for e, trace in zip(evidence, traces, strict=True):
            if bug.id == "kink_convention" and e is not main and not _kink_bugs(e.case, trace):
                continue  # no z on a kink here: this case says nothing about the kink
            ratio = _fit(e, bug, trace)
            if ratio is None:
                break
            worst = max(worst, ratio)
        else:
            if best is None or worst < best[0]:
                best = (worst, bug, why)
    if best is None:
        return None
    _, bug, why = best
    detail = why or f"the target matches the oracle with this mistake ({bug.variant})"
    return Diagnosis(bug.id, detail=detail, activation=bug.activation or None)


def _by_shape(e: Evidence, wrong: Sequence[Quantity]) -> Diagnosis | None:
    for q in wrong:
        if q.family == "grad_b" and q.layer is not None:
            r = np.asarray(e.got.grad_biases[q.layer - 1], np.float64)
            d = np.asarray(e.ref.deltas[q.layer - 1])
            if r.shape == (d.shape[0],) and np.allclose(r, d.sum(axis=1), rtol=1e-4, atol=0):
                return Diagnosis(
                    "bias_not_summed", detail=f"∂C/∂b of layer {q.layer} is δ summed over units"
                )
        if q.family == "grad_W" and q.layer is not None:
            r = np.asarray(e.got.grad_weights[q.layer - 1], np.float64)
            o = np.asarray(e.ref.grad_weights[q.layer - 1])
            if r.shape == o.T.shape and np.allclose(r.T, o, rtol=1e-4, atol=1e-12):
                return Diagnosis(
                    "weights_not_transposed",
                    detail=f"∂C/∂W of layer {q.layer} is the transpose of the right one",
                )
    return None


def diagnose(evidence: Sequence[Evidence], shapes: Sequence[Quantity] = ()) -> Diagnosis:
    """Name the classic mistake that explains the disagreement, if one does.

    ``evidence[0]`` is the failing case; the rest are the variants the target also
    disagreed on.  ``shapes`` lists quantities whose shape was wrong in the failing case
    (then its values are not compared).
    """
    if shapes:
        return _by_shape(evidence[0], shapes) or NONE
    usable = [e for e in evidence if e.bad]
    if not usable:
        return NONE
    found = _named_factor(usable) or _structural(usable)
    if found is not None:
        return found
    c = _shared_factor(usable)
    # A factor of 0 is a result flushed to zero (a saturated derivative, an underflow),
    # not a constant-factor mistake: it is judged by its error below.
    if c is not None and c != 0 and not _close(c, 1.0):
        return Diagnosis("scale", scale=c, detail=f"the target's result is {c:.6g} × the oracle's")
    if _rounding_like(evidence[0], usable):
        worst = max(m.relative for e in usable for m in e.bad)
        digits = -math.log10(worst) if worst > 0 else math.inf
        return Diagnosis("inaccurate", detail=f"right direction, {digits:.1f} digits kept")
    return NONE


def _shared_factor(usable: Sequence[Evidence]) -> float | None:
    """The constant c of ``common_factor`` if every case that disagrees has the same one and
    some disagreeing quantity has two or more non-zero entries to fit it on; else None."""
    factors = [common_factor(e.bad) for e in usable]
    first = factors[0]
    if first is None or any(c is None or not _close(first, c) for c in factors[1:]):
        return None
    if not any(np.count_nonzero(m.expected) > 1 for e in usable for m in e.bad):
        return None
    return first


def _rounding_like(main: Evidence, usable: Sequence[Evidence]) -> bool:
    """Every disagreeing quantity within ``INACCURATE_BELOW`` of its scale, and within
    ``rounding_reach`` on the variants (every case but the failing one, which may be
    extreme: that is where digits are lost)."""
    for e in usable:
        limit = INACCURATE_BELOW if e is main else rounding_reach(e.case.structure.dtype)
        if not all(math.isfinite(m.relative) and m.relative < limit for m in e.bad):
            return False
    return True
