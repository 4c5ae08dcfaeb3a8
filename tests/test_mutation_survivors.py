"""Tests written for mutants that survived the general-purpose mutation run (mutmut 3.8.1).

See reports/mutation-general.md.  Each test names the mutant(s) it kills.  Everything here
checks the documented contract of the registry, without JAX, and runs in well under a second.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from refbp import losses as losses_mod
from refbp.losses import LOSSES, Loss


def _zero(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.asarray(0.0)


def test_registering_a_loss_name_twice_is_refused() -> None:
    """``_register``: a name already in the registry is refused, and the entry is unchanged.

    Kills refbp.losses.x__register__mutmut_1 (``in`` -> ``not in``: the duplicate silently
    replaces the entry) and _2 (the message loses the offending name).
    """
    original = LOSSES["mse"]
    duplicate = Loss("mse", _zero, _zero)
    with pytest.raises(ValueError, match=re.escape("'mse'")):
        losses_mod._register(duplicate)
    assert LOSSES["mse"] is original


def test_a_registered_loss_is_looked_up_by_its_name() -> None:
    """``_register`` adds the entry itself under its name (LOSSES is its read-only view).

    Kills refbp.losses.x__register__mutmut_3 (the registry stores None for the name).
    """
    name = "__mutation_survivor_probe__"
    entry = Loss(name, _zero, _zero)
    try:
        losses_mod._register(entry)
        assert LOSSES[name] is entry
        assert losses_mod.get_loss(name) is entry
    finally:
        losses_mod._REGISTRY.pop(name, None)
    assert name not in LOSSES


def test_a_loss_name_that_is_not_a_string_is_refused_with_its_type() -> None:
    """``get_loss``: who complained, what was expected and what came (tests/test_errors.py's rule).

    Kills refbp.losses.x_get_loss__mutmut_1 and _2 (default ``where`` changed to "XXrefbpXX" /
    "REFBP"), _4 (message dropped) and _5 (the type reported is NoneType, not the argument's).
    """
    from refbp.errors import DTypeError

    with pytest.raises(DTypeError, match=r"^refbp: loss names must be strings, got int$"):
        losses_mod.get_loss(3)
    with pytest.raises(TypeError, match=r"^fit: loss names must be strings, got bytes$"):
        losses_mod.get_loss(b"mse", where="fit")


def test_an_unknown_loss_name_lists_the_valid_ones() -> None:
    """``get_loss`` docstring: "an unknown name lists the valid ones".

    Pins the exact message next to the type-error test above.  (Mutants _6, message dropped,
    and _7, ``sorted(None)`` raising a bare TypeError, are already killed by the suite.)
    """
    from refbp.errors import UnknownNameError

    expected = f"refbp: unknown loss 'nope'; valid names are {sorted(LOSSES)}"
    with pytest.raises(UnknownNameError, match=f"^{re.escape(expected)}$"):
        losses_mod.get_loss("nope")
    with pytest.raises(ValueError, match="mse"):
        losses_mod.get_loss("nope")


def _softmax_ce_grad_exact(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(softmax(a) Σ_j y_j − y) / B, the formula in ``_softmax_ce_grad``'s docstring, written
    directly (no max shift needed for the small logits used here)."""
    e = np.exp(a)
    p = e / e.sum(axis=1, keepdims=True)
    return (p * y.sum(axis=1, keepdims=True) - y) / len(a)


def test_softmax_cross_entropy_gradient_is_per_row_for_a_batch() -> None:
    """The correct-class rewrite uses r = Σ_{j≠m} e^{a_j − a_m} of *its own row*.

    Kills refbp.losses.x__softmax_ce_grad__mutmut_19 (r summed over the whole batch): with
    B > 1 rows whose largest-logit column carries target mass, r/(1 + r) must not mix rows.
    """
    a = np.array([[2.0, 0.5, -1.0], [0.0, 1.5, 0.3], [-0.2, -0.4, 1.0]])
    y = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5]])
    g = LOSSES["softmax_cross_entropy"].grad(a, y)
    np.testing.assert_allclose(g, _softmax_ce_grad_exact(a, y), rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_gradient_is_exact_for_unnormalised_targets() -> None:
    """Docstring: Σ_j y_j "is kept so the gradient is exact for the targets actually given".

    Kills refbp.losses.x__softmax_ce_grad__mutmut_39 (p / Σy instead of p · Σy: identical only
    when every row of y sums to exactly 1).
    """
    a = np.array([[1.0, -0.5, 0.25], [0.3, 0.1, -2.0]])
    y = np.array([[1.0, 0.5, 0.5], [0.0, 0.5, 0.0]])  # row sums 2 and 0.5
    g = LOSSES["softmax_cross_entropy"].grad(a, y)
    np.testing.assert_allclose(g, _softmax_ce_grad_exact(a, y), rtol=1e-12, atol=1e-15)
