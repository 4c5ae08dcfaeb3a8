"""The plain oracle: a forward pass in jnp, every derivative from ``jax.grad`` / ``jax.vjp``.

Conventions (the contract refbp implements too): row-major batches,
``z_l = a_{l-1} @ W_l + b_l``, ``a_l = act_l(z_l)``, ``a_0 = X``; ``X (B, n_in)``,
``W_l (n_{l-1}, n_l)``, ``b_l (n_l,)``, ``Y (B, n_out)``.  All computation is
float64; inputs of any real dtype are cast on entry (exactly, for float32/ints).

δ_l = dC/dz_l is obtained by adding a zero "probe" array to each z_l and asking
``jax.grad`` for the gradient with respect to the probes: no backward formula
appears anywhere in this package.

This module is the simple reference: it is jitted per network structure and
shape (one XLA compile, 60-300 ms, for every new shape).  ``oracle.fast`` computes
the same results for random shapes with a bounded number of compiles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from oracle._checks import (
    F64,
    Network,
    as_f64,
    check_activation,
    check_dense,
    check_inputs,
    check_loss,
    check_network,
    check_targets,
)
from oracle._config import oracle_numerics
from oracle.functions import ACTIVATIONS, LOSSES

Array = jax.Array

__all__ = [
    "OracleResult",
    "SGDResult",
    "activation_vjp",
    "backprop",
    "dense_vjp",
    "forward",
    "loss_grad",
    "loss_value",
    "predict",
    "sgd",
]


class OracleResult(NamedTuple):
    """What the oracle says about one network on one batch (all float64 NumPy).

    ``loss`` C; ``output (B, n_out)``; ``deltas[l] (B, n_l)`` = dC/dz_l;
    ``grad_weights[l] (n_{l-1}, n_l)``; ``grad_biases[l] (n_l,)``;
    ``grad_input (B, n_in)`` = dC/dX.
    """

    loss: float
    output: F64
    deltas: list[F64]
    grad_weights: list[F64]
    grad_biases: list[F64]
    grad_input: F64


class SGDResult(NamedTuple):
    """``losses[k]``: step k's batch data loss before its update; final params (float64)."""

    losses: list[float]
    weights: list[F64]
    biases: list[F64]


# --------------------------------------------------------------------------- jnp forward


@oracle_numerics
def forward(
    weights: Sequence[Array],
    biases: Sequence[Array],
    activations: Sequence[str],
    x: Array,
    probes: Sequence[Array] | None = None,
) -> Array:
    """Network output ``a_L (B, n_out)`` for ``x (B, n_in)``.

    ``probes[l] (B, n_l)``, if given, are added to z_l (zeros: for dC/dz_l via jax.grad).
    """
    a = x
    for i, (w, b, name) in enumerate(zip(weights, biases, activations, strict=True)):
        z = a @ w + b
        if probes is not None:
            z = z + probes[i]
        a = ACTIVATIONS[name](z)
    return a


@partial(jax.jit, static_argnames=("activations", "loss"))
def _backprop_jit(
    weights: tuple[Array, ...],
    biases: tuple[Array, ...],
    x: Array,
    y: Array,
    activations: tuple[str, ...],
    loss: str,
) -> tuple[Any, ...]:
    probes = tuple(jnp.zeros((x.shape[0], w.shape[1]), dtype=x.dtype) for w in weights)

    def objective(
        ws: tuple[Array, ...], bs: tuple[Array, ...], xx: Array, ps: tuple[Array, ...]
    ) -> tuple[Array, Array]:
        out = forward(ws, bs, activations, xx, ps)
        return LOSSES[loss](out, y), out

    (c, out), (gw, gb, gx, deltas) = jax.value_and_grad(
        objective, argnums=(0, 1, 2, 3), has_aux=True
    )(weights, biases, x, probes)
    return c, out, deltas, gw, gb, gx


@partial(jax.jit, static_argnames=("activations",))
def _predict_jit(
    weights: tuple[Array, ...], biases: tuple[Array, ...], x: Array, activations: tuple[str, ...]
) -> Array:
    return forward(weights, biases, activations, x)


@partial(jax.jit, static_argnames=("activations", "loss"))
def _loss_jit(
    weights: tuple[Array, ...],
    biases: tuple[Array, ...],
    x: Array,
    y: Array,
    activations: tuple[str, ...],
    loss: str,
) -> Array:
    return LOSSES[loss](forward(weights, biases, activations, x), y)


def _np(x: Any) -> F64:
    # np.array copies: results never alias JAX-owned buffers.
    return np.array(x, dtype=np.float64)


