"""JAX's persistent compilation cache: a second run loads executables instead of compiling.

The directory is REFBP_JAX_CACHE (empty: no cache), by default .jax_cache/ at the checkout's
root.  Importing the oracle is cheap; tests that do not use it never trigger a compile.
"""

from __future__ import annotations

import os
from pathlib import Path

_DEFAULT = Path(__file__).resolve().parents[2] / ".jax_cache"


def enable() -> None:
    """Point JAX's persistent cache at the directory; nothing if JAX is absent."""
    path = os.environ.get("REFBP_JAX_CACHE", str(_DEFAULT))
    try:
        from oracle.fast import enable_persistent_cache
    except ImportError:  # refbp's own tests run without JAX
        return
    if path:
        enable_persistent_cache(path)
