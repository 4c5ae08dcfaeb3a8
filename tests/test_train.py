"""``refbp.train``: sampling, the update rule, the history, seeds, purity and divergence.

The documented scheme (refbp/train.py) is replayed independently here: one
``numpy.random.default_rng(seed)`` per run, ``perm = rng.permutation(N)`` per epoch, batches
``perm[k : k + batch_size]``; per parameter array g' = g + λp (weights only), v = μv + g',
p = p − αv; an epoch's loss is the sample-weighted mean of its batches' losses, each taken
just before its update.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import refbp


def _replay_linear(
    W: np.ndarray,
    b: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    lr: float,
    batch_size: int,
    epochs: int,
    seed: int,
    momentum: float,
    weight_decay: float,
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """SGD on a = xW + b with the mse loss, gradients written out by hand."""
    W, b = W.copy(), b.copy()
    vW, vb = np.zeros_like(W), np.zeros_like(b)
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(epochs):
        perm = rng.permutation(len(X))
        total = 0.0
        for k in range(0, len(X), batch_size):
            idx = perm[k : k + batch_size]
            x, y = X[idx], Y[idx]
            d = (x @ W + b) - y
            total += float(np.sum(d * d) / d.size) * len(idx)  # C = mean of (a − y)²
            g = (2.0 / d.size) * d  # ∂C/∂a, = δ for the identity output
            gW = x.T @ g + weight_decay * W  # weights are decayed ...
            gb = g.sum(axis=0)  # ... biases are not
            vW = momentum * vW + gW
            vb = momentum * vb + gb
            W = W - lr * vW
            b = b - lr * vb
        history.append(total / len(X))
    return W, b, history


@pytest.mark.parametrize(
    ("momentum", "weight_decay", "batch_size"),
    [(0.0, 0.0, 4), (0.9, 0.0, 4), (0.0, 0.05, 3), (0.7, 0.01, 5), (0.5, 0.01, 64)],
)
def test_linear_training_replayed_by_hand(
    momentum: float, weight_decay: float, batch_size: int
) -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(11, 3)), rng.normal(size=(11, 2))  # 11: the last batch is short
    W0, b0 = rng.normal(size=(3, 2)), rng.normal(size=2)
    net = refbp.MLP([W0], [b0], ["identity"], "mse")
    kw = dict(
        lr=0.05,
        batch_size=batch_size,
        epochs=3,
        seed=5,
        momentum=momentum,
        weight_decay=weight_decay,
    )
    history = refbp.train(net, X, Y, **kw)  # type: ignore[arg-type]
    W, b, expected = _replay_linear(W0, b0, X, Y, **kw)  # type: ignore[arg-type]
    # the same floating-point operations in the same order: equal to the last bit
    # (rtol 1e-15 leaves room for a different but equivalent association)
    np.testing.assert_allclose(net.weights[0], W, rtol=1e-15, atol=0)
    np.testing.assert_allclose(net.biases[0], b, rtol=1e-15, atol=0)
    np.testing.assert_allclose(history, expected, rtol=1e-15, atol=0)
    assert not np.allclose(W, W0)  # it did train


def test_train_defaults_are_lr_0_1_batch_32_epochs_10_seed_0() -> None:
    """The contract's defaults: ``train(net, X, Y, lr=0.1, batch_size=32, epochs=10, seed=0)``
    (docs/contract.md).  N = 40 > 32, so the batch size and the seed both change which rows
    share a batch; the run is replayed by hand with no momentum and no weight decay."""
    rng = np.random.default_rng(123)
    X = rng.normal(size=(40, 3))
    Y = rng.normal(size=(40, 2))
    W = 0.3 * rng.normal(size=(3, 2))
    b = np.array([0.1, -0.2])
    W_exp, b_exp, expected = _replay_linear(
        W, b, X, Y, lr=0.1, batch_size=32, epochs=10, seed=0, momentum=0.0, weight_decay=0.0
    )
    net = refbp.MLP([W.copy()], [b.copy()], ["identity"], "mse")
    history = refbp.train(net, X, Y)
    assert len(history) == 10
    np.testing.assert_allclose(history, expected, rtol=1e-12)
    np.testing.assert_allclose(net.weights[0], W_exp, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(net.biases[0], b_exp, rtol=1e-12, atol=1e-15)


def test_multilayer_update_rule_replayed() -> None:
    """Hidden layers too: the documented update with refbp's own batch gradients."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 4))
    Y = np.eye(3)[rng.integers(0, 3, size=10)]
    acts, loss = ["tanh", "identity"], "softmax_cross_entropy"
    net = refbp.MLP.init([4, 5, 3], acts, loss, seed=2)
    net.biases[0][:] = rng.normal(size=5)  # non-zero biases, to see that they are not decayed
    weights, biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    lr, mu, lam, bs, seed = 0.2, 0.8, 0.1, 4, 3
    history = refbp.train(
        net, X, Y, lr=lr, batch_size=bs, epochs=2, seed=seed, momentum=mu, weight_decay=lam
    )

    vw, vb = [np.zeros_like(w) for w in weights], [np.zeros_like(b) for b in biases]
    rng_replay = np.random.default_rng(seed)
    expected = []
    for _ in range(2):
        perm, total = rng_replay.permutation(len(X)), 0.0
        for k in range(0, len(X), bs):
            idx = perm[k : k + bs]
            bp = refbp.MLP(weights, biases, acts, loss).backprop(X[idx], Y[idx])
            total += bp.loss * len(idx)
            for i in range(2):
                vw[i] = mu * vw[i] + (bp.grad_weights[i] + lam * weights[i])
                vb[i] = mu * vb[i] + bp.grad_biases[i]
                weights[i] = weights[i] - lr * vw[i]
                biases[i] = biases[i] - lr * vb[i]
        expected.append(total / len(X))
    for got, want in zip(net.weights + net.biases, weights + biases, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-17)
    np.testing.assert_allclose(history, expected, rtol=1e-15)