def _result(raw: tuple[Any, ...]) -> OracleResult:
    c, out, deltas, gw, gb, gx = jax.device_get(raw)
    return OracleResult(
        loss=float(c),
        output=_np(out),
        deltas=[_np(d) for d in deltas],
        grad_weights=[_np(g) for g in gw],
        grad_biases=[_np(g) for g in gb],
        grad_input=_np(gx),
    )


# --------------------------------------------------------------------------- public API


@oracle_numerics
def backprop(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
) -> OracleResult:
    """Loss, output, δ per layer and all gradients on ``X (B, n_in)``, ``Y (B, n_out)``.

    ``weights[l] (n_{l-1}, n_l)``, ``biases[l] (n_l,)``, one activation name per layer.
    Compiles once per (structure, shapes).
    """
    who = "oracle.backprop"
    net = check_network(who, weights, biases, activations, loss)
    x = check_inputs(who, net, X)
    y = check_targets(who, net, x, Y)
    return _result(_backprop_jit(net.weights, net.biases, x, y, net.activations, net.loss))


@oracle_numerics
def predict(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    X: npt.ArrayLike,
) -> F64:
    """Output activations ``(B, n_out)`` for ``X (B, n_in)``."""
    who = "oracle.predict"
    net = check_network(who, weights, biases, activations, "mse")
    x = check_inputs(who, net, X)
    return _np(_predict_jit(net.weights, net.biases, x, net.activations))


@oracle_numerics
def loss_value(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
) -> float:
    """The scalar loss C of the network on ``X (B, n_in)``, ``Y (B, n_out)``."""
    who = "oracle.loss_value"
    net = check_network(who, weights, biases, activations, loss)
    x = check_inputs(who, net, X)
    y = check_targets(who, net, x, Y)
    return float(_loss_jit(net.weights, net.biases, x, y, net.activations, net.loss))


# --------------------------------------------------------------------------- single functions


@jax.jit
def _dense_vjp_jit(x: Array, w: Array, b: Array, g: Array) -> tuple[Array, ...]:
    z, pull = jax.vjp(lambda xx, ww, bb: xx @ ww + bb, x, w, b)
    return (z, *pull(g))


@oracle_numerics
def dense_vjp(
    x: npt.ArrayLike, w: npt.ArrayLike, b: npt.ArrayLike, upstream: npt.ArrayLike
) -> tuple[F64, F64, F64, F64]:
    """``z = x @ w + b`` and the VJP of ``upstream`` = dC/dz.

    ``x (B, I)``, ``w (I, O)``, ``b (O,)``, ``upstream (B, O)`` ->
    ``(z (B, O), dx (B, I), dw (I, O), db (O,))``.
    """
    xx, ww, bb, g = check_dense("oracle.dense_vjp", x, w, b, upstream)
    z, dx, dw, db = jax.device_get(_dense_vjp_jit(xx, ww, bb, g))
    return _np(z), _np(dx), _np(dw), _np(db)


@partial(jax.jit, static_argnames=("name",))
def _activation_vjp_jit(z: Array, g: Array, name: str) -> tuple[Array, Array]:
    a, pull = jax.vjp(ACTIVATIONS[name], z)
    (dz,) = pull(g)
    return a, dz


@oracle_numerics
def activation_vjp(name: str, z: npt.ArrayLike, upstream: npt.ArrayLike) -> tuple[F64, F64]:
    """``a = act(z)`` and ``dz = upstream · ∂a/∂z`` (a VJP: softmax mixes a row).

    ``z`` and ``upstream`` have the same shape, ``(B, n)`` typically (any ndim >= 1;
    softmax acts on the last axis).
    """
    who = "oracle.activation_vjp"
    check_activation(who, name)
    zz = np.array(z, dtype=np.float64)
    g = np.array(upstream, dtype=np.float64)
    if zz.shape != g.shape or zz.ndim == 0:
        raise ValueError(
            f"{who}: z and upstream must have the same shape with ndim >= 1, "
            f"got {zz.shape} and {g.shape}"
        )
    a, dz = jax.device_get(_activation_vjp_jit(zz, g, name))
    return _np(a), _np(dz)


@partial(jax.jit, static_argnames=("name",))
def _loss_grad_jit(a: Array, y: Array, name: str) -> tuple[Array, Array]:
    c, da = jax.value_and_grad(LOSSES[name])(a, y)
    return c, da


