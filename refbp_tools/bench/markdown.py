"""bench.md: the machine and how the run was guarded, the targets, every table, the
comparison with the previous run, the plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refbp_tools.bench import sections
from refbp_tools.bench.compare import Change, regressions
from refbp_tools.bench.contention import BUSY_LIMIT, IDLE_LIMIT
from refbp_tools.bench.formatting import fmt_time, table
from refbp_tools.bench.model import IMPL_LABELS, Results
from refbp_tools.bench.targets import check_targets

_STEP = (
    "One step = one training step's gradient: forward and backward through the network, "
    "giving the loss, ∂C/∂W and ∂C/∂b of every layer and ∂C/∂X.  refbp is "
    "`net.backprop(X, Y)`; JAX is `jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))` over "
    "(params, X) (x64 enabled, arrays in the row's dtype) with `block_until_ready`; PyTorch is "
    "CPU autograd (`torch.autograd.grad` over the parameters and X); the GEMM bound is the "
    "three GEMMs per layer (x W, xᵀ δ, δ Wᵀ) alone, with NumPy on preallocated arrays.  Times "
    "are medians (pytest-benchmark); ratios are refbp's median over the other's."
)


def describe_pool(lib: dict[str, Any]) -> str:
    """One threadpoolctl entry: "openblas 0.3.31 (SkylakeX kernels, 2 threads)"."""
    name = " ".join(str(v) for v in (lib.get("internal_api"), lib.get("version")) if v)
    detail = [f"{lib['architecture']} kernels"] if lib.get("architecture") else []
    if lib.get("prefix"):
        detail.insert(0, str(lib["prefix"]))
    detail.append(f"{lib.get('num_threads')} threads")
    return f"{name} ({', '.join(detail)})"


def machine_lines(res: Results) -> list[str]:
    m, rb = res.machine, res.meta
    cpu = m.get("cpu", {})
    blas = ", ".join(describe_pool(lib) for lib in rb.get("blas", []))
    coretype = rb.get("env", {}).get("OPENBLAS_CORETYPE") or "unset"
    libs = ", ".join(f"{k} {v}" for k, v in rb.get("versions", {}).items() if v)
    others = sorted(v for row in res.steps for v in row.others.values())
    busy = (
        f"other processes used {others[0]:.0%}–{others[-1]:.0%} of the CPUs while the "
        f"size ladder was timed (median {others[len(others) // 2]:.0%})"
        if others
        else "other processes' CPU use was not recorded"
    )
    return [
        f"Run {res.datetime or '?'} on `{m.get('node', '?')}`: {cpu.get('brand_raw', '?')}, "
        f"{rb.get('cpu_count', cpu.get('count', '?'))} logical CPUs; {libs}.",
        f"BLAS: {blas or 'unknown'}; OPENBLAS_CORETYPE {coretype}; {busy}.",
    ]


def _count(rows: Sequence[Any], name: str) -> list[str]:
    """["<name> <contended> of <rows>"], or [] for a table the run did not have."""
    busy = sum(1 for r in rows if r.contended())
    return [f"{name} {busy} of {len(rows)}"] if rows else []


def _retry_sentence(retry: dict[str, Any] | None, first: dict[str, Any]) -> str:
    if not first:
        return ""
    text = (
        f"  First attempt: {first.get('contended', 0)} of {first.get('benchmarks', 0)} "
        "benchmarks contended."
    )
    if retry is None:
        return text + "  No retry (--retries 0, or nothing to retry)."
    return text + (
        f"  Retry over them ({retry.get('seconds', 0):.0f} s of a {retry.get('budget', 0):g} "
        f"s budget): each waited up to {retry.get('wait_idle', 0):g} s for others to use under "
        f"{BUSY_LIMIT:.0%} and was skipped if they did not; {retry.get('retried', 0)} of "
        f"{retry.get('asked', retry.get('retried', 0))} re-timed, {retry.get('improved', 0)} "
        f"retries kept (less contended), {retry.get('still_contended', 0)} re-timed still "
        "contended."
    )


def _wait_sentence(guard: dict[str, Any]) -> str:
    waited = guard.get("waited_before")
    text = (
        f"waited {waited:.0f} s for an idle machine before the run (others under "
        f"{IDLE_LIMIT:.0%}; limit {guard.get('wait_idle', 0):g} s"
        + (", reached: ran anyway)" if guard.get("stayed_busy") else ")")
        if guard.get("wait_idle")
        else "no wait before the run (--wait-idle 0)"
    )
    if guard.get("wait_each"):
        text += f"; each benchmark waited up to {guard['wait_each']:g} s for an idle machine"
    return text


def _binding_clause(affinity: Any) -> str:
    """The CPUs the session was bound to, when it recorded them as a list."""
    if not isinstance(affinity, list) or not affinity:
        return ""
    cpus = ", ".join(str(c) for c in affinity)
    return (
        f" and the process bound to CPU {cpus} (XLA sizes its thread pool from that mask; "
        "no XLA flag limits it)"
    )


def _fault_cost(res: Results) -> str:
    """What a minor page fault cost, against the float64 exp of the kernels' array."""
    fault = res.meta.get("page_fault_seconds")
    if not isinstance(fault, (int, float)):
        return ""
    text = f"  A minor page fault (one 4 KiB page) cost {fmt_time(fault)} here"
    exp, shape = res.floor.get(("exp", "float64")), res.op_shape
    if exp is not None and shape:
        pages = shape[0] * shape[1] * 8 // 4096
        text += (
            f": faulting in a fresh {shape[0]}×{shape[1]} float64 array ({pages} pages) "
            f"costs {fmt_time(pages * fault)}, against {fmt_time(exp)} for `np.exp` over it"
        )
    return text + "."


