"""One training step's gradient (forward + backward): the size ladder and the step ladder.

The size ladder times refbp, the JAX and PyTorch peers and the three-GEMM bound at every
network size (tanh, identity, mse); the step ladder times refbp and the peers for every
hidden activation and every loss at three sizes (see ``cases``).  Every benchmark records
what it is in ``extra_info`` (kind, impl, sizes, batch, dtype, GEMM flops, and for the
ladder the activations and loss), which is what ``refbp bench`` reads to build its report;
refbp's size-ladder rows also record the peak-memory account of one backprop.  Run with
``python -m pytest tests/bench -m bench`` (or ``refbp bench``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.bench import cases
from tests.bench.cases import Case, Config

pytestmark = pytest.mark.bench

IMPLS = ("refbp", "jax", "torch", "bound")
PEER_IMPLS = ("refbp", "jax", "torch")
DTYPE_NAMES = tuple(np.dtype(dt).name for dt in cases.DTYPES)
# Case outermost, implementation innermost: the timings of one row run back to back, so a
# burst of load from elsewhere on the machine hits one row, not one implementation; with
# several passes the row's implementations take turns (refbp, jax, ..., refbp, jax, ...).
PARAMS = [
    pytest.param(case, dtype, impl, k, id=f"{case.label}-{dtype}-{impl}{suffix}")
    for case in cases.cases()
    for dtype in DTYPE_NAMES
    for k, suffix in cases.pass_ids()
    for impl in IMPLS
]
LADDER = [
    pytest.param(
        case, config, dtype, impl, k, id=f"{case.label}-{config.label}-{dtype}-{impl}{suffix}"
    )
    for case in cases.ladder_cases()
    for config in cases.ladder_configs()
    for dtype in DTYPE_NAMES
    for k, suffix in cases.pass_ids()
    for impl in PEER_IMPLS
]
# The ladder has 15 rows a size: shorter benchmarks than the size ladder's.
LADDER_TIMING = cases.per_pass(3, 0.05) if cases.quick() else cases.per_pass(5, 0.3)


def _describe(benchmark: Any, case: Case, dtype: str, impl: str, kind: str, k: int) -> None:
    benchmark.group = f"{kind} {case.label} {dtype}"
    benchmark.extra_info.update(
        kind=kind,
        impl=impl,
        **{"pass": k},
        case=case.label,
        sizes=list(case.sizes),
        batch=case.batch,
        dtype=dtype,
        gemm_flops=case.gemm_flops,
    )


def _warm(fn: Callable[[], Any], times: int = 3) -> Any:
    out = None
    for _ in range(times):
        out = fn()
    return out


def _page_faults_per_call(fn: Callable[[], Any], calls: int) -> float | None:
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


_ROWS = cases.RowCache()


def _row_step(case: Case, dtype: str, impl: str, config: Config) -> Callable[[], Any]:
    """``_step``, built once a row and implementation and kept for the row's other passes."""
    fn, _ = _ROWS.get((case, config, dtype), impl, lambda: (_step(case, dtype, impl, config), ()))
    return fn


def _step(case: Case, dtype: str, impl: str, config: Config) -> Callable[[], Any]:
    """The warmed-up step of ``impl``, its result's dtypes checked (a float32 result from
    a float64 run, or the reverse, would time the wrong computation)."""
    dt = np.dtype(dtype).type
    if impl in cases.KNOWN_PEERS and impl not in cases.peers():
        pytest.skip(f"peer {impl} not selected (REFBP_BENCH_PEERS={','.join(cases.peers())})")
    if impl == "refbp":
        net, X, Y = cases.make_problem(case, dt, config=config)

        def step() -> Any:
            return net.backprop(X, Y)

        bp = _warm(step)
        assert bp.grad_weights[0].dtype == dt and bp.grad_input.dtype == dt
    elif impl == "jax":
        pytest.importorskip("jax")
        step = cases.jax_step(case, dt, config)
        loss, (grads, gx) = _warm(step)
        # x64 is on, so a float32 gradient here proves float32 stayed float32 (and vice versa)
        assert grads[0][0].dtype == dt and gx.dtype == dt and loss.dtype == dt
    elif impl == "torch":
        pytest.importorskip("torch")
        step = cases.torch_step(case, dt, config)
        loss, grads = _warm(step)
        assert str(grads[0].dtype) == f"torch.{dtype}" and str(grads[-1].dtype) == f"torch.{dtype}"
    else:
        step = cases.gemm_bound_step(case, dt)
        _warm(step)
    return step


@pytest.mark.parametrize(("case", "dtype", "impl", "k"), PARAMS)
def test_step(benchmark: Any, case: Case, dtype: str, impl: str, k: int) -> None:
    _describe(benchmark, case, dtype, impl, "step", k)
    step = _row_step(case, dtype, impl, cases.TANH_MSE)
    benchmark(step)
    benchmark.extra_info["page_faults_per_call"] = _page_faults_per_call(step, calls=3)
    if impl == "refbp" and k == 1:  # the same account in every pass
        benchmark.extra_info["memory"] = cases.memory_account(case, np.dtype(dtype).type).as_dict()


@pytest.mark.benchmark(**LADDER_TIMING)
@pytest.mark.parametrize(("case", "config", "dtype", "impl", "k"), LADDER)
def test_ladder(benchmark: Any, case: Case, config: Config, dtype: str, impl: str, k: int) -> None:
    _describe(benchmark, case, dtype, impl, "ladder", k)
    benchmark.extra_info.update(hidden=config.hidden, output=config.output, loss=config.loss)
    benchmark(_row_step(case, dtype, impl, config))
