"""The activation and loss registries: registering, looking names up, refusing bad names.

Who complained, what was expected and what came (docs/conventions.md, "Errors"); an unknown
name lists the valid ones.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

from refbp import activations as acts
from refbp import losses as losses_mod
from refbp._entries import bare
from refbp.errors import DTypeError, NonFiniteError, NumericalError, ShapeError, UnknownNameError
from refbp.losses import LOSSES, Loss


def _zero(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.asarray(0.0)


# --- losses -------------------------------------------------------------------------------


def test_registering_a_loss_name_twice_is_refused() -> None:
    """A name already in the registry is refused, the message names it, and the entry that
    was there stays (a duplicate must not silently replace it)."""
    original = LOSSES["mse"]
    duplicate = Loss("mse", _zero, _zero)
    with pytest.raises(ValueError, match=re.escape("'mse'")):
        losses_mod._register(duplicate)
    assert LOSSES["mse"] is original


def test_a_registered_loss_is_looked_up_by_its_name() -> None:
    """Registering adds the entry under its name (LOSSES is its read-only view), its forms
    behind the door's checks, and ``get_loss`` returns that same object."""
    name = "__registry_probe__"
    entry = Loss(name, _zero, _zero)
    try:
        losses_mod._register(entry)
        registered = LOSSES[name]
        assert registered.name == name
        assert bare(registered.value) is _zero and bare(registered.grad) is _zero
        assert registered.functions == (_zero, _zero)  # what the network runs: the bare forms
        assert losses_mod.get_loss(name) is registered
    finally:
        losses_mod._REGISTRY.pop(name, None)
    assert name not in LOSSES


def test_a_loss_name_that_is_not_a_string_is_refused_with_its_type() -> None:
    """``get_loss``: the caller's name ("refbp" by default), "strings", and the argument's
    own type, as a DTypeError (a TypeError)."""
    with pytest.raises(DTypeError, match=r"^refbp: loss names must be strings, got int$"):
        losses_mod.get_loss(3)
    with pytest.raises(TypeError, match=r"^fit: loss names must be strings, got bytes$"):
        losses_mod.get_loss(b"mse", where="fit")


def test_an_unknown_loss_name_lists_the_valid_ones() -> None:
    """``get_loss``: an unknown name is an UnknownNameError (a ValueError) whose message is
    exactly the name and the sorted valid names."""
    expected = f"refbp: unknown loss 'nope'; valid names are {sorted(LOSSES)}"
    with pytest.raises(UnknownNameError, match=f"^{re.escape(expected)}$"):
        losses_mod.get_loss("nope")
    with pytest.raises(ValueError, match="mse"):
        losses_mod.get_loss("nope")


# --- activations --------------------------------------------------------------------------


def test_registering_an_activation_name_twice_is_refused_by_name() -> None:
    """The exact message names the duplicate, and the registered entry stays."""
    original = acts.ACTIVATIONS["relu"]
    with pytest.raises(ValueError, match=r"^activation 'relu' is registered twice$"):
        acts._register(acts.Activation("relu", lambda z: z, None))
    assert acts.ACTIVATIONS["relu"] is original


def test_an_activation_name_that_is_not_a_string_is_refused_with_its_type() -> None:
    """``get_activation``: who complained (default "refbp"), "strings", the argument's type
    and value."""
    with pytest.raises(DTypeError, match=r"^refbp: activation names must be strings, got int 3$"):
        acts.get_activation(3)
    with pytest.raises(TypeError, match=r"^MLP: activation names must be strings, got bytes b'x'$"):
        acts.get_activation(b"x", where="MLP")


# --- an entry called directly: the checks the network makes --------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("form", ["value", "grad"])
def test_a_loss_refuses_targets_of_another_shape(name: str, form: str) -> None:
    """(B, 1) outputs against (B,) targets would broadcast to (B, B): a plausible, wrong
    number (mse gave 1.333 for a loss of 0).  Refused, with both shapes."""
    a = np.array([[0.25], [0.5], [0.75]])
    fn = getattr(LOSSES[name], form)
    with pytest.raises(ShapeError, match=re.escape("got a (3, 1), y (3,)")):
        fn(a, a[:, 0])
    with pytest.raises(ShapeError, match=r"a must be a 2-D \(B, O\) array, got shape \(3,\)"):
        fn(a[:, 0], a[:, 0])


@pytest.mark.parametrize("name", sorted(acts.ACTIVATIONS))
def test_an_activation_takes_lists_and_integers_and_computes_them_in_float64(name: str) -> None:
    entry = acts.ACTIVATIONS[name]
    z = [[0, 1, -2], [3, 0, 1]]
    a = entry.forward(z)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, entry.forward(np.array(z, dtype=np.float64)))
    g = entry.backward(z, a.tolist(), np.ones((2, 3)).tolist())
    assert g.dtype == np.float64 and g.shape == (2, 3)


def test_an_activation_backward_refuses_an_upstream_gradient_of_another_shape() -> None:
    z = np.zeros((3, 2))
    with pytest.raises(ShapeError, match=re.escape("got z (3, 2), a (3, 2), g (3, 1)")):
        acts.ACTIVATIONS["tanh"].backward(z, z, np.ones((3, 1)))


def test_softmax_reads_rows_so_it_needs_a_matrix() -> None:
    with pytest.raises(ShapeError, match=r"^ACTIVATIONS\['softmax'\]\.forward: z must be a 2-D"):
        acts.ACTIVATIONS["softmax"].forward(np.zeros(3))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: acts.ACTIVATIONS["relu"].forward(np.array([1.0, np.nan])), NonFiniteError,
         r"^ACTIVATIONS\['relu'\]\.forward: z must be finite, got nan at index \(1,\)$"),
        (lambda: acts.ACTIVATIONS["tanh"].forward(np.zeros(2, np.float16)), DTypeError,
         r"z must be float32 or float64, got float16$"),
        (lambda: LOSSES["mse"].value([["a"]], [[1.0]]), DTypeError, r"a must hold real numbers"),
        (lambda: LOSSES["mse"].value(np.zeros((1, 1))), TypeError,
         r"takes 2 arrays \(a, y\), got 1$"),
    ],
)  # fmt: skip
def test_bad_arguments_to_an_entry_are_refused_by_name(
    call: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_a_result_that_overflows_is_an_error_not_a_warning() -> None:
    """mse of finite outputs 1e300 away from their targets is 1e600: not a float64.  As in
    the network, the flags are off and the result is checked."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NumericalError, match=r"^LOSSES\['mse'\]\.value: the result is not"):
            LOSSES["mse"].value(np.full((2, 2), 1e300), np.zeros((2, 2)))
        with pytest.raises(NumericalError, match="outside the function's domain"):
            LOSSES["binary_cross_entropy"].value([[1.5]], [[0.0]])


def test_an_overflow_on_the_way_to_a_finite_result_is_not_an_error() -> None:
    """softmax's max shift overflows z − max to −inf in float32 for z = ±3e38; e^−inf = 0
    and the result [1, 0] is exact, so there is nothing to report (and no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = acts.ACTIVATIONS["softmax"].forward(np.array([[3e38, -3e38]], np.float32))
    np.testing.assert_array_equal(got, np.array([[1.0, 0.0]], np.float32))
    assert got.dtype == np.float32
