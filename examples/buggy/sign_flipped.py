"""Planted bug: the cost gradient has the wrong sign, ∇ₐCₓ = (y − a)… instead of (a − y)….

The per-example gradient of every loss is negated (mse's is written 2(y − a)/O, the cross-
entropies' y − p, and so on), so every δ, ∂C/∂W, ∂C/∂b and ∂C/∂X is −1 × the correct one: a
network trained with it climbs the loss.  The loss value is right.

Expected diagnosis: ``sign_flipped`` (got = −1 × expected).
"""

from __future__ import annotations

from examples.textbook_numpy import Array, TextbookMLP, maker


class SignFlippedMLP(TextbookMLP):
    def example_gradients(self, a: Array, y: Array) -> Array:
        """∇ₐCₓ (B, O), with the bug: its negative."""
        return -super().example_gradients(a, y)


make = maker(SignFlippedMLP)
