"""Planted bug: a mean over the outputs in the loss value but not in its gradient.

For the three losses that average over the O output units as well as the batch (mse, l1,
huber), the value is right, C = (1/(B·O)) Σ …, but the gradient drops the 1/O: mse's is
written 2(a − y)/B instead of 2(a − y)/(B·O), l1's sign(a − y)/B, huber's clip(a − y)/B.  Every
δ, ∂C/∂W, ∂C/∂b and ∂C/∂X is then n_out × the correct one for those losses; the other losses
are right.  (Invisible when n_out = 1.)

Expected diagnosis: ``output_mean`` (got = n_out × expected).
"""

from __future__ import annotations

import numpy as np

from examples.textbook_numpy import Array, TextbookMLP, maker


class OutputMeanMLP(TextbookMLP):
    def example_gradients(self, a: Array, y: Array) -> Array:
        """∇ₐCₓ (B, O), with the bug: no 1/O for the losses that average over the outputs."""
        if self.loss == "mse":
            return 2.0 * (a - y)
        if self.loss == "l1":
            return np.sign(a - y)
        if self.loss == "huber":
            return np.clip(a - y, -1.0, 1.0)
        return super().example_gradients(a, y)


make = maker(OutputMeanMLP)
