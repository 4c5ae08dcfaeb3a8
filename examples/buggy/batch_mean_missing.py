"""Planted bug: the loss gradient is not divided by the batch size B.

The loss value is still the batch mean C = (1/B) Σₓ Cₓ, but ∇ₐC is taken as Σₓ ∇ₐCₓ: the
per-example gradients stacked without the 1/B.  Every backward quantity, δ of every layer,
∂C/∂W, ∂C/∂b and ∂C/∂X, is then B × the correct one; the loss value is right.  (Invisible when
B = 1.)

Expected diagnosis: ``batch_mean_missing`` (got = B × expected).
"""

from __future__ import annotations

from examples.textbook_numpy import Array, TextbookMLP, maker


class SummedGradientMLP(TextbookMLP):
    def loss_gradient(self, a: Array, y: Array) -> Array:
        """∇ₐC (B, O), with the bug: the 1/B of the batch mean is forgotten."""
        return self.example_gradients(a, y)


make = maker(SummedGradientMLP)
