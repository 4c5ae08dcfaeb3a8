"""Planted bug: σ' is evaluated at the activation a instead of at the pre-activation z.

Every elementwise layer (output and hidden) uses σ'(a) = σ'(σ(z)) where the equations say
σ'(z): sigmoid's becomes σ(a)(1 − σ(a)), tanh's 1 − tanh²(a), and so on.  softmax's VJP is
unchanged, and so is a sigmoid output under binary cross-entropy (the textbook's
``output_error`` takes that pairing's σ' from a on purpose).  The loss is right; δ and
everything below it are wrong.  (Invisible for identity, relu and leaky_relu, whose σ' is the
same at a as at z.)

Expected diagnosis: ``derivative_at_activation``.
"""

from __future__ import annotations

from examples.textbook_numpy import ACTIVATIONS, Array, TextbookMLP, maker


class DerivativeAtActivationMLP(TextbookMLP):
    def through_activation(self, layer: int, z: Array, a: Array, g: Array) -> Array:
        """∂C/∂z (B, n), with the bug: g ⊙ σ'(a) instead of g ⊙ σ'(z)."""
        name = self.activations[layer]
        if name == "softmax":
            return super().through_activation(layer, z, a, g)
        return g * self.derivative(name, a, ACTIVATIONS[name](a))


make = maker(DerivativeAtActivationMLP)
