"""One training step's gradient (forward + backward) per network size and dtype.

Implementations: refbp, the JAX and PyTorch peers, and the three-GEMM bound (see
``cases``).  Every benchmark records what it is in ``extra_info`` (kind, impl, sizes,
batch, dtype, GEMM flops), which is what ``refbp bench`` reads to build its report; refbp's
also records the peak-memory account of one backprop.  Run with
``python -m pytest tests/bench -m bench`` (or ``refbp bench``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.bench import cases
from tests.bench.cases import Case

pytestmark = pytest.mark.bench

IMPLS = ("refbp", "jax", "torch", "bound")
# Case outermost, implementation innermost: the four timings of one case run back to back,
# so a burst of load from elsewhere on the machine hits one case, not one implementation.
PARAMS = [
    pytest.param(case, np.dtype(dt).name, impl, id=f"{case.label}-{np.dtype(dt).name}-{impl}")
    for case in cases.cases()
    for dt in cases.DTYPES
    for impl in IMPLS
]


def _describe(benchmark: Any, case: Case, dtype: str, impl: str) -> None:
    benchmark.group = f"step {case.label} {dtype}"
    benchmark.extra_info.update(
        kind="step",
        impl=impl,
        case=case.label,
        sizes=list(case.sizes),
        batch=case.batch,
        dtype=dtype,
        gemm_flops=case.gemm_flops,
    )


def _warm(fn: Any, times: int = 3) -> Any:
    out = None
    for _ in range(times):
        out = fn()
    return out


def _page_faults_per_call(fn: Any, calls: int) -> float | None:
    """Minor page faults per call: memory the allocator had handed back to the kernel and
    takes again.  On a VM each costs a few µs, so they explain much of the variation
    between runs (glibc's trimming depends on the allocation history)."""
    try:
        import resource
    except ImportError:  # not on Unix
        return None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


@pytest.mark.parametrize(("case", "dtype", "impl"), PARAMS)
def test_step(benchmark: Any, case: Case, dtype: str, impl: str) -> None:
    dt = np.dtype(dtype).type
    if impl in cases.KNOWN_PEERS and impl not in cases.peers():
        pytest.skip(f"peer {impl} not selected (REFBP_BENCH_PEERS={','.join(cases.peers())})")
    _describe(benchmark, case, dtype, impl)
    if impl == "refbp":
        net, X, Y = cases.make_problem(case, dt)

        def step() -> Any:
            return net.backprop(X, Y)

        bp = _warm(step)
        assert bp.grad_weights[0].dtype == dt and bp.grad_input.dtype == dt
    elif impl == "jax":
        pytest.importorskip("jax")
        step = cases.jax_step(case, dt)
        loss, (grads, gx) = _warm(step)
        # x64 is on, so a float32 gradient here proves float32 stayed float32 (and vice versa)
        assert grads[0][0].dtype == dt and gx.dtype == dt and loss.dtype == dt
    elif impl == "torch":
        pytest.importorskip("torch")
        step = cases.torch_step(case, dt)
        loss, grads = _warm(step)
        assert str(grads[0].dtype) == f"torch.{dtype}"
    else:
        step = cases.gemm_bound_step(case, dt)
        _warm(step)
    benchmark(step)
    benchmark.extra_info["page_faults_per_call"] = _page_faults_per_call(step, calls=3)
    if impl == "refbp":
        benchmark.extra_info["memory"] = cases.memory_account(case, dt).as_dict()
