"""Planted bug: ∂C/∂b is the first example's δ instead of the sum of δ over the batch.

BP3 written as ∂C/∂b = δ[0] (one row of the (B, n) δ) instead of Σ over the batch of δ.  Only
∂C/∂b of every layer is wrong; the loss, δ, ∂C/∂W and ∂C/∂X are right.  (Invisible when B = 1.)

Expected diagnosis: ``bias_not_summed``.
"""

from __future__ import annotations

from examples.textbook_numpy import Array, TextbookMLP, maker


class BiasFirstRowMLP(TextbookMLP):
    def bias_gradient(self, delta: Array) -> Array:
        """BP3 (n,), with the bug: the first row of δ (B, n), not its sum over the batch."""
        return delta[0].copy()


make = maker(BiasFirstRowMLP)
