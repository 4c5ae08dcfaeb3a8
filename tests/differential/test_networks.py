"""refbp through the verification engine: every property ``refbp verify`` asks of a target.

One test per engine property (loss × dtype for whole networks; the kink probes; repeated
calls; exact arithmetic), so a failure names its cell.  The engine's budget follows the
loaded Hypothesis profile: one and a half times its ``max_examples`` per whole-network
property, each example a group of eight networks.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

import refbp
from oracle.engine import PROFILES, Target, verify
from oracle.engine.exactprop import available as exact_available
from oracle.engine.protocol import Capabilities

CAPS = Capabilities()
CELLS = [(loss, dt) for loss in CAPS.losses_usable() for dt in CAPS.dtypes]
NETWORK_FACTOR = 1.5


def _profile() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE", "quick")
    return name if name in PROFILES else "ci"


def _check(only: str, factor: float, **overrides: object) -> None:
    target = Target.of(refbp.MLP, "refbp:MLP", overrides)
    n = max(1, int(settings.default.max_examples * factor))
    summary = verify(target, profile_name=_profile(), max_examples=n, only=[only])
    assert summary.compared > 0, f"nothing was compared: {dict(summary.outcomes)}"
    assert summary.exit_code() == 0, summary.failure_text()


@pytest.mark.parametrize(("loss", "dtype"), CELLS, ids=[f"{lo}-{dt}" for lo, dt in CELLS])
def test_backprop_agrees_with_oracle(loss: str, dtype: str) -> None:
    _check("agreement", NETWORK_FACTOR, losses=[loss], dtypes=[dtype])


def test_kink_conventions_are_the_contracts() -> None:
    _check("kinks", 1.0)


def test_repeated_calls_are_identical() -> None:
    _check("repeatable", 1.0)


@pytest.mark.skipif(not exact_available(), reason="oracle.exact needs mpmath (the verify extra)")
def test_agrees_with_exact_arithmetic_up_to_saturation() -> None:
    _check("exact", 1.0)
