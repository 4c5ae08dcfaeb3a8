"""Fast checks (not marked ``bench``) that keep the benchmarks and refbp's fast paths honest.

* Every kernel (refbp.kernels, refbp.loss_kernels) equals its reference form bit for bit,
  or within the ulp bound stated below where it reorders the operations, and writes to none
  of its arguments.
* The peers compute what refbp computes (same loss and gradients on the tiny network), and
  keep float32 float32.
* The GEMM bound allocates nothing; the memory account matches what backprop returns, and
  the peak stays within 1.3× of what backprop must hold (a regression test for temporaries).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

import refbp
from tests.bench import cases

DTYPES = [np.float32, np.float64]

# Kernels that reorder their reference form's operations, and how far apart they may be, in
# ulps of the scale of the result (|value| + |z| |value'|: the rounding of z alone moves a
# value that much).  Every other kernel must give the reference's bits.
REORDERED_ULPS = {"gelu": 8.0, "softplus": 4.0}
LOSS_ULPS = 8.0  # every loss kernel: within 8 ulps of the terms the loss sums


def _z(dtype: type[np.floating]) -> np.ndarray:
    """Ordinary values, both signs, the kink, and the extremes where the stable forms matter."""
    special = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 4.0, -4.0, 12.0, -12.0]
    special += [30.0, -30.0, 60.0, -60.0, 100.0, -100.0, 700.0, -700.0, 1e4, -1e4]
    body = np.random.default_rng(0).normal(0.0, 3.0, size=64 - len(special))
    return np.concatenate([special, body]).reshape(8, 8).astype(dtype)


def _slope(f: Callable[[np.ndarray], np.ndarray], z: np.ndarray) -> np.ndarray:
    """|z| |f'(z)| by central differences in float64: how much rounding z moves f(z)."""
    z64 = z.astype(np.float64)
    h = 1e-6 * np.maximum(1.0, np.abs(z64))
    with np.errstate(all="ignore"):
        d = (f(z64 + h) - f(z64 - h)) / (2 * h)
    return np.nan_to_num(np.abs(z64 * d))


def _assert_kernel_matches(
    got: np.ndarray, want: np.ndarray, ulps: float, scale: np.ndarray
) -> None:
    assert got.dtype == want.dtype
    if ulps == 0.0:
        np.testing.assert_array_equal(got, want, strict=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
        return
    eps = float(np.finfo(got.dtype).eps)
    tiny = float(np.finfo(got.dtype).tiny)
    err = np.abs(got.astype(np.float64) - want)
    bound = ulps * eps * (np.abs(want.astype(np.float64)) + scale) + tiny
    assert (err <= bound).all(), f"worst {np.max(err / bound):.2f} × the bound"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(refbp.ACTIVATIONS))
def test_activation_kernels_match_the_reference_forms(name: str, dtype: type[np.floating]) -> None:
    act = refbp.ACTIVATIONS[name]
    z = _z(dtype)
    if not act.elementwise:
        z = z / 30.0  # a softmax row of ±1e4 is exactly one-hot: nothing to compare
    g = np.random.default_rng(1).normal(size=z.shape).astype(dtype)
    forward, backward = act.functions
    ulps = REORDERED_ULPS.get(name, 0.0)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        a = act.forward(z)
        copies = z.copy(), a.copy(), g.copy()
        got_a, got_dz = forward(z), backward(z, a, g)
        want_dz = act.backward(z, a, g)
    for before, after in zip(copies, (z, a, g), strict=True):
        np.testing.assert_array_equal(before, after, strict=True)
    _assert_kernel_matches(got_a, a, ulps, _slope(act.forward, z) if ulps else z)
    dz_scale = _slope(lambda t: g * act.backward(t, act.forward(t), g), z) if ulps else z
    _assert_kernel_matches(got_dz, want_dz, ulps, dz_scale)


