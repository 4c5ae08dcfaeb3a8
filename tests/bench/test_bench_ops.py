"""Microbenchmarks of every registry entry: activations forward and backward, losses value
and gradient, on one (B, n) array per dtype (``cases.op_shape()``: (256, 1024), or (64, 256)
with REFBP_BENCH_QUICK=1).

Driven by ``refbp.ACTIVATIONS`` and ``refbp.LOSSES``: a new entry is benchmarked without
touching this file.  Inputs are in the range where the functions do real work (z ~ N(0, 2),
so tanh and sigmoid are not all saturated); targets are valid for each loss.
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
        kind=kind, impl="refbp", name=name, phase=phase, dtype=dtype, shape=list(shape)
    )


def _inputs(dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = (2.0 * rng.standard_normal(cases.op_shape())).astype(dtype)
    g = rng.standard_normal(cases.op_shape()).astype(dtype)
    return z, g


def _targets(kind: str, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind == "real":
        return rng.standard_normal(a.shape).astype(a.dtype)
    if kind == "unit_interval":
        return rng.uniform(0.0, 1.0, a.shape).astype(a.dtype)
    rows = rng.uniform(0.0, 1.0, a.shape)
    return (rows / rows.sum(axis=1, keepdims=True)).astype(a.dtype)


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("phase", ["forward", "backward"])
@pytest.mark.parametrize("name", sorted(refbp.ACTIVATIONS))
def test_activation(benchmark: Any, name: str, phase: str, dtype: str) -> None:
    forward, backward = refbp.ACTIVATIONS[name].functions  # what MLP runs: the kernels
    _describe(benchmark, "activation", name, phase, dtype)
    z, g = _inputs(dtype)
    a = forward(z)
    with np.errstate(all="ignore"):  # as MLP runs them (it checks results, not flags)
        if phase == "forward":
            out = benchmark(forward, z)
        else:
            out = benchmark(backward, z, a, g)
    assert out.dtype == z.dtype and out.shape == z.shape


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("phase", ["value", "grad"])
@pytest.mark.parametrize("name", sorted(refbp.LOSSES))
def test_loss(benchmark: Any, name: str, phase: str, dtype: str) -> None:
    loss = refbp.LOSSES[name]
    _describe(benchmark, "loss", name, phase, dtype)
    rng = np.random.default_rng(1)
    z, _ = _inputs(dtype)
    # binary cross-entropy takes probabilities; every other loss takes the raw outputs
    if loss.output_activations:  # probabilities, from the first activation that makes them
        a = refbp.ACTIVATIONS[loss.output_activations[0]].forward(z)
    else:
        a = z
    y = _targets(loss.targets, a, rng)
    value, grad = loss.functions  # what MLP runs: the kernels
    with np.errstate(all="ignore"):  # as MLP runs them (it checks results, not flags)
        out = benchmark(value if phase == "value" else grad, a, y)
    assert out.dtype == a.dtype
