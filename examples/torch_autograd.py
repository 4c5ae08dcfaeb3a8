"""A PyTorch target: the network written with ``torch.nn.functional``, gradients by autograd.

Each activation and loss is the library function of the contract's name, with its library
defaults, and every gradient comes from ``torch.autograd`` (deltas from ``z.retain_grad()``,
∂C/∂X from ``X.requires_grad_()``).  Nothing is "fixed": where PyTorch's conventions differ
from the contract, the verifier is meant to find it.  Shapes: X (B, n_in), Y (B, n_out),
W_l (n_{l-1}, n_l), b_l (n_l,), z_l = a_{l-1} W_l + b_l (B, n_l); float32 or float64.

Deviations from the contract expected in the report (PyTorch 2.13.0):

- leaky_relu'(0) = 0.01 (negative_slope), where the contract (jax.nn) has 1: a
  ``kink_convention`` on δ of a leaky_relu layer whose z is exactly 0.
- softplus has ``threshold=20``: for z > 20 it returns z and its derivative 1 instead of
  log1p(e^z) and σ(z).  The value is off by log1p(e^−z) (2e-9 at z = 20, relative 1e-10) and
  the derivative by e^−z (2e-9 relative at z = 20): an ``inaccurate`` in float64 only.
- binary_cross_entropy clamps log at −100 in the value (a below e^−100) and, in the backward,
  divides by max(a(1 − a), 1e-12).  Once a(1 − a) < 1e-12 (|z| ≳ 27.6 for a sigmoid output,
  possible in float64; float32 only on the a → 0 side) δᴸ = (a − y) a(1 − a) / 1e-12 instead of
  a − y: too small by the factor a(1 − a)/1e-12 (0.094 at z = 30).
- sigmoid' = a(1 − a) and tanh' = 1 − a² from the rounded a: few digits (or 0) in saturation,
  as in JAX.  Against exact arithmetic that exceeds the tolerance in float32 already at moderate
  z (a sigmoid unit at z = 9.9 gives δ 4.5e-4 too small: ``inaccurate``); in float64 the entry
  of a sigmoid unit is off by 3.6e-8 at z = 20 and 1e-3 at z = 30, tanh's is 0 from z ≈ 19.

    refbp verify --target examples.torch_autograd:make
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

try:
    import torch
    import torch.nn.functional as F
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "examples/torch_autograd.py needs PyTorch: install the `torch` extra, "
        "pip install 'refbp[torch]' (torch==2.13.0)"
    ) from exc

__all__ = ["ACTIVATIONS", "LOSSES", "TorchMLP", "make"]

Tensor = torch.Tensor

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    "elu": F.elu,  # alpha = 1
    "softplus": F.softplus,  # beta = 1, threshold = 20 (library defaults)
    "gelu": lambda z: F.gelu(z, approximate="tanh"),
    "silu": F.silu,
    "softmax": lambda z: F.softmax(z, dim=1),
}


def _rows(a: Tensor) -> int:
    return a.shape[0]


# C from the output a (B, O) and the target y (B, O), reductions chosen to give the
# contract's batch mean.
LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": lambda a, y: F.mse_loss(a, y),  # mean over all B·O entries
    "quadratic": lambda a, y: 0.5 * ((a - y) ** 2).sum() / _rows(a),
    "l1": lambda a, y: F.l1_loss(a, y),
    "huber": lambda a, y: F.huber_loss(a, y, delta=1.0),
    # probability-row targets; reduction="mean" divides by B
    "softmax_cross_entropy": lambda a, y: F.cross_entropy(a, y),
    "sigmoid_cross_entropy": lambda a, y: (
        F.binary_cross_entropy_with_logits(a, y, reduction="sum") / _rows(a)
    ),
    "binary_cross_entropy": lambda a, y: F.binary_cross_entropy(a, y, reduction="sum") / _rows(a),
}

_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


class TorchMLP:
    """The network; ``backprop`` builds fresh leaf tensors each call, so no .grad accumulates."""

    def __init__(
        self,
        *,
        weights: Sequence[ArrayLike],
        biases: Sequence[ArrayLike],
        activations: Sequence[str],
        loss: str,
    ) -> None:
        if not len(weights) == len(biases) == len(activations) >= 1:
            raise ValueError("need one weight matrix, bias vector and activation per layer")
        self.dtype = np.asarray(weights[0]).dtype
        if self.dtype not in _DTYPES:
            raise NotImplementedError(f"torch adapter: float32 or float64 only, got {self.dtype}")
        unknown = [n for n in activations if n not in ACTIVATIONS]
        if unknown or loss not in LOSSES:
            raise ValueError(f"unknown activation(s) {unknown} or loss {loss!r}")
        # NumPy copies in the network's dtype: the caller's arrays are never kept or written
        self.weights = [np.array(w, dtype=self.dtype) for w in weights]
        self.biases = [np.array(b, dtype=self.dtype) for b in biases]
        self.activations = list(activations)
        self.loss = loss

    def _leaf(self, x: ArrayLike) -> Tensor:
        # torch.tensor copies: autograd never sees (or writes into) the caller's memory
        return torch.tensor(np.asarray(x, dtype=self.dtype)).requires_grad_()

    def backprop(self, X: ArrayLike, Y: ArrayLike) -> dict[str, Any]:
        """Loss, gradients, deltas (B, n_l) and ∂C/∂X (B, n_in) for X (B, n_in), Y (B, n_out)."""
        x = self._leaf(X)
        y = torch.tensor(np.asarray(Y, dtype=self.dtype))
        ws = [self._leaf(w) for w in self.weights]
        bs = [self._leaf(b) for b in self.biases]
        a, zs = x, []
        for w, b, name in zip(ws, bs, self.activations, strict=True):
            z = a @ w + b
            z.retain_grad()
            zs.append(z)
            a = ACTIVATIONS[name](z)
        loss = LOSSES[self.loss](a, y)
        loss.backward()
        return {
            "loss": float(loss.item()),
            "grad_weights": [_numpy(w.grad) for w in ws],
            "grad_biases": [_numpy(b.grad) for b in bs],
            "deltas": [_numpy(z.grad) for z in zs],
            "grad_input": _numpy(x.grad),
        }


def _numpy(t: Tensor | None) -> NDArray[np.floating[Any]]:
    if t is None:  # every parameter, z and X reaches the loss, so autograd fills each
        raise RuntimeError("autograd left a gradient empty")
    return t.detach().numpy()


def make(
    *,
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike],
    activations: Sequence[str],
    loss: str,
) -> TorchMLP:
    """The target: W_l (n_{l-1}, n_l) and b_l (n_l,) arrays of one float dtype, names as refbp's."""
    return TorchMLP(weights=weights, biases=biases, activations=activations, loss=loss)
