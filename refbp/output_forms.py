"""C and δᴸ computed from the output layer's z, for the pairs where BP1's general form loses
digits: binary cross-entropy after a sigmoid or a softmax.

BP1 writes δᴸ = ∇ₐC ⊙ σ'(zᴸ).  For a sigmoid and binary cross-entropy that is
((1 − y)/(1 − a) − y/a) · σ'(z): exact in exact arithmetic, but 1 − a is computed from the
rounded a while σ'(z) = e/(1 + e)² is computed from z, so the rounding of a no longer
cancels (W = [[1]], b = [0], X = [[33]], Y = [[0.3]] in float64: relative error 8.7e-4), and
once σ(z) rounds to 1 the loss itself is infinite although its exact value is finite.  In
terms of z both are simple: C = y softplus(−z) + (1 − y) softplus(z) per entry (terms ≥ 0)
and δᴸ = (σ(z) − y)/B.

δᴸ is computed in a wider float than the network's (float64 for float32; the 64-bit-mantissa
long double for float64 where the platform has one) and rounded once: rounding σ(z) to the
network's dtype first would leave the cancellation of σ(z) − y where σ(z) ≈ y all the error
of that rounding.  For W = [[1]], X = [[z]], Y = [[0.3]] that gives δᴸ within 0.65 ulp of
exact at every float32 z, and in float64 an absolute error below 2⁻⁶⁴ y: within 2 ulps on
z ∈ [−40, 40] except within 5e-4 of the root z* = logit(0.3), where δᴸ itself falls below
1e-4 (15 ulps at |z − z*| = 1e-4, 1e3 ulps at 1e-6: only a double-double σ would do better).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from refbp._types import FloatArray
from refbp.kernels import log1p

__all__ = ["SIGMOID_BINARY_CROSS_ENTROPY", "SOFTMAX_BINARY_CROSS_ENTROPY", "OutputForm"]

OutputFunction = Callable[[FloatArray, FloatArray, FloatArray], FloatArray]
"""(z, a, y) -> C (0-d, z's dtype) or δᴸ (B, O), with z, a = σ(z), y all (B, O)."""


class OutputForm(NamedTuple):
    """C and δᴸ = ∂C/∂zᴸ for one (output activation, loss) pair, computed from zᴸ."""

    value: OutputFunction
    delta: OutputFunction


def _wide(dtype: np.dtype[np.floating]) -> type[np.floating]:
    """The float used for δᴸ: float64 for float32, long double for float64 when it is wider."""
    if dtype == np.float32:
        return np.float64
    longdouble_is_wider = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps
    return np.longdouble if longdouble_is_wider else np.float64


def _sigmoid_pair(z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(σ(z), σ(−z)), each from e = exp(−|z|) at full relative accuracy."""
    e = np.exp(-np.abs(z))
    big = 1.0 / (1.0 + e)  # σ(|z|)
    small = e / (1.0 + e)  # σ(−|z|)
    pos = z >= 0
    return np.where(pos, big, small), np.where(pos, small, big)


def _sigmoid_bce_value(z: FloatArray, a: FloatArray, y: FloatArray) -> FloatArray:
    """C = (1/B) Σ [y softplus(−z) + (1 − y) softplus(z)]: −[y log σ(z) + (1 − y) log(1 − σ(z))]
    written in z, finite for every finite z.  Per entry log1p(e^{−|z|}) + |z| c with c = 1 − y
    where z ≥ 0 and y where z < 0 (|[z ≥ 0] − y| for y in [0, 1]): terms ≥ 0, so a loss near
    its minimum (y = 1, z ≫ 0: C ≈ e^{−z}) keeps its digits, where softplus(z) − y z would
    subtract two numbers near z."""
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    t = log1p(e)
    np.subtract(z >= 0, y, out=e)
    np.abs(e, out=e)  # c
    e *= z
    np.abs(e, out=e)  # |c z| = c |z|, the same bits
    t += e
    return np.asarray(t.sum()) / len(z)


def _sigmoid_bce_delta(z: FloatArray, a: FloatArray, y: FloatArray) -> FloatArray:
    """δᴸ = (σ(z) − y)/B, written (1 − y) σ(z) − y σ(−z) so that y = 1, z ≫ 0 (or y = 0,
    z ≪ 0) keeps its digits, in the wide float."""
    wide = _wide(z.dtype)
    zw, yw = z.astype(wide), y.astype(wide)
    s, s_neg = _sigmoid_pair(zw)
    delta = (1.0 - yw) * s - yw * s_neg
    delta /= len(z)
    return delta.astype(z.dtype)


SIGMOID_BINARY_CROSS_ENTROPY = OutputForm(_sigmoid_bce_value, _sigmoid_bce_delta)


def _softmax_parts(z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(s, e, T, o) per row of z (B, O): s = z − max, e = exp(s), T = Σ e, and
    o_j = Σ_{k≠j} e_k = T (1 − p_j), summed directly in the column of the max (where T − 1
    would cancel) and as T − e_j elsewhere (o_j ≥ e_max = 1 ≥ e_j: no cancellation)."""
    rows = np.arange(len(z))
    m = z.argmax(axis=1)
    s = z - z[rows, m][:, None]
    e = np.exp(s)  # e[rows, m] == 1
    total = e.sum(axis=1, keepdims=True)
    o = total - e
    e[rows, m] = 0.0
    o[rows, m] = e.sum(axis=1)
    e[rows, m] = 1.0
    return s, e, total, o


def _others_vanish(o_max: FloatArray, wide: type[np.floating]) -> npt.NDArray[np.bool_]:
    """Rows whose o_max, the sum of e^{s_j} over the columns other than the max's, is below
    the wide float's normal range: every other column is more than ~700 (float64) below the
    max, 1/o_max overflows and log o_max is −inf, though the loss and δᴸ are finite."""
    vanish: npt.NDArray[np.bool_] = o_max < np.finfo(wide).tiny
    return vanish


def _others_in_log(s: FloatArray, m: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(log o_max, w) of rows s (R, O) with the max in column m: log Σ_{j≠m} e^{s_j} and
    w_j = e^{s_j} / o_max (0 in column m), both shifted by the largest other s, so neither
    underflows.  One column alone: log o_max = −inf, w = 0."""
    rows = np.arange(len(s))
    others = s.copy()
    others[rows, m] = -np.inf
    top = others.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0  # one column: nothing else, e^{−inf} = 0 below
    e = np.exp(others - top)
    mass = e.sum(axis=1, keepdims=True)
    w: FloatArray = np.divide(e, mass, out=np.zeros_like(e), where=mass > 0)
    log_o: FloatArray = (top + np.log(mass))[:, 0]
    return log_o, w


def _softmax_bce_value(z: FloatArray, a: FloatArray, y: FloatArray) -> FloatArray:
    """C = −(1/B) Σ [y log p + (1 − y) log(1 − p)], in the wide float, with
    log T = log1p(o_max) (T = 1 + o_max after the shift), log p_j = s_j − log T,
    log(1 − p_j) = log1p(−p_j) where p_j ≤ 1/2 (every column but the max's) and
    log o_max − log T in the max's column: a confident row (p_max = 1 − 1e-14) keeps its
    digits, and its e^{−100} (subnormal in float32) is a normal number in the wide float."""
    wide = _wide(z.dtype)
    yw = y.astype(wide)
    rows = np.arange(len(z))
    s, e, total, o = _softmax_parts(z.astype(wide))
    m = s.argmax(axis=1)
    log_total = np.log1p(o[rows, m])[:, None]
    p = e / total
    p[rows, m] = 0.0  # its log(1 − p) comes next, from o_max
    log_rest = np.log1p(-p)
    log_o = np.log(o[rows, m])
    vanish = _others_vanish(o[rows, m], wide)
    if vanish.any():  # log o_max without forming o_max
        log_o[vanish] = _others_in_log(s[vanish], m[vanish])[0]
    log_rest[rows, m] = log_o - log_total[:, 0]
    per_entry = yw * (s - log_total) + (1.0 - yw) * log_rest
    return -np.asarray(per_entry.sum() / len(z)).astype(z.dtype)


def _softmax_bce_delta(z: FloatArray, a: FloatArray, y: FloatArray) -> FloatArray:
    """δᴸ_i = (p_i (1 − y_i) − (1 − p_i) y_i − p_i Σ_{j≠i} t_j)/B, with
    t_j = (1 − y_j) r_j − y_j, r_j = p_j/(1 − p_j) = e_j/o_j and 1 − p_i = o_i/T.

    From ∂C/∂p_j = (1 − y_j)/(1 − p_j) − y_j/p_j and the softmax VJP
    δ_i = p_i (g_i − Σ_j g_j p_j): p_j g_j = t_j, so δ_i = t_i (1 − p_i) − p_i Σ_{j≠i} t_j,
    and t_i (1 − p_i) = p_i − y_i = p_i (1 − y_i) − (1 − p_i) y_i, the softmax cross-entropy's
    rewriting: a confident, correct row (p_max ≈ 1, y_max = 1) subtracts nothing near 1.  No
    huge r_max is subtracted from itself either: Σ_{j≠i} t_j is S − t_i except in the max's
    column, where the t_j of the other columns are summed directly.  In the wide float.
    """
    wide = _wide(z.dtype)
    zw, yw = z.astype(wide), y.astype(wide)
    rows = np.arange(len(z))
    s, e, total, o = _softmax_parts(zw)
    m = zw.argmax(axis=1)
    vanish = _others_vanish(o[rows, m], wide)
    t = (1.0 - yw) * (e / o) - yw
    t[rows[vanish], m[vanish]] = 0.0  # r_max = 1/o_max overflows there: its terms come below
    others = t.sum(axis=1, keepdims=True) - t
    t[rows, m] = 0.0
    others[rows, m] = t.sum(axis=1)
    p, q = e / total, o / total  # p and 1 − p, each to full relative accuracy
    delta: FloatArray = p * (1.0 - yw) - q * yw - p * others
    if vanish.any():
        # p_i t_max for i ≠ max, with t_max = (1 − y_max)/o_max − y_max: p_i/o_max = w_i/T,
        # w the share of each other column in o_max, formed in logs
        k, mk = rows[vanish], m[vanish]
        _, w = _others_in_log(s[k], mk)
        y_max = yw[k, mk][:, None]
        share = (1.0 - y_max) * w / total[k] - p[k] * y_max
        share[np.arange(len(k)), mk] = 0.0
        delta[k] -= share
    delta /= len(z)
    return delta.astype(z.dtype)


SOFTMAX_BINARY_CROSS_ENTROPY = OutputForm(_softmax_bce_value, _softmax_bce_delta)
