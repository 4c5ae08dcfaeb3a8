"""The issue's targets (2 cores, medians of one run) and whether a run met them."""

from __future__ import annotations

from dataclasses import dataclass

from refbp_tools.bench.model import Results

TARGET_VS_JAX = 1.0  # one training step, refbp / JAX jit
TARGET_VS_BOUND = 1.15  # one training step, refbp / the three-GEMM bound, two largest sizes
TARGET_MEMORY = 1.3  # peak memory of one backprop / what it must hold
TARGET_OPS = 2.0  # one activation or loss kernel, refbp / JAX jit
AIM_OPS = 1.25
BOUND_TARGET_CASES = 2  # the bound target applies to the two largest networks


@dataclass(frozen=True)
class TargetCheck:
    name: str
    met: bool | None  # None: nothing was measured that the target applies to
    worst: str  # "1.63 ([2,3,1]B=4 float64)", with " †" when measured under contention


Candidate = tuple[float, str, bool]  # (value, where, contended)


def _worst_of(candidates: list[Candidate], limit: float, name: str) -> TargetCheck:
    if not candidates:
        return TargetCheck(name, None, "not measured")
    value, where, contended = max(candidates, key=lambda c: (c[0], c[1]))
    return TargetCheck(name, value <= limit, f"{value:.2f} ({where})" + (" †" if contended else ""))


def _steps_vs(res: Results, impl: str, largest_only: bool) -> list[Candidate]:
    flops = sorted({row.gemm_flops for row in res.steps})
    largest = set(flops[-BOUND_TARGET_CASES:]) if not res.quick else set()
    return [
        (r, f"{row.case} {row.dtype}", row.contended(("refbp", impl)))
        for row in res.steps
        if (not largest_only or row.gemm_flops in largest)
        if (r := row.ratio(impl)) is not None
    ]


def _ladder_vs_jax(res: Results) -> list[Candidate]:
    return [
        (r, f"{row.case} {row.config} {row.dtype}", row.contended(("refbp", "jax")))
        for row in res.ladder
        if (r := row.ratio("jax")) is not None
    ]


def _ops_vs_jax(res: Results) -> list[Candidate]:
    return [
        (r, f"{op.name} {phase} {dtype}", cell.contended(("refbp", "jax")))
        for op in res.ops
        for (phase, dtype), cell in sorted(op.cells.items())
        if (r := cell.ratio("jax")) is not None
    ]


def check_targets(res: Results) -> list[TargetCheck]:
    """Each target with its worst row; contended rows count like the others, marked †."""
    memory = [
        (float(row.memory["ratio"]), f"{row.case} {row.dtype}", False)
        for row in res.steps
        if row.memory is not None
    ]
    return [
        _worst_of(
            _steps_vs(res, "jax", largest_only=False),
            TARGET_VS_JAX,
            f"refbp / JAX jit ≤ {TARGET_VS_JAX:.2f} at every size and dtype",
        ),
        _worst_of(
            _steps_vs(res, "bound", largest_only=True),
            TARGET_VS_BOUND,
            f"refbp ≤ {TARGET_VS_BOUND:.2f} × the three-GEMM bound at the two largest sizes",
        ),
        _worst_of(
            memory,
            TARGET_MEMORY,
            f"peak memory of one backprop ≤ {TARGET_MEMORY} × what it must hold",
        ),
        _worst_of(
            _ladder_vs_jax(res),
            TARGET_VS_JAX,
            f"step ladder: refbp / JAX jit ≤ {TARGET_VS_JAX:.2f} for every activation and loss",
        ),
        _worst_of(
            _ops_vs_jax(res),
            TARGET_OPS,
            f"every activation and loss kernel ≤ {TARGET_OPS:.0f} × JAX jit (aim {AIM_OPS})",
        ),
    ]
