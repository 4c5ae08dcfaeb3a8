"""``dense_forward`` / ``dense_backward``, called directly: what they compute and what they
refuse (a bias of another shape would broadcast into a plausible, wrong z)."""

from __future__ import annotations

import numpy as np
import pytest

import refbp
from tests.refusals import raises


def test_a_plain_tuple_serves_as_the_cache() -> None:
    rng = np.random.default_rng(0)
    x, w, b, d = rng.normal(size=(5, 2)), rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=(5, 3))
    z, cache = refbp.dense_forward(x, w, b)
    np.testing.assert_array_equal(z, x @ w + b)
    for c in (cache, (x, w)):
        dx, dw, db = refbp.dense_backward(d, c)
        np.testing.assert_allclose(dx, d @ w.T, rtol=1e-15)
        np.testing.assert_allclose(dw, x.T @ d, rtol=1e-15)
        np.testing.assert_allclose(db, d.sum(axis=0), rtol=1e-15)


@pytest.mark.parametrize(
    ("b_shape", "x_shape"), [((5, 3), (5, 2)), ((1, 1), (5, 2)), ((2,), (5, 2)), ((3,), (5, 4)), ((3,), (2,))]
)
def test_dense_forward_refuses_shapes_that_do_not_fit(b_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> None:
    with raises(ValueError, "dense_forward: needs arrays x (B, I), w (I, O), b (O,), got",
                f"x {x_shape}, w (2, 3), b {b_shape}"):  # fmt: skip
        refbp.dense_forward(np.ones(x_shape), np.ones((2, 3)), np.zeros(b_shape))


def test_dense_functions_refuse_what_is_not_an_array() -> None:
    with raises(TypeError, "dense_forward: x, w and b must be NumPy arrays, got x list"):
        refbp.dense_forward([[1.0, 2.0]], np.ones((2, 3)), np.zeros(3))  # type: ignore[arg-type]
    with raises(TypeError, "dense_backward: delta and the cache's x and w must be NumPy arrays"):
        refbp.dense_backward([[1.0]], (np.ones((1, 1)), np.ones((1, 1))))  # type: ignore[arg-type]
    with raises(ValueError, "dense_backward: needs delta (B, O) for the cache's x (B, I) and w (I, O),",
                "got delta (5, 1), x (5, 2), w (2, 3)"):  # fmt: skip
        refbp.dense_backward(np.ones((5, 1)), (np.ones((5, 2)), np.ones((2, 3))))
