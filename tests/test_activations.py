"""Activation derivatives on inputs the reference forms do not see in the network tests.

Integer pre-activations, arrays larger than one evaluation block, and gelu far beyond the
range where z³ overflows; each against the formula written directly.  refbp alone: no JAX,
no oracle.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from refbp.activations import ACTIVATIONS


def test_elementwise_derivatives_of_integer_input_are_float64() -> None:
    """An integer z is computed in float64, not in z's integer dtype.

    tanh'(z) = 1/cosh²(z) and σ'(z) = σ(z)(1 − σ(z)), written directly.
    """
    z = np.array([[0, 1, -2], [3, -1, 2]])
    zf = z.astype(np.float64)
    d_tanh = ACTIVATIONS["tanh"].derivative(z, np.tanh(zf))
    s = 1.0 / (1.0 + np.exp(-zf))
    d_sig = ACTIVATIONS["sigmoid"].derivative(z, s)
    assert d_tanh.dtype == np.float64 and d_sig.dtype == np.float64
    np.testing.assert_allclose(d_tanh, 1.0 / np.cosh(zf) ** 2, rtol=1e-14)
    np.testing.assert_allclose(d_sig, s * (1.0 - s), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_derivatives_of_arrays_larger_than_one_block(dtype: type) -> None:
    """More elements than one evaluation block (2**19 bytes: 65536 float64, 131072 float32),
    and not a multiple of it: the same values as the formula written directly."""
    z = np.linspace(-6.0, 6.0, 400 * 401).reshape(400, 401)
    d = ACTIVATIONS["tanh"].derivative(z.astype(dtype), np.tanh(z).astype(dtype))
    assert d.dtype == dtype and d.shape == z.shape
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(d, 1.0 / np.cosh(z) ** 2, rtol=tol, atol=tol * 1e-3)


@pytest.mark.parametrize(("dtype", "big"), [(np.float32, 1e13), (np.float32, 3e38), (np.float64, 1e300)])
def test_gelu_is_quiet_and_exact_far_beyond_the_clip(dtype: type, big: float) -> None:
    """activations.py: "no overflow, no NaN, no RuntimeWarning" for pre-activations far beyond
    ±1e4.  There gelu(z) = z·σ(2u) is exactly z (z > 0) or 0 (z < 0), and gelu' is 1 or 0.

    z³ overflows float32 at |z| ≈ 7e12 and float64 at |z| ≈ 6e102, so the clip at ±1e3 must
    hold on both sides.
    """
    z = np.array([[big, -big], [-big, big]], dtype=dtype)
    gelu = ACTIVATIONS["gelu"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = gelu.forward(z)
        d = gelu.derivative(z, a)
    assert a.dtype == dtype and d.dtype == dtype
    np.testing.assert_array_equal(a, np.array([[big, 0.0], [0.0, big]], dtype=dtype))
    np.testing.assert_array_equal(d, np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype))
