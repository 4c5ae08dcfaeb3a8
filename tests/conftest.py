"""Hypothesis profiles and the JAX compile cache, shared by every test module.

Profiles, chosen by the HYPOTHESIS_PROFILE environment variable (default ``quick``):

* ``quick``    the README's test command and ``refbp verify``'s default: a few minutes.
* ``ci``       what CI runs: derandomized (the same examples every run), no example
               database, no deadline, and the reproduction blob printed on failure.
* ``thorough`` ten times the examples; meant for ``pytest -n auto`` (pytest-xdist).
* ``screen``   a fifth of ``ci``'s examples, derandomized: screening mutants.

Property tests that are cheap per example scale their example count from the profile's
``max_examples`` (see ``strategies.examples``), so one knob sizes the whole suite.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,  # the first example of a new bucket compiles (XLA); time is not the property
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
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

# JAX's persistent compilation cache: a second run loads executables instead of compiling.
# Importing the oracle is cheap; tests that do not use it never trigger a compile.
_CACHE = os.environ.get(
    "REFBP_JAX_CACHE", str(Path(__file__).resolve().parent.parent / ".jax_cache")
)
try:
    from oracle.fast import enable_persistent_cache

    if _CACHE:
        enable_persistent_cache(_CACHE)
except ImportError:  # refbp's own tests run without JAX
    pass


_WARMING: list[threading.Thread] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start compiling, on a background thread, what selected modules say they will need.

    A test module may define ``warm_up()``: executables that only its tests use (one XLA
    compile per network structure), so compiling them while other tests run hides that
    time.  Skipped under xdist (a worker may not run the module at all) and when the
    module has no selected test.  Errors are left for the tests themselves to report.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("REFBP_NO_WARM_UP"):
        return
    modules = {id(item.module): item.module for item in session.items if hasattr(item, "module")}
    jobs = [m.warm_up for m in modules.values() if callable(getattr(m, "warm_up", None))]
    if not jobs:
        return

    def run() -> None:
        for job in jobs:
            try:
                job()
            except Exception:  # the tests will meet the same error and report it
                pass

    thread = threading.Thread(target=run, name="refbp-warm-up", daemon=True)
    thread.start()
    _WARMING.append(thread)


def _wait_for_warm_up() -> None:
    for thread in _WARMING:
        thread.join()


@pytest.fixture
def no_warm_up_running() -> None:
    """Wait for the warm-up thread: tracemalloc counts every thread's allocations, so a
    memory measurement taken while it compiles would count the compiler's memory too."""
    _wait_for_warm_up()


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    _wait_for_warm_up()  # never leave it inside XLA while the interpreter shuts down
