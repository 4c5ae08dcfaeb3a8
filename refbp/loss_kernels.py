"""Kernels: the losses' formulas of refbp.losses in fewer passes over memory.

The same rules as refbp.kernels: fresh arrays updated in place, masks used as numbers, the
vectorised log1p, and no write to an argument.  Each kernel keeps its reference form's
stable formula; tests/bench/test_fast_paths.py holds it to that form.
"""

from __future__ import annotations

import numpy as np

from refbp._types import FloatArray
from refbp.kernels import blockwise, blockwise_sum, log1p

__all__ = [
    "binary_cross_entropy_grad",
    "binary_cross_entropy_value",
    "huber_grad",
    "huber_value",
    "l1_grad",
    "mse_value",
    "quadratic_value",
    "sigmoid_cross_entropy_grad",
    "sigmoid_cross_entropy_value",
    "softmax_cross_entropy_grad",
    "softmax_cross_entropy_value",
]


def _total(x: FloatArray) -> FloatArray:
    """Σ x as a 0-d array in x's dtype (NumPy's pairwise sum: error O(log n) ulps)."""
    return np.asarray(np.add.reduce(x, axis=None))


def _squared_difference(a: FloatArray, y: FloatArray) -> FloatArray:
    d = a - y
    d *= d
    return d


def mse_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """Σ (a − y)² / BO, squared in place on the fresh difference."""
    return _total(_squared_difference(a, y)) / a.size


def quadratic_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """Σ (a − y)² / 2B, squared in place on the fresh difference."""
    return _total(_squared_difference(a, y)) / (2 * len(a))


def l1_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """sign(a − y) / BO as [a > y] − [a < y] times 1/BO: the reference's bits.

    The masks are subtracted as int8 (a cast from bool inside a float loop costs more than
    the arithmetic), and ±1 × fl(1/BO) is exactly fl(±1/BO), so one multiply replaces the
    division of every entry."""
    sign = np.subtract((a > y).view(np.int8), (a < y).view(np.int8))
    step = np.divide(1, a.size, dtype=a.dtype)
    return np.multiply(sign, step, dtype=a.dtype)


def huber_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """Σ huber(a − y) / BO with huber(d) = ½ m² + (|d| − m), m = min(|d|, 1): ½d² for
    |d| ≤ 1 and |d| − ½ beyond, without a case split, block by block."""
    return blockwise_sum(_huber_terms, a, y, temporaries=2) / a.size


def _huber_terms(a: FloatArray, y: FloatArray) -> FloatArray:
    d = a - y
    np.abs(d, out=d)
    m = np.clip(d, 0.0, 1.0)  # d ≥ 0: min(d, 1)
    d -= m
    m *= m
    m *= 0.5
    m += d
    return m


def huber_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """clip(a − y, −1, 1) / BO, clipped and divided in place."""
    g = a - y
    np.clip(g, -1.0, 1.0, out=g)
    g /= a.size
    return g


def softmax_cross_entropy_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """−(1/B) Σ_rows [Σ_j y_j s_j − log(Σ_j e^{s_j}) Σ_j y_j], s = a − max: the reference's
    y · log softmax(a) summed by rows; both terms are ≤ 0, so nothing cancels.  log Σ e^s is
    log1p of the sum without the max's column, as in the reference."""
    rows = np.arange(len(a))
    m = a.argmax(axis=1)
    s = a - a[rows, m][:, None]
    ys = np.einsum("ij,ij->i", y, s)
    np.exp(s, out=s)
    s[rows, m] = 0.0  # its e^0 = 1 is the 1 of log1p
    log_total = np.log1p(np.add.reduce(s, axis=1))
    log_total *= np.add.reduce(y, axis=1)
    ys -= log_total
    return -_total(ys) / len(a)


def softmax_cross_entropy_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """(p Σy − y)/B with the largest logit's column as p_m Σ_{j≠m} y_j − (r/(1 + r)) y_m,
    r = Σ_{j≠m} e^{a_j − a_m}: the reference's stable form, on one fresh array."""
    rows = np.arange(len(a))
    m = a.argmax(axis=1)
    e: FloatArray = a - a[rows, m][:, None]
    np.exp(e, out=e)  # e[rows, m] == 1 exactly
    e[rows, m] = 0.0
    r = np.add.reduce(e, axis=1)  # Σ_{j≠m} e_j, summed without the 1 that would swamp it
    e[rows, m] = 1.0
    y_mass = np.add.reduce(y, axis=1)
    y_m = y[rows, m]
    total = r + 1.0
    e *= (y_mass / total)[:, None]  # p Σy
    e -= y
    e[rows, m] = (y_mass - y_m) / total - (r / total) * y_m
    e /= len(a)
    return e


def sigmoid_cross_entropy_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """(1/B) Σ [log1p(e^{−|a|}) + |a| |[a ≥ 0] − y|]: the reference's sum of non-negative
    terms, with the vectorised log1p, block by block."""
    return blockwise_sum(_sigmoid_cross_entropy_terms, a, y, temporaries=4) / len(a)


def _sigmoid_cross_entropy_terms(a: FloatArray, y: FloatArray) -> FloatArray:
    e = np.abs(a)
    np.negative(e, out=e)
    np.exp(e, out=e)
    t = log1p(e)
    np.subtract(a >= 0, y, out=e)
    np.abs(e, out=e)  # c: 1 − y where a ≥ 0, y where a < 0
    e *= a
    np.abs(e, out=e)  # |c a| = c |a|, the same bits: no |a| kept
    t += e
    return t


def sigmoid_cross_entropy_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """((k − y) − copysign(s, a)) / B with k = [a ≥ +0] (no sign bit), s = e/(1 + e),
    e = exp(−|a|): (1 − y) − s where a ≥ +0 and (−y) + s = s − y where a ≤ −0, the
    reference's two branches with the same roundings, without a case split."""
    batch = len(a)
    return blockwise(lambda ab, yb: _sigmoid_cross_entropy_grad(ab, yb, batch), a, y, temporaries=3)


def _sigmoid_cross_entropy_grad(a: FloatArray, y: FloatArray, batch: int) -> FloatArray:
    e = np.abs(a)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1.0
    e /= d  # s = σ(−|a|)
    np.copysign(e, a, out=e)
    np.subtract(~np.signbit(a), y, out=d)  # 1 − y where a ≥ +0, −y where a ≤ −0
    d -= e
    d /= batch
    return d


def binary_cross_entropy_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """−(1/B) Σ [y log a + (1 − y) log1p(−a)], with the vectorised log1p, block by block."""
    return -blockwise_sum(_binary_cross_entropy_terms, a, y, temporaries=4) / len(a)


def _binary_cross_entropy_terms(a: FloatArray, y: FloatArray) -> FloatArray:
    t = log1p(-a)
    t *= 1.0 - y
    la = np.log(a)
    la *= y
    t += la
    return t


def binary_cross_entropy_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """(a − y) / (a (1 − a)) / B in two fresh arrays: the reference's operations, so its
    bits (few passes, bound by the divisions: blocks would not pay for themselves)."""
    g = a - y
    d = 1.0 - a
    d *= a
    g /= d
    g /= len(a)
    return g
