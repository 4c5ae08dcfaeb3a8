"""Rounding exact results to float32 and float64: once, to nearest, ties to even; and the
conversion of float inputs to mp, which must be exact."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from mpmath import mp

from oracle.exact import exact_backprop, round_mpf, rounded
from tests.judge.oracle_cases import one_unit

F = np.float64


def test_rounding_to_float64_is_the_nearest_double() -> None:
    rng = np.random.default_rng(3)
    with mp.workdps(60):
        xs = [
            mpmath.mpf(v) * (1 + mpmath.mpf(u) * mpmath.mpf(2) ** -53)
            for v, u in zip(rng.normal(0, 1e3, 200), rng.uniform(-1, 1, 200), strict=True)
        ]
    for x in xs:
        assert round_mpf(x, F) == float(x)  # mpmath's own conversion is correct here


def test_rounding_to_float32_rounds_once() -> None:
    # just above a float32 tie: via float64 it would round to the tie, then to even (1.0)
    with mp.workdps(60):
        x = 1 + mpmath.mpf(2) ** -24 + mpmath.mpf(2) ** -60
    assert float(x) == 1 + 2.0**-24  # what the first rounding (to float64) would give
    assert round_mpf(x, np.float32) == 1 + 2.0**-23
    assert round_mpf(1 + mpmath.mpf(2) ** -24, np.float32) == 1.0  # the tie itself: to even
    assert round_mpf(-(1 + 3 * mpmath.mpf(2) ** -24), np.float32) == -(1 + 2.0**-22)


def test_rounding_covers_subnormals_and_overflow() -> None:
    tiny = mpmath.mpf(2) ** -149
    assert round_mpf(tiny * mpmath.mpf("1.5"), np.float32) == 2 * 2.0**-149  # tie → even
    assert round_mpf(tiny * mpmath.mpf("0.4"), np.float32) == 0.0
    assert round_mpf(mpmath.mpf(2) ** 128, np.float32) == math.inf
    assert round_mpf(-(mpmath.mpf(2) ** 1024), F) == -math.inf
    assert round_mpf(mpmath.mpf(2) ** -1074 * 3, F) == 3 * 2.0**-1074


def test_rounded_results_have_the_dtype_and_shapes() -> None:
    case = one_unit("tanh", "mse", 0.3, 0.1)
    case["weights"], case["biases"] = [np.ones((1, 2))], [np.zeros(2)]
    case["Y"] = np.zeros((1, 2))
    r = rounded(exact_backprop(**case), np.float32)
    assert r.output.dtype == np.float32 and r.grad_weights[0].shape == (1, 2)
    assert r.grad_biases[0].dtype == np.float32 and isinstance(r.loss, float)
    with pytest.raises(ValueError, match="float32 or float64, got float16"):
        rounded(exact_backprop(**case), np.float16)


def test_float32_inputs_are_taken_at_their_exact_value() -> None:
    x = np.float32(0.1)
    res = exact_backprop(**one_unit("identity", "mse", 0.0, 0.0) | {"X": np.array([[x]])})
    assert res.output[0, 0] == mpmath.mpf(float(x)) != mpmath.mpf("0.1")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_far_outside_the_format_round_without_giant_integers(dtype: str) -> None:
    """exp(−1e5)-sized exact values (a saturated deep network) round to ±0 or ±inf at once;
    the integer shifts would otherwise be as long as the exponent."""
    assert round_mpf(mpmath.mpf("1e-5000000"), dtype) == 0.0
    assert math.copysign(1.0, round_mpf(-mpmath.mpf("1e-5000000"), dtype)) == -1.0
    assert round_mpf(mpmath.mpf("1e5000000"), dtype) == math.inf
    assert round_mpf(-mpmath.mpf("1e5000000"), dtype) == -math.inf
