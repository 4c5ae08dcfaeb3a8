"""Correct rounding of exact results to float32 or float64 (round half to even, one step).

Rounding an mpf to float64 and then to float32 can round twice (a value just above a
float32 tie rounds to the tie in float64, then to even); here the mpf's exact binary
value is rounded once, with integer arithmetic, to the format's precision and exponent
range (subnormals included, overflow to ±inf).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from oracle.exact._functions import Mpf
from oracle.exact._network import ExactResult, ObjArray

__all__ = ["RoundedResult", "round_mpf", "rounded"]

#: dtype name -> (precision p in bits with the leading one, emin, emax)
_FORMATS = {"float32": (24, -126, 127), "float64": (53, -1022, 1023)}


class RoundedResult(NamedTuple):
    """An :class:`ExactResult` correctly rounded to one dtype (``loss`` a Python float)."""

    loss: float
    output: npt.NDArray[np.floating]
    deltas: list[npt.NDArray[np.floating]]
    grad_weights: list[npt.NDArray[np.floating]]
    grad_biases: list[npt.NDArray[np.floating]]
    grad_input: npt.NDArray[np.floating]


def _format(dtype: object) -> tuple[np.dtype[np.floating], tuple[int, int, int]]:
    dt = np.dtype(dtype)  # type: ignore[call-overload]
    if dt.name not in _FORMATS:
        raise ValueError(f"rounded: dtype must be float32 or float64, got {dt.name}")
    return dt, _FORMATS[dt.name]


def round_mpf(x: Mpf, dtype: object) -> float:
    """The float32 or float64 nearest to the mpf ``x`` (ties to even), as a Python float."""
    _, (p, emin, emax) = _format(dtype)
    sign, man, exp, bc = x._mpf_
    man = int(man)
    if man == 0:
        if exp != 0:
            raise ValueError(f"rounded: cannot round the non-finite value {x}")
        return 0.0
    top = exp + bc - 1  # 2^top <= |x| < 2^(top + 1)
    # Far outside the format the answer is known without the shifts below, whose integers
    # would be as long as the exponent (gigabytes for exp(−1e5) at 60 digits):
    if top < emin - p - 1:  # below half the smallest subnormal: rounds to zero
        return -0.0 if sign else 0.0
    if top > emax + 1:
        return -math.inf if sign else math.inf
    q = max(top, emin) - (p - 1)  # the format's quantum at x
    shift = q - exp
    if shift <= 0:
        n = man << -shift
    else:
        n, rem = man >> shift, man & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and n & 1):
            n += 1
    if n.bit_length() + q - 1 > emax:
        value = math.inf
    else:
        value = math.ldexp(float(n), q)  # n <= 2^p: exact
    return -value if sign else value


def _array(x: ObjArray, dt: np.dtype[np.floating]) -> npt.NDArray[np.floating]:
    flat = [round_mpf(v, dt) for v in x.ravel()]
    return np.array(flat, dtype=dt).reshape(x.shape)


def rounded(result: ExactResult, dtype: object) -> RoundedResult:
    """Every quantity of ``result`` correctly rounded to ``dtype`` (float32 or float64)."""
    dt, _ = _format(dtype)
    return RoundedResult(
        loss=round_mpf(result.loss, dt),
        output=_array(result.output, dt),
        deltas=[_array(d, dt) for d in result.deltas],
        grad_weights=[_array(g, dt) for g in result.grad_weights],
        grad_biases=[_array(g, dt) for g in result.grad_biases],
        grad_input=_array(result.grad_input, dt),
    )
