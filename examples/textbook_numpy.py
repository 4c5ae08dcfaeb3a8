"""A textbook multilayer perceptron in plain NumPy: backpropagation as four equations.

Written the way Nielsen's *Neural Networks and Deep Learning* (chapter 2) teaches it, with one
example per row, so a layer is z = a_prev W + b:

    BP1  δᴸ = ∇ₐC ⊙ σ'(zᴸ)            (softmax mixes a row: its vector-Jacobian product instead)
    BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)
    BP3  ∂C/∂bˡ = Σ over the batch of δˡ
    BP4  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ

and ∂C/∂X = δ¹ W¹ᵀ.  Shapes: X (B, n_in), Y (B, n_out), W_l (n_{l-1}, n_l), b_l (n_l,), and
z_l, a_l, δ_l (B, n_l).  C is the mean over the B examples of a per-example cost Cₓ, so
∇ₐC = ∇ₐCₓ / B.  BP1 is always the general form: no fused (a − y) for any loss.

The derivatives are written from z with σ(−z) where textbooks write 1 − a (σ' = σ(z)σ(−z),
tanh' = 4σ(2z)σ(−2z)): the formulas of the rounded a, a(1 − a) and 1 − a², keep few digits once
a unit saturates, in float32 already at |z| ≈ 5–10.  The one exception is a sigmoid output under
binary cross-entropy, where a(1 − a) rounds consistently with ∇ₐC (see ``output_error``).  The
forward pass uses stable forms (sigmoid from e^−|z|, softplus by logaddexp, log-softmax with the
max shift), so nothing overflows for pre-activations of any moderate size.

A target of the verifier (no import of refbp or of its oracle):
    refbp verify --target examples.textbook_numpy:make
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ACTIVATIONS", "LOSSES", "Backprop", "TextbookMLP", "make", "maker"]

Array = NDArray[np.floating[Any]]


def sigmoid(z: Array) -> Array:
    """1 / (1 + e^−z) (z's shape), from e^−|z| so that it never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z: Array) -> Array:
    """Row-wise softmax of z (B, n); the row maximum is subtracted first."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: Array) -> Array:
    """Row-wise log softmax of z (B, n), without overflow or log(0)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


_GELU_K = math.sqrt(2.0 / math.pi)  # a Python float: a float32 network stays float32
_GELU_C = 0.044715


def _gelu_u(z: Array) -> Array:
    """u = √(2/π)(z + 0.044715 z³): gelu(z) = ½z(1 + tanh u) = z σ(2u)."""
    return _GELU_K * (z + _GELU_C * z**3)


# a = σ(z), each (B, n).  Kinks as jax.nn: relu'(0) = 0, leaky_relu'(0) = 1, elu'(0) = 1.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "identity": lambda z: z,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "softplus": lambda z: np.logaddexp(z, 0.0),
    "gelu": lambda z: z * sigmoid(2.0 * _gelu_u(z)),  # ½(1 + tanh u) would cancel for z < 0
    "silu": lambda z: z * sigmoid(z),
    "softmax": softmax,
}


def _gelu_prime(z: Array) -> Array:
    s, s_neg = sigmoid(2.0 * _gelu_u(z)), sigmoid(-2.0 * _gelu_u(z))
    return s + 2.0 * z * s * s_neg * _GELU_K * (1.0 + 3.0 * _GELU_C * z * z)


# σ'(z) given z and a = σ(z), each (B, n).  softmax has none: it is not elementwise.  Written
# with σ(−z) where the textbook has 1 − a: once a rounds near 1, 1 − a keeps few digits (in
# float32 from |z| ≈ 5), while σ(−z) is as accurate as σ(z).
DERIVATIVES: dict[str, Callable[[Array, Array], Array]] = {
    "identity": lambda z, a: np.ones_like(z),
    "sigmoid": lambda z, a: sigmoid(z) * sigmoid(-z),
    "tanh": lambda z, a: 4.0 * sigmoid(2.0 * z) * sigmoid(-2.0 * z),  # sech² z
    "relu": lambda z, a: (z > 0).astype(z.dtype),
    "leaky_relu": lambda z, a: np.where(z >= 0, 1.0, 0.01).astype(z.dtype),
    "elu": lambda z, a: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))),
    "softplus": lambda z, a: sigmoid(z),
    "gelu": lambda z, a: _gelu_prime(z),
    "silu": lambda z, a: sigmoid(z) * (1.0 + z * sigmoid(-z)),
}


def _huber(d: Array) -> Array:
    return np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5)


