"""Every implementation against the exact arbiter, case by case, and the figures per cell.

The error of a quantity is ‖r − exact‖ over its *magnitude* ‖m‖ (``exact_magnitudes``: the
reverse pass over absolute values; ‖m‖ = ‖exact‖ where nothing cancels, and it is the scale
the rounding errors of any evaluation are made on where something does), worst layer of
the network; a norm below the dtype's smallest normal number counts as that number (a
correctly rounded answer loses its relative precision there too).  The plain normwise
relative error ‖r − exact‖ / ‖exact‖ is kept beside it.
"Digits kept" is −log₁₀ of the error, capped at the dtype's −log₁₀ u (15.95 for float64,
7.22 for float32, u the unit roundoff) and at 0 below.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import mpmath
import numpy as np
import numpy.typing as npt

from oracle.accuracy._cases import Case
from oracle.exact import ExactResult, exact_backprop, exact_magnitudes, exact_sensitivity

__all__ = [
    "QUANTITIES",
    "Evaluation",
    "Finding",
    "Implementation",
    "QuantityError",
    "Row",
    "behind",
    "beyond",
    "digits",
    "disagreements",
    "evaluate",
    "rows",
    "unit_roundoff",
]

#: quantity (the verification report's names) -> result key
QUANTITIES: Mapping[str, str] = {
    "loss": "loss",
    "delta": "deltas",
    "grad_W": "grad_weights",
    "grad_b": "grad_biases",
    "grad_X": "grad_input",
}

#: the quantities with one array per layer
LAYERED = frozenset({"delta", "grad_W", "grad_b"})

#: ``impl(weights, biases, activations, loss, X, Y)`` -> mapping (or object with attributes)
#: holding some of loss, deltas, grad_weights, grad_biases, grad_input
Implementation = Callable[..., Any]
ObjArray = npt.NDArray[np.object_]


def unit_roundoff(dtype: str) -> float:
    return float(np.finfo(np.dtype(dtype)).eps) / 2


def digits(error: float, dtype: str) -> float:
    """−log₁₀ error, in [0, −log₁₀ u]."""
    cap = -math.log10(unit_roundoff(dtype))
    if error == 0:
        return cap
    return max(0.0, min(cap, -math.log10(error)))


class QuantityError(NamedTuple):
    error: float  # over the magnitude, worst layer
    relative: float  # over ‖exact‖, same layer
    layer: int | None  # None for loss and grad_X


@dataclass
class Evaluation:
    """One case: the exact values, what each implementation returned, and its errors."""

    case: Case
    exact: dict[str, list[ObjArray]]
    scale: dict[str, list[ObjArray]]
    results: dict[str, dict[str, list[npt.NDArray[np.float64]]]] = field(default_factory=dict)
    errors: dict[str, dict[str, QuantityError]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    #: quantity -> s, the case's conditioning measured in exact arithmetic (see _conditioning)
    conditioning: dict[str, float] = field(default_factory=dict)


def _layers(result: ExactResult, key: str) -> list[ObjArray]:
    value = getattr(result, key)
    if key == "loss":
        return [np.array([value], dtype=object)]
    return list(value) if isinstance(value, list) else [value]


def _returned(res: Any, key: str) -> list[npt.NDArray[np.float64]] | None:
    value = res.get(key) if isinstance(res, Mapping) else getattr(res, key, None)
    if value is None:
        return None
    if key == "loss":
        return [np.array([float(value)])]
    arrays = value if key in ("deltas", "grad_weights", "grad_biases") else [value]
    return [np.array(a, dtype=np.float64) for a in arrays]


def _norm(values: Iterable[Any]) -> Any:
    return mpmath.sqrt(mpmath.fsum(v * v for v in values))


def _ratio(num: Any, den: Any) -> float:
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return float(num / den)


def _floor(norm: Any, dtype: str) -> Any:
    """A norm, raised to the dtype's smallest normal number: below it not even a correctly
    rounded answer keeps its relative precision (gelu(−30) ≈ −1e-856 is 0 in float64)."""
    return max(norm, mpmath.mpf(float(np.finfo(np.dtype(dtype)).tiny)))


def _error(
    got: Sequence[npt.NDArray[np.float64]],
    exact: list[ObjArray],
    scale: list[ObjArray],
    layered: bool,
    dtype: str,
) -> QuantityError:
    """The worst layer's error; ∞ for a wrong shape, a missing layer or a non-finite entry."""
    worst = QuantityError(0.0, 0.0, None)
    if len(got) != len(exact):
        return QuantityError(math.inf, math.inf, None)
    for k, (g, e, m) in enumerate(zip(got, exact, scale, strict=True)):
        layer = k if layered else None
        if g.shape != e.shape or not np.all(np.isfinite(g)):
            return QuantityError(math.inf, math.inf, layer)
        with mpmath.workdps(30):
            diff = _norm(
                [mpmath.mpf(float(x)) - y for x, y in zip(g.ravel(), e.ravel(), strict=True)]
            )
            here = QuantityError(
                _ratio(diff, _floor(_norm(m.ravel()), dtype)),
                _ratio(diff, _floor(_norm(e.ravel()), dtype)),
                layer,
            )
        if (here.error, here.relative) > (worst.error, worst.relative):
            worst = here
    return worst


