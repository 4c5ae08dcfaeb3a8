"""Dispatch now, wait later: backprop on a worker thread while the caller computes its own.

JAX's CPU backend runs an executable on the calling thread before the call returns (its
asynchronous dispatch is for accelerators: jax-ml/jax#20515), so "dispatch now, wait later"
needs a thread of our own.  XLA releases the GIL while it runs, so the work proceeds on the
second core while the caller computes.  One worker keeps the order of submission and never
runs two bucket executables against each other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy.typing as npt

from oracle.fast.network import run_core
from oracle.fast.packing import checked_pack, unpack
from oracle.network import OracleResult

__all__ = ["PendingResult", "backprop_fast_async", "backprop_many"]

_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oracle-fast")


def _new_worker_after_fork() -> None:
    # A forked child inherits the executor but not its thread: work submitted there would
    # wait forever.  (JAX itself is not fork-safe either; this keeps our part from hanging.)
    global _WORKER
    _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oracle-fast")


os.register_at_fork(after_in_child=_new_worker_after_fork)


class PendingResult:
    """A dispatched :func:`backprop_fast_async` computation; :meth:`result` waits for it."""

    __slots__ = ("_B", "_future", "_widths")

    def __init__(self, future: Future[tuple[Any, ...]], widths: tuple[int, ...], B: int) -> None:
        self._future = future
        self._widths = widths
        self._B = B

    def result(self) -> OracleResult:
        """Block until XLA has finished, then slice the real parts out (float64 NumPy)."""
        return unpack(self._future.result(), self._widths, self._B)


def backprop_fast_async(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike],
    activations: Sequence[str],
    loss: str,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
) -> PendingResult:
    """:func:`oracle.fast.backprop_fast`, returning as soon as XLA has the work.

    The executable runs on a worker thread, so the caller can compute its own
    backprop on the other core meanwhile and call ``.result()`` afterwards.
    Arguments are validated (errors raise here, in the caller) and copied into the
    padded bucket before returning, so mutating them later is safe.
    """
    packed, widths, B = checked_pack(weights, biases, activations, loss, X, Y)
    return PendingResult(_WORKER.submit(run_core, packed), widths, B)


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
