"""What the exact arbiter accepts and refuses, what it leaves alone, and its perturbed copies
(exact_sensitivity), from which the engine measures a case's conditioning."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from mpmath import mp

from oracle.exact import exact_backprop, exact_sensitivity, is_small
from tests.judge.oracle_cases import one_unit

# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_perturbs_every_input_by_exactly_one_plus_or_minus_rho() -> None:
    w, b, x = 0.75, 0.125, 1.5
    case: dict[str, Any] = dict(
        weights=[np.array([[w]])],
        biases=[np.array([b])],
        activations=["identity"],
        loss="mse",
        X=np.array([[x]]),
        Y=np.array([[0.25]]),
    )
    rho = 1e-8
    runs = exact_sensitivity(**case, rho=rho, count=3, seed=1)
    assert len(runs) == 3
    with mp.workdps(60):
        r = mpmath.mpf(rho)
        allowed = {
            mpmath.mpf(x) * (1 + s) * mpmath.mpf(w) * (1 + t) + mpmath.mpf(b) * (1 + u)
            for s in (r, -r)
            for t in (r, -r)
            for u in (r, -r)
        }
    for run in runs:
        assert run.zs[0][0, 0] in allowed
    again = exact_sensitivity(**case, rho=rho, count=3, seed=1)
    assert [a.loss for a in again] == [a.loss for a in runs]


def test_sensitivity_measures_a_kink_as_ill_conditioned() -> None:
    smooth = one_unit("tanh", "mse", 0.4, 0.1)
    kink = one_unit("identity", "l1", 0.7, 0.7)  # a == y: any move flips the subgradient
    for case, big in ((smooth, False), (kink, True)):
        base = exact_backprop(**case).deltas[0][0, 0]
        moved = [r.deltas[0][0, 0] for r in exact_sensitivity(**case, rho=1e-10, count=4)]
        s = max(abs(m - base) for m in moved) / 1e-10
        assert (s > 1e6) == big, s


# --------------------------------------------------------------------------- refusals


def test_refuses_bad_input_naming_what_was_expected() -> None:
    good = one_unit("tanh", "mse", 0.3, 0.1)
    with pytest.raises(ValueError, match=r"X must be finite, got nan at \(0, 0\)"):
        exact_backprop(**{**good, "X": np.array([[np.nan]])})
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite, got inf"):
        exact_backprop(**{**good, "weights": [np.array([[np.inf]])]})
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 1\) .* got \(1, 2\)"):
        exact_backprop(**{**good, "Y": np.zeros((1, 2))})
    with pytest.raises(ValueError, match="unknown activation 'swish'; valid names are identity"):
        exact_backprop(**{**good, "activations": ["swish"]})
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        exact_backprop(**{**good, "loss": "hinge"})
    with pytest.raises(ValueError, match="dps must be an int >= 20, got 10"):
        exact_backprop(**good, dps=10)
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy needs outputs in \(0, 1\), got 1.5"
    ):
        exact_backprop(**one_unit("identity", "binary_cross_entropy", 1.5, 0.5))
    with pytest.raises(ValueError, match=r"finite mpf numbers, got mpf\('\+?inf'\) at \(0, 0\)"):
        exact_backprop(**{**good, "X": np.array([[mpmath.inf]], dtype=object)})
    with pytest.raises(ValueError, match=r"rho must be a number in \(0, 1\), got 0"):
        exact_sensitivity(**good, rho=0)


def test_leaves_the_global_precision_and_the_arguments_alone() -> None:
    case = one_unit("softplus", "huber", 0.3, 0.1)
    before = (mp.dps, case["X"].copy())
    exact_backprop(**case, dps=80)
    assert (mp.dps, case["X"][0, 0]) == (before[0], before[1][0, 0])


def test_is_small_matches_the_stated_limits() -> None:
    assert is_small((6, 6, 6, 6), 4)  # 432 multiply-adds, the most allowed
    assert not is_small((6, 6, 6, 6, 6), 4)  # depth 4
    assert not is_small((2, 2), 5)  # batch 5
    assert not is_small((3,), 1)
    assert not is_small((0, 2), 1)
    # widths beyond 6 where the multiply-adds stay within 432: a wide input, few units
    assert is_small((8, 1, 1, 2), 1) and is_small((64, 1), 4) and is_small((30, 6, 2), 2)
    assert not is_small((64, 2), 4)  # 512
