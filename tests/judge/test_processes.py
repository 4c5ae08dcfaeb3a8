"""Properties run in worker processes: the same summary as in one process, and the same
examples whatever else the process has imported."""

from __future__ import annotations

import pytest

import refbp
from oracle.engine import Target, verify
from oracle.engine.processes import reloadable
from oracle.engine.summary import Summary

FAST = {"losses": ["mse", "softmax_cross_entropy"], "dtypes": ["float64"], "max_depth": 3}


def _essentials(s: Summary) -> tuple[object, ...]:
    cells = sorted(
        (k, c.examples, sorted(c.worst.items()), c.bound_used) for k, c in s.cells.items()
    )
    props = sorted((p, sorted(c.items())) for p, c in s.by_property.items())
    return s.network_examples, props, cells, sorted(s.returned), s.failures


def test_worker_processes_give_the_summary_one_process_gives() -> None:
    target = Target.of(refbp.MLP, "refbp:MLP", FAST)
    one = verify(target, profile_name="ci", max_examples=6, exact=False)
    two = verify(target, profile_name="ci", max_examples=6, exact=False, jobs=2)
    assert one.network_examples > 0 and _essentials(one) == _essentials(two)


def test_a_target_that_cannot_be_imported_by_name_runs_in_this_process() -> None:
    def make(**kw: object) -> refbp.MLP:
        return refbp.MLP(**kw)  # type: ignore[arg-type]

    target = Target.of(make, None, {**FAST, "losses": ["mse"]})
    assert not reloadable(target) and reloadable(Target.of(refbp.MLP, "refbp:MLP"))
    summary = verify(target, profile_name="ci", max_examples=3, exact=False, jobs=2)
    assert summary.exit_code() == 0 and summary.network_examples > 0


def test_jobs_must_be_a_positive_int() -> None:
    target = Target.of(refbp.MLP, "refbp:MLP", FAST)
    with pytest.raises(ValueError, match="jobs must be a positive int, got 0"):
        verify(target, jobs=0)


def test_the_engine_draws_without_hypothesis_s_pool_of_local_constants() -> None:
    """Hypothesis draws literal constants of the local modules imported so far, so the
    examples of a derandomized run depended on what else was imported: a ci run gave
    11,112 networks, 88 unrepresentable, and 11,190 and 10 once oracle.exact had been
    imported first (and so in worker processes, which import less).  The engine's
    properties draw with that pool empty; it is restored afterwards."""
    from hypothesis.internal.conjecture import providers

    from oracle.engine.run import _no_local_constants

    outside = providers._get_local_constants
    with _no_local_constants():
        assert len(providers._get_local_constants()) == 0
    assert providers._get_local_constants is outside
