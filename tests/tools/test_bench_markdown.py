"""bench.md: what each section says, with every mark and fallback, and the whole report
against a golden file (``python -m tests.tools.test_bench_markdown`` rewrites it on purpose;
review its diff)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from refbp_tools.bench.compare import compare_runs
from refbp_tools.bench.markdown import (
    busy_banner,
    describe_pool,
    guard_lines,
    machine_lines,
    render_markdown,
)
from refbp_tools.bench.model import StepRow, parse_results
from tests.tools.bench_runs import synthetic_run

GOLDEN = Path(__file__).with_name("bench_report_golden.md")


def test_markdown_has_the_tables_and_ratios() -> None:
    md = render_markdown(parse_results(synthetic_run()), plots=["reports/bench-time.png"])
    assert "| [2,3,1]B=4 | float32 | 20 µs | 16 µs | 120 µs | 6 µs | **1.25** |" in md
    assert "| [1024,1024,10]B=256 | float64 | 45 ms |" in md
    assert "| 1.07 | 3 | 2% |" in md  # refbp / bound, page faults per call, others' CPU
    assert "**not met**" in md and "| met |" in md
    assert "## Peak memory of one backprop" in md and "1.03" in md
    assert "## Activations on a 256×1024 array" in md
    assert "| tanh | 70 µs | 0.70 | 70 µs | 0.70 | 70 µs | 0.70 | 70 µs | 0.70 |" in md
    assert "| relu | 250 µs | **2.50** |" in md  # over the kernels' 2× target: bold
    assert "Worst row: relu forward float64, refbp 2.50 × JAX." in md
    assert "## Losses" in md and "OPENBLAS_CORETYPE unset" in md
    assert "### [1024,1024,10]B=256" in md
    assert (
        "| gelu → identity · mse | 24 µs | 16 µs | **1.50** | – | 36 µs | 24 µs | **1.50** |" in md
    )
    assert (
        "Command: `cd /src && REFBP_BENCH_QUICK=0 /usr/bin/python -u -m pytest tests/bench`" in md
    )
    assert "![bench-time](bench-time.png)" in md


def test_render_defaults_and_the_busy_mark() -> None:
    res = parse_results(synthetic_run())
    for row in res.steps:
        row.others = dict.fromkeys(row.median, 0.10)  # exactly the limit: not marked
    md = render_markdown(res, compare_runs(res, res), previous=Path("old.json"))
    assert "Compared: each benchmark's min time; flagged: refbp more than 10% slower." in md
    assert "0 regression(s) over 10%." in md
    assert "†" not in md.split("## One training step at every size")[1].split("Bold:")[0]
    res.steps[0].others["torch"] = 0.11  # only PyTorch's timing was disturbed
    md = render_markdown(res)
    assert "| **1.25** | 0.17 † | 3.33 | 3 | 11% † |" in md  # JAX's ratio stays unmarked


def test_op_sections_without_activations_or_shape() -> None:
    run = synthetic_run()
    run["benchmarks"] = [b for b in run["benchmarks"] if b["extra_info"]["kind"] != "activation"]
    del run["machine_info"]["refbp_bench"]["op_shape"]
    md = render_markdown(parse_results(run))
    assert "## Activations" not in md
    assert (
        "\n## Losses\n\n| loss | value float32 | × JAX | grad float32 | × JAX | value float64 |"
        in md
    )


def test_the_floor_line_lists_the_functions_the_run_timed() -> None:
    run = synthetic_run()
    md = render_markdown(parse_results(run))
    assert "what a kernel that calls it cannot beat): `np.exp` " in md and "np.log1p" not in md
    for dtype in ("float32", "float64"):
        run["benchmarks"].append({
            "name": f"test_floor[log1p-{dtype}]", "fullname": f"x::test_floor[log1p-{dtype}]",
            "stats": {"median": 2e-3, "min": 2e-3, "rounds": 3},
            "extra_info": {"kind": "floor", "impl": "numpy", "name": "log1p", "dtype": dtype},
        })  # fmt: skip
    md = render_markdown(parse_results(run))
    assert "; `np.log1p` 2 ms (float32), 2 ms (float64); one copy (`np.copyto`) " in md


def test_machine_lines_fallbacks_and_median() -> None:
    run: dict[str, Any] = {"machine_info": {"node": "n", "cpu": {"brand_raw": "X", "count": 4}},
                           "datetime": "2026-01-01T00:00:00", "benchmarks": []}  # fmt: skip
    res = parse_results(run)
    assert machine_lines(res)[0] == "Run 2026-01-01T00:00:00 on `n`: X, 4 logical CPUs; ."
    run["machine_info"]["refbp_bench"] = {"cpu_count": 8}
    assert "X, 8 logical CPUs" in machine_lines(parse_results(run))[0]
    res.steps = [StepRow(others={"refbp": 0.06, "jax": 0.01, "torch": 0.05}),
                 StepRow(others={"refbp": 0.02, "jax": 0.04, "torch": 0.03})]  # fmt: skip
    assert machine_lines(res)[1] == (
        "BLAS: unknown; OPENBLAS_CORETYPE unset; other processes used 1%–6% of the CPUs while "
        "the size ladder was timed (median 4%)."
    )


def test_blas_description() -> None:
    lib = {"internal_api": "openblas", "version": "0.3.31", "prefix": "libscipy_openblas",
           "architecture": "SkylakeX", "num_threads": 2, "filepath": "/x.so"}  # fmt: skip
    assert describe_pool(lib) == "openblas 0.3.31 (libscipy_openblas, SkylakeX kernels, 2 threads)"
    assert describe_pool({"internal_api": "mkl", "num_threads": 1}) == "mkl (1 threads)"


def test_the_contention_section_says_what_was_done() -> None:
    run = synthetic_run()
    guard = run["machine_info"]["refbp_bench"]["guard"]
    text = "\n".join(guard_lines(parse_results(run)))
    assert text.startswith(
        "## Contention\n\nBLAS and peer threads pinned to 1 for the whole run "
        "(OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1); no wait before the run (--wait-idle 0)."
    )
    assert "First attempt: 0 of 76 benchmarks contended.  No retry" in text
    assert "bound to CPU" not in text and "most cores" not in text  # a run that recorded neither
    run["machine_info"]["refbp_bench"]["cpu_affinity"] = [1]
    for b in run["benchmarks"]:
        b["extra_info"]["own_cores"] = 1.5 if b["extra_info"]["impl"] == "jax" else 0.98
    text = "\n".join(guard_lines(parse_results(run)))
    assert " and the process bound to CPU 1 (XLA sizes its thread pool from that mask" in text
    assert (
        "kept busy (the process's CPU time over the wall time): GEMM bound 0.98, JAX jit 1.50, refbp 0.98, PyTorch 0.98."
        in text
    )
    assert "The bench ran for 612 s (wall clock)." in text
    assert text.endswith(
        "Rows measured under contention (†): size ladder 0 of 6; step ladder 0 of 12; "
        "kernels 0 of 12."
    )
    guard.update(threads=0, wait_idle=30.0, waited_before=30.2, stayed_busy=True, wait_each=2.0)
    guard["retry"] = {"wait_idle": 5.0, "budget": 300.0, "seconds": 41.0, "asked": 9,
                      "retried": 7, "improved": 5, "still_contended": 2}  # fmt: skip
    text = "\n".join(guard_lines(parse_results(run)))
    assert "threads left as the libraries choose (--threads 0); waited 30 s for an idle " in text
    assert (
        "(others under 5%; limit 30 s, reached: ran anyway); each benchmark waited up to 2 s "
        in text
    )
    assert (
        "Retry over them (41 s of a 300 s budget): each waited up to 5 s for others to use "
        "under 10% and was skipped if they did not; 7 of 9 re-timed, 5 retries kept (less "
        "contended), 2 re-timed still contended."
    ) in text
    del run["machine_info"]["refbp_bench"]["guard"]
    text = "\n".join(guard_lines(parse_results(run)))
    assert "was not recorded (a run from before the guard)" in text


def test_the_contention_section_says_how_many_passes_and_how_far_they_moved() -> None:
    run = synthetic_run()
    guard = run["machine_info"]["refbp_bench"]["guard"]
    assert "Passes:" not in "\n".join(guard_lines(parse_results(run)))  # not recorded
    guard["passes"] = 1
    assert "Passes: 1 (--passes 1): each implementation of a row was timed in one go" in "\n".join(
        guard_lines(parse_results(run))
    )
    guard["passes"] = 3
    spreads = [1.0, 1.1, 1.5]  # pass medians apart by 0%, 10% and 50%
    for b, worst in zip(run["benchmarks"][:3], spreads, strict=True):
        b["extra_info"]["pass_medians"] = [2e-3, 2e-3 * worst, 2e-3]
    text = "\n".join(guard_lines(parse_results(run)))
    assert (
        "Passes: 3 (--passes 3): each row's implementations were timed in turn, 3 times over "
        "(refbp, the peers, then refbp again, ...), each pass with 1/3 of the rounds"
    ) in text
    worst = run["benchmarks"][2]["name"]
    assert f"apart by 10% at the median benchmark and by 50% at most (`{worst}`)" in text


def test_the_contention_section_says_whether_each_benchmark_paused_first() -> None:
    run = synthetic_run()
    guard = run["machine_info"]["refbp_bench"]["guard"]
    assert "pause" not in "\n".join(guard_lines(parse_results(run)))  # not recorded
    guard["settle"] = 0.0
    assert "No pause before each benchmark: with every library on one thread" in "\n".join(
        guard_lines(parse_results(run))
    )
    guard["settle"] = 0.2
    assert "A 0.2 s pause before each benchmark, for the libraries' own thread pools" in (
        "\n".join(guard_lines(parse_results(run)))
    )


def test_the_contention_section_says_how_memory_was_handled() -> None:
    run = synthetic_run()
    meta = run["machine_info"]["refbp_bench"]
    assert "Memory:" not in "\n".join(guard_lines(parse_results(run)))  # not recorded
    tunables = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"
    meta["guard"].update(malloc="keep", malloc_env={"GLIBC_TUNABLES": tunables})
    meta.update(libc=["glibc", "2.36"], page_fault_seconds=8e-6)
    text = "\n".join(guard_lines(parse_results(run)))
    assert (
        f"Memory: the process kept what it freed (GLIBC_TUNABLES={tunables}): glibc would "
        "otherwise hand blocks of 128 KiB and more back to the kernel"
    ) in text
    assert (
        "A minor page fault (one 4 KiB page) cost 8 µs here: faulting in a fresh 256×1024 "
        "float64 array (512 pages) costs 4.1 ms, against 90 µs for `np.exp` over it."
    ) in text
    meta["libc"] = ["", ""]  # not glibc: the variable was set but meant nothing
    meta["guard"]["malloc"] = "keep"
    text = "\n".join(guard_lines(parse_results(run)))
    assert "; ignored here, the C library is not glibc)" not in text  # unknown is not "not glibc"
    meta["libc"] = ["musl", "1.2"]
    assert "; ignored here, the C library is not glibc)" in "\n".join(
        guard_lines(parse_results(run))
    )
    meta["guard"]["malloc"] = "system"
    del meta["page_fault_seconds"]
    text = "\n".join(guard_lines(parse_results(run)))
    assert "Memory: glibc's defaults (--malloc system): blocks of 128 KiB" in text
    assert "page fault" not in text


def _disturbed(new: dict[str, Any]) -> dict[str, Any]:
    """A run with every mark and gap: busy rows, missing faults, memory and peers, a memory
    row over its target, a drifted bound, contended ladder rows and kernels."""
    for b in new["benchmarks"]:
        info = b["extra_info"]
        if (
            info["kind"] == "step"
            and info["case"] == "[64,64,10]B=32"
            and info["dtype"] == "float64"
        ):
            info["others_cpu"] = 0.25 if info["impl"] == "torch" else 0.05  # a busy row: †
            info.pop("page_faults_per_call")  # faults not recorded
            info.pop("memory", None)  # no memory row
            if info["impl"] == "refbp":  # one undisturbed round: the min ratios differ
                b["stats"]["min"] *= 0.5
        if info["kind"] == "step" and info["case"] == "[2,3,1]B=4" and "memory" in info:
            if info["dtype"] == "float64":
                info["memory"] = {**info["memory"], "peak": 4800, "ratio": 1.5}  # over
        if (
            info["kind"] == "step"
            and info["case"] == "[1024,1024,10]B=256"
            and info["impl"] == "bound"
        ):
            b["stats"]["median"] *= 1.5  # the machine drifted: the bound moved too
            b["stats"]["min"] *= 1.5
        if info["kind"] == "ladder" and info["hidden"] == "gelu" and info["impl"] == "jax":
            info["others_cpu"] = 0.4  # JAX's gelu rows contended: † in the ladder
        if info["kind"] == "activation" and info["name"] == "relu" and info["phase"] == "backward":
            info["others_cpu"] = 0.2  # a contended kernel
    new["benchmarks"] = [
        b for b in new["benchmarks"]
        if not (b["extra_info"].get("impl") == "torch" and b["extra_info"]["dtype"] == "float32"
                and b["extra_info"].get("case") == "[2,3,1]B=4")
        and not (b["extra_info"]["kind"] == "ladder" and b["extra_info"]["dtype"] == "float64"
                 and b["extra_info"]["loss"] == "binary_cross_entropy")  # a missing ladder cell
        and not (b["extra_info"]["kind"] == "loss" and b["extra_info"]["impl"] == "jax"
                 and b["extra_info"]["phase"] == "grad")  # a kernel without its JAX peer
    ]  # fmt: skip
    return new


def test_a_mostly_contended_run_says_so_under_its_title() -> None:
    run = synthetic_run()
    res = parse_results(run)
    assert busy_banner(res) == [] and "busy machine" not in render_markdown(res)
    for b in run["benchmarks"][: len(run["benchmarks"]) // 2]:
        b["extra_info"]["others_cpu"] = 0.6
    assert busy_banner(parse_results(run)) == []  # half is not most
    for b in run["benchmarks"]:
        b["extra_info"]["others_cpu"] = 0.6 if b["extra_info"]["kind"] != "floor" else 0.0
    run["benchmarks"][0]["extra_info"]["others_cpu"] = 0.9
    md = render_markdown(parse_results(run))
    assert md.startswith(
        "# refbp benchmark\n\n**Measured on a busy machine: 30 of 30 rows were timed while "
        "other processes kept more than 10% of the CPUs busy (their share: median 60%, highest "
        "90%)."
    )


def golden_reports() -> str:
    """Two synthetic reports with every section, footnote, mark and fallback."""
    old = synthetic_run()
    new = _disturbed(synthetic_run(scale=1.2, when="2026-01-02T00:00:00"))
    third = synthetic_run(scale=0.9, when="2026-01-03T00:00:00")
    rb = new["machine_info"]["refbp_bench"]
    rb["blas"].append({"internal_api": "openmp", "prefix": "libgomp", "num_threads": 1})
    rb["versions"]["torch"] = None  # not installed: not listed
    rb["env"]["OPENBLAS_CORETYPE"] = "Haswell"
    rb["guard"]["first_pass"] = {"benchmarks": 57, "contended": 9}
    rb["guard"]["retry"] = {"wait_idle": 5.0, "budget": 300.0, "seconds": 12.5, "asked": 9,
                            "retried": 7, "improved": 4, "still_contended": 3}  # fmt: skip
    prev, cur = parse_results(old), parse_results(new)
    full = render_markdown(
        cur,
        compare_runs(prev, cur, "median"),
        previous=Path("reports/bench/2026-01-01-testhost.json"),
        threshold=0.15,
        plots=["reports/bench-time.png", "reports/bench-ratio.png", "reports/bench-ladder.png"],
        stat="median",
        history=[prev, cur, parse_results(third)],
    )
    quick = synthetic_run(when="", quick=True)
    quick["machine_info"] = {"refbp_bench": {"quick": True}}
    quick["benchmarks"] = [b for b in quick["benchmarks"] if b["extra_info"]["kind"] == "step"]
    for b in quick["benchmarks"]:
        b["extra_info"].pop("others_cpu")
    short = render_markdown(parse_results(quick), [], previous=None)
    return full + "\n<!-- second report: a quick run, no machine facts, no history -->\n" + short


def test_the_whole_report_is_the_golden_one() -> None:
    assert golden_reports() == GOLDEN.read_text(encoding="utf-8")


if __name__ == "__main__":
    GOLDEN.write_text(golden_reports(), encoding="utf-8")
    print(f"wrote {GOLDEN}")
