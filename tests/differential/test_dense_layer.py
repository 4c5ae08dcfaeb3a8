"""The dense layer on square weights against the oracle's jax.vjp.

The random shapes of tests/differential/test_functions.py are rarely square; on a square w
a transposed product has the right shape, so only the values can tell dx = δ wᵀ from δ w.
"""

from __future__ import annotations

import numpy as np

import refbp
from oracle.fast import dense_vjp_fast


def test_dense_layer_on_square_weights_against_the_oracle() -> None:
    """dx = δ wᵀ on a square, non-symmetric w, where a missing transpose still has the right
    shape and only the values tell."""
    rng = np.random.default_rng(7)
    for n in (2, 3, 8):
        x, w = rng.normal(size=(5, n)), rng.normal(size=(n, n))
        b, g = rng.normal(size=n), rng.normal(size=(5, n))
        _, cache = refbp.dense_forward(x, w, b)
        grads = refbp.dense_backward(g, cache)
        _, dx_ref, dw_ref, db_ref = dense_vjp_fast(x, w, b, g)
        np.testing.assert_allclose(grads.dx, dx_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grads.dw, dw_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grads.db, db_ref, rtol=1e-12, atol=1e-12)
