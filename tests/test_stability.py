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


def limits(act: refbp.Activation) -> tuple[float, float, float, float]:
    """σ(−1e4), σ(+1e4), σ'(−1e4), σ'(+1e4) from the entry's asymptotes: the limits every
    stable form must reach (σ follows slope · z + intercept, σ' tends to the slope)."""
    assert act.asymptotes is not None, f"{act.name}: an elementwise entry declares asymptotes"
    (s_lo, c_lo), (s_hi, c_hi) = act.asymptotes
    return (-s_lo * BIG + c_lo, s_hi * BIG + c_hi, s_lo, s_hi)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(refbp.ACTIVATIONS))
def test_activation_is_finite_and_keeps_dtype_at_extremes(name: str, dtype: type) -> None:
    act = refbp.ACTIVATIONS[name]
    z = extreme_z(dtype)
    g = np.random.default_rng(0).normal(size=z.shape).astype(dtype)  # random dC/da
    forward, backward = act.functions  # the kernels the network runs ...
    with strict_numerics():
        a = forward(z)
        dz = backward(z, a, g)
        deriv = act.derivative(z, a) if act.derivative is not None else None
        a_ref, dz_ref = act.forward(z), act.backward(z, a, g)  # ... and the reference forms
    for arr in (a, dz, a_ref, dz_ref):
        assert arr.dtype == dtype and np.isfinite(arr).all()
    if not act.elementwise:  # row-wise: rows sum to one, the VJP's rows sum to zero
        np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(dz.sum(axis=1), 0.0, atol=1e-5 * np.abs(g).max())
        return
    assert deriv is not None and deriv.dtype == dtype and np.isfinite(deriv).all()
    lo, hi, dlo, dhi = limits(act)
    at_lo, at_hi = z == -BIG, z == BIG
    for out in (a, a_ref):
        np.testing.assert_allclose(out[at_lo], lo, rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(out[at_hi], hi, rtol=1e-6)
    np.testing.assert_allclose(deriv[at_lo], dlo, atol=1e-30)
    np.testing.assert_allclose(deriv[at_hi], dhi, atol=1e-30)
    np.testing.assert_allclose(dz, g * deriv, rtol=1e-6)
    np.testing.assert_allclose(dz_ref, g * deriv, rtol=1e-6)


def _targets(loss: str, shape: tuple[int, int], dtype: type) -> np.ndarray:
    y = np.random.default_rng(1).uniform(size=shape)
    kind = refbp.LOSSES[loss].targets
    if kind == "probability_rows":
        y /= y.sum(axis=1, keepdims=True)
    elif kind == "real":
        y = 4 * y - 2
    return y.astype(dtype)


def _extreme_outputs(entry: refbp.Loss, dtype: type) -> np.ndarray:
    if entry.output_activations is not None:
        # outputs are probabilities: the extremes are the smallest normal and 1 − ε/2
        info = np.finfo(dtype)
        edge = [float(info.tiny), 1.0 - float(info.epsneg), 0.5, 1e-3]
        return np.array([edge, edge[::-1]], dtype=dtype)
    return np.array([[-BIG, BIG, 0.0, 1.0], [BIG, BIG, -BIG, -3.0]], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", sorted(refbp.LOSSES))
def test_loss_is_finite_and_keeps_dtype_at_extreme_outputs(loss: str, dtype: type) -> None:
    """The kernels the network runs, and the reference forms: finite, in the dtype, and the
    kernel's value equal to the reference form's evaluated in float64."""
    entry = refbp.LOSSES[loss]
    a = _extreme_outputs(entry, dtype)
    y = _targets(loss, a.shape, dtype)
    value_fn, grad_fn = entry.functions
    with strict_numerics():
        values = [value_fn(a, y), entry.value(a, y)]
        grads = [grad_fn(a, y), entry.grad(a, y)]
        exact = float(entry.value(a.astype(np.float64), y.astype(np.float64)))
    for value, grad in zip(values, grads, strict=True):
        assert np.asarray(value).dtype == dtype and np.ndim(value) == 0
        assert grad.dtype == dtype and grad.shape == a.shape
        assert np.isfinite(value) and np.isfinite(grad).all()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert float(values[0]) == pytest.approx(exact, rel=rtol)
    np.testing.assert_allclose(grads[0], grads[1], rtol=rtol, atol=0)


def _extreme_network(act: str, loss: str, dtype: type) -> tuple[refbp.MLP, np.ndarray]:
    """A [2, 3, 2] network whose hidden pre-activations are ±1e4 (and 0) for X below."""
    W1 = np.array([[BIG, -BIG, 0.0], [-BIG, BIG, BIG]])
    W2 = np.array([[1.0, -1.0], [2.0, 0.5], [-1.0, 1.0]])
    out = act
    allowed = refbp.LOSSES[loss].output_activations
    if allowed is not None:  # outputs must stay inside (0, 1)
        out = act if act in allowed else allowed[0]
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


@pytest.mark.parametrize("dtype", DTYPES)
def test_saturated_sigmoid_output_gives_the_exact_finite_loss(dtype: type) -> None:
    """σ(±1e4) rounds to exactly 1 or 0, where binary cross-entropy of the rounded output is
    infinite; from z it is finite and exact: C = softplus(z) − y z, δᴸ = (σ(z) − y)/B."""
    net = refbp.MLP([np.array([[BIG, -BIG]], dtype)], [np.zeros(2)], ["sigmoid"],
                    "binary_cross_entropy")  # fmt: skip
    X, Y = np.ones((1, 1)), np.array([[0.25, 0.5]])
    with strict_numerics():
        bp = net.backprop(X, Y)
        c = net.evaluate(X, Y)
        history = refbp.train(net, X, Y, lr=1e-9, epochs=1)
    assert bp.loss == c == pytest.approx(BIG - 0.25 * BIG + 0.5 * BIG, rel=1e-7)
    np.testing.assert_array_equal(bp.deltas[0], np.array([[0.75, -0.5]], dtype))
    assert len(history) == 1 and math.isfinite(history[0])


def test_one_unit_softmax_output_is_a_clear_error_not_a_warning() -> None:
    # a softmax of one unit is exactly 1: binary cross-entropy is infinite for any y < 1
    net = refbp.MLP([np.array([[1.0]])], [np.zeros(1)], ["softmax"], "binary_cross_entropy")
    X, Y = np.ones((1, 1)), np.array([[0.5]])
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


# --- BP1 for binary cross-entropy, against exact arithmetic ------------------------------


def _ulps(got: float, exact: object, dtype: type) -> float:
    mp = pytest.importorskip("mpmath")
    ulp = float(np.spacing(np.abs(dtype(float(exact)))))
    return float(abs(mp.mpf(float(got)) - exact) / ulp)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_bce_output_delta_is_within_two_ulps_of_exact(dtype: type) -> None:
    """W = [[1]], b = [0], X = [[z]], Y = [[0.3]]: δᴸ = σ(z) − 0.3 exactly, at every z in
    [−40, 40] by steps of 0.01, against mpmath at 60 digits.  The general form
    ((1 − y)/(1 − a) − y/a) σ'(z) was 5 % off at z = 35 in float64 and refused z > 36.7."""
    mp = pytest.importorskip("mpmath")
    net = refbp.MLP([np.array([[1.0]], dtype)], [np.zeros(1, dtype)], ["sigmoid"],
                    "binary_cross_entropy")  # fmt: skip
    y = np.array([[0.3]], dtype)
    worst = (0.0, 0.0)
    with mp.workdps(60):
        for z in (np.arange(-4000, 4001) / 100).astype(dtype):
            got = net.backprop(np.array([[z]]), y).deltas[-1][0, 0]
            exact = 1 / (1 + mp.exp(-mp.mpf(float(z)))) - mp.mpf(float(y[0, 0]))
            worst = max(worst, (_ulps(got, exact, dtype), float(z)))
    assert worst[0] <= 2.0, f"δᴸ is {worst[0]:.2f} ulps from exact at z = {worst[1]}"


def _exact_softmax_bce(z: np.ndarray, y: np.ndarray) -> tuple[object, list[list[object]]]:
    """C and δᴸ for a softmax output and binary cross-entropy, in mpmath, from the
    definitions: g = ∂C/∂p, δ = p ⊙ (g − Σ g p) per row."""
    mp = pytest.importorskip("mpmath")
    B, total, deltas = len(z), mp.mpf(0), []
    for z_row, y_row in zip(z.tolist(), y.tolist(), strict=True):
        e = [mp.exp(mp.mpf(v)) for v in z_row]
        p = [v / sum(e) for v in e]
        ys = [mp.mpf(v) for v in y_row]
        total -= (
            sum(t * mp.log(q) + (1 - t) * mp.log(1 - q) for t, q in zip(ys, p, strict=True)) / B
        )
        g = [((1 - t) / (1 - q) - t / q) / B for t, q in zip(ys, p, strict=True)]
        gp = sum(gi * q for gi, q in zip(g, p, strict=True))
        deltas.append([q * (gi - gp) for q, gi in zip(p, g, strict=True)])
    return total, deltas


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_bce_loss_and_delta_against_exact(dtype: type) -> None:
    """Random rows up to confident saturation (logits × 30), soft and 0/1 targets: C within
    16 ε of exact and every δᴸ entry within 2 ε of the row's largest |δ| (the general form
    was off by up to 1e6 ε in float32 and 4e14 ε in float64 on the same cases)."""
    mp = pytest.importorskip("mpmath")
    with mp.workdps(60):
        _check_softmax_bce_cases(dtype)


def _check_softmax_bce_cases(dtype: type) -> None:
    import mpmath as mp

    rng = np.random.default_rng(0)
    eps = float(np.finfo(dtype).eps)
    for trial in range(120):
        rows, units = int(rng.integers(1, 4)), int(rng.integers(2, 5))
        z = rng.normal(size=(rows, units)) * [0.5, 3.0, 10.0, 30.0][trial % 4]
        y = rng.uniform(size=z.shape)
        if trial % 5 == 0:
            y = (y > 0.5).astype(np.float64)
        net = refbp.MLP([np.eye(units, dtype=dtype)], [np.zeros(units)], ["softmax"],
                        "binary_cross_entropy")  # fmt: skip
        with strict_numerics():
            bp = net.backprop(z, y)
        zd, yd = z.astype(dtype), y.astype(dtype)  # the values the network computed with
        c, deltas = _exact_softmax_bce(zd.astype(np.float64), yd.astype(np.float64))
        assert abs(bp.loss - float(c)) <= 16 * eps * abs(float(c)), (zd, yd)
        for got, exact in zip(bp.deltas[0], deltas, strict=True):
            scale = max(abs(float(v)) for v in exact)
            err = max(abs(mp.mpf(float(g)) - v) for g, v in zip(got, exact, strict=True))
            assert float(err) <= 2 * eps * scale, (zd, yd, got, exact)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gap", [8.0, 21.5, 30.0])
def test_softmax_bce_delta_of_a_confident_correct_row_against_exact(
    gap: float, dtype: type
) -> None:
    """y one-hot at the largest logit, which leads the rest by ``gap``: 1 − p_max ≈ e^{−gap}
    sets the size of every δᴸ entry.  Taken from the other exponentials (o/T) it keeps its
    digits; as 1 − p it would keep those of 1 − e^{−gap} only (float64 at gap 21.5: 2e4 ε of
    the row's scale; float32 at gap 30: 4e3 ε).  Every entry within 2 ε of the row's
    largest |δ|, as for the random rows above."""
    mp = pytest.importorskip("mpmath")
    z = np.array([[-1.5, gap, -12.0, 0.0], [gap, 1.0, -3.0, 2.0]])
    y = np.array([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    net = refbp.MLP([np.eye(4, dtype=dtype)], [np.zeros(4)], ["softmax"], "binary_cross_entropy")
    with strict_numerics():
        bp = net.backprop(z, y)
    eps = float(np.finfo(dtype).eps)
    with mp.workdps(60):
        _, deltas = _exact_softmax_bce(z.astype(dtype).astype(np.float64), y)
        for got, exact in zip(bp.deltas[0], deltas, strict=True):
            scale = max(abs(float(v)) for v in exact)
            err = max(abs(mp.mpf(float(g)) - v) for g, v in zip(got, exact, strict=True))
            assert float(err) <= 2 * eps * scale, (gap, got, exact)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_bce_where_the_other_columns_underflow_even_in_the_wide_float(
    dtype: type,
) -> None:
    """The largest logit leads the others by more than the wide float's exponent range
    (float32 [400, −400]: e^{−800} is 0 in float64), so o_max = Σ_{j≠max} e^{s_j} is 0 there
    and log o_max, 1/o_max are infinite, though C and δᴸ are finite: this used to raise
    NumericalError (0·log 0 in C) for a finite case.  Same bounds as the random rows."""
    mp = pytest.importorskip("mpmath")
    from refbp.output_forms import _wide

    wide = _wide(np.dtype(dtype))
    reach = -float(np.log(np.finfo(wide).tiny))  # ~708 (float64) or ~11355 (long double)
    gap = 1.1 * reach
    rows = [[gap / 2, -gap / 2], [-gap / 2 - 40, gap / 2, -gap / 2], [gap / 2, -gap / 2, 0.0]]
    targets = [[0.7, 0.3], [0.5, 0.2, 0.3], [1.0, 0.0, 0.0]]
    eps = float(np.finfo(dtype).eps)
    with mp.workdps(int(gap / 2) + 60):  # 1 − p_max ≈ e^{−gap} must still be seen
        for z_row, y_row in zip(rows, targets, strict=True):
            units = len(z_row)
            net = refbp.MLP([np.eye(units, dtype=dtype)], [np.zeros(units)], ["softmax"],
                            "binary_cross_entropy")  # fmt: skip
            zd, yd = np.array([z_row], dtype), np.array([y_row], dtype)
            with strict_numerics():
                bp = net.backprop(zd, yd)
            c, deltas = _exact_softmax_bce(zd.astype(np.float64), yd.astype(np.float64))
            tiny = float(np.finfo(dtype).tiny)  # [1, 0]'s exact δ, e^{−gap}, is below it
            assert abs(bp.loss - float(c)) <= 16 * eps * abs(float(c)) + tiny, (z_row, y_row)
            scale = max(abs(float(v)) for v in deltas[0])
            err = max(abs(mp.mpf(float(g)) - v)
                      for g, v in zip(bp.deltas[0][0], deltas[0], strict=True))  # fmt: skip
            assert float(err) <= 2 * eps * scale + tiny, (z_row, y_row, bp.deltas[0], deltas)