@oracle_numerics
def loss_grad(name: str, a: npt.ArrayLike, y: npt.ArrayLike) -> tuple[float, F64]:
    """Loss value and ``dC/da (B, O)`` for outputs ``a (B, O)`` and targets ``y (B, O)``."""
    who = "oracle.loss_grad"
    check_loss(who, name)
    aa, yy = as_f64(who, "a", a, 2), as_f64(who, "y", y, 2)
    if aa.shape != yy.shape or aa.shape[0] == 0:
        raise ValueError(
            f"{who}: a and y must both be (B, O) with B >= 1, got {aa.shape} and {yy.shape}"
        )
    c, da = jax.device_get(_loss_grad_jit(aa, yy, name))
    return float(c), _np(da)


# --------------------------------------------------------------------------- SGD

#: (weights, biases, X_batch, Y_batch) -> (loss, grad_weights, grad_biases)
GradFn = Callable[
    [Sequence[F64], Sequence[F64], F64, F64], tuple[float, Sequence[F64], Sequence[F64]]
]


def check_batches(
    who: str, batches: Sequence[npt.ArrayLike], n_rows: int
) -> list[npt.NDArray[np.intp]]:
    """Each batch: a non-empty 1-D integer array of row indices in ``[0, n_rows)``."""
    out = []
    for k, idx in enumerate(batches):
        arr = np.asarray(idx)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"{who}: batches[{k}] must be a non-empty 1-D integer index array, "
                f"got dtype {arr.dtype} shape {arr.shape}"
            )
        if arr.min() < 0 or arr.max() >= n_rows:
            raise ValueError(f"{who}: batches[{k}] indexes rows outside [0, {n_rows})")
        out.append(arr.astype(np.intp))
    return out


def sgd_loop(
    grad_fn: GradFn,
    net: Network,
    x: F64,
    y: F64,
    batches: Sequence[npt.NDArray[np.intp]],
    lr: float,
    momentum: float,
    weight_decay: float,
) -> SGDResult:
    """PyTorch-style SGD; the arithmetic of the update is plain float64 NumPy.

    For every parameter p with data-loss gradient g: ``g' = g + weight_decay·p``
    for weights only (biases get no decay), ``v ← momentum·v + g'`` (v starts at 0,
    one buffer per array), ``p ← p − lr·v``.
    """
    ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    vw = [np.zeros_like(w) for w in ws]
    vb = [np.zeros_like(b) for b in bs]
    losses: list[float] = []
    for idx in batches:
        c, gw, gb = grad_fn(ws, bs, x[idx], y[idx])
        losses.append(c)
        for i in range(len(ws)):
            vw[i] = momentum * vw[i] + (gw[i] + weight_decay * ws[i])
            ws[i] = ws[i] - lr * vw[i]
            vb[i] = momentum * vb[i] + gb[i]
            bs[i] = bs[i] - lr * vb[i]
    return SGDResult(losses, ws, bs)


@partial(jax.jit, static_argnames=("activations", "loss"))
def _param_grad_jit(
    weights: tuple[Array, ...],
    biases: tuple[Array, ...],
    x: Array,
    y: Array,
    activations: tuple[str, ...],
    loss: str,
) -> tuple[Any, ...]:
    def objective(ws: tuple[Array, ...], bs: tuple[Array, ...]) -> Array:
        return LOSSES[loss](forward(ws, bs, activations, x), y)

    c, (gw, gb) = jax.value_and_grad(objective, argnums=(0, 1))(weights, biases)
    return c, gw, gb


@oracle_numerics
def sgd(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    batches: Sequence[npt.ArrayLike],
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> SGDResult:
    """Plain SGD over the given ``batches`` (row-index arrays into X, Y), one step each.

    See :func:`sgd_loop` for the update convention.  Returns
    ``(per-step losses, final weights, final biases)`` as an :class:`SGDResult`.
    Compiles once per (structure, batch size).
    """
    who = "oracle.sgd"
    net = check_network(who, weights, biases, activations, loss)
    x = check_inputs(who, net, X)
    y = check_targets(who, net, x, Y)
    idx = check_batches(who, batches, x.shape[0])

    def grad_fn(
        ws: Sequence[F64], bs: Sequence[F64], xb: F64, yb: F64
    ) -> tuple[float, list[F64], list[F64]]:
        c, gw, gb = jax.device_get(
            _param_grad_jit(tuple(ws), tuple(bs), xb, yb, net.activations, net.loss)
        )
        return float(c), [_np(g) for g in gw], [_np(g) for g in gb]

    return sgd_loop(grad_fn, net, x, y, idx, float(lr), float(momentum), float(weight_decay))
