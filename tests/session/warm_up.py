"""Compiling, on a background thread, what the selected test modules say they will need.

A test module may define ``warm_up()``: executables that only its tests use (one XLA compile
per network structure), so compiling them while other tests run hides that time.  Skipped
under xdist (a worker may not run the module at all), with REFBP_NO_WARM_UP set, and when
the module has no selected test.  Errors are left for the tests themselves to report.
"""

from __future__ import annotations

import os
import threading

import pytest

_WARMING: list[threading.Thread] = []


def start(session: pytest.Session) -> None:
    """Run every selected module's ``warm_up`` on one daemon thread, in collection order."""
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


def wait() -> None:
    """Block until the warm-up thread (if any) has finished."""
    for thread in _WARMING:
        thread.join()