@pytest.mark.parametrize(("n", "batch_size"), [(20, 3), (20, 1), (20, 20), (7, 50)])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_sample_exactly_once_per_epoch_and_history_is_sample_weighted(
    n: int, batch_size: int, seed: int
) -> None:
    """Sample i costs 2^i and lr is too small to change the network (1e-300): an epoch's
    loss ·N is then Σ_i (visits of i)·2^i, which is Σ_i 2^i only if every sample is visited
    exactly once (binary representations are unique), and only if batches are weighted by
    their size (the last batch is shorter)."""
    X = np.zeros((n, 1))
    Y = np.sqrt(2.0 ** np.arange(n))[:, None]  # per-sample loss (0 − y_i)² = 2^i
    net = refbp.MLP([np.zeros((1, 1))], [np.zeros(1)], ["identity"], "mse")
    history = refbp.train(net, X, Y, lr=1e-300, batch_size=batch_size, epochs=3, seed=seed)
    expected = float(np.sum(Y**2)) / n
    np.testing.assert_allclose(history, [expected] * 3, rtol=1e-13)


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (8, 8), (5, 1)])
def test_batch_indices_follow_the_documented_scheme(n: int, batch_size: int) -> None:
    rng, replay = np.random.default_rng(4), np.random.default_rng(4)
    for _ in range(3):
        batches = refbp.batch_indices(n, batch_size, rng)
        perm = replay.permutation(n)
        assert [list(b) for b in batches] == [
            list(perm[k : k + batch_size]) for k in range(0, n, batch_size)
        ]
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))


def _fresh(seed: int = 0, dtype: type = np.float64) -> refbp.MLP:
    return refbp.MLP.init([3, 6, 2], ["tanh", "identity"], "mse", dtype=dtype, seed=seed)