def _malloc_sentence(guard: dict[str, Any], res: Results) -> str:
    """What the allocator was told, and what a page fault cost on the machine."""
    cost = _fault_cost(res)
    libc = res.meta.get("libc") or []
    not_glibc = bool(libc and libc[0]) and libc[0] != "glibc"
    if guard.get("malloc") == "keep":
        tunables = guard.get("malloc_env", {}).get("GLIBC_TUNABLES", "")
        return (
            f"Memory: the process kept what it freed (GLIBC_TUNABLES={tunables}"
            + ("; ignored here, the C library is not glibc" if not_glibc else "")
            + "): glibc would otherwise hand blocks of 128 KiB and more back to the kernel "
            "and fault them in again, page by page, in the next call, for every "
            "implementation in the process alike (--malloc system measures that)." + cost
        )
    if guard.get("malloc") == "system":
        return (
            "Memory: glibc's defaults (--malloc system): blocks of 128 KiB and more that one "
            "call frees may go back to the kernel and be faulted in again by the next, "
            "depending on what was allocated before." + cost
        )
    return ""


def _passes_sentence(guard: dict[str, Any], res: Results) -> str:
    """How many passes timed each row, and how far one benchmark's passes moved apart."""
    passes = guard.get("passes")
    if passes is None:
        return ""
    if passes == 1:
        return (
            "Passes: 1 (--passes 1): each implementation of a row was timed in one go, one "
            "after the other, so a drift of the machine's speed during a row is charged to "
            "whichever implementation it fell on."
        )
    spreads = []
    for bench in res.raw:
        medians = bench.get("extra_info", {}).get("pass_medians") or []
        if len(medians) > 1 and min(medians) > 0:
            spreads.append((max(medians) / min(medians) - 1, str(bench.get("name", ""))))
    text = (
        f"Passes: {passes} (--passes {passes}): each row's implementations were timed in "
        f"turn, {passes} times over (refbp, the peers, then refbp again, ...), each pass with "
        f"1/{passes} of the rounds, and each implementation's rounds pooled, so that a drift "
        "of the machine's speed while a row is timed falls on all of them, not on one."
    )
    if spreads:
        spreads.sort()
        worst, name = spreads[-1]
        text += (
            f"  One benchmark's pass medians lay apart by {spreads[len(spreads) // 2][0]:.0%} "
            f"at the median benchmark and by {worst:.0%} at most (`{name}`): what one pass "
            "alone could have charged to one implementation."
        )
    return text


def _settle_sentence(guard: dict[str, Any]) -> str:
    """The pause before each benchmark, if the run recorded it."""
    settle = guard.get("settle")
    if settle is None:
        return ""
    if settle == 0:
        return (
            "No pause before each benchmark: with every library on one thread nothing is left "
            "spinning, and a pause lets the vCPU idle and slows the rounds after it."
        )
    return (
        f"A {settle:g} s pause before each benchmark, for the libraries' own thread pools "
        "to stop spinning after the one before."
    )


def _cores_sentence(res: Results) -> str:
    """The most cores each implementation kept busy in any benchmark: whether the
    implementations really ran on the same number of cores."""
    most: dict[str, float] = {}
    for row in res.rows():
        for impl, cores in row.cores.items():
            most[impl] = max(cores, most.get(impl, 0.0))
    if not most:
        return ""
    listed = ", ".join(f"{IMPL_LABELS.get(k, k)} {v:.2f}" for k, v in sorted(most.items()))
    return (
        "The most cores any one benchmark kept busy (the process's CPU time over the wall "
        f"time): {listed}."
    )


