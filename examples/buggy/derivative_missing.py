"""Planted bug: BP2 forgets the ⊙ σ'(z) of the hidden layers.

δˡ = δˡ⁺¹ Wˡ⁺¹ᵀ, with no ⊙ σ'(zˡ) (and, for a softmax hidden layer, no VJP).  The output layer
(BP1) is right, so the loss, δᴸ and the output layer's ∂C/∂W and ∂C/∂b are right; every
hidden δ, the gradients of the layers below and ∂C/∂X are wrong.  (Invisible with a single
layer or an identity hidden layer.)

Expected diagnosis: ``derivative_missing``.
"""

from __future__ import annotations

from examples.textbook_numpy import Array, TextbookMLP, maker


class NoDerivativeMLP(TextbookMLP):
    def hidden_error(self, layer: int, delta_next: Array, z: Array, a: Array) -> Array:
        """BP2 (B, n_l), with the bug: the error sent back is not multiplied by σ'(zˡ)."""
        return self.error_backward(delta_next, self.weights[layer + 1])


make = maker(NoDerivativeMLP)
