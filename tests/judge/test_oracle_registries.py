"""The oracle's registries: x64 on import, one order for every view, and each activation's
declared properties (``kinks``, ``rowwise``, ``probability``) true of its function.

Everything iterates over ``oracle.functions``: a new entry there is checked here without an
edit.  Names refbp has and the oracle lacks are tests/differential/test_registry_parity.py's.
"""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from oracle.functions import (
    ACTIVATION_NAMES,
    ACTIVATION_SPECS,
    ACTIVATIONS,
    LOSS_NAMES,
    LOSS_SPECS,
    LOSSES,
)

CONVENTIONS = Path(__file__).resolve().parents[2] / "docs" / "conventions.md"


def test_x64_is_enabled_by_importing_the_oracle() -> None:
    assert jnp.asarray(np.float64(1.0)).dtype == jnp.float64
    assert jnp.zeros(1).dtype == jnp.float64  # the default float dtype is 64-bit too


def test_every_view_of_a_registry_has_the_same_names_in_the_same_order() -> None:
    # the fast oracle selects activations and losses by index into the *_NAMES tuples
    assert tuple(ACTIVATIONS) == tuple(ACTIVATION_SPECS) == ACTIVATION_NAMES
    assert tuple(LOSSES) == tuple(LOSS_SPECS) == LOSS_NAMES
    assert all(spec.name == name for name, spec in ACTIVATION_SPECS.items())
    assert all(spec.name == name for name, spec in LOSS_SPECS.items())
    assert len(set(ACTIVATION_NAMES)) == len(ACTIVATION_NAMES)
    assert len(set(LOSS_NAMES)) == len(LOSS_NAMES)


def _documented_names(heading: str) -> set[str]:
    """First-column names of the table under ``## heading`` in docs/conventions.md."""
    section = CONVENTIONS.read_text(encoding="utf-8").split(f"## {heading}", 1)[1]
    section = section.split("\n## ", 1)[0]
    return set(re.findall(r"^\| ([a-z_0-9]+) \|", section, re.MULTILINE)) - {"name"}


def test_every_documented_name_is_in_the_registries() -> None:
    activations = _documented_names("Activations and their kinks")
    losses = _documented_names("Losses: what is averaged")
    assert activations and losses  # the tables were found
    assert activations <= set(ACTIVATION_NAMES), activations - set(ACTIVATION_NAMES)
    assert losses <= set(LOSS_NAMES), losses - set(LOSS_NAMES)


def _derivatives(name: str, z: float) -> tuple[float, float]:
    """σ'(z) and σ''(z) of one entry, through jax.grad."""
    f = ACTIVATIONS[name]
    d1 = jax.grad(lambda v: f(v.reshape(1, 1))[0, 0])
    return float(d1(jnp.asarray(z))), float(jax.grad(d1)(jnp.asarray(z)))


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_an_activation_is_kinked_exactly_where_it_says(name: str) -> None:
    """A declared kink is a jump in the slope (relu) or in the curvature (elu, whose slope is
    1 on both sides); without one, both are continuous at 0."""
    spec = ACTIVATION_SPECS[name]
    if spec.rowwise:
        assert spec.kinks == ()  # a row-wise map's kinks are not points on one axis
        return
    for k in spec.kinks or (0.0,):
        left, right = _derivatives(name, k - 1e-7), _derivatives(name, k + 1e-7)
        jump = max(abs(r - q) for q, r in zip(left, right, strict=True))
        if spec.kinks:
            assert jump > 1e-3, f"{name} declares a kink at {k} but is smooth there"
        else:
            assert jump < 1e-5, f"{name} is not smooth at {k}: declare the kink in its spec"


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_an_activation_mixes_a_row_exactly_when_it_says(name: str) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 4))
    moved = z.copy()
    moved[1, 2] += 0.5
    changed = np.asarray(ACTIVATIONS[name](jnp.asarray(moved))) != np.asarray(
        ACTIVATIONS[name](jnp.asarray(z))
    )
    expected = np.zeros_like(changed)
    if ACTIVATION_SPECS[name].rowwise:
        expected[1, :] = True
    else:
        expected[1, 2] = True
    np.testing.assert_array_equal(changed, expected, err_msg=f"{name}: rowwise is wrong")


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_an_activation_gives_probabilities_exactly_when_it_says(name: str) -> None:
    z = np.linspace(-5.0, 5.0, 41).reshape(1, -1)
    a = np.asarray(ACTIVATIONS[name](jnp.asarray(z)))
    inside = bool(np.all((a > 0.0) & (a < 1.0)))
    assert inside == ACTIVATION_SPECS[name].probability, (
        f"{name}: probability={ACTIVATION_SPECS[name].probability} but its values on [-5, 5] "
        f"span [{a.min():.3g}, {a.max():.3g}]"
    )
