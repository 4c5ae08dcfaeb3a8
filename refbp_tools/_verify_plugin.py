"""A pytest plugin that ``refbp verify`` loads into its pytest run to follow progress.

It prints one machine-readable line per finished test to stdout; the parent process turns
them into a progress bar and a list of failures.
"""

from __future__ import annotations

from typing import Any

PREFIX = "@@refbp-verify"


def pytest_collection_finish(session: Any) -> None:
    print(f"\n{PREFIX} total {len(session.items)}", flush=True)


def pytest_runtest_logreport(report: Any) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        print(f"\n{PREFIX} done {report.outcome} {report.nodeid} {report.duration:.4f}", flush=True)
