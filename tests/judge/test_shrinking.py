"""Failures are shrunk to small cases: a property kind's first failure, and a later one of
that kind wherever something else broke (the target raised where a value was wrong before);
a raise is reported with where it happened."""

from __future__ import annotations

import pytest

from oracle.engine import Target, verify
from tests.judge import targets

CAPS = {"losses": ["mse", "l1", "quadratic"], "dtypes": ["float64"]}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_raise_met_after_a_wrong_value_is_shrunk_too(jobs: int) -> None:
    """The l1 raise is first met on a case of seven layers and batch 62 (a reproduction of
    166,000 characters when it was reported as found); shrunk, it is one layer, batch 6."""
    target = Target.of(targets.wrong_or_raises, "tests.judge.targets:wrong_or_raises", CAPS)
    summary = verify(
        target, profile_name="ci", max_examples=15, only=["agreement"], exact=False, jobs=jobs
    )
    by_loss = {f.loss: f for f in summary.failures}
    assert {f.property for f in summary.failures} == {"agreement", "runs"}
    raised = by_loss["l1"]
    assert raised.property == "runs"
    assert (raised.sizes, raised.batch) == ([1, 1], 6)
    assert len(raised.reproduce) < 2_000
    # where it raised, the target's own frame first
    assert raised.message.startswith("the target raised ValueError: l1 on batches of 6")
    assert f"(at {targets.__file__}:" in raised.message and " in backprop" in raised.message
