"""The oracle's loss values against the contract's table written independently in NumPy, and
its losses finite where the stable forms matter (logits of ±1e4, probabilities near 0 and 1).

``NUMPY_LOSSES`` holds the contract's losses (docs/conventions.md, "Losses"); a loss added
later is checked against refbp's by the differential suite and through finite differences by
tests/judge/test_oracle_numeric.py.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
import pytest

import oracle
from oracle.functions import LOSS_NAMES, LOSS_SPECS, LOSSES
from tests.judge.oracle_cases import outputs_for, targets


def _softmax_ce(a: np.ndarray, y: np.ndarray) -> float:
    s = a - a.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return float(-np.sum(y * logp) / len(a))


def _huber(d: np.ndarray) -> float:
    return float(np.mean(np.where(np.abs(d) <= 1, 0.5 * d**2, np.abs(d) - 0.5)))


#: the contract's table, written independently in NumPy (values only)
NUMPY_LOSSES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "mse": lambda a, y: float(np.mean((a - y) ** 2)),
    "quadratic": lambda a, y: float(np.sum((a - y) ** 2) / (2 * len(a))),
    "l1": lambda a, y: float(np.mean(np.abs(a - y))),
    "huber": lambda a, y: _huber(a - y),
    "softmax_cross_entropy": _softmax_ce,
    "sigmoid_cross_entropy": lambda a, y: float(np.sum(np.logaddexp(0.0, a) - y * a) / len(a)),
    "binary_cross_entropy": lambda a, y: float(
        -np.sum(y * np.log(a) + (1 - y) * np.log1p(-a)) / len(a)
    ),
}
#: losses that take logits, where the stable forms are tested at ±1e4
LOGIT_LOSSES = tuple(n for n in LOSS_NAMES if not LOSS_SPECS[n].probability_output)


def test_the_contract_losses_are_in_the_registry() -> None:
    missing = sorted(set(NUMPY_LOSSES) - set(LOSS_NAMES))
    assert not missing, f"the contract's losses {missing} are missing from oracle/functions.py"


@pytest.mark.parametrize("name", sorted(NUMPY_LOSSES))
def test_loss_values_match_the_contract_table(name: str) -> None:
    rng = np.random.default_rng(7)
    a = outputs_for(rng, name, (5, 3))
    y = targets(rng, name, 5, 3)
    expected = NUMPY_LOSSES[name](a, y)
    assert float(LOSSES[name](jnp.asarray(a), jnp.asarray(y))) == pytest.approx(expected, rel=1e-13)
    assert oracle.loss_grad_fast(name, a, y)[0] == pytest.approx(expected, rel=1e-13)


#: targets that put mass on the very unlikely classes of the ±1e4 logits below
_EXTREME_TARGETS = {
    "probability_rows": np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]),
    "unit_interval": np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.0]]),
}


@pytest.mark.parametrize("name", LOGIT_LOSSES)
def test_losses_are_finite_for_logits_of_1e4(name: str) -> None:
    a = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    kind = LOSS_SPECS[name].targets
    y = _EXTREME_TARGETS.get(kind)
    if y is None:
        y = targets(np.random.default_rng(0), name, 2, 3)
    for c, g in (oracle.loss_grad(name, a, y), oracle.loss_grad_fast(name, a, y)):
        assert np.isfinite(c) and np.all(np.isfinite(g))
    # and through a whole network whose output layer produces such logits
    ws = [np.array([[1e4, -1e4, 0.0]])]
    r = oracle.backprop_fast(ws, [np.zeros(3)], ["identity"], name, np.array([[1.0], [-1.0]]), y)
    assert np.isfinite(r.loss) and all(np.all(np.isfinite(d)) for d in r.deltas)


def test_binary_cross_entropy_is_finite_near_but_not_at_0_and_1() -> None:
    a = np.array([[1e-12, 1 - 1e-12]])
    y = np.array([[1.0, 0.0]])
    c, g = oracle.loss_grad("binary_cross_entropy", a, y)
    assert np.isfinite(c) and np.all(np.isfinite(g))
    # no clipping: a = 0 with y = 1 is log(0), and the oracle says so
    c0, _ = oracle.loss_grad("binary_cross_entropy", np.array([[0.0]]), np.array([[1.0]]))
    assert c0 == np.inf


def test_softmax_cross_entropy_keeps_its_digits_on_confident_rows() -> None:
    """jax.nn.log_softmax takes log(1 + r) for the max's column; for a confident row
    (C ≈ r ≪ 1) that rounding alone is a relative error u / C in C: the oracle once
    returned C = 4.0402312134661e-4 where exact arithmetic gives ...666474 (1.3e-13 off),
    and failed refbp, which was right (with log_softmax: 335 ulps at a margin of 8, 1e13
    at 35).  The value and the gradient, plain and padded, against exact arithmetic."""
    pytest.importorskip("mpmath")
    from oracle.exact import exact_backprop, rounded

    rng = np.random.default_rng(5)
    for margin in (3.0, 8.0, 20.0, 35.0):
        z = rng.normal(size=(3, 4))
        z[np.arange(3), rng.integers(0, 4, 3)] += margin  # one confident column a row
        y = np.eye(4)[z.argmax(axis=1)]
        w, b = [np.eye(4)], [np.zeros(4)]
        want = rounded(exact_backprop(w, b, ["identity"], "softmax_cross_entropy", z, y),
                       np.float64)  # fmt: skip
        for fn in (oracle.backprop, oracle.backprop_fast):
            got = fn(w, b, ["identity"], "softmax_cross_entropy", z, y)
            # rounding s = a − max costs e^s a relative |s|·u/2: the problem's own conditioning
            bound = (4 + margin) * np.finfo(float).eps * abs(want.loss)
            assert abs(got.loss - want.loss) <= bound
            # δ = (p − y)/B subtracts terms of size 1/B: judged against those (the
            # tolerance model's M), not against δ's own tiny entries
            err = np.abs(got.grad_input - want.grad_input)
            assert err.max() <= 8 * np.finfo(float).eps / len(z)
