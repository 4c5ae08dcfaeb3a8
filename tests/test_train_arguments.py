"""What ``refbp.train`` refuses among its arguments, before touching the network.

Each refusal names "train", the argument, what was expected and what came
(tests/refusals.py).  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import refbp
from refbp.errors import DTypeError
from refbp.network import MLP
from tests.refusals import N_IN, make_data, make_net, raises


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_lr_not_positive(lr: float) -> None:
    X, Y = make_data()
    with raises(ValueError, "train", "lr must be finite and in (0.0, inf)", f"got {lr}"):
        refbp.train(make_net(), X, Y, lr=lr)


@pytest.mark.parametrize(("lr", "kind"), [("0.1", "str"), (True, "bool"), (None, "NoneType")])
def test_train_refuses_a_learning_rate_that_is_not_a_real_number(lr: object, kind: str) -> None:
    """Bools and non-numbers are refused by name and type ("0.1" must not reach float() and
    be accepted).
    """
    net = MLP([np.ones((1, 1))], [np.zeros(1)], ["identity"], "mse")
    msg = f"train: lr must be a real number, got {kind}"
    with pytest.raises(DTypeError, match=f"^{re.escape(msg)}$"):
        refbp.train(net, np.ones((2, 1)), np.ones((2, 1)), lr=lr)  # type: ignore[arg-type]


@pytest.mark.parametrize("batch_size", [0, -3])
def test_batch_size_below_one(batch_size: int) -> None:
    X, Y = make_data()
    with raises(ValueError, "train", "batch_size must be >= 1", f"got {batch_size}"):
        refbp.train(make_net(), X, Y, batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2.0, "2", None, True])
def test_batch_size_not_an_int(batch_size: object) -> None:
    X, Y = make_data()
    with raises(refbp.DTypeError, "train", "batch_size must be an int", "got"):
        refbp.train(make_net(), X, Y, batch_size=batch_size)  # type: ignore[arg-type]


def test_train_refuses_a_batch_size_that_is_not_an_int_with_its_type() -> None:
    """The exact message shows the argument's type and value."""
    net = MLP([np.ones((1, 1))], [np.zeros(1)], ["identity"], "mse")
    with pytest.raises(DTypeError, match=r"^train: batch_size must be an int, got float 2\.0$"):
        refbp.train(net, np.ones((2, 1)), np.ones((2, 1)), batch_size=2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5])
def test_momentum_outside_unit_interval(momentum: float) -> None:
    X, Y = make_data()
    with raises(
        ValueError, "train", "momentum must be finite and in [0.0, 1.0)", f"got {momentum}"
    ):
        refbp.train(make_net(), X, Y, momentum=momentum)


def test_negative_weight_decay() -> None:
    X, Y = make_data()
    with raises(
        ValueError, "train", "weight_decay must be finite and in [0.0, inf)", "got -0.001"
    ):
        refbp.train(make_net(), X, Y, weight_decay=-1e-3)


def test_negative_epochs() -> None:
    X, Y = make_data()
    with raises(ValueError, "train", "epochs must be >= 0", "got -1"):
        refbp.train(make_net(), X, Y, epochs=-1)


@pytest.mark.parametrize(("seed", "kind"), [(1.5, "float"), (True, "bool"), ("0", "str")])
def test_train_refuses_a_seed_that_is_not_an_int(seed: object, kind: str) -> None:
    """"seed must be an int or None": a float, a bool or a string is refused by refbp itself
    (never passed on to NumPy), with the exact message and the argument's type.
    """
    net = MLP([np.ones((1, 1))], [np.zeros(1)], ["identity"], "mse")
    msg = f"train: seed must be an int or None, got {kind}"
    with pytest.raises(DTypeError, match=f"^{re.escape(msg)}$"):
        refbp.train(net, np.ones((2, 1)), np.ones((2, 1)), seed=seed)  # type: ignore[arg-type]


def test_a_negative_seed_is_refused_by_refbp_with_its_name() -> None:
    """NumPy's own message ("expected non-negative integer") names neither the call nor
    the argument."""
    net = MLP([np.ones((1, 1))], [np.zeros(1)], ["identity"], "mse")
    with raises(refbp.ConfigError, "train", "seed must be >= 0 (or None)", "got -1"):
        refbp.train(net, np.ones((2, 1)), np.ones((2, 1)), seed=-1)
    with raises(refbp.ConfigError, "MLP.init", "seed must be >= 0 (or None)", "got -3"):
        MLP.init([1, 1], ["identity"], "mse", seed=-3)
    with raises(refbp.DTypeError, "MLP.init", "seed must be an int or None", "got float"):
        MLP.init([1, 1], ["identity"], "mse", seed=1.5)  # type: ignore[arg-type]


def test_train_needs_an_mlp() -> None:
    X, Y = make_data()
    with raises(refbp.DTypeError, "train", "refbp.MLP", "got dict"):
        refbp.train({}, X, Y)  # type: ignore[arg-type]


def test_train_refuses_bad_data_before_touching_the_network() -> None:
    X, Y = make_data()
    net = make_net()
    before = [w.copy() for w in net.weights]
    with raises(refbp.ShapeError, "train", f"{N_IN} columns", "got shape (5, 2)"):
        refbp.train(net, X[:, :2], Y, epochs=1)
    for w, w0 in zip(net.weights, before, strict=True):
        np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("arg", ["lr", "momentum", "weight_decay"])
def test_an_int_beyond_every_float_is_refused_as_out_of_range_not_an_overflow(arg: str) -> None:
    X, Y = make_data()
    with raises(ValueError, "train", f"{arg} must be finite and in", f"got {2**1100}"):
        refbp.train(make_net(), X, Y, **{arg: 2**1100})


def test_on_epoch_that_is_not_callable_is_refused_before_the_first_epoch() -> None:
    """It used to fail after a whole epoch, the network already trained, with Python's
    "'int' object is not callable" naming neither train nor on_epoch."""
    X, Y = make_data()
    net = make_net()
    before = [w.copy() for w in net.weights]
    with raises(TypeError, "train: on_epoch must be a function (epoch, loss) or None, got int"):
        refbp.train(net, X, Y, on_epoch=5)  # type: ignore[arg-type]
    assert all(np.array_equal(w, b) for w, b in zip(net.weights, before, strict=True))


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((5, 0), ValueError, "batch_indices: batch_size must be >= 1, got 0"),
        ((5, -1), ValueError, "batch_indices: batch_size must be >= 1, got -1"),
        ((-1, 2), ValueError, "batch_indices: n must be >= 0, got -1"),
        ((5.0, 2), TypeError, "batch_indices: n must be an int, got float"),
    ],
)
def test_batch_indices_refuses_what_would_give_no_batches_or_numpy_s_errors(
    args: tuple[object, object], error: type[Exception], message: str
) -> None:
    """A negative batch size or count used to give no batches at all, silently."""
    with raises(error, message):
        refbp.batch_indices(*args, np.random.default_rng(0))  # type: ignore[arg-type]
    with raises(TypeError, "batch_indices: rng must be a numpy.random.Generator", "got int"):
        refbp.batch_indices(5, 2, 0)  # type: ignore[arg-type]
