"""The exact property: small networks at every scale up to saturation against exact arithmetic.

The JAX oracle loses digits in saturation (1 − tanh² is 0 once tanh rounds to ±1), so it
cannot hold a target to more than its own digits there.  On networks small enough for
``oracle.exact`` (depth ≤ 3, widths ≤ 6, batch ≤ 4) the reference is the exact answer
instead, and the bound's sensitivity s is measured in exact arithmetic too: what the
case's conditioning allows, not what any implementation's formulas lose.  Weight gains
reach |z| of about 40 (float64) and 15 (float32), where sigmoid and tanh saturate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from hypothesis import strategies as st

from oracle.engine import check as checks
from oracle.engine.arbiter import exact_module, exact_reference
from oracle.engine.cases import Case, fill, structures
from oracle.engine.check import Disagreement, Outcome, kink_ambiguous
from oracle.engine.diagnosis import Evidence
from oracle.engine.protocol import Capabilities, ProtocolError, Target, Unsupported
from oracle.engine.reference import judge_case, representable
from oracle.engine.tolerance import wrong_shapes

__all__ = ["available", "check_exact", "exact_cases"]

GAINS = {"float64": (1.0, 5.0, 20.0, 40.0), "float32": (1.0, 5.0, 15.0)}


def available() -> bool:
    return exact_module() is not None


def _small(caps: Capabilities) -> Capabilities:
    exact = exact_module()
    limits = getattr(exact, "SMALL", {"max_depth": 3, "max_width": 6, "max_batch": 4})
    acts = getattr(exact, "EXACT_ACTIVATIONS", {})
    losses = getattr(exact, "EXACT_LOSSES", {})
    known = tuple(a for a in caps.activations if a in acts)
    return replace(
        caps,
        activations=known or caps.activations,
        output_activations=tuple(a for a in caps.output_activations if a in acts)
        or caps.output_activations,
        losses=tuple(loss for loss in caps.losses if loss in losses) or caps.losses,
        max_depth=min(caps.max_depth, int(limits["max_depth"])),
        max_width=min(caps.max_width, int(limits["max_width"])),
        max_batch=min(caps.max_batch, int(limits["max_batch"])),
    )


@st.composite
def _cases(draw: st.DrawFn, caps: Capabilities, dtype: str) -> Case:
    loss = draw(st.sampled_from(caps.losses_usable()))
    s = draw(structures(caps, loss, dtype))
    seed = draw(st.integers(0, 2**32 - 1))
    gain = draw(st.sampled_from(GAINS[dtype]))
    zeros = draw(st.sampled_from([0.0, 0.25]))
    return fill(s, seed, gain, 1.0, zeros)


@functools.cache
def exact_cases(caps: Capabilities, dtype: str) -> st.SearchStrategy[Case]:
    """Small cases within ``caps`` for exact arithmetic, any loss, scales up to saturation."""
    return _cases(_small(caps), dtype)


def check_exact(
    target: Target, case: Case, *, expected: Callable[[Disagreement], str | None] | None = None
) -> Outcome:
    """Judge ``target`` on ``case`` against exact arithmetic; raise Disagreement if it fails."""
    try:
        return _check(target, case)
    except Disagreement as d:
        matched = expected(d) if expected is not None else None
        if matched is not None:
            return Outcome("expected", expected_id=matched)
        raise


def _exact_pre_activations(case: Case) -> list[np.ndarray]:
    """Every layer's z in exact arithmetic (arrays of mpf)."""
    exact = exact_module()
    assert exact is not None  # the exact reference came from it
    s = case.structure
    args = (case.weights, case.biases, list(s.activations), s.loss, case.X, case.Y)
    return list(exact.exact_forward(*args).zs)


def _check(target: Target, case: Case) -> Outcome:
    found = exact_reference(case)
    if found is None:
        return Outcome("beyond_arbiter")  # a function the exact arbiter does not have yet
    ref, sens = found
    if not representable(case, ref):
        return Outcome("unrepresentable")
    try:
        _, _, got = checks._run(target, case)
    except Unsupported:
        return Outcome("unsupported")
    except ProtocolError:
        raise
    except Exception as exc:
        raise checks.raised(exc, case) from exc
    families = checks._families(got)
    if wrong_shapes(got, ref, families):
        return checks.check_case(target, case, prop="exact")  # the oracle path reports shapes
    ms = judge_case(case, got, ref, families, sens)
    if all(m.passed for m in ms):
        return Outcome("checked", ms, got.returned())
    if kink_ambiguous(case, _exact_pre_activations(case)):
        return Outcome("kink_ambiguous", ms, got.returned())
    m = next(m for m in ms if not m.passed)
    raise Disagreement(
        "exact",
        case,
        f"{m.quantity.label}: ‖target − exact‖ = {m.error:.3e} > allowed {m.bound:.3e}",
        quantity=m.quantity,
        measurement=m,
        measurements=ms,
        evidence=lambda: [Evidence(case, got, ref, ms, families, sens)],
    )
