"""Loss values and gradients against formulas written out here, at the cases that matter.

The general value checks are in tests/test_network.py (every loss against its reference
form); here: softmax cross-entropy's gradient per row and for targets that do not sum to 1,
and binary cross-entropy keeping its digits for a confident, correct prediction.  refbp
alone: no JAX, no oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from refbp.losses import LOSSES


def _softmax_ce_grad_exact(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(softmax(a) Σ_j y_j − y) / B, written directly (no max shift needed for the small
    logits used here)."""
    e = np.exp(a)
    p = e / e.sum(axis=1, keepdims=True)
    return (p * y.sum(axis=1, keepdims=True) - y) / len(a)


def test_softmax_cross_entropy_gradient_is_per_row_for_a_batch() -> None:
    """Each row's gradient uses only that row's logits: with B > 1 rows whose largest-logit
    column carries target mass, no sum over the row's other logits may mix in other rows."""
    a = np.array([[2.0, 0.5, -1.0], [0.0, 1.5, 0.3], [-0.2, -0.4, 1.0]])
    y = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5]])
    g = LOSSES["softmax_cross_entropy"].grad(a, y)
    np.testing.assert_allclose(g, _softmax_ce_grad_exact(a, y), rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_gradient_is_exact_for_unnormalised_targets() -> None:
    """The gradient is p · Σ_j y_j − y, exact for the targets actually given: rows of y that
    sum to 2 and to 0.5 tell p · Σy from p / Σy or from p alone."""
    a = np.array([[1.0, -0.5, 0.25], [0.3, 0.1, -2.0]])
    y = np.array([[1.0, 0.5, 0.5], [0.0, 0.5, 0.0]])  # row sums 2 and 0.5
    g = LOSSES["softmax_cross_entropy"].grad(a, y)
    np.testing.assert_allclose(g, _softmax_ce_grad_exact(a, y), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("dtype", "p", "rtol"),
    [(np.float64, 1e-10, 1e-14), (np.float64, 3e-5, 1e-14), (np.float32, 1e-6, 1e-5)],
)
def test_binary_cross_entropy_of_a_confident_correct_prediction(
    dtype: type[np.floating], p: float, rtol: float
) -> None:
    """With y = 0 and a tiny, C = −log(1 − a) ≈ a must keep its digits (log(1 − a) rounds
    1 − a first: float32 at a = 1e-6 is 3% off, float64 at a = 1e-10 loses seven digits).
    Exact value: math.log1p in double precision."""
    a = np.array([[p, 1.0 - p]], dtype=dtype)
    y = np.array([[0.0, 1.0]], dtype=dtype)
    a64 = a.astype(np.float64)
    exact = -(math.log1p(-float(a64[0, 0])) + math.log(float(a64[0, 1])))
    got = float(LOSSES["binary_cross_entropy"].value(a, y))
    assert got == pytest.approx(exact, rel=rtol)
