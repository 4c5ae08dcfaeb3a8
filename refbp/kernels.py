"""Kernels: the activations' formulas of refbp.activations in fewer passes over memory.

Each kernel computes what its reference form computes, with the same stable formula, but
arranged for NumPy's cost model, where an elementwise pass over a large array costs more
than the arithmetic in it, and ``np.where`` over two computed arrays more than ``np.exp``:

* arrays a kernel has just created are updated in place (``out=``, ``*=``);
* a case split is a boolean mask used as a number (``np.maximum(e, z >= 0)`` is 1 where
  z ≥ 0 and e elsewhere, because 0 < e ≤ 1) instead of ``np.where`` over two computed arrays;
* a formula of several passes runs on cache-sized blocks of a large array (``blockwise``):
  its temporaries stay in cache and are recycled by the allocator, instead of each pass
  streaming a fresh array of the full size through memory.  Each element goes through the
  same operations either way, so blocking never changes a bit.

Where the only fast route would lose accuracy, the kernel keeps the accurate one: elu keeps
expm1 and softplus keeps log1p, which NumPy does not vectorise.

A kernel never writes to its arguments.  tests/bench/test_fast_paths.py holds each one to
its reference form: bit for bit where the operations are the same ones, within a stated
number of ulps where they are reordered.  Backward kernels take (z, a, g) with g = dC/da and
return dC/dz = g ⊙ σ'(z).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refbp._constants import GELU_C, GELU_CLIP, GELU_K, LEAKY_SLOPE
from refbp._types import FloatArray

__all__ = [
    "elu",
    "elu_backward",
    "gelu",
    "gelu_backward",
    "identity_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "log1p",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "silu",
    "silu_backward",
    "softmax",
    "softmax_backward",
    "softplus",
    "softplus_backward",
    "tanh_backward",
]


BLOCK = 1 << 15
"""Elements per block in ``blockwise``: a few block-sized temporaries fit in L2."""

CACHE_BYTES = 4 << 20
"""Blocks pay for their extra calls once a kernel's full-size temporaries would take more
than this (about the cache a core can count on here): 256 × 1024 float64 through sigmoid's
three temporaries gains from blocks, float32 does not."""

Kernel = Callable[..., FloatArray]


def blockwise(kernel: Kernel, *arrays: FloatArray, temporaries: int = 1) -> FloatArray:
    """``kernel(*arrays)`` for same-shaped elementwise arguments; where its ``temporaries``
    full-size arrays would outgrow ``CACHE_BYTES``, computed on flat blocks of ``BLOCK``
    elements and written into one fresh array (non-contiguous arguments go whole)."""
    first = arrays[0]
    n = first.size
    whole = (
        n < 2 * BLOCK
        or temporaries * first.nbytes <= CACHE_BYTES
        or not all(a.shape == first.shape and a.flags.c_contiguous for a in arrays)
    )
    if whole:
        return kernel(*arrays)
    flats = [a.reshape(-1) for a in arrays]
    head = kernel(*(f[:BLOCK] for f in flats))
    out = np.empty(first.shape, dtype=head.dtype)
    flat_out = out.reshape(-1)
    flat_out[:BLOCK] = head
    for start in range(BLOCK, n, BLOCK):
        flat_out[start : start + BLOCK] = kernel(*(f[start : start + BLOCK] for f in flats))
    return out


def blockwise_sum(kernel: Kernel, *arrays: FloatArray, temporaries: int = 1) -> FloatArray:
    """Σ kernel(*arrays) as a 0-d array, the kernel run block by block as in ``blockwise``
    (each block summed pairwise, the block sums added in order)."""
    first = arrays[0]
    n = first.size
    if (
        n < 2 * BLOCK
        or temporaries * first.nbytes <= CACHE_BYTES
        or not all(a.shape == first.shape and a.flags.c_contiguous for a in arrays)
    ):
        return np.asarray(np.add.reduce(kernel(*arrays), axis=None))
    flats = [a.reshape(-1) for a in arrays]
    total = np.add.reduce(kernel(*(f[:BLOCK] for f in flats)))
    for start in range(BLOCK, n, BLOCK):
        total += np.add.reduce(kernel(*(f[start : start + BLOCK] for f in flats)))
    return np.asarray(total)


def _exp_neg_abs(z: FloatArray) -> FloatArray:
    """A fresh e = exp(−|z|), in (0, 1]: never overflows."""
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    return e


def _sigmoid_from(z: FloatArray, e: FloatArray, d: FloatArray) -> FloatArray:
    """σ(z) into a fresh array, from e = exp(−|z|) and d = 1 + e: max(e, [z ≥ 0]) / d is
    1/(1 + e) where z ≥ 0 and e/(1 + e) where z < 0, the reference's two branches."""
    s = np.maximum(e, z >= 0)
    s /= d
    return s


