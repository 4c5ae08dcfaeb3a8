"""Hypothesis profiles, chosen by the HYPOTHESIS_PROFILE environment variable (default ``quick``).

* ``quick``    the README's test command and ``refbp verify``'s default: a few minutes.
* ``ci``       what CI runs: derandomized (the same examples every run), no example
               database, no deadline, and the reproduction blob printed on failure.
* ``thorough`` ten times the examples; meant for ``pytest -n auto`` (pytest-xdist).
* ``screen``   a fifth of ``ci``'s examples, derandomized: screening mutants.

Property tests that are cheap per example scale their example count from the profile's
``max_examples`` (see ``tests.strategies.examples``), so one knob sizes the whole suite.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,  # the first example of a new bucket compiles (XLA); time is not the property
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def register_and_load() -> None:
    """Register the four profiles and load the one HYPOTHESIS_PROFILE names."""
    settings.register_profile("quick", max_examples=100, **_COMMON)  # type: ignore[arg-type]
    settings.register_profile(
        "ci",
        max_examples=100,
        derandomize=True,
        database=None,
        **_COMMON,  # type: ignore[arg-type]
    )
    settings.register_profile("thorough", max_examples=1000, **_COMMON)  # type: ignore[arg-type]
    # a fifth of ci's examples, same derandomised draws: for screening many mutants quickly
    # (a mutant that survives it is re-run under ci before it is called a survivor)
    settings.register_profile(
        "screen",
        max_examples=20,
        derandomize=True,
        database=None,
        **_COMMON,  # type: ignore[arg-type]
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))
