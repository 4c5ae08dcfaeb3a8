"""Synthetic pytest-benchmark JSON for ``refbp bench``'s report code (no timing anywhere).

``synthetic_run()`` has every kind of row the benchmark modules write: the size ladder
(refbp, JAX, PyTorch, the bound, refbp's memory account), the step ladder (two sizes, three
configurations, refbp and JAX) and the kernels (two activations, one loss, refbp and JAX).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from refbp_tools.bench.model import IMPLS

CASES = {
    "[2,3,1]B=4": ([2, 3, 1], 4, 108),
    "[64,64,10]B=32": ([64, 64, 10], 32, 909_312),
    "[1024,1024,10]B=256": ([1024, 1024, 10], 256, 1_626_341_376),
}
# refbp, jax, torch, bound medians (seconds) per case; the dtype scales them.
MEDIANS = {
    "[2,3,1]B=4": (20e-6, 16e-6, 120e-6, 6e-6),  # refbp / JAX = 1.25: the JAX target is missed
    "[64,64,10]B=32": (40e-6, 80e-6, 200e-6, 36e-6),
    "[1024,1024,10]B=256": (30e-3, 33e-3, 35e-3, 28e-3),  # 1.07 × the bound: met
}
# the step ladder: (hidden, output, loss) -> refbp / JAX
LADDER = {
    ("tanh", "identity", "mse"): 0.9,
    ("gelu", "identity", "mse"): 1.5,
    ("tanh", "sigmoid", "binary_cross_entropy"): 1.1,
}
LADDER_CASES = ("[2,3,1]B=4", "[1024,1024,10]B=256")
# the kernels: name -> refbp / JAX
OPS = {("activation", "tanh"): 0.7, ("activation", "relu"): 2.5, ("loss", "mse"): 1.2}
MEMORY = {"parameters": 1000, "gradients": 1000, "z": 400, "a": 300, "deltas": 400,
          "grad_input": 100, "must_hold": 3200, "peak": 3300, "ratio": 3300 / 3200}  # fmt: skip


def bench_entry(name: str, extra: dict[str, Any], median: float) -> dict[str, Any]:
    return {
        "group": "g",
        "name": name,
        "fullname": f"tests/bench/x.py::{name}",
        "extra_info": extra,
        "stats": {"median": median, "min": median * 0.9, "rounds": 10},
    }


def _steps(dtype: str, dscale: float, scale: float) -> list[dict[str, Any]]:
    out = []
    for case, (sizes, batch, flops) in CASES.items():
        for impl, median in zip(IMPLS, MEDIANS[case], strict=True):
            extra: dict[str, Any] = {
                "kind": "step", "impl": impl, "case": case, "sizes": sizes, "batch": batch,
                "dtype": dtype, "gemm_flops": flops, "others_cpu": 0.02,
                "page_faults_per_call": 3.0,
            }  # fmt: skip
            t = median * dscale * (scale if impl == "refbp" else 1.0)
            if impl == "refbp":
                extra["memory"] = dict(MEMORY)
            out.append(bench_entry(f"test_step[{case}-{dtype}-{impl}]", extra, t))
    return out


def _ladder(dtype: str, dscale: float, scale: float) -> list[dict[str, Any]]:
    out = []
    for case in LADDER_CASES:
        sizes, batch, flops = CASES[case]
        for (hidden, output, loss), ratio in LADDER.items():
            for impl in ("refbp", "jax"):
                extra = {"kind": "ladder", "impl": impl, "case": case, "sizes": sizes,
                         "batch": batch, "dtype": dtype, "gemm_flops": flops, "hidden": hidden,
                         "output": output, "loss": loss, "others_cpu": 0.03}  # fmt: skip
                t = MEDIANS[case][1] * dscale * (ratio * scale if impl == "refbp" else 1.0)
                name = f"test_ladder[{case}-{hidden}-{output}-{loss}-{dtype}-{impl}]"
                out.append(bench_entry(name, extra, t))
    return out


def _ops(dtype: str, scale: float) -> list[dict[str, Any]]:
    out = []
    for (kind, name), ratio in OPS.items():
        for phase in ("forward", "backward") if kind == "activation" else ("value", "grad"):
            for impl in ("refbp", "jax"):
                extra = {"kind": kind, "impl": impl, "name": name, "phase": phase,
                         "dtype": dtype, "shape": [256, 1024], "others_cpu": 0.01}  # fmt: skip
                t = 1e-4 * (ratio * scale if impl == "refbp" else 1.0)
                test = "test_" + kind + ("" if impl == "refbp" else "_jax")
                out.append(bench_entry(f"{test}[{name}-{phase}-{dtype}]", extra, t))
    return out


def _floor(dtype: str) -> list[dict[str, Any]]:
    return [
        bench_entry(f"test_floor[{name}-{dtype}]",
                    {"kind": "floor", "impl": "numpy", "name": name, "dtype": dtype,
                     "shape": [256, 1024]}, t)
        for name, t in (("exp", 1e-4), ("copy", 3e-5))
    ]  # fmt: skip


def synthetic_run(
    scale: float = 1.0, when: str = "2026-01-01T00:00:00", quick: bool = False
) -> dict[str, Any]:
    """A run's JSON; ``scale`` multiplies refbp's times (not the peers')."""
    benchmarks = []
    for dtype, dscale in (("float32", 1.0), ("float64", 1.5)):
        benchmarks += _steps(dtype, dscale, scale) + _ladder(dtype, dscale, scale)
        benchmarks += _ops(dtype, scale) + _floor(dtype)
    blas = [{"internal_api": "openblas", "version": "0.3", "num_threads": 1,
             "architecture": "Haswell"}]  # fmt: skip
    guard = {
        "threads": 1,
        "env": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        "wait_each": 0.0,
        "busy_limit": 0.1,
        "first_pass": {"benchmarks": len(benchmarks), "contended": 0},
        "retry": None,
        "seconds": 612.3,
    }
    meta = {"quick": quick, "op_shape": [256, 1024], "cpu_count": 2,
            "versions": {"numpy": "2.0", "jax": "0.1"}, "blas": blas,
            "env": {"OPENBLAS_CORETYPE": None}, "guard": guard,
            "command": "cd /src && REFBP_BENCH_QUICK=0 /usr/bin/python -u -m pytest tests/bench"}  # fmt: skip
    return {
        "machine_info": {
            "node": "testhost",
            "cpu": {"brand_raw": "Test CPU", "count": 2},
            "refbp_bench": meta,
        },
        "datetime": when,
        "benchmarks": benchmarks,
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def bench_args(**kw: Any) -> argparse.Namespace:
    """``refbp bench``'s parsed arguments with its defaults, plots off unless asked."""
    base: dict[str, Any] = dict(
        quick=False, peers="jax,torch", compare=False, threshold=0.10, out=Path("reports"),
        from_json=None, no_plots=True, wait_idle=0.0, wait_each=0.0, compare_stat="median", threads=1,
        retries=1, retry_wait=5.0, retry_budget=300.0, malloc="keep", passes=3,
    )  # fmt: skip
    base.update(kw)
    return argparse.Namespace(**base)


def raw_entry(name: str, impl: str | None, median: float, minimum: float | None = None,
              case: str = "c", dtype: str = "float64") -> dict[str, Any]:  # fmt: skip
    """A bare benchmark entry: ``impl`` None makes it someone else's (no extra_info)."""
    stats: dict[str, float] = {"median": median}
    if minimum is not None:
        stats["min"] = minimum
    info = {"impl": impl, "case": case, "dtype": dtype} if impl else None
    return {"name": name, "fullname": f"m.py::{name}", "stats": stats,
            **({"extra_info": info} if info else {})}  # fmt: skip
