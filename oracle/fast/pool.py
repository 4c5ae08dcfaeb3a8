"""Dispatch now, wait later: backprop handed to XLA while the caller computes its own.

JAX's CPU backend dispatches asynchronously: a jitted call returns once XLA has the work,
which then runs on XLA's own threads (on the second core) while the caller computes; the
results are awaited when read.  Measured here (jax 0.10): eight calls of the 6×64×64
bucket dispatched in ~1.6 ms, then ready at once after 33 ms of Python.  An earlier
version ran each call on a Python worker thread instead, for JAX versions that executed on
the calling thread (jax-ml/jax#20515); under a busy main thread that worker spent most of
its time waiting for the GIL: 2.4 ms a network in a quick-profile run against 0.6-0.9 ms
alone (tools/suite_phases.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy.typing as npt

from oracle._config import oracle_numerics
from oracle.fast.core import core_jit
from oracle.fast.host import to_host
from oracle.fast.packing import checked_pack, unpack
from oracle.network import OracleResult

__all__ = ["PendingResult", "backprop_fast_async", "backprop_many"]


class PendingResult:
    """A dispatched :func:`backprop_fast_async` computation; :meth:`result` waits for it."""

    __slots__ = ("_B", "_raw", "_widths")

    def __init__(self, raw: tuple[Any, ...], widths: tuple[int, ...], B: int) -> None:
        self._raw = raw  # XLA's results, possibly still being computed
        self._widths = widths
        self._B = B

    def result(self) -> OracleResult:
        """Block until XLA has finished, then slice the real parts out (float64 NumPy)."""
        return unpack(to_host(self._raw), self._widths, self._B)


@oracle_numerics
def backprop_fast_async(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
) -> PendingResult:
    """:func:`oracle.fast.backprop_fast`, returning as soon as XLA has the work.

    The executable runs on XLA's threads, so the caller can compute its own backprop on
    the other core meanwhile and call ``.result()`` afterwards.  Arguments are validated
    (errors raise here, in the caller) and copied into the padded bucket before returning,
    so mutating them later is safe.
    """
    packed, widths, B = checked_pack(weights, biases, activations, loss, X, Y)
    return PendingResult(tuple(core_jit(*packed)), widths, B)


@oracle_numerics
def backprop_many(
    cases: Sequence[
        tuple[Sequence[npt.ArrayLike], Sequence[npt.ArrayLike], npt.ArrayLike, npt.ArrayLike]
    ],
    activations: Sequence[str],
    loss: str,
) -> list[OracleResult]:
    """One :class:`OracleResult` per case ``(weights, biases, X, Y)``, all of one structure.

    For a network and relatively perturbed copies of its parameters and data (a
    conditioning estimate).  Every case is dispatched before any is awaited, so
    XLA works through them while Python packs the next.  This reuses
    :func:`oracle.fast.backprop_fast`'s executable: a ``jax.vmap`` over the cases was
    measured to cost an extra compile of 3-10 s per number of cases for no faster calls at
    K = 2-3.  Cases may differ in batch size; each is validated like
    :func:`oracle.fast.backprop_fast`'s arguments.
    """
    who = "oracle.backprop_many"
    if len(cases) == 0:
        raise ValueError(f"{who}: need at least one case, got none")
    pending = []
    for k, case in enumerate(cases):
        if len(case) != 4:
            raise ValueError(
                f"{who}: cases[{k}] must be (weights, biases, X, Y), got {len(case)} items"
            )
        w, bias, X, Y = case
        pending.append(backprop_fast_async(w, bias, activations, loss, X, Y))
    return [p.result() for p in pending]
