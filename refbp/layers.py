"""The dense layer as a pair of pure functions: z = x w + b forward, and its pull-back.

Row-major batches: x (B, I), w (I, O), b (O,), z (B, O).  ``forward`` and ``backward`` are
the arithmetic; ``dense_forward`` and ``dense_backward``, the public pair, first check that
the shapes they are given fit.  The network calls the arithmetic itself: it checks its
parameters and data once, and a tiny layer's call costs little more than the checks would.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

from refbp._types import FloatArray
from refbp.errors import DTypeError, ShapeError

__all__ = ["DenseCache", "DenseGrads", "backward", "dense_backward", "dense_forward", "forward"]

# Products of at least this many multiply-adds go through `@`, smaller ones through
# ndarray.dot (see backward); by this size the call overhead of either is negligible.
_MATMUL_FROM = 1 << 18


class DenseCache(NamedTuple):
    """What the backward pass needs from the forward pass: the input x (B, I), weights w (I, O)."""

    x: FloatArray
    w: FloatArray


class DenseGrads(NamedTuple):
    """dC/dx (B, I), dC/dw (I, O) and dC/db (O,) of one dense layer."""

    dx: FloatArray
    dw: FloatArray
    db: FloatArray


def dense_forward(x: FloatArray, w: FloatArray, b: FloatArray) -> tuple[FloatArray, DenseCache]:
    """z (B, O) = x (B, I) @ w (I, O) + b (O,), and the cache for ``dense_backward``.

    Refuses arrays whose shapes do not fit (a b of another shape would broadcast silently);
    the network, which checks its parameters and data once, calls ``forward`` directly."""
    try:
        fits = x.ndim == 2 and w.ndim == 2 and x.shape[1] == w.shape[0] and b.shape == w.shape[1:]
    except AttributeError:
        raise DTypeError(
            f"dense_forward: x, w and b must be NumPy arrays, got {_shapes(x=x, w=w, b=b)}"
        ) from None
    if not fits:
        raise ShapeError(
            f"dense_forward: needs arrays x (B, I), w (I, O), b (O,), got {_shapes(x=x, w=w, b=b)}"
        )
    return forward(x, w, b)


def dense_backward(delta: FloatArray, cache: DenseCache, need_dx: bool = True) -> DenseGrads:
    """Pull δ = dC/dz (B, O) back through z = x w + b: see ``backward``.

    ``cache`` is a DenseCache or a plain (x, w).  Refuses a δ whose shape does not fit the
    cache's; the network calls ``backward`` directly."""
    x, w = cache
    try:
        fits = delta.ndim == 2 and x.ndim == 2 and delta.shape == (x.shape[0], w.shape[1])
    except AttributeError:
        raise DTypeError(
            "dense_backward: delta and the cache's x and w must be NumPy arrays, got "
            f"{_shapes(delta=delta, x=x, w=w)}"
        ) from None
    if not fits:
        raise ShapeError(
            "dense_backward: needs delta (B, O) for the cache's x (B, I) and w (I, O), got "
            f"{_shapes(delta=delta, x=x, w=w)}"
        )
    return backward(delta, DenseCache(x, w), need_dx)


# --- the arithmetic, on arrays whose shapes fit -----------------------------------------


def forward(x: FloatArray, w: FloatArray, b: FloatArray) -> tuple[FloatArray, DenseCache]:
    """z (B, O) = x (B, I) @ w (I, O) + b (O,), and the cache for ``backward``."""
    # ndarray.dot is the same BLAS GEMM as `@` with less call overhead, which is most of
    # the cost of a tiny layer.
    z = x.dot(w)
    z += b  # in place on the fresh product: one (B, O) temporary fewer
    return z, DenseCache(x, w)


def backward(delta: FloatArray, cache: DenseCache, need_dx: bool = True) -> DenseGrads:
    """Pull δ = dC/dz (B, O) back through z = x w + b.

    BP3: ∂C/∂b = Σ_B δ (O,).   BP4: ∂C/∂w = xᵀ δ (I, O).   dC/dx = δ wᵀ (B, I), the
    error handed to the layer below (BP2 multiplies it by σ' there).  ``need_dx=False``
    skips that product where nobody wants it.
    """
    x, w = cache
    db = np.add.reduce(delta, axis=0)  # BP3
    # Both products are B·I·O multiply-adds, on transposed views (BLAS reads them as they
    # lie).  `@` and ndarray.dot hand them to the same GEMM and give the same bits; `@` is
    # faster on large products and dot has less call overhead: each is used where it is
    # cheaper.
    product = operator.matmul if delta.size * w.shape[0] >= _MATMUL_FROM else np.ndarray.dot
    dw = product(x.T, delta)  # BP4
    dx = product(delta, w.T) if need_dx else delta[:, :0]
    return DenseGrads(dx, dw, db)


def _shapes(**arrays: object) -> str:
    """``x (4, 3), w (3, 2)``, or the type of what is not an array."""
    return ", ".join(
        f"{k} {v.shape}" if isinstance(v, np.ndarray) else f"{k} {type(v).__name__}"
        for k, v in arrays.items()
    )
