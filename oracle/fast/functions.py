"""One activation, one loss or one dense layer at a time, in a padded bucket.

Rows are padded to a batch bucket and units to a width bucket, so random shapes share one
executable per (R, P) pair; results are sliced back to the real shape.
"""

from __future__ import annotations

import jax
import numpy as np
import numpy.typing as npt
from jax import lax

from oracle._checks import F64, as_f64, check_activation, check_dense, check_loss
from oracle._config import oracle_numerics
from oracle.fast.buckets import batch_bucket, width_bucket
from oracle.fast.core import ACT_BRANCHES, ACT_INDEX, LOSS_BRANCHES, LOSS_INDEX
from oracle.fast.host import to_host
from oracle.network import _dense_vjp_jit

Array = jax.Array

__all__ = ["activation_vjp_fast", "dense_vjp_fast", "loss_grad_fast"]


@jax.jit
def _activation_vjp_core(idx: Array, z: Array, mask: Array, g: Array) -> tuple[Array, Array]:
    a, pull = jax.vjp(lambda zz: lax.switch(idx, ACT_BRANCHES, zz, mask), z)
    (dz,) = pull(g)
    return a, dz


@oracle_numerics
def activation_vjp_fast(name: str, z: npt.ArrayLike, upstream: npt.ArrayLike) -> tuple[F64, F64]:
    """:func:`oracle.network.activation_vjp` in a padded bucket.

    ``z`` and ``upstream`` share any shape with ndim >= 1; the last axis holds the units.
    """
    who = "oracle.activation_vjp_fast"
    check_activation(who, name)
    zz = np.asarray(z, dtype=np.float64)
    g = np.asarray(upstream, dtype=np.float64)
    if zz.shape != g.shape or zz.ndim == 0 or zz.size == 0:
        raise ValueError(
            f"{who}: z and upstream must have the same non-empty shape with ndim >= 1, "
            f"got {zz.shape} and {g.shape}"
        )
    n = zz.shape[-1]
    z2, g2 = zz.reshape(-1, n), g.reshape(-1, n)
    R = z2.shape[0]
    Rp, P = batch_bucket(R), width_bucket(n)
    zp, gp = np.zeros((Rp, P)), np.zeros((Rp, P))
    zp[:R, :n], gp[:R, :n] = z2, g2
    mask = np.arange(P) < n
    a, dz = to_host(_activation_vjp_core(np.asarray(ACT_INDEX[name], dtype=np.int32), zp, mask, gp))
    return (
        np.array(a[:R, :n]).reshape(zz.shape),
        np.array(dz[:R, :n]).reshape(zz.shape),
    )


@jax.jit
def _loss_grad_core(
    idx: Array, a: Array, y: Array, mask: Array, col: Array, n_rows: Array, n_entries: Array
) -> tuple[Array, Array]:
    def f(aa: Array) -> Array:
        c: Array = lax.switch(idx, LOSS_BRANCHES, aa, y, mask, col, n_rows, n_entries)
        return c

    c, da = jax.value_and_grad(f)(a)
    return c, da


@oracle_numerics
def loss_grad_fast(name: str, a: npt.ArrayLike, y: npt.ArrayLike) -> tuple[float, F64]:
    """:func:`oracle.network.loss_grad` in a padded bucket: ``(C, dC/da (B, O))``."""
    who = "oracle.loss_grad_fast"
    check_loss(who, name)
    aa, yy = as_f64(who, "a", a, 2), as_f64(who, "y", y, 2)
    if aa.shape != yy.shape or 0 in aa.shape:
        raise ValueError(
            f"{who}: a and y must both be (B, O), non-empty, got {aa.shape} and {yy.shape}"
        )
    B, n_out = aa.shape
    Bp, P = batch_bucket(B), width_bucket(n_out)
    ap, yp = np.zeros((Bp, P)), np.zeros((Bp, P))
    ap[:B, :n_out], yp[:B, :n_out] = aa, yy
    col = np.arange(P) < n_out
    mask = (np.arange(Bp) < B)[:, None] & col[None, :]
    c, da = to_host(
        _loss_grad_core(
            np.asarray(LOSS_INDEX[name], dtype=np.int32),
            ap,
            yp,
            mask,
            col,
            np.asarray(float(B)),
            np.asarray(float(B * n_out)),
        )
    )
    return float(c), np.array(da[:B, :n_out])


@oracle_numerics
def dense_vjp_fast(
    x: npt.ArrayLike, w: npt.ArrayLike, b: npt.ArrayLike, upstream: npt.ArrayLike
) -> tuple[F64, F64, F64, F64]:
    """:func:`oracle.network.dense_vjp` in a padded bucket.

    ``x (B, I)``, ``w (I, O)``, ``b (O,)``, ``upstream (B, O)`` ->
    ``(z (B, O), dx (B, I), dw (I, O), db (O,))``.
    """
    xx, ww, bb, g = check_dense("oracle.dense_vjp_fast", x, w, b, upstream)
    B, n_in = xx.shape
    n_out = ww.shape[1]
    Bp, P = batch_bucket(B), width_bucket(max(n_in, n_out))
    xp, wp, bp, gp = np.zeros((Bp, P)), np.zeros((P, P)), np.zeros(P), np.zeros((Bp, P))
    xp[:B, :n_in], wp[:n_in, :n_out], bp[:n_out], gp[:B, :n_out] = xx, ww, bb, g
    z, dx, dw, db = to_host(_dense_vjp_jit(xp, wp, bp, gp))
    return (
        np.array(z[:B, :n_out]),
        np.array(dx[:B, :n_in]),
        np.array(dw[:n_in, :n_out]),
        np.array(db[:n_out]),
    )