@pytest.mark.parametrize("blocked", [True, False], ids=["blocked", "whole"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_on_arrays_of_several_blocks(
    dtype: type[np.floating], blocked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(300, 301): more than two blocks of refbp.kernels.BLOCK elements and not a multiple
    of it, computed in blocks (the cache threshold set to 0) and whole.  Blocking changes no
    bit: the kernels give the reference's bits (or stay within their bound) either way."""
    from refbp import kernels
    from refbp.kernels import BLOCK

    if blocked:
        monkeypatch.setattr(kernels, "CACHE_BYTES", 0)
    rng = np.random.default_rng(3)
    z = (rng.normal(0.0, 3.0, size=(300, 301))).astype(dtype)
    assert z.size > 2 * BLOCK and z.size % BLOCK
    g = rng.normal(size=z.shape).astype(dtype)
    for name, act in refbp.ACTIVATIONS.items():
        if not act.elementwise:
            continue
        forward, backward = act.functions
        a = act.forward(z)
        ulps = REORDERED_ULPS.get(name, 0.0)
        scale = np.abs(z.astype(np.float64)) * 4  # |z σ'| ≤ 4|z| for every entry here
        _assert_kernel_matches(forward(z), a, ulps, scale)
        _assert_kernel_matches(backward(z, a, g), act.backward(z, a, g), ulps, scale)
    for name, loss in refbp.LOSSES.items():
        a, y = (z, rng.uniform(size=z.shape).astype(dtype))
        if loss.output_activations is not None:
            a = refbp.ACTIVATIONS["sigmoid"].forward(np.clip(z, -15, 15))
        if loss.targets == "probability_rows":
            y = (y / y.sum(axis=1, keepdims=True)).astype(dtype)
        value, grad = loss.functions
        eps = float(np.finfo(dtype).eps)
        want = float(loss.value(a, y))
        terms = float(np.mean(np.abs(a.astype(np.float64)) + np.abs(y) + 1.0))
        assert abs(float(value(a, y)) - want) <= LOSS_ULPS * eps * (abs(want) + terms), name
        scale = (np.abs(a.astype(np.float64)) + np.abs(y) + 1.0) / len(a)
        _assert_kernel_matches(grad(a, y), loss.grad(a, y), LOSS_ULPS, scale)


def test_a_kernel_that_differs_from_its_reference_fails_the_check() -> None:
    """The comparison above can fail: a kernel off by one ulp somewhere is caught."""
    want = refbp.ACTIVATIONS["sigmoid"].forward(_z(np.float32))
    got = want.copy()
    got[0, 4] = np.nextafter(got[0, 4], np.float32(2))
    with pytest.raises(AssertionError):
        _assert_kernel_matches(got, want, 0.0, want)
    got[0, 4] = want[0, 4] * (1 + 64 * np.finfo(np.float32).eps)
    with pytest.raises(AssertionError):
        _assert_kernel_matches(got, want, 8.0, np.zeros_like(want, dtype=np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_slopes_are_exact(dtype: type[np.floating]) -> None:
    """The kernel's 0.01 + 0.99 [z ≥ 0] is exactly 1 or the dtype's 0.01."""
    g = np.ones((1, 3), dtype)
    dz = refbp.ACTIVATIONS["leaky_relu"].functions[1](np.array([[-1.0, 0.0, 1.0]], dtype), g, g)
    np.testing.assert_array_equal(dz, np.array([[0.01, 1.0, 1.0]], dtype), strict=True)


def _loss_inputs(entry: refbp.Loss, dtype: type[np.floating]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    z = np.concatenate(
        [rng.normal(0.0, 3.0, size=(6, 8)), [[0.0, 30.0, -30.0, 1e4, -1e4, 2, 2, 2]]]
    )
    if entry.output_activations is not None:
        z = np.clip(z, -15, 15)
        a = 1.0 / (1.0 + np.exp(-z))
    else:
        a = z
    if entry.targets == "real":
        y = rng.normal(size=a.shape)
    else:
        y = rng.uniform(size=a.shape)
        y[0, :4] = 0.0
        y[1] = 1.0
        if entry.targets == "probability_rows":
            y /= y.sum(axis=1, keepdims=True)
    return a.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(refbp.LOSSES))
def test_loss_kernels_match_the_reference_forms(name: str, dtype: type[np.floating]) -> None:
    entry = refbp.LOSSES[name]
    a, y = _loss_inputs(entry, dtype)
    copies = a.copy(), y.copy()
    value, grad = entry.functions
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        got_c, want_c = value(a, y), entry.value(a, y)
        got_g, want_g = grad(a, y), entry.grad(a, y)
    for before, after in zip(copies, (a, y), strict=True):
        np.testing.assert_array_equal(before, after, strict=True)
    eps = float(np.finfo(dtype).eps)
    terms = float(np.mean(np.abs(a.astype(np.float64)) + np.abs(y) + 1.0))
    assert np.asarray(got_c).dtype == np.dtype(dtype)
    assert abs(float(got_c) - float(want_c)) <= LOSS_ULPS * eps * (abs(float(want_c)) + terms)
    scale = (np.abs(a.astype(np.float64)) + np.abs(y) + 1.0) / len(a)
    _assert_kernel_matches(got_g, want_g, LOSS_ULPS, scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_peers_compute_what_refbp_computes(dtype: type[np.floating]) -> None:
    case = cases.ALL_CASES[1]  # [64, 64, 10], B = 32
    net, X, Y = cases.make_problem(case, dtype)
    bp = net.backprop(X, Y)
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    peers = []
    pytest.importorskip("jax")
    loss, (grads, gx) = cases.jax_step(case, dtype)()
    peers.append(("jax", loss, [t for pair in grads for t in pair], gx))
    try:
        tloss, tgrads = cases.torch_step(case, dtype)()
        peers.append(("torch", tloss, list(tgrads[:-1]), tgrads[-1]))
    except ImportError:
        pass
    ours = [t for pair in zip(bp.grad_weights, bp.grad_biases, strict=True) for t in pair]
    for name, p_loss, p_grads, p_gx in peers:
        assert np.asarray(p_loss).dtype == np.dtype(dtype), name
        np.testing.assert_allclose(float(p_loss), bp.loss, rtol=rtol, err_msg=name)
        for mine, theirs in zip([*ours, bp.grad_input], [*p_grads, p_gx], strict=True):
            theirs = np.asarray(theirs)
            assert theirs.dtype == np.dtype(dtype), name
            scale = float(np.max(np.abs(mine)))
            np.testing.assert_allclose(theirs, mine, rtol=0, atol=rtol * scale * 10, err_msg=name)


@pytest.mark.usefixtures("no_warm_up_running")
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_bound_allocates_nothing(dtype: type[np.floating]) -> None:
    step = cases.gemm_bound_step(cases.ALL_CASES[1], dtype)
    step()
    tracemalloc.start()
    try:
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2048  # a few Python objects, no array


@pytest.mark.usefixtures("no_warm_up_running")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", cases.ALL_CASES[1:3], ids=lambda c: c.label)
def test_peak_memory_within_target(case: cases.Case, dtype: type[np.floating]) -> None:
    account = cases.memory_account(case, dtype)
    assert account.must_hold > 0 and account.peak >= account.must_hold
    assert account.ratio <= 1.3, account.as_dict()
