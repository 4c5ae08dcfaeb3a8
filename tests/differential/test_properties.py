"""Worked examples, idempotence, extreme logits and the subnormal boundary."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import refbp
from oracle.fast import activation_vjp_fast, backprop_fast
from tests.differential.harness import check_network
from tests.strategies import (
    DTYPES,
    LOSS_NAMES,
    Structure,
    examples,
    fill,
    net_cases,
    output_activations,
)


def test_sum_times_z_worked_example() -> None:
    """f(x, y, z) = (x + y) z at (−2, 5, −4): ∇f = (−4, −4, 3), as one dense unit.

    With input (x, y), weights (z, z)ᵀ and no bias, f is the unit's z-value; pulling back
    δ = 1 gives ∂f/∂(x, y) = (z, z) and ∂f/∂w = (x, y), whose sum is ∂f/∂z = x + y.
    """
    x = np.array([[-2.0, 5.0]])
    w = np.array([[-4.0], [-4.0]])
    f, cache = refbp.dense_forward(x, w, np.zeros(1))
    g = refbp.dense_backward(np.ones((1, 1)), cache)
    assert f[0, 0] == -12.0
    np.testing.assert_array_equal(g.dx, [[-4.0, -4.0]])
    assert g.dw.sum() == 3.0


def test_squared_norm_worked_example() -> None:
    """f = ‖W x‖² has ∇_W = 2 q xᵀ and ∇_x = 2 Wᵀ q with q = W x (cs231n's example).

    refbp's row-major layer computes z = xᵀ Wᵀ; with the quadratic loss against y = 0 on a
    batch of one, C = ½‖q‖², so refbp's gradients are half of f's (and transposed for W).
    """
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 4))
    x = rng.normal(size=4)
    q = W @ x
    net = refbp.MLP([W.T], [np.zeros(3)], ["identity"], "quadratic")
    bp = net.backprop(x[None, :], np.zeros((1, 3)))
    np.testing.assert_allclose(2 * bp.grad_weights[0].T, 2 * np.outer(q, x), rtol=1e-14)
    np.testing.assert_allclose(2 * bp.grad_input[0], 2 * W.T @ q, rtol=1e-14)
    assert bp.loss == pytest.approx(0.5 * q @ q, rel=1e-15)


def test_two_three_one_network_shapes() -> None:
    net = refbp.MLP.init([2, 3, 1], ["sigmoid", "identity"], "mse", seed=0)
    bp = net.backprop(np.ones((4, 2)), np.zeros((4, 1)))
    assert [d.shape for d in bp.deltas] == [(4, 3), (4, 1)]
    assert [g.shape for g in bp.grad_weights] == [(2, 3), (3, 1)]
    assert [g.shape for g in bp.grad_biases] == [(3,), (1,)]
    assert bp.grad_input.shape == (4, 2)


@settings(max_examples=examples(0.5))
@given(case=net_cases())
def test_repeated_calls_are_identical(case) -> None:  # type: ignore[no-untyped-def]
    """Two backprops, and two oracle calls, on the same data give bit-identical results."""
    net = case.net()
    s = case.structure
    try:
        first = net.backprop(case.X, case.Y)
    except refbp.NumericalError:
        return  # a saturated probability output; check_network covers when that is legitimate
    second = net.backprop(case.X, case.Y)
    assert first.loss == second.loss
    for a, b in zip(
        [*first.deltas, *first.grad_weights, *first.grad_biases, first.grad_input],
        [*second.deltas, *second.grad_weights, *second.grad_biases, second.grad_input],
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    o1 = backprop_fast(case.weights, case.biases, list(s.activations), s.loss, case.X, case.Y)
    o2 = backprop_fast(case.weights, case.biases, list(s.activations), s.loss, case.X, case.Y)
    np.testing.assert_array_equal(o1.grad_input, o2.grad_input)
    # bit-identical, NaN included (the oracle's loss of a probability rounded onto 0 or 1)
    np.testing.assert_array_equal(np.float64(o1.loss), np.float64(o2.loss))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_extreme_logits_in_whole_networks(loss: str, dtype: type[np.floating]) -> None:
    """Outputs of magnitude ~1e4: every quantity finite and in agreement with the oracle."""
    out_act = "identity" if "identity" in output_activations(loss) else "sigmoid"
    s = Structure((3, 5, 4), ("tanh", out_act), loss, dtype, 6)
    case = fill(s, seed=7, gain=1.0, x_scale=1.0, zero_share=0.0)
    # scale the output layer so logits reach ±1e4 (the hidden tanh keeps |a| <= 1)
    case.weights[1][...] = np.asarray(case.weights[1] * 4e3, dtype)
    net = case.net()
    z = net.forward(case.X).zs[-1]
    if out_act == "identity":
        assert np.abs(z).max() > 1e3, "the example must actually reach large logits"
    verdict = check_network(case)
    bp = net.backprop(case.X, case.Y)
    if verdict is None:
        # The probability output rounds onto 0 or 1, where the oracle's loss of a is infinite;
        # refbp takes binary cross-entropy after a sigmoid from z, where it is finite:
        # C = Σ softplus(z) − y z over the batch, and δᴸ = (σ(z) − y)/B.
        z64 = np.asarray(z, np.float64)
        y64 = np.asarray(case.Y, np.float64)
        want = float((np.logaddexp(0.0, z64) - y64 * z64).sum() / len(z64))
        assert bp.loss == pytest.approx(want, rel=float(64 * np.finfo(dtype).eps))
        # σ(z) − y as (1 − y)σ(z) − yσ(−z): plain σ(z) − y rounds e⁻ᶻ away next to y = 1,
        # and the bound is relative to those terms (their cancellation is the case's).
        sig, sig_neg = np.exp(-np.logaddexp(0.0, -z64)), np.exp(-np.logaddexp(0.0, z64))
        terms = ((1.0 - y64) * sig, y64 * sig_neg)
        want_delta = (terms[0] - terms[1]) / len(z64)
        allowed = 64 * np.finfo(dtype).eps * (terms[0] + terms[1]) / len(z64)
        allowed += float(np.finfo(dtype).tiny)  # below it, the dtype rounds to 0
        off = np.abs(np.asarray(bp.deltas[-1], np.float64) - want_delta)
        assert (off <= allowed).all(), (off - allowed).max()
        return
    for arr in [*bp.deltas, *bp.grad_weights, *bp.grad_biases, bp.grad_input]:
        assert np.isfinite(arr).all()


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "identity", "tanh", "sigmoid"])
def test_subnormal_boundary(name: str) -> None:
    """At the smallest normal float64 both sides agree exactly; below it the oracle differs.

    XLA on the CPU flushes subnormal inputs to zero under jit, NumPy does not: a subnormal z
    reaches the oracle as 0, which sits on the kink.  This test pins the boundary so a
    change in either behaviour is noticed; the random strategies never draw subnormals.
    """
    tiny = np.finfo(np.float64).tiny
    sub = tiny / 4  # a subnormal
    g = np.array([[0.5, -1.5]])
    act = refbp.ACTIVATIONS[name]
    z_normal = np.array([[tiny, -tiny]])
    a = act.forward(z_normal)
    dz = act.backward(z_normal, a, g)
    a_ref, dz_ref = activation_vjp_fast(name, z_normal, g)
    # An output that falls below the normal range (leaky_relu's 0.01·tiny) is flushed by
    # XLA too; everything at or above tiny agrees to the last bit's neighbourhood.
    np.testing.assert_allclose(a, a_ref, rtol=1e-15, atol=tiny)
    np.testing.assert_allclose(dz, dz_ref, rtol=1e-15, atol=tiny)
    z_sub = np.array([[sub, -sub]])
    a_sub = act.forward(z_sub)
    assert np.isfinite(a_sub).all()
    _, dz_sub_ref = activation_vjp_fast(name, z_sub, g)
    if name == "relu":
        # refbp: relu'(+subnormal) = 1; XLA flushed it to 0, where relu'(0) = 0
        np.testing.assert_array_equal(act.backward(z_sub, a_sub, g), [[0.5, 0.0]])
        np.testing.assert_array_equal(dz_sub_ref, [[0.0, 0.0]])
