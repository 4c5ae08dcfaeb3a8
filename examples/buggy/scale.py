"""Planted bug: mse's gradient is written like the quadratic cost's, with no factor 2.

mse is C = (1/(B·O)) Σ (a − y)², whose gradient is 2(a − y)/(B·O); this copy uses
(a − y)/(B·O), the form that is right only for Nielsen's ½-scaled quadratic cost.  For mse every
δ, ∂C/∂W, ∂C/∂b and ∂C/∂X is exactly 1/2 of the correct one; the value and the other losses are
right.

Expected diagnosis: ``scale`` with constant 0.5.
"""

from __future__ import annotations

from examples.textbook_numpy import Array, TextbookMLP, maker


class HalfScaleMLP(TextbookMLP):
    def example_gradients(self, a: Array, y: Array) -> Array:
        """∇ₐCₓ (B, O), with the bug: mse's gradient lacks its factor 2."""
        if self.loss == "mse":
            return (a - y) / a.shape[1]
        return super().example_gradients(a, y)


make = maker(HalfScaleMLP)
