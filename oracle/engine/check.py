"""One case through one target: every property the engine asks of a single backprop call.

``check_case`` builds the target's network for the case, calls ``backprop`` and demands, in
order: that it ran; that no argument was mutated; that every returned quantity has the
parameters' shape; that the values agree with the oracle within the tolerance model (a
small case the target and JAX disagree on is arbitrated in exact arithmetic); that they are
in the parameters' dtype; and, when asked, that a second call returns the same bits.  A
violation raises :class:`Disagreement`, which carries everything a report and a diagnosis
need.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oracle.engine import arbiter
from oracle.engine.cases import Case, exact_l1_ties, variants
from oracle.engine.diagnosis import NONE, Diagnosis, Evidence, diagnose
from oracle.engine.protocol import ProtocolError, Target, TargetResult, Unsupported
from oracle.engine.reference import dispatch, judge_case, representable, sensitivity
from oracle.engine.tolerance import (
    FAMILIES,
    Measurement,
    Quantity,
    count_message,
    once,
    quantities,
    unit_roundoff,
    wrong_shapes,
)
from oracle.fast import PendingResult, forward_fast
from oracle.functions import ACTIVATION_SPECS

__all__ = ["Disagreement", "Outcome", "check_case"]


@dataclass
class Outcome:
    """How a case ended when it did not disagree."""

    kind: str  # checked | unsupported | unrepresentable | kink_ambiguous | arbitrated | expected
    #          | beyond_arbiter (exact property: a function oracle.exact does not have)
    measurements: list[Measurement] = field(default_factory=list)
    returned: tuple[str, ...] = ()
    expected_id: str | None = None


class Disagreement(AssertionError):
    """A target broke a property on a case.  ``diagnosis()`` names the mistake (computed once)."""

    def __init__(
        self,
        prop: str,
        case: Case,
        message: str,
        *,
        quantity: Quantity | None = None,
        measurement: Measurement | None = None,
        measurements: Sequence[Measurement] = (),
        evidence: Callable[[], list[Evidence]] | None = None,
        shapes: Sequence[Quantity] = (),
        arbitration: str | None = None,
    ) -> None:
        super().__init__(message)
        self.prop = prop
        self.case = case
        self.message = message
        self.quantity = quantity
        self.measurement = measurement
        self.measurements = list(measurements)
        self.shapes = tuple(shapes)
        self.arbitration = arbitration
        self._evidence = evidence
        self._diagnosis: Diagnosis | None = None

    def diagnosis(self) -> Diagnosis:
        if self._diagnosis is None:
            found = self._evidence() if self._evidence is not None else []
            self._diagnosis = diagnose(found, self.shapes) if found else NONE
        return self._diagnosis


_ORACLE = str(Path(__file__).resolve().parents[1])


def raised(exc: BaseException, case: Case) -> Disagreement:
    """The ``runs`` disagreement of a target that raised: the exception and where, the
    innermost of the target's frames first (the engine's own frames left out)."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_ORACLE)
    ]
    where = ", called from ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames[::-1][:3])
    said = f"the target raised {type(exc).__name__}: {exc}" + (f" (at {where})" if where else "")
    return Disagreement("runs", case, said)


