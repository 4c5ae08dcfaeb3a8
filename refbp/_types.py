"""Array aliases shared by every module (shapes are documented where arrays are used)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.floating]
"""A float32 or float64 array; which one is the network's dtype."""

IntArray: TypeAlias = npt.NDArray[np.integer]

SUPPORTED_DTYPES: tuple[type[np.floating], ...] = (np.float32, np.float64)
"""float16 is refused: its 3 decimal digits make every gradient check meaningless."""
