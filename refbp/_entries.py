"""The registries' public door: an entry's functions called directly check their arguments.

``ACTIVATIONS[name].forward(z)`` or ``LOSSES[name].value(a, y)`` called by a user gets the
checks the network makes before it calls the same forms: real numeric arrays (lists are
converted, bool and integers computed in float64, float16 refused), one shape for all the
arguments (a (B, 1) output against (B,) targets would broadcast to (B, B) and give a
plausible, wrong loss), two dimensions where the function reads rows, finite entries.  As
in the network, floating-point flags are not trusted and the result is: the form runs with
NumPy's warnings off and a non-finite result from finite arguments is a NumericalError.

The network calls the bare forms (:func:`bare`) on arrays it has checked once already.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = ["bare", "call_checked", "checked"]

F = TypeVar("F", bound=Callable[..., Any])


def bare(fn: F) -> F:
    """The form behind a :func:`checked` function (``fn`` itself if it is not one)."""
    inner: F = getattr(fn, "__wrapped__", fn)
    return inner


def _argument(x: object, name: str, where: str) -> np.ndarray:
    from refbp._validate import as_numeric_array, check_finite
    from refbp.errors import DTypeError

    arr = as_numeric_array(x, name, where)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in (np.float32, np.float64):
        raise DTypeError(f"{where}: {name} must be float32 or float64, got {arr.dtype}")
    check_finite(arr, name, where)
    return arr


def call_checked(
    fn: Callable[..., Any], where: str, names: tuple[str, ...], rows: bool, args: tuple[object, ...]
) -> Any:
    """``fn(*args)`` with the arguments ``names`` checked as the module docstring says.

    ``rows``: the arguments must be (B, O) matrices (a row-wise function, or a loss over a
    batch); otherwise any shape, the same for all of them."""
    from refbp._validate import all_finite
    from refbp.errors import NumericalError, ShapeError

    if len(args) != len(names):
        raise TypeError(f"{where}: takes {len(names)} arrays ({', '.join(names)}), got {len(args)}")
    arrays = [_argument(x, n, where) for x, n in zip(args, names, strict=True)]
    shapes = [a.shape for a in arrays]
    if rows and arrays[0].ndim != 2:
        raise ShapeError(f"{where}: {names[0]} must be a 2-D (B, O) array, got shape {shapes[0]}")
    if any(s != shapes[0] for s in shapes):
        said = ", ".join(f"{n} {s}" for n, s in zip(names, shapes, strict=True))
        raise ShapeError(f"{where}: the arrays must have one shape, got {said}")
    with np.errstate(all="ignore"):
        out = fn(*arrays)
    if not all_finite(np.asarray(out)):
        raise NumericalError(
            f"{where}: the result is not finite although every argument is: they lie "
            f"outside the function's domain or are too large for {np.result_type(*arrays)}"
        )
    return out


def checked(fn: F, where: str, names: tuple[str, ...], *, rows: bool) -> F:
    """``fn`` called through :func:`call_checked`; :func:`bare` gives ``fn`` back."""

    @functools.wraps(fn)
    def run(*args: object) -> Any:
        return call_checked(fn, where, names, rows, args)

    return run  # type: ignore[return-value]
