"""The fully connected network and backpropagation, written as the four equations.

Notation (Nielsen's, row-major): a⁰ = X (B, n₀); for layer l = 1..L,
zˡ = aˡ⁻¹ Wˡ + bˡ (B, nₗ) with Wˡ (nₗ₋₁, nₗ) and bˡ (nₗ,), aˡ = σˡ(zˡ).  C is the loss of
aᴸ against Y (B, n_L), averaged over the batch.  δˡ = ∂C/∂zˡ (B, nₗ), and

    BP1  δᴸ = ∇ₐC ⊙ σ'(zᴸ)               (softmax: the vector-Jacobian product instead)
    BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)
    BP3  ∂C/∂bˡ = Σ_batch δˡ
    BP4  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ

and ∂C/∂X = δ¹ W¹ᵀ.  ``MLP.backprop`` returns every one of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from refbp import _validate as check
from refbp import layers
from refbp._types import FloatArray
from refbp.activations import Activation, get_activation
from refbp.errors import ConfigError, DTypeError, NumericalError, ShapeError, UnknownNameError
from refbp.layers import DenseCache
from refbp.losses import Loss, get_loss

__all__ = ["MLP", "Backprop", "Forward"]

# He initialisation suits the rectifier family (Var = 2/fan_in keeps activations' scale);
# Glorot suits the symmetric, saturating ones.
_HE_FAMILY = frozenset({"relu", "leaky_relu", "elu"})
_INITS = ("auto", "he", "glorot")


class Forward(NamedTuple):
    """zs[l] and activations[l] (B, n_{l+1}) for every layer; activations[-1] is the output."""

    zs: list[FloatArray]
    activations: list[FloatArray]


class Backprop(NamedTuple):
    """Everything backpropagation computes for one batch.

    loss: C (a float).  grad_weights[l] (n_l, n_{l+1}) and grad_biases[l] (n_{l+1},): ∂C/∂W, ∂C/∂b.
    deltas[l] (B, n_{l+1}): δ = ∂C/∂z of each layer, output layer last.  grad_input (B, n_0): ∂C/∂X.
    """

    loss: float
    grad_weights: list[FloatArray]
    grad_biases: list[FloatArray]
    deltas: list[FloatArray]
    grad_input: FloatArray


# Floating-point flags are not trusted, results are: the arithmetic runs under
# np.errstate(all="ignore") and what it returns is checked for inf and NaN.  BLAS may raise a
# spurious "invalid value" flag for finite inputs and a finite product (numpy#13173,
# #24067); the stable forms never overflow for finite inputs within range, so a non-finite
# result means the inputs or weights are too large.


# Up to this many result entries are checked in one joined copy; beyond, copying them costs
# more than the per-array calls it saves.
_JOINT_CHECK_SIZE = 1 << 14


def _check_pairing(loss: Loss, output: str, where: str) -> None:
    """A loss on probabilities needs an output activation that gives them."""
    allowed = loss.output_activations
    if allowed is not None and output not in allowed:
        raise ConfigError(
            f"{where}: loss {loss.name!r} needs probabilities in (0, 1), so the output "
            f"activation must be one of {list(allowed)}, got {output!r} (for logits use "
            "'sigmoid_cross_entropy')"
        )


def not_finite_error(where: str, what: str) -> NumericalError:
    return NumericalError(
        f"{where}: {what} came out non-finite although every input was finite; "
        "the inputs or weights are too large for this dtype (rescale them, or lower lr)"
    )


class MLP:
    """A fully connected network: dense layers, one activation per layer, one loss.

    ``MLP(weights, biases, activations, loss)`` takes W_l (n_in, n_out), b_l (n_out,), an
    activation name per layer and a loss name.  The network's dtype is W1's (float32 or
    float64); every parameter is copied into it, so the caller's arrays are never touched.
    """

    def __init__(
        self,
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        activations: Sequence[str],
        loss: str,
    ) -> None:
        where = "MLP"
        for name, given, ndim in (("weights", weights, 2), ("biases", biases, 1)):
            if isinstance(given, np.ndarray) or not isinstance(given, Sequence):
                came = (
                    f"an array of shape {given.shape}"
                    if isinstance(given, np.ndarray)
                    else (type(given).__name__)
                )
                raise DTypeError(
                    f"{where}: {name} must be a list of {ndim}-D arrays, one per layer, got {came}"
                )
        if len(weights) == 0:
            raise ShapeError(f"{where}: a network needs at least one layer, got no weights")
        names = check.name_list(activations, "activations", where)
        if not (len(weights) == len(biases) == len(names)):
            raise ShapeError(
                f"{where}: need one weight matrix, bias and activation per layer, got "
                f"{len(weights)} weights, {len(biases)} biases and {len(names)} activations"
            )
        w0 = check.as_numeric_array(weights[0], "weights[0]", where)
        if w0.dtype.kind != "f":
            raise DTypeError(
                f"{where}: weights[0] sets the network's dtype and must be float32 or float64, "
                f"got {w0.dtype}"
            )
        dtype = check.float_dtype(w0.dtype, where)
        self._acts: tuple[Activation, ...] = tuple(get_activation(n, where) for n in names)
        self._loss: Loss = get_loss(loss, where)
        self._w: list[FloatArray] = []
        self._b: list[FloatArray] = []
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            wa = check.as_numeric_array(w, f"weights[{i}]", where)
            ba = check.as_numeric_array(b, f"biases[{i}]", where)
            if wa.ndim != 2:
                raise ShapeError(
                    f"{where}: weights[{i}] must be 2-D (n_in, n_out), got shape {wa.shape}"
                )
            if 0 in wa.shape:
                raise ShapeError(f"{where}: weights[{i}] has an empty dimension: {wa.shape}")
            if i > 0 and wa.shape[0] != self._w[-1].shape[1]:
                raise ShapeError(
                    f"{where}: weights do not chain: weights[{i - 1}] has shape "
                    f"{self._w[-1].shape} so weights[{i}] must have {self._w[-1].shape[1]} rows, "
                    f"got shape {wa.shape}"
                )
            if ba.shape != (wa.shape[1],):
                raise ShapeError(
                    f"{where}: biases[{i}] must have shape ({wa.shape[1]},) to match "
                    f"weights[{i}] {wa.shape}, got {ba.shape}"
                )
            check.check_finite(wa, f"weights[{i}]", where)
            check.check_finite(ba, f"biases[{i}]", where)
            # copy=True: the network owns its parameters and trains them in place.  cast
            # refuses a value that overflows dtype, so what is stored is finite.
            self._w.append(check.cast(wa, dtype, f"weights[{i}]", where, copy=True))
            self._b.append(check.cast(ba, dtype, f"biases[{i}]", where, copy=True))
        _check_pairing(self._loss, self._acts[-1].name, where)
        self._dtype = dtype
        # What each call runs, resolved once: the kernels of every layer's activation, the
        # loss's, and the output form of the (output activation, loss) pair if it has one.
        self._forwards = tuple(act.functions[0] for act in self._acts)
        self._backwards = tuple(act.functions[1] for act in self._acts)
        self._loss_value, self._loss_grad = self._loss.functions
        self._output_form = self._loss.output_forms.get(self._acts[-1].name)
        self._n_params = sum(w.size + b.size for w, b in zip(self._w, self._b, strict=True))

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        sizes: Sequence[int],
        activations: Sequence[str],
        loss: str,
        dtype: object = np.float64,
        seed: int | None = 0,
        scheme: str = "auto",
    ) -> MLP:
        """A new network with layer widths ``sizes`` = [n_in, n_1, ..., n_out].

        Weights: He normal, N(0, 2/fan_in), for relu/leaky_relu/elu layers and Glorot uniform,
        U(±√(6/(fan_in+fan_out))), for the rest (``scheme="auto"``), or one scheme for all
        (``"he"``, ``"glorot"``).  Biases are zero.  Values are drawn in float64 from
        ``numpy.random.default_rng(seed)`` and then cast, so a float32 and a float64 network of
        the same seed hold the same numbers to float32 rounding.
        """
        where = "MLP.init"
        if isinstance(sizes, (str, np.ndarray)) or not isinstance(sizes, Sequence):
            raise DTypeError(f"{where}: sizes must be a list of ints, got {type(sizes).__name__}")
        dims = [check.positive_int(s, f"sizes[{i}]", where) for i, s in enumerate(sizes)]
        if len(dims) < 2:
            raise ShapeError(
                f"{where}: sizes must list the input width and at least one layer, got {dims}"
            )
        names = check.name_list(activations, "activations", where)
        if len(names) != len(dims) - 1:
            raise ShapeError(
                f"{where}: sizes {dims} describe {len(dims) - 1} layers, "
                f"got {len(names)} activations"
            )
        _ = [get_activation(n, where) for n in names]  # errors say MLP.init
        _check_pairing(get_loss(loss, where), names[-1], where)
        if scheme not in _INITS:
            raise UnknownNameError(f"{where}: unknown scheme {scheme!r}; valid are {list(_INITS)}")
        dt = check.float_dtype(dtype, where)
        rng = np.random.default_rng(check.seed(seed, where))
        weights, biases = [], []
        for fan_in, fan_out, name in zip(dims[:-1], dims[1:], names, strict=True):
            use_he = scheme == "he" or (scheme == "auto" and name in _HE_FAMILY)
            if use_he:
                w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
            else:
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
            weights.append(w.astype(dt))
            biases.append(np.zeros(fan_out, dtype=dt))
        return cls(weights, biases, names, loss)

    # --- read-only description ----------------------------------------------------------

    @property
    def weights(self) -> list[FloatArray]:
        """The network's own weight arrays W_l (n_l, n_{l+1}); ``train`` updates them in place."""
        return list(self._w)

    @property
    def biases(self) -> list[FloatArray]:
        """The network's own bias arrays b_l (n_{l+1},)."""
        return list(self._b)

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(a.name for a in self._acts)

    @property
    def loss(self) -> str:
        return self._loss.name

    @property
    def dtype(self) -> np.dtype[np.floating]:
        return self._dtype

    @property
    def sizes(self) -> list[int]:
        return [self._w[0].shape[0], *(w.shape[1] for w in self._w)]

    def __repr__(self) -> str:
        return (
            f"MLP(sizes={self.sizes}, activations={list(self.activations)}, "
            f"loss={self.loss!r}, dtype={self._dtype})"
        )

    # --- input checks -------------------------------------------------------------------

    def _inputs(self, X: object, where: str) -> FloatArray:
        return check.batch_matrix(X, "X", where, self._w[0].shape[0], self._dtype)

    def _targets(self, Y: object, batch: int, where: str) -> FloatArray:
        return check.targets(Y, where, batch, self._w[-1].shape[1], self._loss, self._dtype)

    def _diagnose_parameters(self, where: str) -> None:
        """Name a non-finite parameter if one is the reason a result is not finite."""
        for i, (w, b) in enumerate(zip(self._w, self._b, strict=True)):
            check.check_finite(w, f"weights[{i}]", where)
            check.check_finite(b, f"biases[{i}]", where)

    # --- forward and backward -----------------------------------------------------------

    def _forward_pass(self, x: FloatArray) -> Forward:
        """zˡ = aˡ⁻¹ Wˡ + bˡ and aˡ = σˡ(zˡ) for every layer, from a⁰ = x (B, n_in)."""
        zs: list[FloatArray] = []
        acts: list[FloatArray] = []
        a = x
        for w, b, forward in zip(self._w, self._b, self._forwards, strict=True):
            z, _ = layers.forward(a, w, b)  # shapes checked once, at construction and entry
            a = forward(z)
            zs.append(z)
            acts.append(a)
        return Forward(zs, acts)

    @np.errstate(all="ignore")
    def forward(self, X: FloatArray) -> Forward:
        """Every layer's z and a for X (B, n_in): what the backward pass reuses."""
        x = self._inputs(X, "MLP.forward")
        fw = self._forward_pass(x)
        self._check_output(fw.activations[-1], "MLP.forward")
        return fw

    def _check_output(self, out: FloatArray, where: str) -> None:
        if not check.all_finite(out):
            self._diagnose_parameters(where)
            raise not_finite_error(where, "the output")

    @np.errstate(all="ignore")
    def predict(self, X: FloatArray) -> FloatArray:
        """The output activations aᴸ (B, n_out) for X (B, n_in)."""
        x = self._inputs(X, "MLP.predict")
        out = self._forward_pass(x).activations[-1]
        self._check_output(out, "MLP.predict")
        return out

    def _refuse_saturated(self, out: FloatArray, where: str) -> None:
        """A loss on probabilities is infinite where the output rounded to 0 or 1."""
        if self._loss.output_activations is not None and ((out <= 0).any() or (out >= 1).any()):
            raise NumericalError(
                f"{where}: {self._loss.name} needs outputs strictly inside (0, 1), but the "
                f"{self._acts[-1].name} output saturated to {out.min()}..{out.max()} in "
                f"{self._dtype}; train on logits with 'sigmoid_cross_entropy' instead"
            )

    def _loss_of(self, fw: Forward, y: FloatArray, where: str) -> float:
        """C for the forward pass ``fw`` against y: from zᴸ where the pair has an output form
        (finite wherever the exact loss is), else from aᴸ."""
        z, out = fw.zs[-1], fw.activations[-1]
        if self._output_form is not None:
            c = float(self._output_form.value(z, out, y))
            if not math.isfinite(c):
                self._refuse_saturated(out, where)
            return c
        self._refuse_saturated(out, where)
        return float(self._loss_value(out, y))

    @np.errstate(all="ignore")
    def evaluate(self, X: FloatArray, Y: FloatArray) -> float:
        """The loss C of the network on X (B, n_in) against Y (B, n_out)."""
        where = "MLP.evaluate"
        x = self._inputs(X, where)
        y = self._targets(Y, x.shape[0], where)
        fw = self._forward_pass(x)
        self._check_output(fw.activations[-1], where)
        c = self._loss_of(fw, y, where)
        if not math.isfinite(c):
            raise not_finite_error(where, "the loss")
        return c

    def backprop(self, X: FloatArray, Y: FloatArray) -> Backprop:
        """Loss, every δ, ∂C/∂W, ∂C/∂b and ∂C/∂X for the batch X (B, n_in), Y (B, n_out)."""
        where = "MLP.backprop"
        x = self._inputs(X, where)
        y = self._targets(Y, x.shape[0], where)
        return self._backprop(x, y, where, need_grad_input=True)

    def _backprop(
        self, x: FloatArray, y: FloatArray, where: str, need_grad_input: bool
    ) -> Backprop:
        """Backprop on already-checked x, y, its results checked (train calls this directly)."""
        bp = self._four_equations(x, y, where, need_grad_input)
        if not math.isfinite(bp.loss):
            self._diagnose_parameters(where)
            raise not_finite_error(where, "the loss")
        # A non-finite δ reaches the gradients below it, so checking the gradients (and
        # ∂C/∂X, which every δ reaches) covers the whole backward pass.  One check over all
        # of them first (on small networks each check's call costs more than its loop);
        # only when it fails, the layer by layer search for the one to name.
        results = [*bp.grad_weights, *bp.grad_biases, bp.grad_input]
        if self._n_params + x.size <= _JOINT_CHECK_SIZE and check.all_finite(
            np.concatenate(results, axis=None)
        ):
            return bp
        for i, (gw, gb) in enumerate(zip(bp.grad_weights, bp.grad_biases, strict=True)):
            if not (check.all_finite(gb) and check.all_finite(gw)):
                raise not_finite_error(where, f"the gradient of layer {i + 1}")
        if not check.all_finite(bp.grad_input):
            raise not_finite_error(where, "∂C/∂X")
        return bp

    @np.errstate(all="ignore")
    def _four_equations(
        self, x: FloatArray, y: FloatArray, where: str, need_grad_input: bool
    ) -> Backprop:
        """The forward pass, then BP1 at the output and BP2–BP4 down to the input."""
        fw = self._forward_pass(x)
        out = fw.activations[-1]
        c = self._loss_of(fw, y, where)
        L = len(self._w)
        # Filled from the output layer down, then reversed into layer order.
        deltas: list[FloatArray] = []
        grad_w: list[FloatArray] = []
        grad_b: list[FloatArray] = []
        if self._output_form is not None:
            # BP1 for this pair, written in zᴸ (refbp.output_forms)
            delta = self._output_form.delta(fw.zs[-1], out, y)
        else:
            # BP1: δᴸ = ∇ₐC ⊙ σ'(zᴸ)  (for softmax, the VJP of ∇ₐC)
            delta = self._backwards[-1](fw.zs[-1], out, self._loss_grad(out, y))
        grad_input = x[:0]
        for i in range(L - 1, -1, -1):  # i is layer l = i + 1 of the equations
            deltas.append(delta)
            a_prev = fw.activations[i - 1] if i > 0 else x
            need_dx = i > 0 or need_grad_input
            # BP3 and BP4: ∂C/∂b = Σ_B δ, ∂C/∂W = aˡ⁻¹ᵀ δ; and δ Wᵀ for the layer below
            g = layers.backward(delta, DenseCache(a_prev, self._w[i]), need_dx=need_dx)
            grad_w.append(g.dw)
            grad_b.append(g.db)
            if i > 0:
                # BP2: δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)
                delta = self._backwards[i - 1](fw.zs[i - 1], fw.activations[i - 1], g.dx)
            else:
                grad_input = g.dx
            del g  # drop δˡ⁺¹ Wˡ⁺¹ᵀ now: it is not needed once δˡ exists
        deltas.reverse()
        grad_w.reverse()
        grad_b.reverse()
        return Backprop(c, grad_w, grad_b, deltas, grad_input)
