"""Each activation, each loss and the dense layer leaves its arguments as they were.

The network-level promise ("nothing passed in is mutated") is in tests/test_network.py;
here each function is called alone, where a write into an argument cannot hide behind a
copy made by the network.  refbp alone (the targets come from tests/strategies.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import refbp
from oracle.domains import PROBABILITY_OUTPUT_LOSSES
from tests.strategies import ACTIVATION_NAMES, LOSS_NAMES, targets


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_function_writes_into_its_inputs(dtype: type[np.floating]) -> None:
    """The registries' functions, reference forms and kernels alike, and the dense layer
    leave z, a, g, y, x, w, b as they were: inside MLP.backprop an in-place write can be
    invisible, but a caller's arrays are not theirs.  Inputs include exact zeros (relu's
    kink) and both dtypes."""
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, (5, 4)).astype(dtype)
    z[0, :2] = 0.0
    g = rng.normal(size=(5, 4)).astype(dtype)
    for name in ACTIVATION_NAMES:
        act = refbp.ACTIVATIONS[name]
        # the reference forms, then the pair the network runs (kernels where there are some)
        for form, (forward, backward) in (
            ("", (act.forward, act.backward)),
            (" kernel", act.functions),
        ):
            zc, gc = z.copy(), g.copy()
            a = forward(zc)
            np.testing.assert_array_equal(zc, z, err_msg=f"{name}{form} forward wrote into z")
            ac = a.copy()
            backward(zc, a, gc)
            np.testing.assert_array_equal(zc, z, err_msg=f"{name}{form} backward wrote into z")
            np.testing.assert_array_equal(a, ac, err_msg=f"{name}{form} backward wrote into a")
            np.testing.assert_array_equal(gc, g, err_msg=f"{name}{form} backward wrote into g")
    for name in LOSS_NAMES:
        loss = refbp.LOSSES[name]
        a = z.copy()
        if name in PROBABILITY_OUTPUT_LOSSES:  # probabilities in (0, 1), not logits
            a = (1.0 / (1.0 + np.exp(-a))).astype(dtype)
        y = targets(rng, name, a.shape).astype(dtype)
        a0, y0 = a.copy(), y.copy()
        for value, grad in ((loss.value, loss.grad), loss.functions):
            value(a, y)
            grad(a, y)
            np.testing.assert_array_equal(a, a0, err_msg=f"{name} wrote into a")
            np.testing.assert_array_equal(y, y0, err_msg=f"{name} wrote into y")
    x, w, b = z.copy(), rng.normal(size=(4, 4)).astype(dtype), rng.normal(size=4).astype(dtype)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    _, cache = refbp.dense_forward(x, w, b)
    refbp.dense_backward(g.copy(), cache)
    for arr, before in ((x, x0), (w, w0), (b, b0)):
        np.testing.assert_array_equal(arr, before)
