"""Argument validation shared by the oracle's entry points.

Every entry point casts what it is given to float64 NumPy arrays here, once, so
float32 parameters of a float32 network are seen at their exact float64 values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import numpy as np
import numpy.typing as npt

from oracle.functions import ACTIVATION_NAMES, LOSS_NAMES

F64 = npt.NDArray[np.float64]


class Network(NamedTuple):
    """A validated network in float64: ``weights[l] (n_l, n_{l+1})``, ``biases[l] (n_{l+1},)``."""

    weights: tuple[F64, ...]
    biases: tuple[F64, ...]
    activations: tuple[str, ...]
    loss: str

    @property
    def widths(self) -> tuple[int, ...]:
        """``(n_in, n_1, ..., n_out)``."""
        return (self.weights[0].shape[0], *(w.shape[1] for w in self.weights))


class X64Disabled(RuntimeError):
    """jax_enable_x64 was switched off after the oracle was imported."""


def require_x64(who: str) -> None:
    """The oracle computes in float64; with jax_enable_x64 off, JAX would silently compute
    in float32 (a float32 oracle makes float64 targets look wrong), so it refuses."""
    if not jax.config.read("jax_enable_x64"):  # type: ignore[no-untyped-call]
        raise X64Disabled(
            f"{who}: jax_enable_x64 is off, so JAX would compute in float32; it was switched "
            "off after `import oracle` (jax.config.update('jax_enable_x64', True) restores it)"
        )


def as_f64(who: str, what: str, x: object, ndim: int) -> F64:
    """``x`` as a fresh float64 array of ``ndim`` dimensions (ints and float32 cast exactly)."""
    if isinstance(x, np.ma.MaskedArray) and np.ma.is_masked(x):  # asarray drops the mask
        raise TypeError(f"{who}: {what} is a masked array with masked entries; pass .filled()")
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"{who}: {what} must be a real float or int array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{who}: {what} must have {ndim} dimensions, got shape {arr.shape}")
    # np.array (not asarray) so that nothing the caller owns is ever aliased.
    return np.array(arr, dtype=np.float64)


def check_activation(who: str, name: str) -> str:
    require_x64(who)
    if name not in ACTIVATION_NAMES:
        raise ValueError(
            f"{who}: unknown activation {name!r}; valid names are {', '.join(ACTIVATION_NAMES)}"
        )
    return name


def check_loss(who: str, name: str) -> str:
    require_x64(who)
    if name not in LOSS_NAMES:
        raise ValueError(f"{who}: unknown loss {name!r}; valid names are {', '.join(LOSS_NAMES)}")
    return name


def check_network(
    who: str,
    weights: Sequence[object],
    biases: Sequence[object],
    activations: Sequence[str],
    loss: str,
) -> Network:
    """Validate names and shapes; return float64 copies."""
    require_x64(who)
    if isinstance(activations, str):
        raise TypeError(
            f"{who}: activations must be a sequence of names, got the string {activations!r}"
        )
    if len(weights) == 0:
        raise ValueError(f"{who}: a network needs at least one layer, got no weights")
    if not len(weights) == len(biases) == len(activations):
        raise ValueError(
            f"{who}: weights, biases and activations must have one entry per layer, got "
            f"{len(weights)}, {len(biases)} and {len(activations)}"
        )
    acts = tuple(check_activation(who, a) for a in activations)
    check_loss(who, loss)
    ws = tuple(as_f64(who, f"weights[{i}]", w, 2) for i, w in enumerate(weights))
    bs = tuple(as_f64(who, f"biases[{i}]", b, 1) for i, b in enumerate(biases))
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        if 0 in w.shape:
            raise ValueError(f"{who}: weights[{i}] must have non-zero dimensions, got {w.shape}")
        if i > 0 and w.shape[0] != ws[i - 1].shape[1]:
            raise ValueError(
                f"{who}: weights[{i}] must have shape ({ws[i - 1].shape[1]}, n) to follow "
                f"weights[{i - 1}] {ws[i - 1].shape}, got {w.shape}"
            )
        if b.shape != (w.shape[1],):
            raise ValueError(
                f"{who}: biases[{i}] must have shape ({w.shape[1]},) to match weights[{i}], "
                f"got {b.shape}"
            )
    return Network(ws, bs, acts, loss)


def check_inputs(who: str, net: Network, X: object) -> F64:
    """``X (B, n_in)`` as float64, B >= 1."""
    x = as_f64(who, "X", X, 2)
    n_in = net.widths[0]
    if x.shape[1] != n_in or x.shape[0] == 0:
        raise ValueError(
            f"{who}: X must have shape (B, {n_in}) with B >= 1 to match weights[0], got {x.shape}"
        )
    return x


def check_targets(who: str, net: Network, x: F64, Y: object) -> F64:
    """``Y (B, n_out)`` as float64, same B as ``x``."""
    y = as_f64(who, "Y", Y, 2)
    want = (x.shape[0], net.widths[-1])
    if y.shape != want:
        raise ValueError(
            f"{who}: Y must have shape {want} to match X and the output layer, got {y.shape}"
        )
    return y


def check_dense(
    who: str, x: object, w: object, b: object, upstream: object
) -> tuple[F64, F64, F64, F64]:
    """``x (B, I)``, ``w (I, O)``, ``b (O,)``, ``upstream (B, O)``, non-empty, as float64."""
    require_x64(who)
    xx, ww, bb = as_f64(who, "x", x, 2), as_f64(who, "w", w, 2), as_f64(who, "b", b, 1)
    g = as_f64(who, "upstream", upstream, 2)
    B, n_in = xx.shape
    n_out = ww.shape[1]
    if (
        ww.shape[0] != n_in
        or bb.shape != (n_out,)
        or g.shape != (B, n_out)
        or 0 in (B, n_in, n_out)
    ):
        raise ValueError(
            f"{who}: need x (B, I), w (I, O), b (O,), upstream (B, O), non-empty; got x "
            f"{xx.shape}, w {ww.shape}, b {bb.shape}, upstream {g.shape}"
        )
    return xx, ww, bb, g
