"""The floor under the kernel microbenchmarks: each transcendental function the kernels
call (``np.exp``, ``np.expm1``, ``np.log1p``, ``np.tanh``) and one copy of the same (B, n)
array, per dtype.  A kernel that needs k passes over memory cannot beat k copies, and one
that needs a transcendental function cannot beat that function: the report prints them
beside the kernels so that a ratio to JAX can be read against what NumPy allows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from refbp_tools.bench.model import FLOORS
from tests.bench import cases

pytestmark = pytest.mark.bench

DTYPE_NAMES = tuple(np.dtype(dt).name for dt in cases.DTYPES)


@pytest.mark.parametrize(
    ("name", "dtype", "k"),
    [
        pytest.param(name, dtype, k, id=f"{name}-{dtype}{suffix}")
        for name in FLOORS
        for dtype in DTYPE_NAMES
        for k, suffix in cases.pass_ids()
    ],
)
def test_floor(benchmark: Any, name: str, dtype: str, k: int) -> None:
    shape = cases.op_shape()
    benchmark.group = f"floor {shape[0]}x{shape[1]} {dtype}"
    benchmark.extra_info.update(kind="floor", impl="numpy", name=name, dtype=dtype,
                                shape=list(shape), **{"pass": k})  # fmt: skip
    z, _ = cases.op_inputs(dtype)
    out = np.empty_like(z)
    if name == "copy":
        benchmark(np.copyto, out, z)
    elif name == "log1p":  # on softplus's argument exp(−|z|), in (0, 1]
        benchmark(np.log1p, np.exp(-np.abs(z)), out=out)
    else:
        benchmark(getattr(np, name), z, out=out)
    assert out.dtype == z.dtype and np.isfinite(out).all()
