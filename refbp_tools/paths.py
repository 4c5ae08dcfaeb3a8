"""Where the commands write: checked before any work starts."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["unwritable"]


def unwritable(path: Path, *, directory: bool) -> str | None:
    """Why a report could not be written at ``path`` (a directory, or a file), or None.

    Commands check their output places before they run, so that a mistyped one costs no
    run and ends as a usage error, not as a traceback after it; nothing is created."""
    if path.exists():
        if directory and not path.is_dir():
            return f"{path} exists and is not a directory"
        if not directory and path.is_dir():
            return f"{path} is a directory"
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory, so {path} cannot be made"
    return None if os.access(ancestor, os.W_OK | os.X_OK) else f"{ancestor} is not writable"
