"""Fast checks (not marked ``bench``) that keep the benchmarks and refbp's fast paths honest.

* Every activation's fused ``vjp`` equals ``g * derivative(z, a)`` bit for bit, and writes
  to none of its arguments.
* The peers compute what refbp computes (same loss and gradients on the tiny network), and
  keep float32 float32.
* The GEMM bound allocates nothing; the memory account matches what backprop returns, and
  the peak stays within 1.3× of what backprop must hold (a regression test for temporaries).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import refbp
from tests.bench import cases

ELEMENTWISE = sorted(n for n, a in refbp.ACTIVATIONS.items() if a.elementwise)
DTYPES = [np.float32, np.float64]


def _z(dtype: type[np.floating]) -> np.ndarray:
    """Ordinary values, both signs, the kink, and the extremes where the stable forms matter."""
    special = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 4.0, -4.0, 12.0, -12.0]
    special += [30.0, -30.0, 60.0, -60.0, 100.0, -100.0, 700.0, -700.0, 1e4, -1e4]
    body = np.random.default_rng(0).normal(0.0, 3.0, size=64 - len(special))
    return np.concatenate([special, body]).reshape(8, 8).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_fused_vjp_is_g_times_derivative_bit_for_bit(name: str, dtype: type[np.floating]) -> None:
    act = refbp.ACTIVATIONS[name]
    z = _z(dtype)
    g = np.random.default_rng(1).normal(size=z.shape).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        a = act.forward(z)
        copies = z.copy(), a.copy(), g.copy()
        got = act.backward(z, a, g)
        assert act.derivative is not None
        want = g * act.derivative(z, a)
    assert got.dtype == want.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want, strict=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    for before, after in zip(copies, (z, a, g), strict=True):
        np.testing.assert_array_equal(before, after, strict=True)


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
