"""Finite inputs, non-finite results: which quantity, which layer and which method.

A NumericalError when a loss, an output or a gradient overflows although every input was
finite; a NonFiniteError when a parameter was made non-finite in place after construction.
Each message is pinned whole.  One identity unit with the mse loss makes every quantity a
number written down by hand.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import numpy as np
import pytest

import refbp
from refbp.network import MLP

_TOO_LARGE = (
    "came out non-finite although every input was finite; the inputs or weights are too "
    "large for this dtype (rescale them, or lower lr)"
)


def _one_unit(w: float) -> MLP:
    """One identity layer, one input and one output, loss mse: z = x·w, C = (z − y)²,
    δ = 2(z − y), ∂C/∂W = x·δ, ∂C/∂b = δ, ∂C/∂X = δ·w (B = 1)."""
    return MLP([np.array([[w]])], [np.zeros(1)], ["identity"], "mse")


def test_backprop_says_the_loss_came_out_non_finite() -> None:
    """x = 1e200, w = 1: z = 1e200 is finite, C = z² = 1e400 overflows to inf.  The message
    says "the loss", whole.
    """
    with pytest.raises(refbp.NumericalError) as e:
        _one_unit(1.0).backprop(np.array([[1e200]]), np.array([[0.0]]))
    assert str(e.value) == f"MLP.backprop: the loss {_TOO_LARGE}"


def test_evaluate_says_the_loss_came_out_non_finite() -> None:
    """As above, through ``evaluate`` (its own check and message)."""
    with pytest.raises(refbp.NumericalError) as e:
        _one_unit(1.0).evaluate(np.array([[1e200]]), np.array([[0.0]]))
    assert str(e.value) == f"MLP.evaluate: the loss {_TOO_LARGE}"


def test_a_gradient_that_overflows_names_its_layer_though_the_bias_gradient_is_finite() -> None:
    """x = 1e308, w = 1e-308: z ≈ 1, C ≈ 1 and ∂C/∂b = δ ≈ 2 are finite, ∂C/∂X = δ·w ≈ 2e-308
    too, but ∂C/∂W = x·δ ≈ 2e308 overflows.  Only the weight gradient is non-finite, and a
    finite ∂C/∂b must not let the layer pass; the layer is numbered from 1.
    """
    with pytest.raises(refbp.NumericalError) as e:
        _one_unit(1e-308).backprop(np.array([[1e308]]), np.array([[0.0]]))
    assert str(e.value) == f"MLP.backprop: the gradient of layer 1 {_TOO_LARGE}"


def test_a_grad_input_that_overflows_is_named() -> None:
    """x = 1e-308, w = 1e308: z ≈ 1, ∂C/∂W = x·δ ≈ 2e-308 and ∂C/∂b ≈ 2 are finite,
    ∂C/∂X = δ·w ≈ 2e308 overflows, and the message names ∂C/∂X.
    """
    with pytest.raises(refbp.NumericalError) as e:
        _one_unit(1e308).backprop(np.array([[1e-308]]), np.array([[0.0]]))
    assert str(e.value) == f"MLP.backprop: ∂C/∂X {_TOO_LARGE}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_results_whose_squares_overflow_are_returned(dtype: type) -> None:
    """The results are checked through Σ r² first, which overflows for finite entries
    beyond √max: x = 1e150, w = 1e-145 (float32: x = 1e14, w = 1e-9) give z = 1e5,
    C = z² = 1e10 and ∂C/∂W = x·δ = 2e155 (2e19), past √max.  Every result is finite, so
    they are returned, not refused."""
    x, w = (1e150, 1e-145) if dtype == np.float64 else (1e14, 1e-9)
    net = MLP([np.array([[w]], dtype)], [np.zeros(1, dtype)], ["identity"], "mse")
    bp = net.backprop(np.array([[x]], dtype), np.array([[0.0]], dtype))
    assert np.abs(bp.grad_weights[0][0, 0]) > np.sqrt(np.finfo(dtype).max)
    z = float(dtype(x) * dtype(w))
    np.testing.assert_allclose(bp.grad_weights[0], [[2 * z * x]], rtol=1e-5)
    np.testing.assert_allclose(bp.grad_input, [[2 * z * w]], rtol=1e-5)


@pytest.mark.parametrize("method", ["forward", "predict", "evaluate"])
def test_an_output_that_overflows_is_named_with_the_method(method: str) -> None:
    """x = 1e200, w = 1e200: the output z = 1e400 overflows to inf, every parameter finite.
    A one-layer network, so the output check must read the last layer (any other index fails).
    """
    args = (np.array([[1e200]]),) + ((np.array([[0.0]]),) if method == "evaluate" else ())
    with pytest.raises(refbp.NumericalError) as e:
        getattr(_one_unit(1e200), method)(*args)
    assert str(e.value) == f"MLP.{method}: the output {_TOO_LARGE}"


@pytest.mark.parametrize("method", ["forward", "predict", "evaluate", "backprop"])
def test_a_parameter_made_non_finite_in_place_is_named_with_the_method(method: str) -> None:
    """``weights`` hands out the network's own arrays; a NaN written into one after
    construction makes the result non-finite, and the error names the parameter and the
    method that found it.  The NaN is in the output layer behind a finite hidden layer, so the
    output check must read the output, not a hidden layer.
    """
    net = MLP([np.ones((2, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)],
              ["tanh", "identity"], "mse")  # fmt: skip
    net.weights[1][1, 0] = np.nan
    args = (np.ones((3, 2)),) if method in ("forward", "predict") else (np.ones((3, 2)), np.ones((3, 1)))
    with pytest.raises(refbp.NonFiniteError) as e:
        getattr(net, method)(*args)
    assert str(e.value) == f"MLP.{method}: weights[1] must be finite, got nan at index (1, 0)"


def test_a_bias_made_non_finite_in_place_is_named() -> None:
    """``biases`` hands out the network's own arrays too; the diagnosis names a bias."""
    net = MLP([np.ones((2, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)],
              ["tanh", "identity"], "mse")  # fmt: skip
    net.biases[1][0] = np.nan
    with pytest.raises(refbp.NonFiniteError) as e:
        net.backprop(np.ones((3, 2)), np.ones((3, 1)))
    assert str(e.value) == "MLP.backprop: biases[1] must be finite, got nan at index (0,)"


@pytest.mark.parametrize("method", ["evaluate", "backprop"])
def test_a_saturated_probability_output_is_named_with_method_activation_and_range(
    method: str,
) -> None:
    """identity, identity, softmax layers of one unit: a softmax of one unit is exactly 1.0,
    where binary cross-entropy is infinite for y = 0.5 (a saturated sigmoid is no longer
    refused: its loss and δᴸ come from z, see tests/test_stability.py).  The refusal names
    the method, the output activation (softmax, not a hidden identity) and the range.
    """
    net = MLP(
        [np.array([[1.0]]), np.array([[1.0]]), np.array([[100.0]])],
        [np.zeros(1)] * 3,
        ["identity", "identity", "softmax"],
        "binary_cross_entropy",
    )
    X = np.array([1.0, -10.0]).reshape(-1, 1)
    with pytest.raises(refbp.NumericalError) as e:
        getattr(net, method)(X, np.full_like(X, 0.5))
    assert str(e.value) == (
        f"MLP.{method}: binary_cross_entropy needs outputs strictly inside (0, 1), but the "
        "softmax output saturated to 1.0..1.0 in float64; train on logits with "
        "'sigmoid_cross_entropy' instead"
    )
