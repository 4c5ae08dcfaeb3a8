"""refbp's registries and the oracle's name the same entries with the same declared properties.

Adding an activation or a loss is one entry in refbp (refbp/activations.py or refbp/losses.py)
and one in the oracle (oracle/functions.py); every registry-driven test then picks it up.
The exact arbiter (oracle/exact/_functions.py) writes each function once more in mpmath, on
purpose independently of JAX; until it has the entry the engine judges the function by the
JAX oracle alone, and the test below says so.  Each test here fails saying what to add where.
"""

from __future__ import annotations

import pytest

import refbp
from oracle import domains, functions


def test_oracle_has_every_refbp_activation() -> None:
    missing = sorted(set(refbp.ACTIVATIONS) - set(functions.ACTIVATIONS))
    assert not missing, (
        f"refbp has activations {missing} that the oracle lacks: add an ActivationSpec for each "
        "(its JAX forward; kinks=, rowwise=, probability= as they hold) to oracle/functions.py "
        "(_ACTIVATION_LIST); its gradient comes from jax.grad"
    )


def test_oracle_has_every_refbp_loss() -> None:
    missing = sorted(set(refbp.LOSSES) - set(functions.LOSSES))
    assert not missing, (
        f"refbp has losses {missing} that the oracle lacks: add a LossSpec for each (terms, "
        "normaliser, targets=, probability_output=) to oracle/functions.py (_LOSS_LIST)"
    )


def test_every_loss_has_a_target_domain() -> None:
    missing = sorted(set(refbp.LOSSES) - set(domains.TARGET_KINDS))
    assert not missing, (
        f"losses {missing} have no target domain: give each LossSpec in oracle/functions.py "
        "targets= ('real', 'unit_interval' or 'probability_rows') so the strategies can draw them"
    )


def test_the_exact_arbiter_has_every_oracle_function() -> None:
    pytest.importorskip("mpmath")
    from oracle.exact import EXACT_ACTIVATIONS, EXACT_LOSSES

    missing_a = sorted(set(functions.ACTIVATIONS) - set(EXACT_ACTIVATIONS))
    missing_l = sorted(set(functions.LOSSES) - set(EXACT_LOSSES))
    assert not (missing_a or missing_l), (
        f"the exact arbiter lacks activations {missing_a} and losses {missing_l}: add an mpmath "
        "form (value and derivative) for each to oracle/exact/_functions.py "
        "(_ACTIVATION_LIST / the loss list), written from the formula, not from refbp or JAX"
    )


def test_no_stray_oracle_names() -> None:
    # A name only the oracle has is a typo or a refbp entry that went missing.
    stray_a = sorted(set(functions.ACTIVATIONS) - set(refbp.ACTIVATIONS))
    stray_l = sorted(set(functions.LOSSES) - set(refbp.LOSSES))
    assert not stray_a, f"the oracle has activations {stray_a} that refbp/activations.py lacks"
    assert not stray_l, f"the oracle has losses {stray_l} that refbp/losses.py lacks"


_SHARED_ACTIVATIONS = sorted(set(refbp.ACTIVATIONS) & set(functions.ACTIVATION_SPECS))
_SHARED_LOSSES = sorted(set(refbp.LOSSES) & set(functions.LOSS_SPECS))


@pytest.mark.parametrize("name", _SHARED_ACTIVATIONS)
def test_an_activation_has_the_same_kinks_in_both(name: str) -> None:
    ours, theirs = refbp.ACTIVATIONS[name].kinks, functions.ACTIVATION_SPECS[name].kinks
    assert tuple(ours) == tuple(theirs), (
        f"{name}: kinks {ours} in refbp/activations.py but {theirs} in oracle/functions.py"
    )


@pytest.mark.parametrize("name", _SHARED_ACTIVATIONS)
def test_an_activation_is_a_probability_in_both_or_in_neither(name: str) -> None:
    low, high = refbp.ACTIVATIONS[name].output_range
    ours = low >= 0.0 and high <= 1.0
    theirs = functions.ACTIVATION_SPECS[name].probability
    assert ours == theirs, (
        f"{name}: output_range ({low}, {high}) in refbp/activations.py but probability={theirs} "
        "in oracle/functions.py"
    )


@pytest.mark.parametrize("name", _SHARED_LOSSES)
def test_a_loss_has_the_same_targets_in_both(name: str) -> None:
    ours, theirs = refbp.LOSSES[name].targets, functions.LOSS_SPECS[name].targets
    assert ours == theirs, (
        f"{name}: targets {ours!r} in refbp/losses.py but {theirs!r} in oracle/functions.py"
    )


@pytest.mark.parametrize("name", _SHARED_LOSSES)
def test_a_loss_on_probabilities_is_one_in_both(name: str) -> None:
    outputs = refbp.LOSSES[name].output_activations
    theirs = functions.LOSS_SPECS[name].probability_output
    assert (outputs is not None) == theirs, (
        f"{name}: output_activations={outputs} in refbp/losses.py but "
        f"probability_output={theirs} in oracle/functions.py"
    )
    if outputs is not None:
        assert set(outputs) == set(domains.PROBABILITY_ACTIVATIONS), (
            f"{name} may follow {sorted(outputs)} in refbp but the oracle's probability "
            f"activations are {sorted(domains.PROBABILITY_ACTIVATIONS)}"
        )