def _exact(case: Case) -> tuple[dict[str, list[ObjArray]], dict[str, list[ObjArray]]]:
    res, mag = exact_backprop(*case.args()), exact_magnitudes(*case.args())
    return (
        {q: _layers(res, key) for q, key in QUANTITIES.items()},
        {q: _layers(mag, key) for q, key in QUANTITIES.items()},
    )


#: the relative perturbation conditioning is measured with
RHO = 1e-10


def _conditioning(
    case: Case, exact: dict[str, list[ObjArray]], scale: dict[str, list[ObjArray]]
) -> dict[str, float]:
    """s = max ‖q' − q‖ / (ρ ‖m‖) over two copies of the case with every input moved by a
    relative ±ρ (exactly, in mp): how far rounding the inputs alone moves each quantity, in
    units of ρ.  An evaluation with unit roundoff u cannot be expected to do better than
    about u·s; at a kink (relu at 0, l1 at a = y) s is huge, as it should be."""
    out = {q: 0.0 for q in QUANTITIES}
    for moved in exact_sensitivity(*case.args(), rho=RHO, count=2, seed=0):
        for q, key in QUANTITIES.items():
            for e, m, x in zip(exact[q], scale[q], _layers(moved, key), strict=True):
                with mpmath.workdps(30):
                    diff = _norm(a - b for a, b in zip(x.ravel(), e.ravel(), strict=True))
                    s = _ratio(diff, _floor(_norm(m.ravel()), case.dtype)) / RHO
                out[q] = max(out[q], s)
    return out


