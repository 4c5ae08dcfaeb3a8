"""Planted bug: the batch mean is taken twice in the gradients of the parameters.

∇ₐC already carries the 1/B of the batch mean (so δ is right), and then BP3 and BP4 are written
as batch means as well: ∂C/∂b = mean over the batch of δ, ∂C/∂W = aᵀδ / B.  ∂C/∂W and ∂C/∂b of
every layer are then the correct ones / B; the loss, every δ and ∂C/∂X are right.  (Invisible
when B = 1.)

Expected diagnosis: ``batch_mean_twice`` (got = expected / B, on grad_W and grad_b).
"""

from __future__ import annotations

from examples.textbook_numpy import Array, TextbookMLP, maker


class MeanTwiceMLP(TextbookMLP):
    def bias_gradient(self, delta: Array) -> Array:
        """BP3 (n,), with the bug: a mean over the batch, where δ already holds the 1/B."""
        return delta.mean(axis=0)

    def weight_gradient(self, a_prev: Array, delta: Array) -> Array:
        """BP4 (n_prev, n), with the bug: divided by B a second time."""
        return a_prev.T @ delta / len(delta)


make = maker(MeanTwiceMLP)