# Cₓ (B,): each example's cost from the output a (B, O) and the target y (B, O); C is their
# mean.  softmax_ and sigmoid_cross_entropy take logits, binary_cross_entropy probabilities.
COSTS: dict[str, Callable[[Array, Array], Array]] = {
    "mse": lambda a, y: ((a - y) ** 2).mean(axis=1),  # (1/O) Σ (a − y)²
    "quadratic": lambda a, y: 0.5 * ((a - y) ** 2).sum(axis=1),  # ½ ‖a − y‖²
    "l1": lambda a, y: np.abs(a - y).mean(axis=1),
    "huber": lambda a, y: _huber(a - y).mean(axis=1),  # δ = 1
    "softmax_cross_entropy": lambda a, y: -(y * log_softmax(a)).sum(axis=1),
    "sigmoid_cross_entropy": lambda a, y: (np.logaddexp(a, 0.0) - y * a).sum(axis=1),
    "binary_cross_entropy": lambda a, y: -(y * np.log(a) + (1 - y) * np.log1p(-a)).sum(axis=1),
}

# ∇ₐCₓ (B, O): row x is the gradient of example x's own cost Cₓ.
EXAMPLE_GRADIENTS: dict[str, Callable[[Array, Array], Array]] = {
    "mse": lambda a, y: 2.0 * (a - y) / a.shape[1],
    "quadratic": lambda a, y: a - y,
    "l1": lambda a, y: np.sign(a - y) / a.shape[1],  # subgradient 0 where a = y
    "huber": lambda a, y: np.clip(a - y, -1.0, 1.0) / a.shape[1],
    # y rows sum to 1 up to rounding: Σy is kept so that the gradient is exact for this y
    "softmax_cross_entropy": lambda a, y: softmax(a) * y.sum(axis=1, keepdims=True) - y,
    "sigmoid_cross_entropy": lambda a, y: sigmoid(a) - y,
    "binary_cross_entropy": lambda a, y: (1 - y) / (1 - a) - y / a,
}
LOSSES = tuple(COSTS)
PROBABILITY_OUTPUTS = ("sigmoid", "softmax")  # what binary_cross_entropy can take


@dataclass(frozen=True)
class Backprop:
    """One batch's results, in the network's dtype.

    loss: C.  grad_weights[l] (n_{l-1}, n_l), grad_biases[l] (n_l,), deltas[l] = ∂C/∂z_l (B, n_l),
    grad_input = ∂C/∂X (B, n_in).
    """

    loss: float
    grad_weights: list[Array]
    grad_biases: list[Array]
    deltas: list[Array]
    grad_input: Array


