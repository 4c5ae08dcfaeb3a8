"""The oracle's conventions at the kinks, pinned through ``jax.grad`` on its own functions.

Each activation the registry declares kinked (``ActivationSpec.kinks``) declares the slope
chosen at each kink beside it (``kink_slopes``, docs/conventions.md's table), and ``jax.grad``
must give exactly that; the loss kinks of l1 and huber are pinned by name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import oracle
from oracle.functions import ACTIVATION_SPECS, ACTIVATIONS, LOSSES

KINKED = tuple(name for name, spec in ACTIVATION_SPECS.items() if spec.kinks)
#: the contract's conventions (docs/conventions.md), written out once more as the contract has them
CONTRACT_SLOPES = {"relu": (0.0,), "leaky_relu": (1.0,), "elu": (1.0,)}


def test_every_kinked_activation_declares_its_slopes() -> None:
    for name in KINKED:
        spec = ACTIVATION_SPECS[name]
        assert len(spec.kink_slopes) == len(spec.kinks), (
            f"{name} declares kinks {spec.kinks} in oracle/functions.py: give its ActivationSpec "
            "kink_slopes=, the slope chosen at each (and its row in docs/conventions.md)"
        )
    for name, slopes in CONTRACT_SLOPES.items():
        assert ACTIVATION_SPECS[name].kink_slopes == slopes, f"{name}'s slope is the contract's"


@pytest.mark.parametrize("name", KINKED)
def test_activation_kink_convention_via_jax_grad(name: str) -> None:
    f = ACTIVATIONS[name]
    spec = ACTIVATION_SPECS[name]
    for kink, slope in zip(spec.kinks, spec.kink_slopes, strict=True):
        assert jax.grad(lambda z: f(z))(kink) == slope
        # and through the oracle's VJP entry points, plain and bucketed
        z, g = np.full((2, 3), kink), np.ones((2, 3))
        assert np.all(oracle.activation_vjp(name, z, g)[1] == slope)
        assert np.all(oracle.activation_vjp_fast(name, z, g)[1] == slope)


def test_why_relu_is_not_jnp_maximum() -> None:
    # The pitfall the registry avoids: jnp.maximum splits the gradient at a tie.
    assert jax.grad(lambda z: jnp.maximum(z, 0.0))(0.0) == 0.5
    assert jax.grad(jnp.abs)(0.0) == 1.0


_L1_GRAD = jax.jit(jax.grad(LOSSES["l1"]))


# One shape: every new shape is a new compile.
@given(a=hnp.arrays(np.float64, (4, 3), elements=st.floats(-10, 10, allow_subnormal=False)))
@settings(deadline=None)
def test_l1_subgradient_is_zero_where_a_equals_y(a: np.ndarray) -> None:
    # sign(0) = 0, as NumPy's sign: no push where the prediction is exact.
    assert np.all(np.asarray(_L1_GRAD(a, a)) == 0.0)
    assert np.all(oracle.loss_grad("l1", a, a)[1] == 0.0)
    assert np.all(oracle.loss_grad_fast("l1", a, a)[1] == 0.0)


def test_huber_is_continuous_with_slope_one_at_delta() -> None:
    y = np.zeros((1, 2))
    a = np.array([[1.0, -1.0]])
    c, g = oracle.loss_grad("huber", a, y)
    assert c == 0.5  # (0.5 + 0.5) / 2 entries
    assert np.array_equal(g, np.array([[0.5, -0.5]]))  # ±1 / (B·O)
