"""JAX's side of the kernel microbenchmarks: ``jax.jit`` of each activation (forward, and
backward through ``jax.vjp``) and each loss (value, and ``jax.grad``), on the same arrays as
refbp's in test_bench_ops.py (``cases.op_inputs`` and ``cases.loss_inputs``), so that
``refbp bench`` reports every kernel as a multiple of JAX.

Driven by ``refbp.ACTIVATIONS`` and ``refbp.LOSSES``; the JAX functions are the oracle's of
the same names (``peers.jax_activation``, ``peers.jax_loss``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import refbp
from tests.bench import cases

pytestmark = pytest.mark.bench

DTYPE_NAMES = tuple(np.dtype(dt).name for dt in cases.DTYPES)


def _describe(benchmark: Any, kind: str, name: str, phase: str, dtype: str) -> None:
    shape = cases.op_shape()
    benchmark.group = f"{kind} {phase} {shape[0]}x{shape[1]} {dtype}"
    benchmark.extra_info.update(
        kind=kind, impl="jax", name=name, phase=phase, dtype=dtype, shape=list(shape)
    )


def _timed(benchmark: Any, fn: Any, *args: Any) -> Any:
    if "jax" not in cases.peers():
        pytest.skip("peer jax not selected")
    jnp = pytest.importorskip("jax.numpy")
    arrays = [jnp.asarray(a) for a in args]
    for _ in range(3):  # compile, then warm
        fn(*arrays)
    return benchmark(fn, *arrays)


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("phase", ["forward", "backward"])
@pytest.mark.parametrize("name", sorted(refbp.ACTIVATIONS))
def test_activation_jax(benchmark: Any, name: str, phase: str, dtype: str) -> None:
    _describe(benchmark, "activation", name, phase, dtype)
    pytest.importorskip("jax")
    from tests.bench.peers import jax_activation

    z, g = cases.op_inputs(dtype)
    args = (z,) if phase == "forward" else (z, g)
    out = _timed(benchmark, jax_activation(name, phase), *args)
    assert out.dtype == z.dtype and out.shape == z.shape


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("phase", ["value", "grad"])
@pytest.mark.parametrize("name", sorted(refbp.LOSSES))
def test_loss_jax(benchmark: Any, name: str, phase: str, dtype: str) -> None:
    _describe(benchmark, "loss", name, phase, dtype)
    pytest.importorskip("jax")
    from tests.bench.peers import jax_loss

    a, y = cases.loss_inputs(name, dtype)
    out = _timed(benchmark, jax_loss(name, phase), a, y)
    assert out.dtype == a.dtype
