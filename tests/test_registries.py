"""The activation and loss registries: registering, looking names up, refusing bad names.

Who complained, what was expected and what came (docs/conventions.md, "Errors"); an unknown
name lists the valid ones.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from refbp import activations as acts
from refbp import losses as losses_mod
from refbp.errors import DTypeError, UnknownNameError
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
    """Registering adds the entry itself under its name (LOSSES is its read-only view), and
    ``get_loss`` returns that same object."""
    name = "__registry_probe__"
    entry = Loss(name, _zero, _zero)
    try:
        losses_mod._register(entry)
        assert LOSSES[name] is entry
        assert losses_mod.get_loss(name) is entry
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
