"""``MLP(weights, biases, activations, loss)``: what it builds, and what it refuses.

Every refusal names "MLP", the argument (and layer) and what came (tests/refusals.py).
``MLP.init`` is in tests/test_init.py.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import numpy as np
import pytest

import refbp
from refbp.network import MLP
from tests.refusals import make_params, raises


def test_repr_lists_sizes_activations_loss_and_dtype() -> None:
    """The repr shows the sizes, the activation names, the loss and the dtype (W1's)."""
    net = MLP([np.ones((2, 3), np.float32), np.ones((3, 1))], [np.zeros(3), np.zeros(1)],
              ["tanh", "identity"], "mse")  # fmt: skip
    assert repr(net) == (
        "MLP(sizes=[2, 3, 1], activations=['tanh', 'identity'], loss='mse', dtype=float32)"
    )


# --- names and structure --------------------------------------------------------------


def test_unknown_activation_lists_the_valid_ones() -> None:
    weights, biases = make_params()
    valid = str(sorted(refbp.ACTIVATIONS))
    with raises(refbp.UnknownNameError, "MLP", "unknown activation 'tanhh'", valid):
        refbp.MLP(weights, biases, ["tanhh", "identity"], "mse")


def test_unknown_loss_lists_the_valid_ones() -> None:
    weights, biases = make_params()
    valid = str(sorted(refbp.LOSSES))
    with raises(refbp.UnknownNameError, "MLP", "unknown loss 'mae'", valid):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mae")


def test_activation_count_does_not_match_layers() -> None:
    weights, biases = make_params()
    with raises(
        refbp.ShapeError,
        "MLP",
        "one weight matrix, bias and activation per layer",
        "2 weights, 2 biases and 1 activations",
    ):
        refbp.MLP(weights, biases, ["tanh"], "mse")


def test_activations_as_one_string() -> None:
    weights, biases = make_params()
    with raises(refbp.DTypeError, "MLP", "list of names", "got str"):
        refbp.MLP(weights, biases, "tanh", "mse")


def test_weights_that_do_not_chain() -> None:
    weights, biases = make_params()
    weights[1] = weights[1][:3]
    with raises(refbp.ShapeError, "MLP", "do not chain", "must have 4 rows", "got shape (3, 2)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_bias_of_shape_o_1() -> None:
    weights, biases = make_params()
    biases[0] = biases[0].reshape(-1, 1)
    with raises(refbp.ShapeError, "MLP", "biases[0] must have shape (4,)", "got (4, 1)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_one_dimensional_weights() -> None:
    weights, biases = make_params()
    weights[1] = weights[1][:, 0]
    with raises(refbp.ShapeError, "MLP", "weights[1] must be 2-D", "got shape (4,)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_no_layers() -> None:
    with raises(refbp.ShapeError, "MLP", "at least one layer", "got no weights"):
        refbp.MLP([], [], [], "mse")


@pytest.mark.parametrize("out", ["identity", "tanh", "relu"])
def test_binary_cross_entropy_needs_a_probability_output(out: str) -> None:
    weights, biases = make_params()
    # the class is refbp's choice; the contract only says ValueError
    with raises(
        ValueError,
        "MLP",
        "binary_cross_entropy",
        "output activation must be one of ['sigmoid', 'softmax']",
        f"got {out!r}",
    ):
        refbp.MLP(weights, biases, ["tanh", out], "binary_cross_entropy")


# --- values and dtypes of the parameters ----------------------------------------------


def test_nan_in_weights() -> None:
    weights, biases = make_params()
    weights[1][2, 0] = np.nan
    with raises(refbp.NonFiniteError, "MLP", "weights[1] must be finite", "nan at index (2, 0)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_inf_in_biases() -> None:
    weights, biases = make_params()
    biases[0][3] = np.inf
    with raises(refbp.NonFiniteError, "MLP", "biases[0] must be finite", "inf at index (3,)"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_float64_weights_overflowing_a_float32_network() -> None:
    weights, biases = make_params()
    weights[0] = weights[0].astype(np.float32)  # W1 sets the dtype
    weights[1][0, 0] = 1e300
    with raises(refbp.NonFiniteError, "MLP", "weights[1] must fit", "float32", "1e+300"):
        refbp.MLP(weights, biases, ["tanh", "identity"], "mse")


def test_float16_weights() -> None:
    weights, biases = make_params()
    with raises(refbp.DTypeError, "MLP", "float32 or float64", "got float16"):
        refbp.MLP([w.astype(np.float16) for w in weights], biases, ["tanh", "identity"], "mse")


def test_integer_weights() -> None:
    weights, biases = make_params()
    with raises(refbp.DTypeError, "MLP", "weights[0]", "float32 or float64", "got int64"):
        refbp.MLP([w.astype(np.int64) for w in weights], biases, ["tanh", "identity"], "mse")


# --- every message exactly ------------------------------------------------------------


_W2 = [np.ones((2, 3)), np.ones((3, 1))]
_B2 = [np.zeros(3), np.zeros(1)]
_A2 = ["tanh", "identity"]
_F32_THEN_HUGE = [np.ones((2, 3), np.float32), np.full((3, 1), 1e300)]


@pytest.mark.parametrize(
    ("args", "kind", "message"),
    [
        pytest.param(
            (np.ones((1, 2, 2)), [np.zeros(2)], ["tanh"], "mse"), refbp.DTypeError,
            "MLP: weights must be a list of 2-D arrays, one per layer, got an array of shape (1, 2, 2)",
            id="weights-one-array",
        ),
        pytest.param(
            ([np.ones((2, 2))], np.zeros((1, 2)), ["tanh"], "mse"), refbp.DTypeError,
            "MLP: biases must be a list of 1-D arrays, one per layer, got an array of shape (1, 2)",
            id="biases-one-array",
        ),
        pytest.param(
            (dict(enumerate(_W2)).values(), _B2, _A2, "mse"), refbp.DTypeError,
            "MLP: weights must be a list of 2-D arrays, one per layer, got dict_values",
            id="weights-not-a-sequence",
        ),
        pytest.param(
            (_W2, dict(enumerate(_B2)).values(), _A2, "mse"), refbp.DTypeError,
            "MLP: biases must be a list of 1-D arrays, one per layer, got dict_values",
            id="biases-not-a-sequence",
        ),
        pytest.param(
            (_W2, _B2, "tanh", "mse"), refbp.DTypeError,
            "MLP: activations must be a list of names, one per layer, got str",
            id="activations-a-string",
        ),
        pytest.param(
            (["ab", _W2[1]], _B2, _A2, "mse"), refbp.DTypeError,
            "MLP: weights[0] must be a numeric array, got str", id="weights0-not-numeric",
        ),
        pytest.param(
            ([_W2[0], "ab"], _B2, _A2, "mse"), refbp.DTypeError,
            "MLP: weights[1] must be a numeric array, got str", id="weights1-not-numeric",
        ),
        pytest.param(
            (_W2, [_B2[0], "ab"], _A2, "mse"), refbp.DTypeError,
            "MLP: biases[1] must be a numeric array, got str", id="biases1-not-numeric",
        ),
        pytest.param(
            ([_W2[0], np.ones((3, 0))], [_B2[0], np.zeros(0)], _A2, "mse"), refbp.ShapeError,
            "MLP: weights[1] has an empty dimension: (3, 0)", id="empty-dimension",
        ),
        pytest.param(
            ([_W2[0], np.ones((3, 2)), np.ones((3, 1))], [_B2[0], np.zeros(2), np.zeros(1)],
             ["tanh", "tanh", "identity"], "mse"), refbp.ShapeError,
            "MLP: weights do not chain: weights[1] has shape (3, 2) so weights[2] must have 2 "
            "rows, got shape (3, 1)", id="third-layer-does-not-chain",
        ),
        pytest.param(
            (_F32_THEN_HUGE, _B2, _A2, "mse"), refbp.NonFiniteError,
            "MLP: weights[1] must fit in the network's dtype float32, got 1e+300 at index "
            "(0, 0), which overflows to inf", id="weight-overflows-float32",
        ),
        pytest.param(  # a long double beyond float64, shown as itself, not as inf
            ([np.ones((2, 3)), np.full((3, 1), np.longdouble("1.5e400"))], _B2, _A2, "mse"),
            refbp.NonFiniteError,
            "MLP: weights[1] must fit in the network's dtype float64, got 1.5e+400 at index "
            "(0, 0), which overflows to inf", id="weight-overflows-float64-from-long-double",
            marks=pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max,
                                     reason="long double is float64 here"),
        ),
        pytest.param(
            ([_F32_THEN_HUGE[0], _W2[1]], [_B2[0], np.array([1e300])], _A2, "mse"),
            refbp.NonFiniteError,
            "MLP: biases[1] must fit in the network's dtype float32, got 1e+300 at index (0,), "
            "which overflows to inf", id="bias-overflows-float32",
        ),
        pytest.param(
            ([_W2[0], np.ones((3, 2)), np.ones((2, 1))], [_B2[0], np.zeros(2), np.zeros(1)],
             ["tanh", "sigmoid", "tanh"], "binary_cross_entropy"), refbp.ConfigError,
            "MLP: loss 'binary_cross_entropy' needs probabilities in (0, 1), so the output "
            "activation must be one of ['sigmoid', 'softmax'], got 'tanh' (for logits use "
            "'sigmoid_cross_entropy')", id="three-layers-output-not-a-probability",
        ),
    ],
)  # fmt: skip
def test_constructor_errors_name_the_argument_exactly(
    args: tuple[object, ...], kind: type[Exception], message: str
) -> None:
    """``MLP(...)``: who complained, which argument (and which layer), what came, exactly.

    A container that is neither an ndarray nor a sequence (a dict's values) is refused up front,
    not left to fail later with a bare TypeError.  A chain error at the third layer names both
    neighbours; the output activation is read from the last layer of a three-layer network.
    """
    with pytest.raises(kind) as e:
        MLP(*args)  # type: ignore[arg-type]
    assert str(e.value) == message
