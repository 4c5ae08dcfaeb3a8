"""Targeted properties for bugs that ``refbp mutate`` showed the rest of the suite missing.

Each test names the catalogued mutants (refbp/_mutations.py) it exists to kill.  Every
expectation comes from the oracle or from exact math, never from refbp itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import oracle
import refbp
from tests.differential.harness import epoch_means, replay_batches
from tests.strategies import ACTIVATION_NAMES, LOSS_NAMES, targets


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.9, 0.05), (0.5, 0.0), (0.0, 0.1)])
def test_training_equal_width_layers_follows_the_oracles_sgd(
    momentum: float, weight_decay: float
) -> None:
    """Kills momentum_shared_between_layers (layers of equal shapes share no state),
    weight_decay_on_biases, momentum_dampened, batches_with_replacement and
    history_not_sample_weighted: refbp.train against oracle.sgd_fast on the same batches."""
    rng = np.random.default_rng(11)
    sizes, acts, loss = [3, 3, 3, 3], ["tanh", "tanh", "identity"], "mse"
    ws = [rng.normal(0, 0.8, (3, 3)) for _ in range(3)]
    bs = [rng.normal(0, 0.5, 3) for _ in range(3)]
    N, batch_size, epochs, seed, lr = 10, 4, 3, 5, 0.1
    X, Y = rng.normal(size=(N, sizes[0])), rng.normal(size=(N, sizes[-1]))
    net = refbp.MLP(ws, bs, acts, loss)
    history = refbp.train(
        net,
        X,
        Y,
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        momentum=momentum,
        weight_decay=weight_decay,
    )
    epochs_batches = replay_batches(N, batch_size, epochs, seed)
    batches = [b for epoch in epochs_batches for b in epoch]
    ref = oracle.sgd_fast(
        ws, bs, acts, loss, X, Y, batches, lr, momentum=momentum, weight_decay=weight_decay
    )
    for got, want in zip(net.weights + net.biases, ref.weights + ref.biases, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)
    expected = epoch_means(ref.losses, epochs_batches, N)
    np.testing.assert_allclose(history, expected, rtol=1e-11)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_function_writes_into_its_inputs(dtype: type[np.floating]) -> None:
    """Kills relu_forward_in_place, softmax_vjp_in_place_on_g and mse_grad_in_place_on_a:
    the registries' functions and the dense layer leave z, a, g, y, x, w, b as they were
    (inside MLP.backprop such writes can be invisible, but a caller's arrays are not theirs)."""
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, (5, 4)).astype(dtype)
    z[0, :2] = 0.0
    g = rng.normal(size=(5, 4)).astype(dtype)
    for name in ACTIVATION_NAMES:
        act = refbp.ACTIVATIONS[name]
        zc, gc = z.copy(), g.copy()
        a = act.forward(zc)
        np.testing.assert_array_equal(zc, z, err_msg=f"{name}.forward wrote into z")
        ac = a.copy()
        act.backward(zc, a, gc)
        np.testing.assert_array_equal(zc, z, err_msg=f"{name}.backward wrote into z")
        np.testing.assert_array_equal(a, ac, err_msg=f"{name}.backward wrote into a")
        np.testing.assert_array_equal(gc, g, err_msg=f"{name}.backward wrote into g")
    for name in LOSS_NAMES:
        loss = refbp.LOSSES[name]
        a = z.copy()
        if name == "binary_cross_entropy":
            a = (1.0 / (1.0 + np.exp(-a))).astype(dtype)
        y = targets(rng, name, a.shape).astype(dtype)
        a0, y0 = a.copy(), y.copy()
        loss.value(a, y)
        loss.grad(a, y)
        np.testing.assert_array_equal(a, a0, err_msg=f"{name} wrote into a")
        np.testing.assert_array_equal(y, y0, err_msg=f"{name} wrote into y")
    x, w, b = z.copy(), rng.normal(size=(4, 4)).astype(dtype), rng.normal(size=4).astype(dtype)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    _, cache = refbp.dense_forward(x, w, b)
    refbp.dense_backward(g.copy(), cache)
    for arr, before in ((x, x0), (w, w0), (b, b0)):
        np.testing.assert_array_equal(arr, before)


@pytest.mark.parametrize(
    ("dtype", "p", "rtol"),
    [(np.float64, 1e-10, 1e-14), (np.float64, 3e-5, 1e-14), (np.float32, 1e-6, 1e-5)],
)
def test_binary_cross_entropy_of_a_confident_correct_prediction(
    dtype: type[np.floating], p: float, rtol: float
) -> None:
    """Kills bce_log_1_minus_a: with y = 0 and a tiny, C = −log(1 − a) ≈ a must keep its
    digits (log(1 − a) rounds 1 − a first: float32 at a = 1e-6 is 3% off, float64 at
    a = 1e-10 loses seven digits).  Exact value: math.log1p in double precision."""
    a = np.array([[p, 1.0 - p]], dtype=dtype)
    y = np.array([[0.0, 1.0]], dtype=dtype)
    a64 = a.astype(np.float64)
    exact = -(math.log1p(-float(a64[0, 0])) + math.log(float(a64[0, 1])))
    got = float(refbp.LOSSES["binary_cross_entropy"].value(a, y))
    assert got == pytest.approx(exact, rel=rtol)


def test_dense_layer_on_square_weights_against_the_oracle() -> None:
    """Kills w_not_transposed_square: dx = δ wᵀ on a square, non-symmetric w."""
    from oracle.fast import dense_vjp_fast

    rng = np.random.default_rng(7)
    for n in (2, 3, 8):
        x, w = rng.normal(size=(5, n)), rng.normal(size=(n, n))
        b, g = rng.normal(size=n), rng.normal(size=(5, n))
        _, cache = refbp.dense_forward(x, w, b)
        grads = refbp.dense_backward(g, cache)
        _, dx_ref, dw_ref, db_ref = dense_vjp_fast(x, w, b, g)
        np.testing.assert_allclose(grads.dx, dx_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grads.dw, dw_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grads.db, db_ref, rtol=1e-12, atol=1e-12)