def guard_lines(res: Results) -> list[str]:
    """How the run was kept honest: threads, waiting, retries; which rows stayed contended."""
    guard = res.guard
    lines = ["## Contention", ""]
    if not guard:
        lines.append("How the run was guarded was not recorded (a run from before the guard).")
    else:
        threads = guard.get("threads")
        pinned = (
            f"BLAS and peer threads pinned to {threads} for the whole run "
            f"({', '.join(f'{k}={v}' for k, v in sorted(guard.get('env', {}).items()))})"
            + _binding_clause(res.meta.get("cpu_affinity"))
            if threads
            else "threads left as the libraries choose (--threads 0)"
        )
        wait = _wait_sentence(guard)
        lines.append(
            f"{pinned}; {wait}.  Each benchmark records the share of the CPUs it ran on that other "
            "processes kept busy while it ran (/proc/stat around it); over "
            f"{BUSY_LIMIT:.0%} it is contended (†)."
            + _retry_sentence(guard.get("retry"), guard.get("first_pass", {}))
        )
        if memory := _malloc_sentence(guard, res):
            lines += ["", memory]
        if passes := _passes_sentence(guard, res):
            lines += ["", passes]
        if settle := _settle_sentence(guard):
            lines += ["", settle]
        if guard.get("seconds") is not None:
            lines += ["", f"The bench ran for {guard['seconds']:.0f} s (wall clock)."]
    if cores := _cores_sentence(res):
        lines += ["", cores]
    counts = [
        *_count(res.steps, "size ladder"),
        *_count(res.ladder, "step ladder"),
        *_count([c for op in res.ops for c in op.cells.values()], "kernels"),
    ]
    if counts:
        lines += ["", f"Rows measured under contention (†): {'; '.join(counts)}."]
    return lines


def busy_banner(res: Results) -> list[str]:
    """A warning under the title when most rows were timed under contention: their ratios
    then describe the neighbours as much as the code."""
    rows = res.rows()
    busy = [r for r in rows if r.contended()]
    if not rows or len(busy) * 2 <= len(rows):
        return []
    shares = sorted(s for r in rows if (s := r.busiest()) is not None)
    return [
        f"**Measured on a busy machine: {len(busy)} of {len(rows)} rows were timed while other "
        f"processes kept more than {BUSY_LIMIT:.0%} of the CPUs busy (their share: median "
        f"{shares[len(shares) // 2]:.0%}, highest {shares[-1]:.0%}).  Every figure below is "
        "marked † where that happened; read them as an upper bound on refbp's times and ratios "
        "on this machine, not as the code's speed, and rerun on an idle machine.**",
        "",
    ]


def _target_lines(res: Results) -> list[str]:
    checks = check_targets(res)
    return [
        "## Targets",
        "",
        *table(
            ["target", "result", "worst case"],
            (
                [c.name, {True: "met", False: "**not met**", None: "–"}[c.met], c.worst]
                for c in checks
            ),
        ),
    ]


def _compare_lines(
    changes: list[Change], previous: Path | None, threshold: float, stat: str
) -> list[str]:
    lines = ["", "## Compared with the previous run", ""]
    if previous is not None:
        lines += [
            f"Previous run: `{previous.name}`.  Compared: each benchmark's {stat} "
            f'time; flagged: refbp more than {threshold:.0%} slower.  "bound" is the '
            "same case's GEMM bound then and now: when it moved too, the machine changed, "
            "not the code.",
            "",
        ]
    flagged = {c.name for c in regressions(changes, threshold)}
    if not changes:
        return [*lines, "No earlier run of the same kind to compare with."]
    lines += table(
        ["benchmark", "previous", "now", "change", "bound"],
        (
            [
                f"**{c.name}**" if c.name in flagged else c.name,
                fmt_time(c.previous),
                fmt_time(c.now),
                f"{c.change:+.0%}",
                f"{c.bound_change:+.0%}" if c.bound_change is not None else "–",
            ]
            for c in changes
        ),
    )
    return [*lines, "", f"{len(flagged)} regression(s) over {threshold:.0%}."]


def render_markdown(
    res: Results,
    changes: list[Change] | None = None,
    previous: Path | None = None,
    threshold: float = 0.10,
    plots: Sequence[str] = (),
    stat: str = "min",
    history: Sequence[Results] = (),
) -> str:
    """The markdown report of ``res``; ``changes`` from ``compare_runs``; ``history``: the
    saved runs of the same kind (``res`` among them) for the run-to-run spread."""
    title = "refbp benchmark" + (" (quick smoke run)" if res.quick else "")
    lines = [f"# {title}", "", *busy_banner(res), *machine_lines(res)]
    command = res.meta.get("command")
    if command:
        lines += ["", f"Command: `{command}`"]
    lines += ["", _STEP, "", *guard_lines(res), "", *_target_lines(res)]
    lines += ["", *sections.step_lines(res), "", *sections.memory_lines(res)]
    if res.ladder:
        lines += ["", *sections.ladder_lines(res)]
    lines += sections.op_lines(res)
    lines += sections.spread_lines(res, history)
    if changes is not None:
        lines += _compare_lines(changes, previous, threshold, stat)
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    lines.append("")
    return "\n".join(lines)
