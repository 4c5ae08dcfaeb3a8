"""Planted bug: the error is sent back through W instead of Wᵀ.

δˡ = (δˡ⁺¹ Wˡ⁺¹) ⊙ σ'(zˡ) instead of (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ), and ∂C/∂X = δ¹ W¹ likewise.  That
only has the right shape when the layers are square, so the target declares
``capabilities = {"square": True}``.  The loss, δᴸ and the output layer's gradients are right;
every hidden δ, the gradients below and ∂C/∂X are wrong.  (Invisible for symmetric W.)

Expected diagnosis: ``weights_not_transposed``.
"""

from __future__ import annotations

from examples.textbook_numpy import Array, TextbookMLP, maker


class UntransposedMLP(TextbookMLP):
    def error_backward(self, delta: Array, w: Array) -> Array:
        """∂C/∂a_prev (B, n), with the bug: δ W instead of δ Wᵀ (W square (n, n))."""
        return delta @ w


make = maker(UntransposedMLP, capabilities={"square": True})
