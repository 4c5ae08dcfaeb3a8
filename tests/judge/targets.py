"""Small targets that break one rule of the protocol or one property each (refbp underneath)."""

from __future__ import annotations

from typing import Any

import numpy as np

import refbp


class _Wrapped:
    def __init__(self, **kw: Any) -> None:
        self.net = refbp.MLP(**kw)


def positional(weights: Any, biases: Any, activations: Any, loss: Any, /) -> Any:
    """make without keyword parameters: the protocol calls make(*, weights=..., ...)."""
    return _Wrapped(weights=weights, biases=biases, activations=activations, loss=loss)


class _MissingBiases(_Wrapped):
    def backprop(self, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        bp = self.net.backprop(X, Y)
        return {"loss": bp.loss, "grad_weights": bp.grad_weights}


def missing_biases(**kw: Any) -> Any:
    return _MissingBiases(**kw)


class _Required(_Wrapped):
    def backprop(self, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        bp = self.net.backprop(X, Y)
        return {"loss": bp.loss, "grad_weights": bp.grad_weights, "grad_biases": bp.grad_biases}


def required_only(**kw: Any) -> Any:
    """Returns no deltas and no grad_input: they are not checked, and the report says so."""
    return _Required(**kw)


def float64_only(**kw: Any) -> Any:
    """Declines float32 networks."""
    if np.asarray(kw["weights"][0]).dtype != np.float64:
        raise NotImplementedError("float64 only")
    return refbp.MLP(**kw)


class _MutatesX(_Wrapped):
    def backprop(self, X: np.ndarray, Y: np.ndarray) -> Any:
        bp = self.net.backprop(X, Y)
        X *= 1.0  # a no-op in value...
        X[0, 0] = X[0, 0] + 1.0  # ...but this is not
        return bp


def mutates_x(**kw: Any) -> Any:
    return _MutatesX(**kw)


class _Accumulates(_Wrapped):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.total: list[np.ndarray] | None = None

    def backprop(self, X: np.ndarray, Y: np.ndarray) -> Any:
        bp = self.net.backprop(X, Y)
        if self.total is None:
            self.total = [g.copy() for g in bp.grad_weights]
        else:  # like .grad in an autograd framework that is never zeroed
            self.total = [t + g for t, g in zip(self.total, bp.grad_weights, strict=True)]
        return bp._replace(grad_weights=[t.copy() for t in self.total])


def accumulates(**kw: Any) -> Any:
    return _Accumulates(**kw)


class _AccumulatesInPlace(_Wrapped):
    """Adds each call's gradients into buffers it owns and returns those buffers, as
    ``p.grad.numpy()`` of an autograd framework does: the first result changes with the
    second call."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.gw = [np.zeros_like(w) for w in self.net.weights]

    def backprop(self, X: np.ndarray, Y: np.ndarray) -> Any:
        bp = self.net.backprop(X, Y)
        for buf, g in zip(self.gw, bp.grad_weights, strict=True):
            buf += g
        return bp._replace(grad_weights=self.gw)


def accumulates_in_place(**kw: Any) -> Any:
    return _AccumulatesInPlace(**kw)


class _Float64Results(_Wrapped):
    def backprop(self, X: np.ndarray, Y: np.ndarray) -> Any:
        bp = self.net.backprop(X, Y)
        return bp._replace(grad_weights=[g.astype(np.float64) for g in bp.grad_weights])


def float64_results(**kw: Any) -> Any:
    """Hands back float64 weight gradients for a float32 network."""
    return _Float64Results(**kw)


def not_callable_target() -> None:
    return None


NOT_CALLABLE = 42


def exits(**kw: Any) -> Any:
    """A network whose backprop calls sys.exit(0)."""

    class _Exits(_Wrapped):
        def backprop(self, X: np.ndarray, Y: np.ndarray) -> Any:
            raise SystemExit(0)

    return _Exits(**kw)


def make_raises(**kw: Any) -> Any:
    raise ValueError("this make refuses every network")


def second_call_raises(**kw: Any) -> Any:
    """Answers once, then raises: a network that can only be used once."""

    class _Once(_Wrapped):
        used = False

        def backprop(self, X: np.ndarray, Y: np.ndarray) -> Any:
            if self.used:
                raise RuntimeError("already used")
            self.used = True
            return self.net.backprop(X, Y)

    return _Once(**kw)


def switches_x64_off(**kw: Any) -> Any:
    import jax

    jax.config.update("jax_enable_x64", False)  # type: ignore[no-untyped-call]
    return refbp.MLP(**kw)


def refuses_rank_promotion(**kw: Any) -> Any:
    """Sets JAX to refuse implicit broadcasting, as careful JAX code does."""
    import jax

    jax.config.update("jax_numpy_rank_promotion", "raise")  # type: ignore[no-untyped-call]
    return refbp.MLP(**kw)


class _DeltasShort(_Wrapped):
    def backprop(self, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        bp = self.net.backprop(X, Y)
        return {"loss": bp.loss, "grad_weights": bp.grad_weights, "grad_biases": bp.grad_biases,
                "deltas": bp.deltas[:-1]}  # fmt: skip


def deltas_short(**kw: Any) -> Any:
    """Returns one δ fewer than the network has layers."""
    return _DeltasShort(**kw)


class _BiasesLong(_Wrapped):
    def backprop(self, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        bp = self.net.backprop(X, Y)
        return {"loss": bp.loss, "grad_weights": bp.grad_weights,
                "grad_biases": [*bp.grad_biases, bp.grad_biases[-1]]}  # fmt: skip


def biases_long(**kw: Any) -> Any:
    """Returns one ∂C/∂b more than the network has layers."""
    return _BiasesLong(**kw)


def _l1_slope_at_ties(slope: float, **kw: Any) -> Any:
    from examples.textbook_numpy import TextbookMLP

    class _L1Slope(TextbookMLP):
        def example_gradients(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
            if self.loss == "l1":
                s = np.where(a > y, 1.0, np.where(a < y, -1.0, slope))
                return s.astype(a.dtype) / a.shape[1]
            out: np.ndarray = super().example_gradients(a, y)
            return out

    return _L1Slope(**kw)


def l1_slope_one_at_ties(**kw: Any) -> Any:
    """The textbook with l1's slope at a = y taken as +1 (jnp.abs's), not the contract's 0."""
    return _l1_slope_at_ties(1.0, **kw)


def l1_slope_half_at_ties(**kw: Any) -> Any:
    """The textbook with l1's slope at a = y taken as 0.5: no convention, still wrong."""
    return _l1_slope_at_ties(0.5, **kw)


def leaky_slope_doubled_in_backward(**kw: Any) -> Any:
    """The textbook with leaky_relu' = 0.02 below 0 (the forward keeps 0.01): a derivative
    slightly wrong, which errs by 0.1–3 % of the scale, not by rounding."""
    from examples.textbook_numpy import TextbookMLP

    class _LeakySlope(TextbookMLP):
        def derivative(self, name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
            if name == "leaky_relu":
                return np.where(z >= 0, 1.0, 0.02).astype(z.dtype)
            out: np.ndarray = super().derivative(name, z, a)
            return out

    return _LeakySlope(**kw)


def exact_gelu(**kw: Any) -> Any:
    """The textbook with GELU's exact form ½z(1 + erf(z/√2)) where the contract has the tanh
    form: the two differ by up to 5e-4, a formula mismatch of 3e-5 to 2e-4 of the scale."""
    import math

    from examples.textbook_numpy import ACTIVATIONS, TextbookMLP

    erf = np.vectorize(math.erf, otypes=[np.float64])

    def gelu(z: np.ndarray) -> np.ndarray:
        out: np.ndarray = 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))
        return out

    class _ExactGelu(TextbookMLP):
        def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
            zs, acts = [], [x]
            for w, b, name in zip(self.weights, self.biases, self.activations, strict=True):
                zs.append(acts[-1] @ w + b)
                acts.append(gelu(zs[-1]) if name == "gelu" else ACTIVATIONS[name](zs[-1]))
            return zs, acts

        def derivative(self, name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
            if name == "gelu":
                phi = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
                out: np.ndarray = 0.5 * (1.0 + erf(z / math.sqrt(2.0))) + z * phi
                return out
            out = super().derivative(name, z, a)
            return out

    return _ExactGelu(**kw)


class _WrongOrRaises(_Wrapped):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.loss = kw["loss"]

    def backprop(self, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        if self.loss == "l1" and len(X) >= 6:
            raise ValueError("l1 on batches of 6 or more is not supported after all")
        bp = self.net.backprop(X, Y)
        factor = 1.0 if self.loss == "l1" else 2.0
        return {"loss": bp.loss, "grad_weights": [factor * g for g in bp.grad_weights],
                "grad_biases": bp.grad_biases}  # fmt: skip


def wrong_or_raises(**kw: Any) -> Any:
    """Twice ∂C/∂W for every loss but l1, whose gradients are right but which raises on
    batches of 6 or more: two mistakes of one property kind, the second met on a large case."""
    return _WrongOrRaises(**kw)
