"""What the differential tests checked, for ``refbp verify``'s report.

Tests call ``add`` once per verified example.  When REFBP_VERIFY_LOG names a file, the
session writes the rows there as JSON lines at the end (one file per xdist worker, the
worker id appended), and ``refbp verify`` aggregates them into its table.
"""

from __future__ import annotations

import json
import os
from typing import Any

_ROWS: list[dict[str, Any]] = []


def add(
    kind: str,
    activations: tuple[str, ...] | list[str],
    loss: str | None,
    dtype: str,
    errors: dict[str, float],
    worst_ratio: float,
    source: str | None = None,
) -> None:
    """One verified example: relative error of each quantity and the worst error/bound ratio."""
    if "REFBP_VERIFY_LOG" not in os.environ:
        return
    _ROWS.append(
        {
            "kind": kind,
            "activations": sorted(set(activations)),
            "loss": loss,
            "dtype": dtype,
            "errors": errors,
            "ratio": worst_ratio,
            "source": source,
        }
    )


def add_raw(row: dict[str, Any]) -> None:
    if "REFBP_VERIFY_LOG" in os.environ:
        _ROWS.append(row)


def flush() -> None:
    path = os.environ.get("REFBP_VERIFY_LOG")
    if not path or not _ROWS:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        path = f"{path}.{worker}"
    with open(path, "a", encoding="utf-8") as fh:
        for row in _ROWS:
            fh.write(json.dumps(row) + "\n")
    _ROWS.clear()
