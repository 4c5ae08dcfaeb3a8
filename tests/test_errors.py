"""Bad input is refused, one test per case.

Every refusal must say who complained (the function), what was expected and what came, so
each test pins the exception type and matches all three parts of the message.  refbp's
exceptions subclass ValueError / TypeError (DESIGN.md §2), so the builtin types are checked
too.  These tests use refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import refbp
from refbp.errors import RefbpError

N_IN, N_HIDDEN, N_OUT, BATCH = 3, 4, 2, 5


def _params(n_out: int = N_OUT) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(N_IN, N_HIDDEN)), rng.normal(size=(N_HIDDEN, n_out))]
    biases = [rng.normal(size=N_HIDDEN), rng.normal(size=n_out)]
    return weights, biases


def _net(loss: str = "mse", out: str = "identity", n_out: int = N_OUT) -> refbp.MLP:
    weights, biases = _params(n_out)
    return refbp.MLP(weights, biases, ["tanh", out], loss)


def _data(n_out: int = N_OUT) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(BATCH, N_IN)), rng.uniform(size=(BATCH, n_out))


def _raises(exc: type[BaseException], *parts: str) -> Any:
    """pytest.raises for ``exc`` whose message contains every part, in order."""
    return pytest.raises(exc, match=".*".join(re.escape(p) for p in parts))


# --- shapes of X and Y -------------------------------------------------------------------


def test_wrong_feature_count() -> None:
    X, Y = _data()
    with _raises(refbp.ShapeError, "MLP.backprop", f"{N_IN} columns", "got shape (5, 2)"):
        _net().backprop(X[:, :2], Y)


def test_wrong_feature_count_in_predict() -> None:
    X, _ = _data()
    with _raises(refbp.ShapeError, "MLP.predict", f"{N_IN} columns", "got shape (5, 4)"):
        _net().predict(np.hstack([X, X[:, :1]]))


def test_targets_of_shape_n_for_one_output_are_not_broadcast() -> None:
    # (N, 1) − (N,) would broadcast to (N, N) and give a plausible but wrong loss.
    X, Y = _data(n_out=1)
    with _raises(refbp.ShapeError, "MLP.backprop", "Y must have shape (5, 1)", "got (5,)"):
        _net(n_out=1).backprop(X, Y[:, 0])


def test_targets_of_shape_n_refused_by_evaluate_and_train() -> None:
    X, Y = _data(n_out=1)
    with _raises(refbp.ShapeError, "MLP.evaluate", "shape (5, 1)", "got (5,)"):
        _net(n_out=1).evaluate(X, Y[:, 0])
    with _raises(refbp.ShapeError, "train", "shape (5, 1)", "got (5,)"):
        refbp.train(_net(n_out=1), X, Y[:, 0], epochs=1)


def test_y_batch_mismatch() -> None:
    X, Y = _data()
    with _raises(refbp.ShapeError, "MLP.backprop", "Y must have shape (5, 2)", "got (4, 2)"):
        _net().backprop(X, Y[:4])


def test_one_dimensional_x() -> None:
    X, _ = _data()
    with _raises(refbp.ShapeError, "MLP.predict", "2-D", "got 1-D shape (3,)"):
        _net().predict(X[0])


def test_three_dimensional_x() -> None:
    X, _ = _data()
    with _raises(refbp.ShapeError, "MLP.predict", "2-D", "got 3-D shape (1, 5, 3)"):
        _net().predict(X[None])


def test_empty_batch() -> None:
    X, Y = _data()
    with _raises(refbp.ShapeError, "MLP.backprop", "at least one row", "got shape (0, 3)"):
        _net().backprop(X[:0], Y[:0])


# --- non-numeric and non-finite data -----------------------------------------------------


def test_string_array_x() -> None:
    with _raises(refbp.DTypeError, "MLP.predict", "real numbers", "got dtype <U"):
        _net().predict(np.array([["1", "2", "3"]]))


def test_plain_string_x() -> None:
    with _raises(refbp.DTypeError, "MLP.predict", "numeric array", "got str"):
        _net().predict("123")


def test_object_array_x() -> None:
    X, _ = _data()
    with _raises(refbp.DTypeError, "MLP.predict", "real numbers", "got dtype object"):
        _net().predict(X.astype(object))


def test_complex_x() -> None:
    X, _ = _data()
    with _raises(refbp.DTypeError, "MLP.predict", "real numbers", "got dtype complex128"):
        _net().predict(X + 0j)


def test_ragged_x() -> None:
    with _raises(refbp.DTypeError, "MLP.predict", "numeric array", "inhomogeneous"):
        _net().predict([[1.0, 2.0, 3.0], [1.0, 2.0]])


def test_non_numeric_y() -> None:
    X, Y = _data()
    with _raises(refbp.DTypeError, "MLP.backprop", "Y must hold real numbers", "got dtype <U"):
        _net().backprop(X, Y.astype(str))


def test_nan_in_x() -> None:
    X, Y = _data()
    X[1, 2] = np.nan
    with _raises(refbp.NonFiniteError, "MLP.backprop", "X must be finite", "nan at index (1, 2)"):
        _net().backprop(X, Y)


def test_inf_in_x() -> None:
    X, _ = _data()
    X[0, 0] = -np.inf
    with _raises(refbp.NonFiniteError, "MLP.predict", "X must be finite", "-inf at index (0, 0)"):
        _net().predict(X)


def test_nan_in_y() -> None:
    X, Y = _data()
    Y[3, 1] = np.nan
    with _raises(refbp.NonFiniteError, "MLP.backprop", "Y must be finite", "nan at index (3, 1)"):
        _net().backprop(X, Y)


def test_inf_in_y() -> None:
    X, Y = _data()
    Y[0, 1] = np.inf
    with _raises(refbp.NonFiniteError, "train", "Y must be finite", "inf at index (0, 1)"):
        refbp.train(_net(), X, Y, epochs=1)


def test_nan_in_weights() -> None:
    weights, biases = _params()
    weights[1][2, 0] = np.nan
    with _raises(refbp.NonFiniteError, "MLP", "weights[1] must be finite", "nan at index (2, 0)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_inf_in_biases() -> None:
    weights, biases = _params()
    biases[0][3] = np.inf
    with _raises(refbp.NonFiniteError, "MLP", "biases[0] must be finite", "inf at index (3,)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_float64_x_overflowing_a_float32_network() -> None:
    # 1e300 is finite in float64 but not in float32: an error naming it, not a RuntimeWarning.
    X, Y = _data()
    X[2, 1] = 1e300
    net = refbp.MLP.init([N_IN, N_OUT], ["identity"], "mse", dtype=np.float32)
    with _raises(refbp.NonFiniteError, "MLP.backprop", "X must fit", "float32", "(2, 1)"):
        net.backprop(X, Y)


def test_float64_y_overflowing_a_float32_network() -> None:
    X, Y = _data()
    Y[0, 0] = -1e300
    net = refbp.MLP.init([N_IN, N_OUT], ["identity"], "mse", dtype=np.float32)
    with _raises(refbp.NonFiniteError, "MLP.backprop", "Y must fit", "float32", "-1e+300"):
        net.backprop(X, Y)


def test_float64_weights_overflowing_a_float32_network() -> None:
    weights, biases = _params()
    weights[0] = weights[0].astype(np.float32)  # W1 sets the dtype
    weights[1][0, 0] = 1e300
    with _raises(refbp.NonFiniteError, "MLP", "weights[1] must fit", "float32", "1e+300"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


# --- names and structure -----------------------------------------------------------------


def test_unknown_activation_lists_the_valid_ones() -> None:
    weights, biases = _params()
    valid = str(sorted(refbp.ACTIVATIONS))
    with _raises(refbp.UnknownNameError, "MLP", "unknown activation 'tanhh'", valid):
        refbp.MLP(weights, biases, ["tanhh", "identity"], "mse")


def test_unknown_loss_lists_the_valid_ones() -> None:
    weights, biases = _params()
    valid = str(sorted(refbp.LOSSES))
    with _raises(refbp.UnknownNameError, "MLP", "unknown loss 'mae'", valid):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mae")


def test_unknown_activation_in_init() -> None:
    with _raises(refbp.UnknownNameError, "MLP.init", "unknown activation 'ReLU'", "'relu'"):
        refbp.MLP.init([3, 2], ["ReLU"], "mse")


def test_activation_count_does_not_match_layers() -> None:
    weights, biases = _params()
    with _raises(
        refbp.ShapeError,
        "MLP",
        "one weight matrix, bias and activation per layer",
        "2 weights, 2 biases and 1 activations",
    ):
        refbp.MLP(weights, biases, ["tanh"], "mse")


def test_activations_as_one_string() -> None:
    weights, biases = _params()
    with _raises(refbp.DTypeError, "MLP", "list of names", "got str"):
        refbp.MLP(weights, biases, "tanh", "mse")


def test_weights_that_do_not_chain() -> None:
    weights, biases = _params()
    weights[1] = weights[1][:3]
    with _raises(refbp.ShapeError, "MLP", "do not chain", "must have 4 rows", "got shape (3, 2)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_bias_of_shape_o_1() -> None:
    weights, biases = _params()
    biases[0] = biases[0].reshape(-1, 1)
    with _raises(refbp.ShapeError, "MLP", "biases[0] must have shape (4,)", "got (4, 1)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_one_dimensional_weights() -> None:
    weights, biases = _params()
    weights[1] = weights[1][:, 0]
    with _raises(refbp.ShapeError, "MLP", "weights[1] must be 2-D", "got shape (4,)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_no_layers() -> None:
    with _raises(refbp.ShapeError, "MLP", "at least one layer", "got no weights"):
        refbp.MLP([], [], [], "mse")


# --- targets valid for the loss ----------------------------------------------------------


def test_negative_probability_targets() -> None:
    X, _ = _data()
    Y = np.tile([1.5, -0.5], (BATCH, 1))  # rows sum to 1 but are not probabilities
    with _raises(
        refbp.TargetError,
        "MLP.backprop",
        "softmax_cross_entropy",
        "probability vectors",
        "negative entry -0.5",
    ):
        _net("softmax_cross_entropy").backprop(X, Y)


def test_probability_rows_not_summing_to_one() -> None:
    X, _ = _data()
    Y = np.tile([0.5, 0.4], (BATCH, 1))
    with _raises(
        refbp.TargetError,
        "MLP.backprop",
        "softmax_cross_entropy",
        "sum to 1",
        "row 0 summing to 0.9",
    ):
        _net("softmax_cross_entropy").backprop(X, Y)


@pytest.mark.parametrize("bad", [-0.25, 1.5])
def test_sigmoid_cross_entropy_targets_outside_unit_interval(bad: float) -> None:
    X, Y = _data()
    Y[2, 0] = bad
    with _raises(
        refbp.TargetError, "MLP.backprop", "sigmoid_cross_entropy", "targets in [0, 1]", str(bad)
    ):
        _net("sigmoid_cross_entropy").backprop(X, Y)


@pytest.mark.parametrize("bad", [-0.25, 1.5])
def test_binary_cross_entropy_targets_outside_unit_interval(bad: float) -> None:
    X, Y = _data()
    Y[0, 1] = bad
    with _raises(
        refbp.TargetError, "MLP.backprop", "binary_cross_entropy", "targets in [0, 1]", str(bad)
    ):
        _net("binary_cross_entropy", out="sigmoid").backprop(X, Y)


@pytest.mark.parametrize("out", ["identity", "tanh", "relu"])
def test_binary_cross_entropy_needs_a_probability_output(out: str) -> None:
    weights, biases = _params()
    # the class is refbp's choice; the contract only says ValueError
    with _raises(
        ValueError,
        "MLP",
        "binary_cross_entropy",
        "output activation must be one of ['sigmoid', 'softmax']",
        f"got {out!r}",
    ):
        refbp.MLP(weights, biases, ["tanh", out], "binary_cross_entropy")


# --- dtypes of the parameters ------------------------------------------------------------


def test_float16_weights() -> None:
    weights, biases = _params()
    with _raises(refbp.DTypeError, "MLP", "float32 or float64", "got float16"):
        refbp.MLP([w.astype(np.float16) for w in weights], biases, ["tanh", "identity"], "mse")


def test_integer_weights() -> None:
    weights, biases = _params()
    with _raises(refbp.DTypeError, "MLP", "weights[0]", "float32 or float64", "got int64"):
        refbp.MLP([w.astype(np.int64) for w in weights], biases, ["tanh", "identity"], "mse")


@pytest.mark.parametrize("dtype", [np.float16, np.int32, "complex128"])
def test_init_with_unsupported_dtype(dtype: object) -> None:
    with _raises(refbp.DTypeError, "MLP.init", "dtype must be float32 or float64", "got "):
        refbp.MLP.init([3, 2], ["tanh"], "mse", dtype=dtype)


# --- MLP.init sizes ----------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[], [3]])
def test_init_sizes_too_short(sizes: list[int]) -> None:
    with _raises(
        refbp.ShapeError, "MLP.init", "input width and at least one layer", f"got {sizes}"
    ):
        refbp.MLP.init(sizes, [], "mse")


@pytest.mark.parametrize("width", [0, -2])
def test_init_sizes_not_positive(width: int) -> None:
    with _raises(ValueError, "MLP.init", "sizes[1] must be >= 1", f"got {width}"):
        refbp.MLP.init([3, width, 2], ["tanh", "identity"], "mse")


@pytest.mark.parametrize("width", [2.5, 2.0, "4", True])
def test_init_sizes_not_int(width: object) -> None:
    with _raises(refbp.DTypeError, "MLP.init", "sizes[1] must be an int", "got"):
        refbp.MLP.init([3, width, 2], ["tanh", "identity"], "mse")  # type: ignore[list-item]


def test_init_sizes_as_a_string() -> None:
    with _raises(refbp.DTypeError, "MLP.init", "list of ints", "got str"):
        refbp.MLP.init("32", ["tanh"], "mse")


def test_init_sizes_and_activations_disagree() -> None:
    with _raises(refbp.ShapeError, "MLP.init", "describe 2 layers", "got 1 activations"):
        refbp.MLP.init([3, 4, 2], ["tanh"], "mse")


# --- training arguments ------------------------------------------------------------------


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_lr_not_positive(lr: float) -> None:
    X, Y = _data()
    with _raises(ValueError, "train", "lr must be finite and in (0.0, inf)", f"got {lr}"):
        refbp.train(_net(), X, Y, lr=lr)


@pytest.mark.parametrize("batch_size", [0, -3])
def test_batch_size_below_one(batch_size: int) -> None:
    X, Y = _data()
    with _raises(ValueError, "train", "batch_size must be >= 1", f"got {batch_size}"):
        refbp.train(_net(), X, Y, batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2.0, "2", None, True])
def test_batch_size_not_an_int(batch_size: object) -> None:
    X, Y = _data()
    with _raises(refbp.DTypeError, "train", "batch_size must be an int", "got"):
        refbp.train(_net(), X, Y, batch_size=batch_size)  # type: ignore[arg-type]


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5])
def test_momentum_outside_unit_interval(momentum: float) -> None:
    X, Y = _data()
    with _raises(
        ValueError, "train", "momentum must be finite and in [0.0, 1.0)", f"got {momentum}"
    ):
        refbp.train(_net(), X, Y, momentum=momentum)


def test_negative_weight_decay() -> None:
    X, Y = _data()
    with _raises(
        ValueError, "train", "weight_decay must be finite and in [0.0, inf)", "got -0.001"
    ):
        refbp.train(_net(), X, Y, weight_decay=-1e-3)


def test_negative_epochs() -> None:
    X, Y = _data()
    with _raises(ValueError, "train", "epochs must be >= 0", "got -1"):
        refbp.train(_net(), X, Y, epochs=-1)


def test_train_needs_an_mlp() -> None:
    X, Y = _data()
    with _raises(refbp.DTypeError, "train", "refbp.MLP", "got dict"):
        refbp.train({}, X, Y)  # type: ignore[arg-type]


def test_train_refuses_bad_data_before_touching_the_network() -> None:
    X, Y = _data()
    net = _net()
    before = [w.copy() for w in net.weights]
    with _raises(refbp.ShapeError, "train", f"{N_IN} columns", "got shape (5, 2)"):
        refbp.train(net, X[:, :2], Y, epochs=1)
    for w, w0 in zip(net.weights, before, strict=True):
        np.testing.assert_array_equal(w, w0)


def test_every_refusal_is_a_refbp_error_and_a_builtin() -> None:
    for cls in (
        refbp.ShapeError,
        refbp.NonFiniteError,
        refbp.TargetError,
        refbp.UnknownNameError,
        refbp.NumericalError,
    ):
        assert issubclass(cls, RefbpError) and issubclass(cls, ValueError)
    assert issubclass(refbp.DTypeError, RefbpError) and issubclass(refbp.DTypeError, TypeError)