def _same(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> int | None:
    """Index of the first array that differs (bits and dtype), or None."""
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        # the bytes, not ==: −0.0 for 0.0 or one NaN payload for another is a change too
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            return i
    return None


def _run(target: Target, case: Case) -> tuple[Any, list[np.ndarray], TargetResult]:
    """Build and call the target on copies; returns (net, the copies handed over, result)."""
    s = case.structure
    handed = [np.array(a) for a in case.arrays]
    L = s.depth
    try:
        net = target.build(
            weights=handed[:L],
            biases=handed[L : 2 * L],
            activations=list(s.activations),
            loss=s.loss,
        )
    except NotImplementedError as exc:
        raise Unsupported(str(exc)) from None
    return net, handed, target.backprop(net, handed[-2], handed[-1])


def kink_ambiguous(case: Case, exact_zs: Sequence[np.ndarray] | None = None) -> bool:
    """Does some exact z lie within rounding reach of a kink without sitting on it exactly?

    A pre-activation closer to a kink than the target's dtype can resolve (c·u times the
    magnitude of its terms, or below the smallest normal number) may round onto the other
    side in the target: there the derivatives differ legitimately, by the kink's jump.  The
    same holds for l1 where an output is within rounding of its target.

    Off the kink is decided on the float64 trace, where a z whose terms are all 0 sits on
    it; ``exact_zs`` (each layer's z in exact arithmetic, arrays of mpf) decide it instead
    where a reference is exact: there a z can be off the kink by less than any float can
    hold (an input that underflowed to 0 in every float arithmetic).
    """
    s = case.structure
    trace = forward_fast(case.weights, case.biases, list(s.activations), case.X)
    a_in = np.abs(np.asarray(case.X, np.float64))
    u = unit_roundoff(s.dtype)
    tiny = float(np.finfo(s.dtype).tiny)
    grow = 16 * u * (s.depth + 1) * math.sqrt(max(*s.sizes, s.batch))
    for i, name in enumerate(s.activations):
        terms = a_in @ np.abs(np.asarray(case.weights[i], np.float64)) + np.abs(
            np.asarray(case.biases[i], np.float64)
        )
        reach = np.maximum(grow * terms, tiny)
        for k in ACTIVATION_SPECS[name].kinks:
            if exact_zs is None:
                z = trace.pre_activations[i]
                near = (np.abs(z - k) <= reach) & (terms > 0)
            else:
                z = exact_zs[i]
                near = (np.abs(z - k) <= reach) & (z != k)
            if near.any():
                return True
        a_in = np.abs(trace.activations[i])
    if s.loss == "l1" and not exact_l1_ties(case):  # there a tie is a tie everywhere
        out, y = trace.activations[-1], np.asarray(case.Y, np.float64)
        if (np.abs(out - y) <= grow * (np.abs(out) + np.abs(y))).any():
            return True
    return False


def _evidence_on(target: Target, case: Case) -> Evidence | None:
    """The target and the oracle on ``case``, compared; None if it cannot serve as evidence."""
    try:
        got = _run(target, case)[2]
    except Exception:
        return None
    ref = dispatch(case).result()
    families = _families(got)
    if not representable(case, ref) or wrong_shapes(got, ref, families):
        return None
    sens = once(lambda: sensitivity(case, ref))
    return Evidence(case, got, ref, judge_case(case, got, ref, families, sens), families, sens)


def _families(res: TargetResult) -> tuple[str, ...]:
    present = res.returned()
    return tuple(f for f in FAMILIES if f in ("loss", "grad_W", "grad_b") or f in present)


def _first_bad(ms: Sequence[Measurement]) -> Measurement:
    return next(m for m in ms if not m.passed)


def check_case(
    target: Target,
    case: Case,
    *,
    pending: PendingResult | None = None,
    repeat: bool = False,
    prop: str = "agreement",
    expected: Callable[[Disagreement], str | None] | None = None,
) -> Outcome:
    """Check ``case`` on ``target``; raise :class:`Disagreement` unless every property holds.

    ``pending`` is the oracle's result if already dispatched.  ``expected`` maps a
    disagreement to the id of a known deviation it matches (then it is counted, not raised).
    """
    if pending is None:
        pending = dispatch(case)
    try:
        return _check(target, case, pending, repeat, prop)
    except Disagreement as d:
        if expected is not None:
            matched = expected(d)
            if matched is not None:
                return Outcome("expected", expected_id=matched)
        raise


def _check(target: Target, case: Case, pending: PendingResult, repeat: bool, prop: str) -> Outcome:
    s = case.structure
    try:
        net, handed, got = _run(target, case)
    except Unsupported:
        pending.result()
        return Outcome("unsupported")
    except Exception as exc:
        ref = pending.result()
        if not representable(case, ref):
            return Outcome("unrepresentable")
        if isinstance(exc, ProtocolError):
            raise
        raise raised(exc, case) from exc
    ref = pending.result()
    if not representable(case, ref):
        return Outcome("unrepresentable")
    moved = _same(case.arrays, handed)
    if moved is not None:
        names = [
            *(f"weights[{i}]" for i in range(s.depth)),
            *(f"biases[{i}]" for i in range(s.depth)),
            "X",
            "Y",
        ]
        raise Disagreement("not_mutated", case, f"the target changed its argument {names[moved]}")
    families = _families(got)
    bad_shapes = wrong_shapes(got, ref, families)
    sens = once(lambda: sensitivity(case, ref))

    def evidence(ms: Sequence[Measurement]) -> Callable[[], list[Evidence]]:
        def collect() -> list[Evidence]:
            found = [Evidence(case, got, ref, ms, families, sens)]
            for v in variants(case, target.capabilities):
                more = _evidence_on(target, v)
                if more is not None:
                    found.append(more)
            return found

        return collect

    if bad_shapes:
        q = bad_shapes[0]
        if q.layer is None:  # a list of arrays of another length than the layers
            said = count_message(got, ref)
        else:
            got_q = dict(quantities(got, families)).get(q, np.empty(0))
            ref_q = dict(quantities(ref, families)).get(q, np.empty(0))
            said = f"{q.label} has shape {np.shape(got_q)}, the parameters need {np.shape(ref_q)}"
        raise Disagreement(
            "shapes",
            case,
            said,
            quantity=q,
            evidence=lambda: [Evidence(case, got, ref, [], families, sens)],
            shapes=bad_shapes,
        )
    ms = judge_case(case, got, ref, families, sens)
    outcome = "checked"
    if not all(m.passed for m in ms):
        if kink_ambiguous(case):
            return Outcome("kink_ambiguous", ms, got.returned())
        # On an l1 tie case the oracle is exact already (z = X in any arithmetic, and the
        # slope at a tie is the contract's 0), and exact arithmetic's own perturbations
        # would move the outputs off their targets: nothing to arbitrate.
        verdict = None if exact_l1_ties(case) else arbiter.arbitrate(case, got, families, ms)
        if verdict is not None and verdict.target_passes:
            outcome = "arbitrated"
            ms = verdict.measurements
        else:
            m = _first_bad(ms)
            raise Disagreement(
                prop,
                case,
                f"{m.quantity.label}: ‖target − oracle‖ = {m.error:.3e} > allowed {m.bound:.3e}",
                quantity=m.quantity,
                measurement=m,
                measurements=ms,
                evidence=evidence(ms),
                arbitration=None if verdict is None else verdict.summary,
            )
    wrong_dtype = [  # the measurements carry the target's arrays as returned
        (m.quantity, np.asarray(m.got).dtype)
        for m in ms
        if m.quantity.family != "loss" and np.asarray(m.got).dtype != np.dtype(s.dtype)
    ]
    if wrong_dtype:
        q, dt = wrong_dtype[0]
        raise Disagreement(
            "dtype", case, f"{q.label} came back as {dt} for a {s.dtype} network", quantity=q
        )
    if repeat:
        # copies: a target may hand back buffers it owns and write the next call into them
        # (an autograd framework's .grad), which would change the first result to match
        first = [np.array(a) for _, a in quantities(got, families)]
        try:
            again = target.backprop(net, np.array(case.X), np.array(case.Y))
        except (ProtocolError, Unsupported):
            raise
        except Exception as exc:
            raise Disagreement(
                "repeatable", case,
                f"a second backprop(X, Y) on the same network raised {type(exc).__name__}: {exc}",
            ) from exc  # fmt: skip
        second = [a for _, a in quantities(again, families)]
        differs = _same(first, second)
        if differs is not None:
            q = quantities(got, families)[differs][0]
            raise Disagreement(
                "repeatable",
                case,
                f"a second backprop(X, Y) on the same network changed {q.label} "
                "(state kept between calls, e.g. gradients accumulated)",
                quantity=q,
            )
    return Outcome(outcome, ms, got.returned())
