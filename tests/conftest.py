"""Shared by every test module: Hypothesis profiles, the JAX compile cache, warm-up threads.

Each job is a module of tests/session/: ``profiles`` (HYPOTHESIS_PROFILE: quick, ci,
thorough, screen), ``jax_cache`` (REFBP_JAX_CACHE) and ``warm_up`` (modules' ``warm_up()``
compiled on a background thread while other tests run).
"""

from __future__ import annotations

import pytest

from tests.session import jax_cache, profiles, warm_up

profiles.register_and_load()
jax_cache.enable()


def pytest_collection_finish(session: pytest.Session) -> None:
    warm_up.start(session)


@pytest.fixture
def no_warm_up_running() -> None:
    """Wait for the warm-up thread: tracemalloc counts every thread's allocations, so a
    memory measurement taken while it compiles would count the compiler's memory too."""
    warm_up.wait()


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    warm_up.wait()  # never leave it inside XLA while the interpreter shuts down
