"""Activations, losses and the dense layer alone, against the oracle's jax.vjp / jax.grad.

Upstream gradients are random (a vector of ones through softmax gives exactly zero: a
vacuous test), inputs range from tiny to ±30 with exact zeros mixed in.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refbp
from oracle.domains import PROBABILITY_OUTPUT_LOSSES
from oracle.fast import activation_vjp_fast, dense_vjp_fast, loss_grad_fast
from oracle.functions import LOSS_SPECS
from tests import record
from tests.agreement import bound_factor, perturbation, perturbed_copies
from tests.strategies import (
    ACTIVATION_NAMES,
    DTYPES,
    LOSS_NAMES,
    examples,
    like,
    matrices,
    targets,
)

U64 = float(np.finfo(np.float64).eps) / 2


def loss_normaliser(name: str) -> str:
    return LOSS_SPECS[name].normaliser


ORACLE_ULPS = 16.0  # the oracle's float64 derivative rules: a few u₆₄ relative to |g|


def _rel(got: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    diff = float(np.linalg.norm((np.asarray(got, np.float64) - ref).ravel()))
    norm = float(np.linalg.norm(np.asarray(ref).ravel()))
    return diff, norm


def assert_close(what: str, got: np.ndarray, ref: np.ndarray, factor: float, scale: float) -> float:
    """‖got − ref‖ ≤ factor · scale, where scale is the quantity's own magnitude.

    For one elementwise map the rounding error of each entry is a few ulps of the entry
    (or of its inputs), so the bound is relative to the norm of the exact result or of the
    inputs that feed it, whichever is larger.
    """
    diff, _ = _rel(got, ref)
    bound = factor * scale
    assert diff <= bound, (
        f"{what}: ‖refbp − oracle‖ = {diff:.3e} > {bound:.3e}; worst entry "
        f"refbp {np.asarray(got).ravel()[np.argmax(np.abs(got - ref).ravel())]!r} vs oracle "
        f"{np.asarray(ref).ravel()[np.argmax(np.abs(got - ref).ravel())]!r}"
    )
    return diff / bound if bound > 0 else 0.0


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64).ravel()))


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@settings(max_examples=examples(1))
@given(z=matrices(), seed=st.integers(0, 2**32 - 1))
def test_activation_forward_and_backward(name: str, z: np.ndarray, seed: int) -> None:
    act = refbp.ACTIVATIONS[name]
    g = like(z, seed)
    a = act.forward(z)
    dz = act.backward(z, a, g)
    forward, backward = act.functions  # the kernels: checked against the oracle below too
    a_fast, dz_fast = forward(z), backward(z, a, g)
    for arr in (a, dz, a_fast, dz_fast):
        assert arr.dtype == z.dtype, "float32 must stay float32"
    a_ref, dz_ref = activation_vjp_fast(name, z, g)
    # Each output is a handful of roundings of its own input: relative to ‖a‖ + ‖z‖.
    f = bound_factor(z.dtype, depth=1, width=1) * 8
    r1 = assert_close(f"{name} forward ({z.dtype})", a, a_ref, f, _norm(a_ref) + _norm(z))
    assert_close(f"{name} kernel forward ({z.dtype})", a_fast, a_ref, f, _norm(a_ref) + _norm(z))
    # backward: g ⊙ σ'(z) (or the softmax VJP, which sums a row: width enters).  The
    # oracle's σ' comes from JAX's JVP rules (a (1 − a), 1 − a², expm1 + 1), which round to
    # u₆₄ relative to 1, not to σ': that is the ORACLE_SHARE term, negligible in float32.
    scale = _norm(dz_ref) + _norm(g) * (_norm(a_ref) if name == "softmax" else 0.0)
    fw = bound_factor(z.dtype, depth=1, width=z.shape[1]) * 8
    scale += ORACLE_ULPS * U64 * _norm(g) / fw
    # Near a zero of σ' (silu's at z ≈ −1.278) σ'(z) is ill-conditioned in z: a rounding of
    # z alone moves it by |σ''| |z| u.  As in the network model (tests/agreement.py), the
    # measured sensitivity to relative perturbations ±ρ of z enters the scale.
    [[zp]] = perturbed_copies([z], z.dtype, count=1, seed=seed)
    _, dz_p = activation_vjp_fast(name, zp, g)
    scale = max(scale, _norm(dz_p - dz_ref) / perturbation(z.dtype))
    r2 = assert_close(f"{name} backward ({z.dtype})", dz, dz_ref, fw, scale)
    assert_close(f"{name} kernel backward ({z.dtype})", dz_fast, dz_ref, fw, scale)
    record.add("activation", [name], None, z.dtype.name, {"activation": 0.0}, max(r1, r2))


@pytest.mark.parametrize("name", LOSS_NAMES)
@settings(max_examples=examples(1))
@given(a=matrices(), seed=st.integers(0, 2**32 - 1))
def test_loss_value_and_gradient(name: str, a: np.ndarray, seed: int) -> None:
    loss = refbp.LOSSES[name]
    rng = np.random.default_rng(seed)
    if name in PROBABILITY_OUTPUT_LOSSES:
        # probabilities strictly inside (0, 1), away from where the dtype rounds to 0 or 1
        a = (1.0 / (1.0 + np.exp(-np.clip(a.astype(np.float64), -8, 8)))).astype(a.dtype)
    y = targets(rng, name, a.shape).astype(a.dtype)
    c = loss.value(a, y)
    da = loss.grad(a, y)
    value, grad = loss.functions  # the kernels: checked against the oracle below too
    c_fast, da_fast = value(a, y), grad(a, y)
    assert np.asarray(c).dtype == a.dtype and da.dtype == a.dtype, "float32 must stay float32"
    c_ref, da_ref = loss_grad_fast(name, a, y)
    # A loss sums B·O terms, each a few roundings of |a| + |y|.
    f = bound_factor(a.dtype, depth=1, width=a.size) * 8
    terms = float(np.abs(c_ref)) + (_norm(a) + _norm(y)) / np.sqrt(a.size)
    r1 = assert_close(f"{name} value ({a.dtype})", np.asarray(c), np.asarray(c_ref), f, terms)
    assert_close(f"{name} kernel value", np.asarray(c_fast), np.asarray(c_ref), f, terms)
    fg = bound_factor(a.dtype, depth=1, width=a.shape[1]) * 8
    # The oracle's float64 gradient is formed as p − y (or a − y, ...) and keeps u₆₄ of the
    # terms, not of the difference: a confident softmax leaves it 12 digits, refbp all 16.
    count = a.size if loss_normaliser(name) == "entries" else len(a)
    terms = (_norm(a) + _norm(y) + np.sqrt(a.size)) / count
    scale_g = _norm(da_ref) + ORACLE_ULPS * U64 * terms / fg
    # Where σ(a) ≈ y (or a ≈ y) ∇ₐC cancels and is ill-conditioned in y: rounding y alone
    # moves it by |y| u (float32 a = 0.0012573 against y ≈ σ(a): 3e-8 on 9.3e-5).  As for
    # the activations and in the network model, the measured sensitivity to relative
    # perturbations ±ρ of a and y enters the scale.
    [[a_p, y_p]] = perturbed_copies([a, y], a.dtype, count=1, seed=seed)
    _, da_p = loss_grad_fast(name, a_p, y_p)
    scale_g = max(scale_g, _norm(da_p - da_ref) / perturbation(a.dtype))
    r2 = assert_close(f"{name} gradient ({a.dtype})", da, da_ref, fg, scale_g)
    assert_close(f"{name} kernel gradient ({a.dtype})", da_fast, da_ref, fg, scale_g)
    record.add("loss", [], name, a.dtype.name, {"loss": 0.0}, max(r1, r2))


@settings(max_examples=examples(1))
@given(x=matrices(scale=1.0), seed=st.integers(0, 2**32 - 1), out=st.integers(1, 64))
def test_dense_layer(x: np.ndarray, seed: int, out: int) -> None:
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], out)).astype(x.dtype)
    b = rng.normal(0, 1, out).astype(x.dtype)
    g = rng.normal(0, 1, (x.shape[0], out)).astype(x.dtype)
    z, cache = refbp.dense_forward(x, w, b)
    grads = refbp.dense_backward(g, cache)
    z_ref, dx_ref, dw_ref, db_ref = dense_vjp_fast(x, w, b, g)
    n = max(x.shape[0], x.shape[1], out)
    f = bound_factor(x.dtype, depth=1, width=n) * 8
    # products of matrices: rounding is relative to |A||B|, which ‖A‖‖B‖ bounds
    ratios = [
        assert_close("z = x w + b", z, z_ref, f, _norm(x) * _norm(w) + _norm(b)),
        assert_close("dx = δ wᵀ", grads.dx, dx_ref, f, _norm(g) * _norm(w)),
        assert_close("dw = xᵀ δ", grads.dw, dw_ref, f, _norm(x) * _norm(g)),
        assert_close("db = Σ δ", grads.db, db_ref, f, _norm(g) * np.sqrt(x.shape[0])),
    ]
    for arr in (z, grads.dx, grads.dw, grads.db):
        assert arr.dtype == x.dtype
    record.add("layer", [], None, x.dtype.name, {"layer": 0.0}, max(ratios))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_at_kinks_and_extremes(name: str, dtype: type[np.floating]) -> None:
    """Exact zeros (every kink here is at 0) and ±1e4: finite and equal to the oracle."""
    z = np.array([[0.0, -0.0, 1e4, -1e4, 1.0, -1.0, 30.0, -30.0]], dtype=dtype)
    g = np.array([[0.7, -1.3, 0.5, 2.0, -0.25, 1.5, 0.9, -0.6]], dtype=dtype)
    act = refbp.ACTIVATIONS[name]
    a_ref, dz_ref = activation_vjp_fast(name, z, g)
    forward, backward = act.functions
    for fwd, bwd in ((act.forward, act.backward), (forward, backward)):
        a = fwd(z)
        dz = bwd(z, a, g)
        assert np.isfinite(a).all() and np.isfinite(dz).all()
        # exact agreement at the kink itself: the convention, not a rounding question
        np.testing.assert_allclose(dz[0, :2], dz_ref[0, :2], rtol=4 * np.finfo(dtype).eps, atol=0)
        tiny = np.finfo(dtype).tiny
        np.testing.assert_allclose(a, a_ref, rtol=16 * np.finfo(dtype).eps, atol=tiny)
        # where σ' is ~1e-14 (z = ±30) the oracle's own σ' is good to u₆₄·|g| only (see above)
        atol = max(float(tiny), ORACLE_ULPS * U64 * float(np.abs(g).max()))
        np.testing.assert_allclose(dz, dz_ref, rtol=64 * np.finfo(dtype).eps, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_at_extreme_logits(name: str, dtype: type[np.floating]) -> None:
    """Outputs of ±1e4 (logits) give finite values equal to the oracle's."""
    if name in PROBABILITY_OUTPUT_LOSSES:
        a = np.array([[1e-4, 1 - 1e-3], [0.5, 0.25]], dtype=dtype)
    else:
        a = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    if name not in PROBABILITY_OUTPUT_LOSSES:
        y = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype)  # the wrong class: a large loss
    loss = refbp.LOSSES[name]
    c, da = loss.value(a, y), loss.grad(a, y)
    c_ref, da_ref = loss_grad_fast(name, a, y)
    assert np.isfinite(c) and np.isfinite(da).all()
    np.testing.assert_allclose(float(c), c_ref, rtol=16 * np.finfo(dtype).eps)
    np.testing.assert_allclose(da, da_ref, rtol=16 * np.finfo(dtype).eps, atol=0)


def test_l1_subgradient_at_zero() -> None:
    a = np.array([[1.0, 2.0, -3.0]])
    c, da_ref = loss_grad_fast("l1", a, a)
    assert c == 0.0
    np.testing.assert_array_equal(refbp.LOSSES["l1"].grad(a, a), da_ref)
    np.testing.assert_array_equal(da_ref, 0.0)


def test_norm_of_the_tolerance_model_does_not_overflow() -> None:
    """Magnitude bounds can reach 1e160 (a `refbp verify` run on a fresh clone failed there
    with "overflow encountered in dot" inside np.linalg.norm); the norm is then scaled."""
    from tests.agreement import _norm

    assert _norm(np.array([3e200, 4e200])) == pytest.approx(5e200, rel=1e-15)
    assert _norm(np.array([3.0, 4.0])) == 5.0
    assert _norm(np.array([np.inf, 1.0])) == np.inf
