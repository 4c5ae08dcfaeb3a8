"""Microbenchmarks of every registry entry: activations forward and backward, losses value
and gradient, on one (B, n) array per dtype (``cases.op_shape()``: (256, 1024), or (64, 256)
with REFBP_BENCH_QUICK=1), each timed for refbp and for ``jax.jit`` of the oracle's function
of the same name, on the same arrays, so that ``refbp bench`` reports every kernel as a
multiple of JAX.

Driven by ``refbp.ACTIVATIONS`` and ``refbp.LOSSES``: a new entry is benchmarked without
touching this file.  Inputs are in the range where the functions do real work (z ~ N(0, 2),
so tanh and sigmoid are not all saturated; ``cases.op_inputs``); targets are valid for each
loss (``cases.loss_inputs``).  JAX's backward is ``jax.vjp`` from z, which computes the
forward again (refbp's backward is handed a); its gradient is ``jax.grad`` of the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import refbp
from tests.bench import cases

pytestmark = pytest.mark.bench

DTYPE_NAMES = tuple(np.dtype(dt).name for dt in cases.DTYPES)
IMPLS = ("refbp", "jax")
Timed = tuple[Callable[..., Any], tuple[Any, ...]]
_ROWS = cases.RowCache()


def _params(names: list[str], phases: tuple[str, str]) -> list[Any]:
    # a row's implementations back to back, and with several passes taking turns
    return [
        pytest.param(name, phase, dtype, impl, k, id=f"{name}-{phase}-{dtype}-{impl}{suffix}")
        for name in names
        for phase in phases
        for dtype in DTYPE_NAMES
        for k, suffix in cases.pass_ids()
        for impl in IMPLS
    ]


def _describe(benchmark: Any, kind: str, name: str, phase: str, dtype: str, impl: str,
              k: int) -> None:  # fmt: skip
    shape = cases.op_shape()
    benchmark.group = f"{kind} {phase} {shape[0]}x{shape[1]} {dtype}"
    benchmark.extra_info.update(kind=kind, impl=impl, name=name, phase=phase, dtype=dtype,
                                shape=list(shape), **{"pass": k})  # fmt: skip


def _jax(fn: Callable[..., Any], *args: np.ndarray) -> Timed:
    if "jax" not in cases.peers():
        pytest.skip("peer jax not selected")
    jnp = pytest.importorskip("jax.numpy")
    arrays = tuple(jnp.asarray(a) for a in args)
    for _ in range(3):  # compile, then warm
        fn(*arrays)
    return fn, arrays


def _activation(name: str, phase: str, dtype: str, impl: str) -> Timed:
    z, g = cases.op_inputs(dtype)
    if impl == "jax":
        from tests.bench.peers import jax_activation

        return _jax(jax_activation(name, phase), *((z,) if phase == "forward" else (z, g)))
    forward, backward = refbp.ACTIVATIONS[name].functions  # what MLP runs: the kernels
    # built inside the test's np.errstate, as the kernels run in MLP
    return (forward, (z,)) if phase == "forward" else (backward, (z, forward(z), g))


def _loss(name: str, phase: str, dtype: str, impl: str) -> Timed:
    a, y = cases.loss_inputs(name, dtype)
    if impl == "jax":
        from tests.bench.peers import jax_loss

        return _jax(jax_loss(name, phase), a, y)
    value, grad = refbp.LOSSES[name].functions  # what MLP runs: the kernels
    return (value if phase == "value" else grad), (a, y)


@pytest.mark.parametrize(("name", "phase", "dtype", "impl", "k"),
                         _params(sorted(refbp.ACTIVATIONS), ("forward", "backward")))  # fmt: skip
def test_activation(benchmark: Any, name: str, phase: str, dtype: str, impl: str, k: int) -> None:
    _describe(benchmark, "activation", name, phase, dtype, impl, k)
    with np.errstate(all="ignore"):  # as MLP runs them (it checks results, not flags)
        fn, args = _ROWS.get(
            (name, phase, dtype), impl, lambda: _activation(name, phase, dtype, impl)
        )
        out = benchmark(fn, *args)
    assert out.dtype == np.dtype(dtype) and out.shape == cases.op_shape()


@pytest.mark.parametrize(("name", "phase", "dtype", "impl", "k"),
                         _params(sorted(refbp.LOSSES), ("value", "grad")))  # fmt: skip
def test_loss(benchmark: Any, name: str, phase: str, dtype: str, impl: str, k: int) -> None:
    _describe(benchmark, "loss", name, phase, dtype, impl, k)
    with np.errstate(all="ignore"):  # as MLP runs them (it checks results, not flags)
        fn, args = _ROWS.get((name, phase, dtype), impl, lambda: _loss(name, phase, dtype, impl))
        out = benchmark(fn, *args)
    assert out.dtype == np.dtype(dtype)