def log1p(x: FloatArray) -> FloatArray:
    """log(1 + x) for x (any shape) in [−1, 1], into a fresh array, with NumPy's vectorised
    log: within a few ulps (NumPy's log is not correctly rounded), for loss values, where
    the sum dilutes them; the activations keep np.log1p.

    u = 1 + x rounds; its rounding error c = x − (u − 1) is exact (u − 1 is exact by
    Sterbenz for x ≥ −1/2, and 1 + x itself is exact below), and log(1 + x) = log(u + c)
    = log u + c/u up to a term below (c/u)²/2, under an ulp.  Where 1 + x rounds to 1,
    log u = 0 and the result is x, as it should be.
    """
    u = x + 1.0
    c = u - 1.0
    np.subtract(x, c, out=c)
    c /= u
    np.log(u, out=u)
    u += c
    return u


def identity_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ 1 is g: handed on as it is, neither copied nor written."""
    return g


def sigmoid(z: FloatArray) -> FloatArray:
    """σ(z); the same operations as ``sigmoid_forward``, so the same bits."""
    return blockwise(_sigmoid, z, temporaries=3)


def _sigmoid(z: FloatArray) -> FloatArray:
    e = _exp_neg_abs(z)
    return _sigmoid_from(z, e, e + 1.0)


def sigmoid_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ e/(1 + e)², e = exp(−|z|), in the fresh e; the same bits as the reference."""
    return blockwise(_sigmoid_backward, z, g, temporaries=2)


def _sigmoid_backward(z: FloatArray, g: FloatArray) -> FloatArray:
    e = _exp_neg_abs(z)
    d = e + 1.0
    d *= d
    e /= d
    e *= g
    return e


def tanh_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ 4e/(1 + e)², e = exp(−2|z|), as e / ((1 + e)/2)²: halving is exact, so these are
    the reference's bits, one pass fewer."""
    return blockwise(_tanh_backward, z, g, temporaries=2)


def _tanh_backward(z: FloatArray, g: FloatArray) -> FloatArray:
    e = np.abs(z)
    e *= -2.0
    np.exp(e, out=e)
    d = e * 0.5
    d += 0.5
    d *= d
    e /= d
    e *= g
    return e


def relu_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ [z > 0]: the mask multiplies as 0 or 1 in g's dtype; relu'(0) = 0."""
    return g * (z > 0)


def leaky_relu(z: FloatArray) -> FloatArray:
    """max(z, 0.01 z), which is z for z ≥ 0 and 0.01 z for z < 0 because the slope is < 1."""
    t = z * LEAKY_SLOPE
    np.maximum(z, t, out=t)
    return t


def leaky_relu_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ (0.01 + 0.99 [z ≥ 0]): 0.99 + 0.01 rounds to exactly 1 in float32 and float64
    (checked by the tests), so the slope is 1 or 0.01 exactly; leaky_relu'(0) = 1."""
    return blockwise(_leaky_relu_backward, z, g, temporaries=1)


def _leaky_relu_backward(z: FloatArray, g: FloatArray) -> FloatArray:
    # the mask as int8: a cast from bool inside a float loop costs more than the multiply
    s = np.multiply((z >= 0).view(np.int8), 1.0 - LEAKY_SLOPE, dtype=g.dtype)
    s += LEAKY_SLOPE
    s *= g
    return s


def elu(z: FloatArray) -> FloatArray:
    """max(z, 0) + expm1(min(z, 0)): z for z > 0 (expm1(0) = 0), expm1(z) for z ≤ 0."""
    return blockwise(_elu, z, temporaries=2)


def _elu(z: FloatArray) -> FloatArray:
    t = np.minimum(z, 0.0)
    np.expm1(t, out=t)
    t += np.maximum(z, 0.0)
    return t


