"""``MLP.init(sizes, activations, loss, dtype, seed, scheme)``: the documented draws, and
what it refuses (each refusal names "MLP.init", what was expected and what came).

refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import refbp
from refbp.errors import DTypeError
from refbp.network import MLP
from tests.refusals import raises


def _documented_draws(
    sizes: list[int], he: list[bool], seed: int
) -> list[np.ndarray]:
    """MLP.init's docstring written out: one ``default_rng(seed)``, layer by layer, He normal
    N(0, 2/fan_in) or Glorot uniform U(±√(6/(fan_in + fan_out))), drawn in float64."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out, use_he in zip(sizes[:-1], sizes[1:], he, strict=True):
        if use_he:
            out.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)))
        else:
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            out.append(rng.uniform(-bound, bound, size=(fan_in, fan_out)))
    return out


_INIT_ACTS = ["relu", "tanh", "elu", "leaky_relu", "identity"]


@pytest.mark.parametrize(
    ("scheme", "he"),
    [("auto", [True, False, True, True, False]), ("he", [True] * 5), ("glorot", [False] * 5)],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_init_draws_the_documented_weights_and_zero_biases(
    scheme: str, he: list[bool], dtype: type
) -> None:
    """He for relu/leaky_relu/elu layers and Glorot for the rest under ``auto``, one scheme
    for all otherwise; seed 0 by default; float32 holds the float64 draws rounded.  The draws
    are replayed from MLP.init's docstring: means, standard deviations and bounds exactly.
    """
    sizes = [3, 4, 5, 6, 7, 2]
    net = MLP.init(sizes, _INIT_ACTS, "mse", dtype=dtype, scheme=scheme)
    for got, want in zip(net.weights, _documented_draws(sizes, he, seed=0), strict=True):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want.astype(dtype))
    for got, n in zip(net.biases, sizes[1:], strict=True):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, np.zeros(n))
    seeded = MLP.init(sizes, _INIT_ACTS, "mse", dtype=dtype, seed=7, scheme=scheme)
    for got, want in zip(seeded.weights, _documented_draws(sizes, he, seed=7), strict=True):
        np.testing.assert_array_equal(got, want.astype(dtype))


# --- refusals -------------------------------------------------------------------------


def test_unknown_activation_in_init() -> None:
    with raises(refbp.UnknownNameError, "MLP.init", "unknown activation 'ReLU'", "'relu'"):
        refbp.MLP.init([3, 2], ["ReLU"], "mse")


@pytest.mark.parametrize("dtype", [np.float16, np.int32, "complex128"])
def test_init_with_unsupported_dtype(dtype: object) -> None:
    with raises(refbp.DTypeError, "MLP.init", "dtype must be float32 or float64", "got "):
        refbp.MLP.init([3, 2], ["tanh"], "mse", dtype=dtype)


@pytest.mark.parametrize("dtype", ["bogus", object()])
def test_a_dtype_numpy_cannot_interpret_is_refused_with_the_value(dtype: object) -> None:
    """A value that is not a dtype at all (np.dtype raises TypeError) gets the same message as
    an unsupported dtype, with the value shown.
    """
    msg = f"MLP.init: dtype must be float32 or float64, got {dtype!r}"
    with pytest.raises(DTypeError, match=f"^{re.escape(msg)}$"):
        MLP.init([2, 1], ["identity"], "mse", dtype=dtype)  # type: ignore[arg-type]


@pytest.mark.parametrize("sizes", [[], [3]])
def test_init_sizes_too_short(sizes: list[int]) -> None:
    with raises(
        refbp.ShapeError, "MLP.init", "input width and at least one layer", f"got {sizes}"
    ):
        refbp.MLP.init(sizes, [], "mse")


@pytest.mark.parametrize("width", [0, -2])
def test_init_sizes_not_positive(width: int) -> None:
    with raises(ValueError, "MLP.init", "sizes[1] must be >= 1", f"got {width}"):
        refbp.MLP.init([3, width, 2], ["tanh", "identity"], "mse")


@pytest.mark.parametrize("width", [2.5, 2.0, "4", True])
def test_init_sizes_not_int(width: object) -> None:
    with raises(refbp.DTypeError, "MLP.init", "sizes[1] must be an int", "got"):
        refbp.MLP.init([3, width, 2], ["tanh", "identity"], "mse")  # type: ignore[list-item]


def test_init_sizes_as_a_string() -> None:
    with raises(refbp.DTypeError, "MLP.init", "list of ints", "got str"):
        refbp.MLP.init("32", ["tanh"], "mse")


def test_init_sizes_and_activations_disagree() -> None:
    with raises(refbp.ShapeError, "MLP.init", "describe 2 layers", "got 1 activations"):
        refbp.MLP.init([3, 4, 2], ["tanh"], "mse")


@pytest.mark.parametrize(
    ("kwargs", "kind", "message"),
    [
        ({"activations": "tanh"}, refbp.DTypeError,
         "MLP.init: activations must be a list of names, one per layer, got str"),
        ({"loss": "msee"}, refbp.UnknownNameError,
         "MLP.init: unknown loss 'msee'; valid names are ['binary_cross_entropy', 'huber', "
         "'l1', 'mse', 'quadratic', 'sigmoid_cross_entropy', 'softmax_cross_entropy']"),
        ({"scheme": "lecun"}, refbp.UnknownNameError,
         "MLP.init: unknown scheme 'lecun'; valid are ['auto', 'he', 'glorot']"),
        ({"loss": "binary_cross_entropy"}, refbp.ConfigError,
         "MLP.init: loss 'binary_cross_entropy' needs probabilities in (0, 1), so the output "
         "activation must be one of ['sigmoid', 'softmax'], got 'tanh' (for logits use "
         "'sigmoid_cross_entropy')"),
    ],
)  # fmt: skip
def test_init_errors_name_the_argument_exactly(
    kwargs: dict[str, object], kind: type[Exception], message: str
) -> None:
    """``MLP.init``: the activations, the loss and the scheme are refused under "MLP.init",
    with the exact message (an unknown name lists the valid ones).
    """
    call: dict[str, object] = {"sizes": [2, 3], "activations": ["tanh"], "loss": "mse"}
    with pytest.raises(kind) as e:
        MLP.init(**{**call, **kwargs})  # type: ignore[arg-type]
    assert str(e.value) == message
