"""X and Y as predict, evaluate, backprop and train receive them: converted, or refused.

Shapes, dtypes, finiteness and targets valid for the loss; every refusal names the method,
what was expected and what came (tests/refusals.py).  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import refbp
from refbp.errors import DTypeError
from refbp.network import MLP
from tests.refusals import BATCH, N_IN, N_OUT, make_data, make_net, raises

# --- shapes of X and Y ----------------------------------------------------------------


def test_wrong_feature_count() -> None:
    X, Y = make_data()
    with raises(refbp.ShapeError, "MLP.backprop", f"{N_IN} columns", "got shape (5, 2)"):
        make_net().backprop(X[:, :2], Y)


def test_wrong_feature_count_in_predict() -> None:
    X, _ = make_data()
    with raises(refbp.ShapeError, "MLP.predict", f"{N_IN} columns", "got shape (5, 4)"):
        make_net().predict(np.hstack([X, X[:, :1]]))


def test_targets_of_shape_n_for_one_output_are_not_broadcast() -> None:
    # (N, 1) − (N,) would broadcast to (N, N) and give a plausible but wrong loss.
    X, Y = make_data(n_out=1)
    with raises(refbp.ShapeError, "MLP.backprop", "Y must have shape (5, 1)", "got (5,)"):
        make_net(n_out=1).backprop(X, Y[:, 0])


def test_targets_of_shape_n_refused_by_evaluate_and_train() -> None:
    X, Y = make_data(n_out=1)
    with raises(refbp.ShapeError, "MLP.evaluate", "shape (5, 1)", "got (5,)"):
        make_net(n_out=1).evaluate(X, Y[:, 0])
    with raises(refbp.ShapeError, "train", "shape (5, 1)", "got (5,)"):
        refbp.train(make_net(n_out=1), X, Y[:, 0], epochs=1)


def test_y_batch_mismatch() -> None:
    X, Y = make_data()
    with raises(refbp.ShapeError, "MLP.backprop", "Y must have shape (5, 2)", "got (4, 2)"):
        make_net().backprop(X, Y[:4])


def test_one_dimensional_x() -> None:
    X, _ = make_data()
    with raises(refbp.ShapeError, "MLP.predict", "2-D", "got 1-D shape (3,)"):
        make_net().predict(X[0])


def test_three_dimensional_x() -> None:
    X, _ = make_data()
    with raises(refbp.ShapeError, "MLP.predict", "2-D", "got 3-D shape (1, 5, 3)"):
        make_net().predict(X[None])


def test_empty_batch() -> None:
    X, Y = make_data()
    with raises(refbp.ShapeError, "MLP.backprop", "at least one row", "got shape (0, 3)"):
        make_net().backprop(X[:0], Y[:0])


@pytest.mark.parametrize("method", ["forward", "predict", "evaluate", "backprop"])
def test_input_and_target_errors_name_the_method(method: str) -> None:
    """A network of 2 inputs and 1 output given X with 5 columns, then Y with 4 columns: each
    message names the method it came from, exactly.
    """
    net = MLP([np.ones((2, 1))], [np.zeros(1)], ["identity"], "mse")
    call = getattr(net, method)
    with_y = method in ("evaluate", "backprop")
    with pytest.raises(refbp.ShapeError) as e:
        call(np.ones((3, 5)), np.ones((3, 1))) if with_y else call(np.ones((3, 5)))
    assert str(e.value) == (
        f"MLP.{method}: X must have 2 columns to match the network, got shape (3, 5)"
    )
    if with_y:
        with pytest.raises(refbp.ShapeError) as e:
            call(np.ones((3, 2)), np.ones((3, 4)))
        assert str(e.value) == (
            f"MLP.{method}: Y must have shape (3, 1) to match X and the output layer, got (3, 4)"
        )


def test_batch_matrix_messages_name_the_argument_and_hint_at_reshape() -> None:
    """X that is not numeric, and a 1-D X (one sample): the messages name X and, for 1-D,
    say how to make one row; a 3-D X gets no such hint.
    """
    net = MLP([np.ones((2, 1))], [np.zeros(1)], ["identity"], "mse")
    with pytest.raises(DTypeError, match=r"^MLP\.predict: X must be a numeric array, got str$"):
        net.predict("ab")  # type: ignore[arg-type]
    msg = (
        "MLP.predict: X must be 2-D (batch, 2), got 1-D shape (2,); "
        "for one sample use X.reshape(1, -1)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        net.predict(np.ones(2))
    msg = "MLP.predict: X must be 2-D (batch, 2), got 3-D shape (1, 1, 2)"  # no hint here
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        net.predict(np.ones((1, 1, 2)))


# --- non-numeric and non-finite data --------------------------------------------------


def test_string_array_x() -> None:
    with raises(refbp.DTypeError, "MLP.predict", "real numbers", "got dtype <U"):
        make_net().predict(np.array([["1", "2", "3"]]))


def test_plain_string_x() -> None:
    with raises(refbp.DTypeError, "MLP.predict", "numeric array", "got str"):
        make_net().predict("123")


def test_object_array_x() -> None:
    X, _ = make_data()
    with raises(refbp.DTypeError, "MLP.predict", "real numbers", "got dtype object"):
        make_net().predict(X.astype(object))


def test_complex_x() -> None:
    X, _ = make_data()
    with raises(refbp.DTypeError, "MLP.predict", "real numbers", "got dtype complex128"):
        make_net().predict(X + 0j)


def test_masked_x_is_refused_unless_nothing_is_masked() -> None:
    """np.asarray drops a mask: the values under it would be used as if they were data."""
    X, Y = make_data()
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    masked[0, 0] = np.ma.masked
    with raises(refbp.DTypeError, "MLP.backprop", "X is a masked array with 1 masked entries"):
        make_net().backprop(masked, Y)
    with raises(refbp.DTypeError, "MLP.backprop", "Y is a masked array", "Y.filled(value)"):
        make_net().backprop(X, np.ma.masked_less(Y, np.inf))
    unmasked = np.ma.masked_array(X, mask=False)
    assert np.array_equal(make_net().predict(unmasked), make_net().predict(X))


def test_ragged_x() -> None:
    with raises(refbp.DTypeError, "MLP.predict", "numeric array", "inhomogeneous"):
        make_net().predict([[1.0, 2.0, 3.0], [1.0, 2.0]])


def test_non_numeric_y() -> None:
    X, Y = make_data()
    with raises(refbp.DTypeError, "MLP.backprop", "Y must hold real numbers", "got dtype <U"):
        make_net().backprop(X, Y.astype(str))


def test_nan_in_x() -> None:
    X, Y = make_data()
    X[1, 2] = np.nan
    with raises(refbp.NonFiniteError, "MLP.backprop", "X must be finite", "nan at index (1, 2)"):
        make_net().backprop(X, Y)


def test_nan_in_a_strided_or_transposed_x() -> None:
    """X as a view that is not C-contiguous (every other column, a transpose): its entries
    are looked at where they lie, not through a copy."""
    X, Y = make_data()
    wide = np.repeat(X, 2, axis=1)
    wide[1, 4] = np.nan
    with raises(refbp.NonFiniteError, "MLP.backprop", "X must be finite", "nan at index (1, 2)"):
        make_net().backprop(wide[:, ::2], Y)
    Xt = np.ascontiguousarray(X.T)
    Xt[2, 1] = np.inf
    with raises(refbp.NonFiniteError, "MLP.backprop", "X must be finite", "inf at index (1, 2)"):
        make_net().backprop(Xt.T, Y)


def test_inf_in_x() -> None:
    X, _ = make_data()
    X[0, 0] = -np.inf
    with raises(refbp.NonFiniteError, "MLP.predict", "X must be finite", "-inf at index (0, 0)"):
        make_net().predict(X)


def test_nan_in_y() -> None:
    X, Y = make_data()
    Y[3, 1] = np.nan
    with raises(refbp.NonFiniteError, "MLP.backprop", "Y must be finite", "nan at index (3, 1)"):
        make_net().backprop(X, Y)


def test_inf_in_y() -> None:
    X, Y = make_data()
    Y[0, 1] = np.inf
    with raises(refbp.NonFiniteError, "train", "Y must be finite", "inf at index (0, 1)"):
        refbp.train(make_net(), X, Y, epochs=1)


def test_float64_x_overflowing_a_float32_network() -> None:
    # 1e300 is finite in float64 but not in float32: an error naming it, not a RuntimeWarning.
    X, Y = make_data()
    X[2, 1] = 1e300
    net = refbp.MLP.init([N_IN, N_OUT], ["identity"], "mse", dtype=np.float32)
    with raises(refbp.NonFiniteError, "MLP.backprop", "X must fit", "float32", "(2, 1)"):
        net.backprop(X, Y)


def test_float64_y_overflowing_a_float32_network() -> None:
    X, Y = make_data()
    Y[0, 0] = -1e300
    net = refbp.MLP.init([N_IN, N_OUT], ["identity"], "mse", dtype=np.float32)
    with raises(refbp.NonFiniteError, "MLP.backprop", "Y must fit", "float32", "-1e+300"):
        net.backprop(X, Y)


# --- conversions ----------------------------------------------------------------------


def test_cast_returns_the_same_array_when_no_conversion_is_needed() -> None:
    """Conversions return new arrays, "or the same array when no conversion is needed";
    ``copy=True`` always returns a new one, and a dtype change never shares memory.
    """
    from refbp import _validate

    a = np.ones((2, 3))
    assert _validate.cast(a, np.dtype(np.float64), "X", "t") is a
    b = _validate.cast(a, np.dtype(np.float64), "X", "t", copy=True)
    assert b is not a and not np.shares_memory(a, b)
    c = _validate.cast(a, np.dtype(np.float32), "X", "t")
    assert c.dtype == np.float32 and not np.shares_memory(a, c)


# --- targets valid for the loss -------------------------------------------------------


def test_negative_probability_targets() -> None:
    X, _ = make_data()
    Y = np.tile([1.5, -0.5], (BATCH, 1))  # rows sum to 1 but are not probabilities
    with raises(
        refbp.TargetError,
        "MLP.backprop",
        "softmax_cross_entropy",
        "probability vectors",
        "negative entry -0.5",
    ):
        make_net("softmax_cross_entropy").backprop(X, Y)


def test_probability_rows_not_summing_to_one() -> None:
    X, _ = make_data()
    Y = np.tile([0.5, 0.4], (BATCH, 1))
    with raises(
        refbp.TargetError,
        "MLP.backprop",
        "softmax_cross_entropy",
        "sum to 1",
        "row 0 summing to 0.9",
    ):
        make_net("softmax_cross_entropy").backprop(X, Y)


def _probability_net(dtype: type = np.float64) -> MLP:
    return MLP(
        [np.ones((1, 3), dtype=dtype)], [np.zeros(3, dtype=dtype)], ["identity"],
        "softmax_cross_entropy",
    )


@pytest.mark.parametrize(
    ("Y", "row", "total"),
    [
        ([[0.2, 0.3, 0.5], [0.25, 0.25, 0.0]], 1, 0.5),  # the bad row is not row 0
        ([[0.25, 0.25, 0.0], [0.2, 0.3, 0.5]], 0, 0.5),  # ... and not the row with the largest sum
        ([[0.5, 0.5, 0.5], [0.2, 0.3, 0.5]], 0, 1.5),  # a sum above 1
    ],
)
def test_probability_targets_name_the_row_that_does_not_sum_to_1(
    Y: list[list[float]], row: int, total: float
) -> None:
    """The row reported is the one farthest from summing to 1: not always row 0, not the row
    with the largest sum, and a sum above 1 counts as far as one below.
    """
    from refbp.errors import TargetError

    msg = (
        f"MLP.evaluate: softmax_cross_entropy needs rows of Y that sum to 1, "
        f"got row {row} summing to {total}"
    )
    with pytest.raises(TargetError, match=f"^{re.escape(msg)}$"):
        _probability_net().evaluate(np.ones((2, 1)), np.array(Y))


def test_float32_probability_rows_are_summed_in_float64() -> None:
    """Row sums are taken in float64, so a float32 row is judged on its exact sum.

    y = [0.5, 0.25, 0.25 + 6710·2⁻²⁶] (all exact in float32) sums exactly to
    1 + 9.99868e-5, inside the 1e-4 tolerance; summed in float32 it rounds to
    1 + 839·2⁻²³ = 1 + 1.000017e-4 and would be refused.
    """
    third = 0.25 + 6710 * 2.0**-26
    assert float(np.float32(third)) == third
    Y = np.array([[0.5, 0.25, third]], dtype=np.float32)
    c = _probability_net(np.float32).evaluate(np.ones((1, 1), dtype=np.float32), Y)
    # all logits equal: C = −Σ y log(1/3) = log 3 · Σ y
    assert c == pytest.approx(np.log(3.0) * (1.0 + 6710 * 2.0**-26), rel=1e-6)


@pytest.mark.parametrize("bad", [-0.25, 1.5])
def test_sigmoid_cross_entropy_targets_outside_unit_interval(bad: float) -> None:
    X, Y = make_data()
    Y[2, 0] = bad
    with raises(
        refbp.TargetError, "MLP.backprop", "sigmoid_cross_entropy", "targets in [0, 1]", str(bad)
    ):
        make_net("sigmoid_cross_entropy").backprop(X, Y)


@pytest.mark.parametrize("bad", [-0.25, 1.5])
def test_binary_cross_entropy_targets_outside_unit_interval(bad: float) -> None:
    X, Y = make_data()
    Y[0, 1] = bad
    with raises(
        refbp.TargetError, "MLP.backprop", "binary_cross_entropy", "targets in [0, 1]", str(bad)
    ):
        make_net("binary_cross_entropy", out="sigmoid").backprop(X, Y)