def elu_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ exp(min(z, 0)): the reference's elu', in one fresh array."""
    return blockwise(_elu_backward, z, g, temporaries=1)


def _elu_backward(z: FloatArray, g: FloatArray) -> FloatArray:
    t = np.minimum(z, 0.0)
    np.exp(t, out=t)
    t *= g
    return t


def softplus(z: FloatArray) -> FloatArray:
    """max(z, 0) + log1p(exp(−|z|)), the terms of the reference's logaddexp(0, z), for
    float64.  float32 keeps logaddexp itself: on NumPy's vectorised float32 exp the terms are
    about 2 ulps off for z ≪ 0 (log1p(e) ≈ e passes the exp's error on whole), where
    logaddexp is within 1.3, and going through float64 is slower than logaddexp."""
    if z.dtype == np.float32:
        return np.logaddexp(z.dtype.type(0), z)
    return blockwise(_softplus, z, temporaries=2)


def _softplus(z: FloatArray) -> FloatArray:
    t = _exp_neg_abs(z)
    np.log1p(t, out=t)
    t += np.maximum(z, 0.0)
    return t


def softplus_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ σ(z)."""
    return blockwise(_softplus_backward, z, g, temporaries=3)


def _softplus_backward(z: FloatArray, g: FloatArray) -> FloatArray:
    s = _sigmoid(z)
    s *= g
    return s


def _gelu_argument(z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(zc, zc², 2u) with zc = z clipped at ±GELU_CLIP and 2u = zc (2c + 2ck zc²)."""
    zc = np.clip(z, -GELU_CLIP, GELU_CLIP)
    sq = zc * zc
    two_u = sq * (2.0 * GELU_C * GELU_K)
    two_u += 2.0 * GELU_C
    two_u *= zc
    return zc, sq, two_u


def gelu(z: FloatArray) -> FloatArray:
    """z σ(2u), 2u = 2c (z + k z³) written zc (2c + 2ck zc²): reordered, within a few ulps of
    the reference."""
    return blockwise(_gelu, z, temporaries=6)


def _gelu(z: FloatArray) -> FloatArray:
    _, _, two_u = _gelu_argument(z)
    e = _exp_neg_abs(two_u)
    s = _sigmoid_from(two_u, e, e + 1.0)
    s *= z
    return s


def gelu_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ (σ(2u) + zc σ'(2u) (2c + 6ck zc²)), σ'(2u) = e/(1 + e)²."""
    return blockwise(_gelu_backward, z, g, temporaries=6)


def _gelu_backward(z: FloatArray, g: FloatArray) -> FloatArray:
    zc, sq, two_u = _gelu_argument(z)
    e = _exp_neg_abs(two_u)
    d = e + 1.0
    gate = _sigmoid_from(two_u, e, d)
    d *= d
    e /= d  # σ'(2u)
    sq *= 6.0 * GELU_C * GELU_K
    sq += 2.0 * GELU_C  # d(2u)/dz
    e *= sq
    e *= zc
    e += gate
    e *= g
    return e


def silu(z: FloatArray) -> FloatArray:
    """z σ(z): the reference's bits."""
    return blockwise(_silu, z, temporaries=3)


def _silu(z: FloatArray) -> FloatArray:
    s = _sigmoid(z)
    s *= z
    return s


def silu_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """g ⊙ (σ(z) + z e/(1 + e)²): the reference's operations, so its bits."""
    return blockwise(_silu_backward, z, g, temporaries=3)


def _silu_backward(z: FloatArray, g: FloatArray) -> FloatArray:
    e = _exp_neg_abs(z)
    d = e + 1.0
    s = _sigmoid_from(z, e, d)
    d *= d
    e /= d
    e *= z
    e += s
    e *= g
    return e


def softmax(z: FloatArray) -> FloatArray:
    """Row-wise softmax of z (B, O) in one fresh array: shifted by each row's max, exp and
    the division in place.  The reference's bits."""
    e: FloatArray = z - z.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_backward(z: FloatArray, a: FloatArray, g: FloatArray) -> FloatArray:
    """a ⊙ (h − Σ_j h_j a_j), h = g − g_m with m the column of each row's largest a: the
    reference's shifted form (refbp.activations.softmax_vjp), in one fresh array.  Σ h a
    is a stack of row-by-column products, which BLAS sums without materialising h ⊙ a."""
    rows = np.arange(len(a))
    h: FloatArray = g - g[rows, a.argmax(axis=1)][:, None]
    total = h[:, None, :] @ a[:, :, None]  # (B, 1, 1)
    np.subtract(h, total[:, 0], out=h)
    h *= a
    return h
