"""A jitted call's results as NumPy arrays, the cheap way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["to_host"]


def to_host(results: Iterable[Any]) -> tuple[np.ndarray[Any, Any], ...]:
    """Each result's host buffer as a (read-only) NumPy array.

    ``jax.device_get`` gives the same arrays through a tree walk and a transfer call per
    leaf: ~170 µs more for the six results of one network's backprop on this machine,
    a fifth of the fast oracle's time a network."""
    return tuple(np.asarray(r) for r in results)
