"""Numerical stability and dtypes.

Pre-activations and logits of ±1e4 (and the overflow thresholds of exp, and subnormals) give
finite values and gradients, with the right limits, and without a RuntimeWarning: each check
runs under ``np.errstate(all="raise")`` (underflow, the normal fate of exp(−large), excepted)
with warnings turned into errors.  A float32 network computes in float32 whatever the data's
dtype; integer data is accepted and cast.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import refbp

DTYPES = (np.float32, np.float64)
BIG = 1e4


@contextmanager
def strict_numerics() -> Iterator[None]:
    """Overflow, invalid operations and division by zero raise; so does any warning."""
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


def extreme_z(dtype: type[np.floating]) -> np.ndarray:
    """Two rows: ±1e4, exp's overflow thresholds (88.7 in float32, 709.8 in float64),
    a subnormal, zero, and ordinary values."""
    tiny = float(np.finfo(dtype).smallest_subnormal)
    row1 = [-BIG, -710.0, -89.0, -30.0, -1.0, -tiny, 0.0, tiny, 1.0, 30.0, 89.0, 710.0, BIG]
    row2 = [BIG, BIG, -BIG, 3.0, 0.5, -2.0, 1.0, -BIG, 0.0, -0.5, 2.0, -3.0, BIG]
    return np.array([row1, row2], dtype=dtype)


def _sig(z: float) -> float:
    return 0.5 * (1 + math.tanh(z / 2))  # exact limits, no overflow


# σ(±1e4) and σ'(±1e4): the limits every stable form must reach
LIMITS = {
    #             σ(−1e4)  σ(+1e4)  σ'(−1e4) σ'(+1e4)
    "identity": (-BIG, BIG, 1.0, 1.0),
    "sigmoid": (0.0, 1.0, 0.0, 0.0),
    "tanh": (-1.0, 1.0, 0.0, 0.0),
    "relu": (0.0, BIG, 0.0, 1.0),
    "leaky_relu": (-0.01 * BIG, BIG, 0.01, 1.0),
    "elu": (-1.0, BIG, 0.0, 1.0),
    "softplus": (0.0, BIG, 0.0, 1.0),
    "gelu": (0.0, BIG, 0.0, 1.0),
    "silu": (0.0, BIG, 0.0, 1.0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(refbp.ACTIVATIONS))
def test_activation_is_finite_and_keeps_dtype_at_extremes(name: str, dtype: type) -> None:
    act = refbp.ACTIVATIONS[name]
    z = extreme_z(dtype)
    g = np.random.default_rng(0).normal(size=z.shape).astype(dtype)  # random dC/da
    with strict_numerics():
        a = act.forward(z)
        dz = act.backward(z, a, g)
        deriv = act.derivative(z, a) if act.derivative is not None else None
    assert a.dtype == dtype and dz.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(dz).all()
    if name == "softmax":  # row-wise: rows sum to one, the VJP's rows sum to zero
        np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(dz.sum(axis=1), 0.0, atol=1e-5 * np.abs(g).max())
        return
    assert deriv is not None and deriv.dtype == dtype and np.isfinite(deriv).all()
    lo, hi, dlo, dhi = LIMITS[name]
    at_lo, at_hi = z == -BIG, z == BIG
    np.testing.assert_allclose(a[at_lo], lo, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(a[at_hi], hi, rtol=1e-6)
    np.testing.assert_allclose(deriv[at_lo], dlo, atol=1e-30)
    np.testing.assert_allclose(deriv[at_hi], dhi, atol=1e-30)
    np.testing.assert_allclose(dz, g * deriv, rtol=1e-6)


def _targets(loss: str, shape: tuple[int, int], dtype: type) -> np.ndarray:
    y = np.random.default_rng(1).uniform(size=shape)
    if loss == "softmax_cross_entropy":
        y /= y.sum(axis=1, keepdims=True)
    elif loss not in ("sigmoid_cross_entropy", "binary_cross_entropy"):
        y = 4 * y - 2
    return y.astype(dtype)


def _loss_reference(loss: str, a: np.ndarray, y: np.ndarray) -> float:
    """C in float64 by the definitions of DESIGN.md, for finite extreme a (exact forms)."""
    a, y = a.astype(np.float64), y.astype(np.float64)
    d = a - y
    B = len(a)
    if loss == "mse":
        return float(np.mean(d * d))
    if loss == "quadratic":
        return float(np.sum(d * d) / (2 * B))
    if loss == "l1":
        return float(np.mean(np.abs(d)))
    if loss == "huber":
        return float(np.mean(np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5)))
    if loss == "softmax_cross_entropy":
        m = a.max(axis=1, keepdims=True)
        log_p = a - m - np.log(np.exp(a - m).sum(axis=1, keepdims=True))
        return float(-np.sum(y * log_p) / B)
    if loss == "sigmoid_cross_entropy":  # softplus(a) − y a
        return float(np.sum(np.logaddexp(0, a) - y * a) / B)
    assert loss == "binary_cross_entropy"
    return float(-np.sum(y * np.log(a) + (1 - y) * np.log1p(-a)) / B)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", sorted(refbp.LOSSES))
def test_loss_is_finite_and_keeps_dtype_at_extreme_outputs(loss: str, dtype: type) -> None:
    entry = refbp.LOSSES[loss]
    if loss == "binary_cross_entropy":
        # its outputs are probabilities: the extremes are the smallest normal and 1 − ε/2
        info = np.finfo(dtype)
        edge = [float(info.tiny), 1.0 - float(info.epsneg), 0.5, 1e-3]
        a = np.array([edge, edge[::-1]], dtype=dtype)
    else:
        a = np.array([[-BIG, BIG, 0.0, 1.0], [BIG, BIG, -BIG, -3.0]], dtype=dtype)
    y = _targets(loss, a.shape, dtype)
    with strict_numerics():
        value = entry.value(a, y)
        grad = entry.grad(a, y)
    assert np.asarray(value).dtype == dtype and np.ndim(value) == 0
    assert grad.dtype == dtype and grad.shape == a.shape
    assert np.isfinite(value) and np.isfinite(grad).all()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert float(value) == pytest.approx(_loss_reference(loss, a, y), rel=rtol)


def _extreme_network(act: str, loss: str, dtype: type) -> tuple[refbp.MLP, np.ndarray]:
    """A [2, 3, 2] network whose hidden pre-activations are ±1e4 (and 0) for X below."""
    W1 = np.array([[BIG, -BIG, 0.0], [-BIG, BIG, BIG]])
    W2 = np.array([[1.0, -1.0], [2.0, 0.5], [-1.0, 1.0]])
    out = act
    if loss == "binary_cross_entropy":  # outputs must stay inside (0, 1)
        out = act if act in ("sigmoid", "softmax") else "sigmoid"
        W2 = W2 * 1e-6
    net = refbp.MLP([W1.astype(dtype), W2], [np.zeros(3), np.zeros(2)], [act, out], loss)
    X = np.array([[1.0, -1.0], [-1.0, 1.0], [0.5, 0.25], [1.0, 1.0]])  # float64 data
    return net, X


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", sorted(refbp.LOSSES))
@pytest.mark.parametrize("act", sorted(refbp.ACTIVATIONS))
def test_network_is_finite_and_keeps_dtype_at_extremes(act: str, loss: str, dtype: type) -> None:
    net, X = _extreme_network(act, loss, dtype)
    Y = _targets(loss, (len(X), 2), np.float64)
    with strict_numerics():
        out = net.predict(X)
        bp = net.backprop(X, Y)
    arrays = [out, *bp.grad_weights, *bp.grad_biases, *bp.deltas, bp.grad_input]
    assert all(arr.dtype == dtype for arr in arrays)
    assert all(np.isfinite(arr).all() for arr in arrays) and math.isfinite(bp.loss)


def test_saturated_probability_output_is_a_clear_error_not_a_warning() -> None:
    # sigmoid(±1e4) is exactly 0 or 1: binary cross-entropy is infinite there
    net = refbp.MLP([np.array([[BIG, -BIG]])], [np.zeros(2)], ["sigmoid"], "binary_cross_entropy")
    X, Y = np.ones((1, 1)), np.array([[0.5, 0.5]])
    with (
        strict_numerics(),
        pytest.raises(refbp.NumericalError, match=r"MLP\.backprop: .*strictly inside \(0, 1\)"),
    ):
        net.backprop(X, Y)
    with strict_numerics(), pytest.raises(ValueError, match=r"train: .*sigmoid_cross_entropy"):
        refbp.train(net, X, Y, epochs=1)


# --- dtypes: float32 stays float32; integers are cast --------------------------------------


def _reference_forward(
    X: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray]
) -> np.ndarray:
    """tanh hidden, identity output, in float64 NumPy."""
    (W1, W2), (b1, b2) = (
        [w.astype(np.float64) for w in weights],
        [b.astype(np.float64) for b in biases],
    )
    return np.tanh(X.astype(np.float64) @ W1 + b1) @ W2 + b2


@pytest.mark.parametrize("data_dtype", [np.float64, np.float32, np.int64, np.int8, np.bool_])
def test_float32_network_stays_float32_for_any_data(data_dtype: type) -> None:
    rng = np.random.default_rng(0)
    net = refbp.MLP.init([3, 5, 2], ["tanh", "identity"], "mse", dtype=np.float32, seed=0)
    X = (rng.normal(size=(16, 3)) * 3).astype(data_dtype)
    Y = (rng.normal(size=(16, 2)) * 3).astype(data_dtype)
    weights, biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    with strict_numerics():
        out = net.predict(X)
        bp = net.backprop(X, Y)
        history = refbp.train(net, X, Y, lr=0.01, batch_size=4, epochs=2, seed=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _reference_forward(X, weights, biases), rtol=1e-5, atol=1e-5)
    arrays = [*bp.grad_weights, *bp.grad_biases, *bp.deltas, bp.grad_input]
    assert all(a.dtype == np.float32 for a in arrays)
    assert all(p.dtype == np.float32 for p in [*net.weights, *net.biases])  # after training
    assert len(history) == 2 and all(math.isfinite(h) for h in history)


@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_data_is_accepted_and_cast(dtype: type) -> None:
    rng = np.random.default_rng(0)
    net = refbp.MLP.init([3, 4, 3], ["tanh", "identity"], "softmax_cross_entropy", dtype=dtype)
    X = rng.integers(-3, 4, size=(6, 3))  # int64
    labels = rng.integers(0, 3, size=6)
    Y = np.eye(3, dtype=np.int64)[labels]  # one-hot integer targets
    out = net.predict(X)
    assert out.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    a = _reference_forward(X, net.weights, net.biases)
    np.testing.assert_allclose(out, a, rtol=rtol, atol=rtol)
    bp = net.backprop(X, Y)
    log_p = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
    expected = float(-np.mean(log_p[np.arange(6), labels]))
    assert bp.loss == pytest.approx(expected, rel=rtol)
    assert bp.grad_input.dtype == dtype and bp.grad_weights[0].dtype == dtype
