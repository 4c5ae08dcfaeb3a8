"""Argument checks shared by the network, training and I/O.

Every check raises with the caller's name, what was expected and what came, and never
modifies its argument: conversions return new arrays (or the same array when no
conversion is needed, which callers then only read).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from refbp._types import SUPPORTED_DTYPES, FloatArray
from refbp.errors import ConfigError, DTypeError, NonFiniteError, ShapeError, TargetError
from refbp.losses import Loss

# Probability rows must sum to 1 up to this much: loose enough for float32 one-hot or
# softmax targets summed in any order, tight enough to catch un-normalised rows.
PROBABILITY_ROW_ATOL = 1e-4


def float_dtype(dtype: object, where: str) -> np.dtype[np.floating]:
    """The network dtype named by ``dtype``: float32 or float64 only."""
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise DTypeError(f"{where}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt.type not in SUPPORTED_DTYPES:
        raise DTypeError(f"{where}: dtype must be float32 or float64, got {dt}")
    return dt  # type: ignore[no-any-return]


def as_numeric_array(x: object, name: str, where: str) -> np.ndarray:
    """``x`` as an ndarray of a real numeric dtype (bool, integer or float), not copied."""
    if isinstance(x, (str, bytes)):
        raise DTypeError(f"{where}: {name} must be a numeric array, got {type(x).__name__}")
    if isinstance(x, np.ma.MaskedArray) and np.ma.is_masked(x):
        # np.asarray would silently use the values under the mask
        masked = int(np.count_nonzero(np.ma.getmaskarray(x)))
        raise DTypeError(
            f"{where}: {name} is a masked array with {masked} masked entries, which have "
            f"no values to use; pass {name}.filled(value) or drop those rows"
        )
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise DTypeError(f"{where}: {name} must be a numeric array; {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise DTypeError(
            f"{where}: {name} must hold real numbers (bool, int or float), got dtype {arr.dtype}"
        )
    return arr


def all_finite(x: np.ndarray) -> bool:
    """Is every entry of the float array ``x`` finite?"""
    # x·x (one BLAS pass, no temporary where x is C-contiguous) is finite exactly when every
    # entry is, except where finite entries square past the dtype's range: only then, or
    # for a strided x (which np.vdot would copy), are the entries looked at.
    if x.flags.c_contiguous and math.isfinite(np.vdot(x, x)):
        return True
    return bool(np.isfinite(x).all())


def check_finite(arr: np.ndarray, name: str, where: str) -> None:
    if arr.dtype.kind == "f" and not all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise NonFiniteError(
            f"{where}: {name} must be finite, got {arr[tuple(bad)]} at index {tuple(bad.tolist())}"
        )


def cast(
    arr: np.ndarray, dtype: np.dtype[np.floating], name: str, where: str, *, copy: bool = False
) -> FloatArray:
    """``arr`` (finite) in ``dtype``; a value too large for ``dtype`` is an error, not a warning.

    NumPy warns "overflow encountered in cast" and returns inf when, say, 1e300 is cast to
    float32; here the cast is silent and the overflow is reported with the value and index.
    ``copy=True`` always returns a new array (the network owns its parameters).
    """
    if arr.dtype == dtype:
        # Nothing to convert: return before np.errstate, whose entry and exit (saving and
        # restoring the floating-point error state) would dominate a call that does no work.
        return arr.copy() if copy else arr
    if arr.dtype.kind in "biu" or np.can_cast(arr.dtype, dtype, "safe"):
        # Every bool, every int (|n| < 2⁶⁴ < float32's 3.4e38) and every widening fits.
        return arr.astype(dtype, copy=copy)
    with np.errstate(over="ignore"):
        out = arr.astype(dtype, copy=copy)
    if out is not arr and out.dtype.kind == "f" and not all_finite(out):
        bad = tuple(np.argwhere(~np.isfinite(out))[0].tolist())
        raise NonFiniteError(
            # !s: a long double formatted in an f-string goes through float and shows inf
            f"{where}: {name} must fit in the network's dtype {np.dtype(dtype)}, "
            f"got {arr[bad]!s} at index {bad}, which overflows to {out[bad]}"
        )
    return out


def batch_matrix(
    x: object, name: str, where: str, cols: int, dtype: np.dtype[np.floating]
) -> FloatArray:
    """A (B, cols) matrix in the network dtype, B >= 1, finite."""
    arr = as_numeric_array(x, name, where)
    if arr.ndim != 2:
        hint = f"; for one sample use {name}.reshape(1, -1)" if arr.ndim == 1 else ""
        raise ShapeError(
            f"{where}: {name} must be 2-D (batch, {cols}), got {arr.ndim}-D shape {arr.shape}{hint}"
        )
    if arr.shape[0] == 0:
        raise ShapeError(f"{where}: {name} must have at least one row, got shape {arr.shape}")
    if arr.shape[1] != cols:
        raise ShapeError(
            f"{where}: {name} must have {cols} columns to match the network, got shape {arr.shape}"
        )
    check_finite(arr, name, where)
    return cast(arr, dtype, name, where)


def targets(
    y: object, where: str, batch: int, outputs: int, loss: Loss, dtype: np.dtype[np.floating]
) -> FloatArray:
    """Targets (batch, outputs) in the network dtype, valid for ``loss``; never broadcast.

    For a loss on probability rows (softmax cross-entropy), Y may also be integer class
    labels (batch,), each in [0, outputs): they become one-hot rows (see ``one_hot``).
    """
    arr = as_numeric_array(y, "Y", where)
    if arr.shape != (batch, outputs):
        if loss.targets == "probability_rows" and arr.shape == (batch,):
            return one_hot(arr, where, outputs, dtype)
        raise ShapeError(
            f"{where}: Y must have shape ({batch}, {outputs}) to match X and the output layer, "
            f"got {arr.shape}{_target_hint(arr, batch, outputs, loss)}"
        )
    check_finite(arr, "Y", where)
    out = cast(arr, dtype, "Y", where)
    if loss.targets == "unit_interval" and ((out < 0).any() or (out > 1).any()):
        raise TargetError(
            f"{where}: {loss.name} needs targets in [0, 1], got values in "
            f"[{out.min()}, {out.max()}]"
        )
    if loss.targets == "probability_rows":
        if (out < 0).any():
            raise TargetError(
                f"{where}: {loss.name} needs rows of Y that are probability vectors, "
                f"got a negative entry {out.min()}"
            )
        sums = out.sum(axis=1, dtype=np.float64)
        worst = int(np.argmax(np.abs(sums - 1.0)))
        if abs(sums[worst] - 1.0) > PROBABILITY_ROW_ATOL:
            raise TargetError(
                f"{where}: {loss.name} needs rows of Y that sum to 1, "
                f"got row {worst} summing to {sums[worst]}"
            )
    return out


def one_hot(
    labels: np.ndarray, where: str, outputs: int, dtype: np.dtype[np.floating]
) -> FloatArray:
    """Integer class labels (B,) as one-hot rows (B, outputs) in ``dtype``; a new array.

    Only integer dtypes are labels: a float array of shape (B,) is more likely a regression
    target or a mistake than labels, so it is refused with the fix rather than guessed at.
    """
    if labels.dtype.kind not in "iu":
        raise TargetError(
            f"{where}: Y of shape {labels.shape} is read as class labels, which must be "
            f"integers in [0, {outputs}), got dtype {labels.dtype}; pass Y.astype(int) for "
            f"labels, or one-hot rows of shape ({labels.shape[0]}, {outputs})"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= outputs):
        bad = int(np.flatnonzero((labels < 0) | (labels >= outputs))[0])
        raise TargetError(
            f"{where}: class labels must be in [0, {outputs}) for {outputs} output units, "
            f"got {labels[bad]} at index {bad}"
        )
    out = np.zeros((labels.shape[0], outputs), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def _target_hint(arr: np.ndarray, batch: int, outputs: int, loss: Loss) -> str:
    """How to fix the commonest wrong target shape: labels or a flat column."""
    if arr.shape != (batch,):
        return ""
    if outputs == 1:
        return "; for one output per row pass Y.reshape(-1, 1)"
    if arr.dtype.kind in "iu":
        return (
            f"; {loss.name} takes no class labels: one-hot encode them, "
            f"np.eye({outputs})[Y], or use softmax_cross_entropy, which accepts them"
        )
    return ""


def positive_int(value: object, name: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DTypeError(f"{where}: {name} must be an int, got {type(value).__name__} {value!r}")
    if int(value) < minimum:
        raise ConfigError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def seed(value: object, where: str) -> int | None:
    """A seed for ``numpy.random.default_rng``: None or a non-negative int."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DTypeError(f"{where}: seed must be an int or None, got {type(value).__name__}")
    if int(value) < 0:
        raise ConfigError(f"{where}: seed must be >= 0 (or None), got {value}")
    return int(value)


def real(
    value: object,
    name: str,
    where: str,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DTypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    shown: object = value
    try:
        v = shown = float(value)
    except OverflowError:  # an int beyond every float, such as 2**1100: refused below
        v = math.nan
    ok = (
        math.isfinite(v)
        and (v > low if low_open else v >= low)
        and (v < high if high_open else v <= high)
    )
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open or high == math.inf else "]"
        raise ConfigError(
            f"{where}: {name} must be finite and in {lo}{low}, {high}{hi}, got {shown}"
        )
    return v


def name_list(names: object, name: str, where: str) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise DTypeError(
            f"{where}: {name} must be a list of names, one per layer, got {type(names).__name__}"
        )
    return list(names)