class TextbookMLP:
    """A fully connected network; each step of backprop is one method, to be read (or patched)."""

    def __init__(
        self,
        *,
        weights: Sequence[ArrayLike],
        biases: Sequence[ArrayLike],
        activations: Sequence[str],
        loss: str,
    ) -> None:
        if not len(weights) == len(biases) == len(activations) >= 1:
            raise ValueError(
                f"need one weight, bias and activation per layer (at least one layer), got "
                f"{len(weights)}, {len(biases)} and {len(activations)}"
            )
        self.dtype = np.asarray(weights[0]).dtype
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"weights must be float arrays, got dtype {self.dtype}")
        # copies in one dtype: nothing the caller passed is ever written to or kept
        self.weights = [np.array(w, dtype=self.dtype) for w in weights]
        self.biases = [np.array(b, dtype=self.dtype) for b in biases]
        _check(self.weights, self.biases, activations, loss)
        self.activations = list(activations)
        self.loss = loss

    # --- the forward pass ---------------------------------------------------------------

    def forward(self, x: Array) -> tuple[list[Array], list[Array]]:
        """zs[l] (B, n_l) for every layer, and acts: acts[0] = x, acts[l + 1] = σ(zs[l])."""
        zs, acts = [], [x]
        for w, b, name in zip(self.weights, self.biases, self.activations, strict=True):
            zs.append(acts[-1] @ w + b)
            acts.append(ACTIVATIONS[name](zs[-1]))
        return zs, acts

    # --- the cost -----------------------------------------------------------------------

    def example_costs(self, a: Array, y: Array) -> Array:
        """Cₓ (B,) for the output a (B, O) and the target y (B, O)."""
        return COSTS[self.loss](a, y)

    def example_gradients(self, a: Array, y: Array) -> Array:
        """∇ₐCₓ (B, O): row x is the gradient of example x's own cost."""
        return EXAMPLE_GRADIENTS[self.loss](a, y)

    def loss_value(self, a: Array, y: Array) -> float:
        """C = mean over the batch of Cₓ."""
        return float(self.example_costs(a, y).mean())

    def loss_gradient(self, a: Array, y: Array) -> Array:
        """∇ₐC (B, O) = ∇ₐCₓ / B, because C is the batch mean."""
        return self.example_gradients(a, y) / len(a)

    # --- the backward pass --------------------------------------------------------------

    def derivative(self, name: str, z: Array, a: Array) -> Array:
        """σ'(z) (B, n) of an elementwise activation, given z and a = σ(z)."""
        return DERIVATIVES[name](z, a)

    def through_activation(self, layer: int, z: Array, a: Array, g: Array) -> Array:
        """∂C/∂z (B, n) from g = ∂C/∂a (B, n): g ⊙ σ'(z), or softmax's VJP a ⊙ (g − Σ g a)."""
        name = self.activations[layer]
        if name == "softmax":
            return a * (g - (g * a).sum(axis=1, keepdims=True))
        return g * self.derivative(name, z, a)

    def error_backward(self, delta: Array, w: Array) -> Array:
        """∂C/∂a_prev (B, n_prev) = δ Wᵀ, from δ (B, n) and W (n_prev, n)."""
        return delta @ w.T

    def output_error(self, z: Array, a: Array, y: Array) -> Array:
        """BP1: δᴸ (B, O) = ∇ₐC ⊙ σ'(zᴸ)."""
        g = self.loss_gradient(a, y)
        if self.loss == "binary_cross_entropy" and self.activations[-1] == "sigmoid":
            # σ' as a(1 − a), from the same rounded a as ∇ₐC = (a − y)/(a(1 − a) B): the product
            # is then (a − y)/B to the last digit, where σ'(z) from z keeps 1 − a's rounding
            return g * (a * (1.0 - a))
        return self.through_activation(len(self.weights) - 1, z, a, g)

    def hidden_error(self, layer: int, delta_next: Array, z: Array, a: Array) -> Array:
        """BP2: δˡ (B, n_l) = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)."""
        g = self.error_backward(delta_next, self.weights[layer + 1])
        return self.through_activation(layer, z, a, g)

    def bias_gradient(self, delta: Array) -> Array:
        """BP3: ∂C/∂b (n,) = Σ over the batch of δ (B, n)."""
        return delta.sum(axis=0)

    def weight_gradient(self, a_prev: Array, delta: Array) -> Array:
        """BP4: ∂C/∂W (n_prev, n) = a_prevᵀ δ, from a_prev (B, n_prev) and δ (B, n)."""
        return a_prev.T @ delta

    def backprop(self, X: ArrayLike, Y: ArrayLike) -> Backprop:
        """Loss, gradients, deltas and ∂C/∂X for inputs X (B, n_in) and targets Y (B, n_out)."""
        x, y = self._data(X, Y)
        zs, acts = self.forward(x)
        if self.loss == "binary_cross_entropy" and ((acts[-1] <= 0) | (acts[-1] >= 1)).any():
            raise ValueError("binary_cross_entropy: the output saturated to 0 or 1 (log(0))")
        deltas = [self.output_error(zs[-1], acts[-1], y)]
        for layer in range(len(self.weights) - 2, -1, -1):
            deltas.insert(0, self.hidden_error(layer, deltas[0], zs[layer], acts[layer + 1]))
        return Backprop(
            loss=self.loss_value(acts[-1], y),
            grad_weights=[
                self.weight_gradient(a, d) for a, d in zip(acts[:-1], deltas, strict=True)
            ],
            grad_biases=[self.bias_gradient(d) for d in deltas],
            deltas=deltas,
            grad_input=self.error_backward(deltas[0], self.weights[0]),
        )

    def _data(self, X: ArrayLike, Y: ArrayLike) -> tuple[Array, Array]:
        x, y = np.asarray(X, dtype=self.dtype), np.asarray(Y, dtype=self.dtype)
        n_in, n_out = self.weights[0].shape[0], self.weights[-1].shape[1]
        if x.ndim != 2 or x.shape[1] != n_in or y.shape != (len(x), n_out):
            raise ValueError(
                f"X must be (B, {n_in}) and Y (B, {n_out}), got {x.shape} and {y.shape}"
            )
        return x, y


def _check(
    weights: list[Array], biases: list[Array], activations: Sequence[str], loss: str
) -> None:
    """Raise a ValueError that names what is wrong with a configuration."""
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        rows = weights[i - 1].shape[1] if i else "n_in"
        if w.ndim != 2 or (i and w.shape[0] != rows) or b.shape != (w.shape[1],):
            raise ValueError(f"layer {i}: need W ({rows}, n), b (n,), got {w.shape}, {b.shape}")
    for name in activations:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; known: {list(ACTIVATIONS)}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known: {list(LOSSES)}")
    if loss == "binary_cross_entropy" and activations[-1] not in PROBABILITY_OUTPUTS:
        raise ValueError(
            f"binary_cross_entropy takes probabilities: a {PROBABILITY_OUTPUTS} output"
        )


def maker(
    cls: type[TextbookMLP], capabilities: dict[str, object] | None = None
) -> Callable[..., TextbookMLP]:
    """A target ``make`` that builds ``cls`` (a copy of the textbook with a planted bug, say)."""

    def make(
        *,
        weights: Sequence[ArrayLike],
        biases: Sequence[ArrayLike],
        activations: Sequence[str],
        loss: str,
    ) -> TextbookMLP:
        """The network for W_l (n_{l-1}, n_l), b_l (n_l,) of one float dtype; names as refbp's."""
        return cls(weights=weights, biases=biases, activations=activations, loss=loss)

    if capabilities is not None:
        make.capabilities = capabilities  # type: ignore[attr-defined]
    return make


make = maker(TextbookMLP)
