"""Planted bug: the backward pass's matrix products run in float32 in a float64 network.

"For speed", BP2's δ Wᵀ, BP4's aᵀ δ and ∂C/∂X = δ¹ W¹ᵀ cast their operands to float32 and the
products back to float64.  The mathematics is right, and so are the loss, δᴸ and ∂C/∂b of the
output layer (no product involved), but every ∂C/∂W, every hidden δ and ∂C/∂X keep only
float32's digits: a relative error around 1e-7 where float64 promises 1e-16.  For a float32
network it is the textbook, so the target declares ``capabilities = {"dtypes": ["float64"]}``.

Expected diagnosis: ``inaccurate``.
"""

from __future__ import annotations

import numpy as np

from examples.textbook_numpy import Array, TextbookMLP, maker


class Float32ProductsMLP(TextbookMLP):
    def error_backward(self, delta: Array, w: Array) -> Array:
        """δ Wᵀ (B, n_prev), with the bug: computed in float32."""
        return (delta.astype(np.float32) @ w.T.astype(np.float32)).astype(delta.dtype)

    def weight_gradient(self, a_prev: Array, delta: Array) -> Array:
        """a_prevᵀ δ (n_prev, n), with the bug: computed in float32."""
        return (a_prev.T.astype(np.float32) @ delta.astype(np.float32)).astype(delta.dtype)


make = maker(Float32ProductsMLP, capabilities={"dtypes": ["float64"]})