def evaluate(
    impls: Mapping[str, Implementation],
    cases: Sequence[Case],
    *,
    conditioning: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[Evaluation]:
    """Run every implementation and the arbiter on every case.

    An implementation that raises is recorded as a failure (error ∞ on every quantity) with
    its message; a quantity it does not return is left out of its errors.  With
    ``conditioning`` (two more exact evaluations per case) each case also gets its
    conditioning s per quantity.
    """
    out = []
    for i, case in enumerate(cases):
        exact, scale = _exact(case)
        ev = Evaluation(case, exact, scale)
        if conditioning:
            ev.conditioning = _conditioning(case, exact, scale)
        for name, impl in impls.items():
            try:
                res = impl(*case.args())
            except Exception as exc:  # a peer's refusal is a result, not a crash of the run
                ev.failures[name] = f"{type(exc).__name__}: {exc}"
                ev.errors[name] = {q: QuantityError(math.inf, math.inf, None) for q in QUANTITIES}
                continue
            got = {q: _returned(res, key) for q, key in QUANTITIES.items()}
            ev.results[name] = {q: v for q, v in got.items() if v is not None}
            ev.errors[name] = {
                q: _error(v, exact[q], scale[q], q in LAYERED, case.dtype)
                for q, v in ev.results[name].items()
            }
        out.append(ev)
        if progress is not None:
            progress(i + 1, len(cases))
    return out


# --------------------------------------------------------------------------- per cell


@dataclass(frozen=True)
class Row:
    """One implementation on one cell and quantity: worst and median over the cell's cases."""

    implementation: str
    dtype: str
    activation: str
    loss: str
    quantity: str
    cases: int
    worst_error: float
    median_error: float
    worst_relative: float  # ‖r − exact‖ / ‖exact‖ of the worst case
    worst_conditioning: float  # s of the worst case (nan if not measured)
    worst_digits: float
    median_digits: float
    worst_case: str
    failures: int


def rows(evaluations: Sequence[Evaluation]) -> list[Row]:
    """Figures per implementation × cell × quantity, in the order the cases came."""
    groups: dict[tuple[str, str, str, str, str], list[tuple[QuantityError, Evaluation]]] = {}
    for ev in evaluations:
        act, loss, dtype = ev.case.cell
        for name, errs in ev.errors.items():
            for q, err in errs.items():
                groups.setdefault((name, dtype, act, loss, q), []).append((err, ev))
    out = []
    for (name, dtype, act, loss, q), items in groups.items():
        errors = [e.error for e, _ in items]
        worst_err, worst_ev = max(items, key=lambda t: (t[0].error, t[0].relative))
        layer = "" if worst_err.layer is None else f", layer {worst_err.layer}"
        out.append(
            Row(
                name,
                dtype,
                act,
                loss,
                q,
                len(items),
                worst_err.error,
                float(statistics.median(errors)),
                worst_err.relative,
                worst_ev.conditioning.get(q, math.nan),
                digits(worst_err.error, dtype),
                digits(float(statistics.median(errors)), dtype),
                worst_ev.case.describe() + layer,
                sum(name in ev.failures for _, ev in items),
            )
        )
    return out


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    """A case and quantity where ``subject``'s error stands out (see behind / beyond)."""

    case: str
    quantity: str
    layer: int | None
    subject: str
    error: float
    others: dict[str, float]
    note: str = ""


def behind(
    evaluations: Sequence[Evaluation],
    target: str,
    peers: Sequence[str],
    factor: float = 8.0,
    *,
    conditioned: bool = True,
) -> list[Finding]:
    """Cases where ``target`` is more than ``factor`` times less accurate than the best peer.

    Errors below a floor count as the floor: a ratio of two errors that are both below what
    any evaluation in the dtype is entitled to is luck of the evaluation order, not accuracy.
    The floor is u·max(1, s), u the dtype's unit roundoff and s the quantity's conditioning
    measured exactly (``Evaluation.conditioning``): a backward-stable evaluation, one whose
    result is exact for inputs moved by about u, errs by up to about u·s, and only an
    evaluation carried in a wider precision does better every time.  ``conditioned=False``
    (or cases evaluated without conditioning) uses u alone: a correctly rounded answer errs
    by up to u.
    """
    out = []
    for ev in evaluations:
        if target not in ev.errors:
            continue
        u = unit_roundoff(ev.case.dtype)
        for q, err in ev.errors[target].items():
            peer = {p: ev.errors[p][q].error for p in peers if q in ev.errors.get(p, {})}
            if not peer:
                continue
            s = ev.conditioning.get(q, 1.0) if conditioned else 1.0
            floor = u * max(1.0, s)
            best = max(min(peer.values()), floor)
            if max(err.error, floor) > factor * best:
                note = ev.failures.get(target, "")
                out.append(Finding(ev.case.describe(), q, err.layer, target, err.error, peer, note))
    return out


def beyond(
    evaluations: Sequence[Evaluation], impl: str, limits: Mapping[str, float]
) -> list[Finding]:
    """Cases where ``impl``'s error against exact exceeds ``limits[dtype]``."""
    out = []
    for ev in evaluations:
        for q, err in ev.errors.get(impl, {}).items():
            if err.error > limits[ev.case.dtype]:
                note = ev.failures.get(impl, "")
                out.append(Finding(ev.case.describe(), q, err.layer, impl, err.error, {}, note))
    return out


def disagreements(
    evaluations: Sequence[Evaluation], a: str, b: str, limits: Mapping[str, float]
) -> list[Finding]:
    """Cases where ``a`` and ``b`` differ by more than ``limits[dtype]`` of the magnitude."""
    out = []
    for ev in evaluations:
        ra, rb = ev.results.get(a, {}), ev.results.get(b, {})
        for q in ra.keys() & rb.keys():
            worst, at = 0.0, None
            for k, (x, y, m) in enumerate(zip(ra[q], rb[q], ev.scale[q], strict=False)):
                with mpmath.workdps(30):
                    diff = float(np.linalg.norm(x - y)) if x.shape == y.shape else math.inf
                    scale = _floor(_norm(m.ravel()), ev.case.dtype)
                    d = _ratio(mpmath.mpf(diff), scale) if math.isfinite(diff) else diff
                if not d <= worst:
                    worst, at = d, k
            if not worst <= limits[ev.case.dtype]:
                layer = at if q in LAYERED else None
                out.append(Finding(ev.case.describe(), q, layer, a, worst, {b: worst}))
    return out