def _data(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(9)
    X = rng.normal(size=(n, 3))
    return X, np.sin(X[:, :2]) + 0.1 * rng.normal(size=(n, 2))


def test_training_is_reproducible_by_seed() -> None:
    X, Y = _data()
    kw = dict(lr=0.1, batch_size=7, epochs=5, momentum=0.9, weight_decay=1e-3)
    a, b, c = _fresh(), _fresh(), _fresh()
    ha = refbp.train(a, X, Y, seed=11, **kw)  # type: ignore[arg-type]
    hb = refbp.train(b, X, Y, seed=11, **kw)  # type: ignore[arg-type]
    hc = refbp.train(c, X, Y, seed=12, **kw)  # type: ignore[arg-type]
    assert ha == hb
    for p, q in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        np.testing.assert_array_equal(p, q, strict=True)
    assert ha != hc  # the seed does choose the batches


def test_training_lowers_the_loss() -> None:
    X, Y = _data(60)
    net = _fresh()
    before = net.evaluate(X, Y)
    history = refbp.train(net, X, Y, lr=0.1, batch_size=8, epochs=30, seed=0, momentum=0.9)
    assert net.evaluate(X, Y) < 0.2 * before
    assert history[-1] < 0.2 * history[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_train_does_not_mutate_its_data(dtype: type) -> None:
    X, Y = _data()
    X, Y = X.astype(dtype), Y.astype(dtype)  # same dtype as the net: no protective cast
    X0, Y0 = X.copy(), Y.copy()
    refbp.train(
        _fresh(dtype=dtype), X, Y, lr=0.1, batch_size=4, epochs=2, momentum=0.5, weight_decay=0.1
    )
    np.testing.assert_array_equal(X, X0, strict=True)
    np.testing.assert_array_equal(Y, Y0, strict=True)


def test_train_updates_the_networks_own_arrays_in_place() -> None:
    X, Y = _data()
    net = _fresh()
    w_before = net.weights[0]
    snapshot = w_before.copy()
    refbp.train(net, X, Y, epochs=1)
    assert net.weights[0] is w_before  # documented: "trains net in place"
    assert not np.array_equal(w_before, snapshot)


def test_on_epoch_sees_each_epochs_loss() -> None:
    X, Y = _data()
    seen: list[tuple[int, float]] = []
    history = refbp.train(_fresh(), X, Y, epochs=4, on_epoch=lambda e, v: seen.append((e, v)))
    assert seen == list(enumerate(history))


def test_rejected_arguments_leave_the_network_untouched() -> None:
    X, Y = _data()
    net = _fresh()
    before = [p.copy() for p in net.weights + net.biases]
    for bad in (dict(lr=-1.0), dict(batch_size=0), dict(momentum=1.0), dict(weight_decay=-1.0)):
        with pytest.raises(ValueError, match=r"^train: "):
            refbp.train(net, X, Y, **bad)
    for p, q in zip(net.weights + net.biases, before, strict=True):
        np.testing.assert_array_equal(p, q, strict=True)


def test_boundary_arguments_are_accepted() -> None:
    X, Y = _data(9)
    history = refbp.train(
        _fresh(), X, Y, lr=1e-3, batch_size=100, epochs=2, momentum=0.0, weight_decay=0.0, seed=None
    )
    assert len(history) == 2 and all(math.isfinite(h) for h in history)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lr", [1e3, 1e8])
def test_divergence_is_a_numerical_error_not_a_warning(dtype: type, lr: float) -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(64, 4)), 10 * rng.normal(size=(64, 2))
    net = refbp.MLP.init([4, 16, 2], ["relu", "identity"], "mse", dtype=dtype)
    before = [p.copy() for p in (*net.weights, *net.biases)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would fail here
        with pytest.raises(refbp.NumericalError, match=r"^train.*lower lr"):
            refbp.train(net, X, Y, lr=lr, batch_size=8, epochs=50)
    # the network is as it was before the call (it held infinities, which save() wrote and
    # load() refused): usable, savable, and the same bits
    after = [*net.weights, *net.biases]
    assert all(np.array_equal(p, q) and p.dtype == q.dtype for p, q in zip(after, before, strict=True))


def test_an_update_that_overflows_is_a_numerical_error_with_the_documented_message() -> None:
    """The update itself overflows (lr·g = inf): a NumericalError naming the epoch and lr,
    never a RuntimeWarning.

    One layer, identity, mse, x = 1, y = 0, W = 10: dC/dW = 2·(10 − 0) = 20, and
    1e308 · 20 overflows.  The whole message is pinned.
    """
    from refbp.errors import NumericalError

    net = refbp.MLP([np.array([[10.0]])], [np.zeros(1)], ["identity"], "mse")
    msg = (
        "train (epoch 0, lr=1e+308): a parameter after an update (training diverged) came out "
        "non-finite although every input was finite; the inputs or weights are too large for "
        "this dtype (rescale them, or lower lr)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NumericalError, match=f"^{re.escape(msg)}$"):
            refbp.train(net, np.ones((1, 1)), np.zeros((1, 1)), lr=1e308, epochs=1)


def test_train_does_not_check_a_grad_input_it_does_not_need() -> None:
    """Training needs no ∂C/∂X, so it neither computes nor checks one.

    x = 1e-307 and W = 1e308 give z = 10 (finite loss and ∂C/∂W = x·δ), but ∂C/∂X = δ·Wᵀ
    overflows: training must go on, not refuse it with a NumericalError.
    """
    W = np.array([[1e308]])
    net = refbp.MLP([W.copy()], [np.zeros(1)], ["identity"], "mse")
    x, y = np.array([[1e-307]]), np.array([[0.0]])
    history = refbp.train(net, x, y, lr=0.1, epochs=1)
    # z = 10, C = 100; dC/dW = 2·10·1e-307 = 2e-306, so W moves by 2e-307: below W's ulp.
    np.testing.assert_allclose(history, [100.0], rtol=1e-12)
    assert net.weights[0][0, 0] == 1e308


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_xor_learns_with_the_documented_hyperparameters(seed: int) -> None:
    """The recipe in refbp.train's docstring and the docs tutorial: [2, 3, 1], sigmoid
    layers, mse, lr 3, full batch, 2000 epochs; every output on the right side and close."""
    net = refbp.MLP.init([2, 3, 1], ["sigmoid", "sigmoid"], "mse", seed=seed)
    history = refbp.train(net, XOR_X, XOR_Y, lr=3.0, batch_size=4, epochs=2000, seed=seed)
    out = net.predict(XOR_X)
    assert np.all(np.abs(out - XOR_Y) < 0.1), out.ravel()
    assert history[-1] < 0.01 * history[0]


def test_xor_does_not_learn_with_the_default_step() -> None:
    """Why the recipe raises lr: with the defaults' lr 0.1 the outputs stay near 0.5."""
    net = refbp.MLP.init([2, 3, 1], ["sigmoid", "sigmoid"], "mse", seed=0)
    refbp.train(net, XOR_X, XOR_Y, lr=0.1, batch_size=4, epochs=2000, seed=0)
    assert np.all(np.abs(net.predict(XOR_X) - 0.5) < 0.05)


def test_the_contract_call_keeps_working() -> None:
    X, Y = _data(40)
    history = refbp.train(_fresh(), X, Y, lr=0.1, batch_size=32, epochs=10, seed=0)
    assert len(history) == 10 and all(math.isfinite(h) for h in history)
