"""Planted deviation: leaky_relu'(0) = 0.01 (PyTorch's choice) instead of the contract's 1.

The contract's kinks are jax.nn's.  Everything else is the textbook's, so results differ only
where a leaky_relu layer's z is exactly 0: there δ is 0.01 × the contract's, and the gradients
of the layers below follow.

Expected diagnosis: ``kink_convention`` (leaky_relu at 0: slope 0.01 here, 1 in the contract).
"""

from __future__ import annotations

import numpy as np

from examples.textbook_numpy import Array, TextbookMLP, maker


class KinkMLP(TextbookMLP):
    def derivative(self, name: str, z: Array, a: Array) -> Array:
        """σ'(z) (B, n), with leaky_relu's slope at z = 0 taken from the left side: 0.01."""
        if name == "leaky_relu":
            return np.where(z > 0, 1.0, 0.01).astype(z.dtype)
        return super().derivative(name, z, a)


make = maker(KinkMLP)
