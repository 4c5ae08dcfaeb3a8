"""The verification engine: checks anyone's backprop against the oracle, the same way.

Three doors, one engine: ``refbp verify [--target MODULE:ATTR]`` on the command line,
:func:`check_backprop` from a user's own tests, and :func:`check_case` to replay one case
(the failure reports print a snippet that calls it).  A target follows the protocol of
:mod:`oracle.engine.protocol`; ``refbp.MLP`` is one.

* :mod:`~oracle.engine.protocol`   targets, capabilities, reading results
* :mod:`~oracle.engine.cases`      the Hypothesis strategies: structure first, then numbers
* :mod:`~oracle.engine.tolerance`  the tolerance model, written down with its derivation
* :mod:`~oracle.engine.reference`  the oracle's answer and the case's conditioning
* :mod:`~oracle.engine.arbiter`    exact arithmetic when the target and JAX disagree
* :mod:`~oracle.engine.check`      every property asked of one case
* :mod:`~oracle.engine.bugs`, :mod:`~oracle.engine.diagnosis`  bug models, and naming the mistake
* :mod:`~oracle.engine.run`        the properties under Hypothesis; :mod:`~oracle.engine.summary`
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from oracle.engine.cases import replay_case
from oracle.engine.check import Disagreement
from oracle.engine.check import check_case as _check_case
from oracle.engine.diagnosis import DIAGNOSES, Diagnosis
from oracle.engine.exactprop import available as exact_available
from oracle.engine.exactprop import check_exact
from oracle.engine.expect import Expectation, parse_expectations, read_expectations
from oracle.engine.processes import reloadable, run_in_processes
from oracle.engine.profiles import PROFILES, Profile, profile
from oracle.engine.protocol import (
    DEFAULT_TARGET,
    Capabilities,
    ProtocolError,
    Target,
    load_target,
)
from oracle.engine.report import Failure, failure_from
from oracle.engine.run import Progress, run_properties
from oracle.engine.summary import Summary

__all__ = [
    "DEFAULT_TARGET",
    "DIAGNOSES",
    "PROFILES",
    "Capabilities",
    "Diagnosis",
    "Expectation",
    "Failure",
    "Profile",
    "ProtocolError",
    "Summary",
    "Target",
    "check_backprop",
    "check_case",
    "load_target",
    "parse_expectations",
    "read_expectations",
    "verify",
]


def verify(
    target: Target,
    *,
    profile_name: str = "quick",
    max_examples: int | None = None,
    expectations: Sequence[Expectation] = (),
    progress: Progress | None = None,
    exact: bool = True,
    only: Sequence[str] | None = None,
    jobs: int = 1,
) -> Summary:
    """Run every property against ``target``; the summary (never raises on a disagreement).

    ``jobs`` > 1 runs the properties in that many worker processes when the target can be
    imported again by its name (``MODULE:ATTR``), else in this one; the results are the same.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    prof = profile(profile_name).with_examples(max_examples)
    kwargs: dict[str, Any] = dict(
        expectations=expectations, progress=progress,
        with_exact=exact and exact_available(), only=only,
    )  # fmt: skip
    if jobs > 1 and reloadable(target):
        return run_in_processes(target, prof, jobs, **kwargs)
    return run_properties(target, prof, **kwargs)


def check_backprop(
    make: Callable[..., Any],
    *,
    activations: Sequence[str] | None = None,
    losses: Sequence[str] | None = None,
    dtypes: Sequence[str] | None = None,
    max_examples: int = 100,
    output_activations: Sequence[str] | None = None,
    capabilities: Mapping[str, Any] | None = None,
    expect_failures: Iterable[str] = (),
    profile: str = "quick",
    name: str | None = None,
    exact: bool = True,
) -> Summary:
    """Check ``make`` (the target protocol) against the oracle; raise AssertionError on failure.

    ``activations``, ``losses``, ``dtypes``, ``output_activations`` and ``capabilities``
    narrow what is generated, overriding ``make.capabilities``; ``max_examples`` is the
    Hypothesis budget of each whole-network property; ``expect_failures`` are lines of the
    ``--expect-failures`` format.  Returns the :class:`Summary`; the AssertionError's
    message is the failure report.
    """
    overrides: dict[str, Any] = dict(capabilities or {})
    overrides.update(
        {
            k: v
            for k, v in (
                ("activations", activations),
                ("losses", losses),
                ("dtypes", dtypes),
                ("output_activations", output_activations),
            )
            if v is not None
        }
    )
    target = Target.of(make, name, overrides)
    expectations = parse_expectations("\n".join(expect_failures), "expect_failures")
    summary = verify(
        target,
        profile_name=profile,
        max_examples=max_examples,
        expectations=expectations,
        exact=exact,
    )
    if summary.exit_code() != 0:
        raise AssertionError(summary.failure_text())
    return summary


def check_case(
    make: Callable[..., Any],
    *,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activations: Sequence[str],
    loss: str,
    X: np.ndarray,
    Y: np.ndarray,
    name: str | None = None,
    seed: int = 0,
) -> str:
    """Check one case, as a failure report's reproduction does: the report, or "agrees".

    ``seed`` is the case's seed in the run that reported it: the tolerance model perturbs
    the case with it to measure its sensitivity, so a failure near its bound reproduces
    only with the same one."""
    target = Target.of(make, name)
    case = replay_case(weights, biases, activations, loss, X, Y, seed, "oracle.check_case")
    try:
        _check_case(target, case)
        if exact_available():
            check_exact(target, case)
    except Disagreement as d:
        return failure_from(d, target.name).text()
    return f"{target.name} agrees with the oracle on this case ({case.describe()})"
