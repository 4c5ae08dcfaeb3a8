"""The oracle must know every name refbp has, or the suite would silently skip it."""

from __future__ import annotations

import refbp
from oracle import domains, functions


def test_oracle_has_every_refbp_activation() -> None:
    missing = sorted(set(refbp.ACTIVATIONS) - set(functions.ACTIVATIONS))
    assert not missing, (
        f"refbp has activations {missing} that the oracle lacks: add a JAX forward for each "
        "to oracle/functions.py (_ACTIVATION_LIST); its gradient comes from jax.grad"
    )


def test_oracle_has_every_refbp_loss() -> None:
    missing = sorted(set(refbp.LOSSES) - set(functions.LOSSES))
    assert not missing, (
        f"refbp has losses {missing} that the oracle lacks: add a LossSpec for each to "
        "oracle/functions.py (_LOSS_LIST)"
    )


def test_every_loss_has_a_target_domain() -> None:
    missing = sorted(set(refbp.LOSSES) - set(domains.TARGET_KINDS))
    assert not missing, (
        f"losses {missing} have no target domain: add each to oracle/domains.py TARGET_KINDS "
        "('real', 'unit_interval' or 'probability_rows') so the strategies can draw targets"
    )


def test_no_stray_oracle_names() -> None:
    # A name only the oracle has is a typo or a refbp entry that went missing.
    assert set(functions.ACTIVATIONS) <= set(refbp.ACTIVATIONS)
    assert set(functions.LOSSES) <= set(refbp.LOSSES)
