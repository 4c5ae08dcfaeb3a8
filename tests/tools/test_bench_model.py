"""``refbp bench`` reading pytest-benchmark's JSON into rows, judging the targets on the
right rows, and printing numbers (no timing here: synthetic JSON)."""

from __future__ import annotations

import pytest

from refbp_tools.bench import formatting as fmt
from refbp_tools.bench.model import IMPLS, StepRow, Timings, parse_results
from refbp_tools.bench.targets import check_targets
from tests.tools.bench_runs import bench_entry, synthetic_run


def test_parse_groups_steps_ladder_and_ops() -> None:
    res = parse_results(synthetic_run())
    assert len(res.steps) == 6  # 3 cases × 2 dtypes, ordered by flops then dtype
    assert [r.case for r in res.steps[:2]] == ["[2,3,1]B=4", "[2,3,1]B=4"]
    first = res.steps[0]
    assert (first.sizes, first.batch, first.gemm_flops) == ([2, 3, 1], 4, 108)
    assert set(first.median) == set(IMPLS) and first.others == dict.fromkeys(IMPLS, 0.02)
    assert first.ratio("jax") == pytest.approx(20 / 16)
    assert first.ratio("bound") == pytest.approx(20 / 6)
    assert first.memory is not None and first.memory["must_hold"] == 3200
    assert first.faults == dict.fromkeys(IMPLS, 3.0)
    assert len(res.ladder) == 2 * 3 * 2  # sizes × configurations × dtypes
    row = res.ladder[0]
    assert (row.case, row.dtype, row.config) == ("[2,3,1]B=4", "float32", "tanh → identity · mse")
    assert [r.config for r in res.ladder[:3]] == [  # registry (insertion) order is kept
        "tanh → identity · mse", "gelu → identity · mse",
        "tanh → sigmoid · binary_cross_entropy",
    ]  # fmt: skip
    assert row.ratio("jax") == pytest.approx(0.9)
    assert {(o.kind, o.name) for o in res.ops} == {
        ("activation", "relu"), ("activation", "tanh"), ("loss", "mse")
    }  # fmt: skip
    relu = next(o for o in res.ops if o.name == "relu")
    assert relu.cell("backward", "float64").ratio("jax") == pytest.approx(2.5)
    assert relu.cell("sideways", "float64").median == {}  # never measured: an empty cell
    assert (res.quick, res.op_shape, res.guard["threads"]) == (False, [256, 1024], 1)
    # a floor is the function's fastest round (the synthetic minimum is 0.9 × the median)
    assert res.floor == {(n, d): pytest.approx(0.9 * t) for d in ("float32", "float64")
                         for n, t in (("exp", 1e-4), ("copy", 3e-5))}  # fmt: skip


def test_parse_tolerates_what_it_does_not_know() -> None:
    """A JSON with no benchmarks, or benchmarks of someone else's (no extra_info), parses to
    empty rows rather than failing; a ratio against a zero time is undefined, not infinite."""
    empty = parse_results({})
    assert (empty.steps, empty.ladder, empty.ops, empty.raw, empty.machine, empty.datetime) == (
        [], [], [], [], {}, ""
    )  # fmt: skip
    assert (empty.quick, empty.op_shape, empty.guard) == (False, None, {})
    foreign = {"name": "test_x", "stats": {"median": 1.0}}
    res = parse_results({"benchmarks": [foreign]})
    assert (res.steps, res.ops, res.raw) == ([], [], [foreign])
    row = StepRow(median={"refbp": 1.0, "jax": 0.0})
    assert row.ratio("jax") is None and row.ratio("torch") is None
    step = bench_entry("test_step[c]", synthetic_run()["benchmarks"][0]["extra_info"], 2.0)
    step["stats"] = {"median": 2.0}  # an older pytest-benchmark: no min, no rounds
    del step["extra_info"]["others_cpu"]  # and no load recorded
    [row] = parse_results({"benchmarks": [step]}).steps
    assert (row.median, row.minimum, row.rounds) == ({"refbp": 2.0}, {"refbp": 2.0}, {"refbp": 0})
    assert row.others == {} and row.busiest() is None and not row.contended()
    first = parse_results(synthetic_run()).steps[0]
    assert first.rounds == dict.fromkeys(IMPLS, 10)
    assert first.minimum["refbp"] == pytest.approx(18e-6)


def test_contended_means_over_the_limit_on_the_implementations_asked() -> None:
    t = Timings(others={"refbp": 0.05, "jax": 0.10, "torch": 0.30})
    assert t.busiest() == 0.30 and t.contended()
    assert t.busiest(("refbp", "jax")) == 0.10
    assert not t.contended(("refbp", "jax"))  # exactly the limit is not over it
    assert t.contended(("refbp", "jax"), limit=0.09)
    assert t.busiest(("bound",)) is None and not t.contended(("bound",))


def test_targets_are_judged_on_the_right_rows() -> None:
    vs_jax, vs_bound, memory, ladder, ops = check_targets(parse_results(synthetic_run()))
    assert vs_jax.met is False and vs_jax.worst == "1.25 ([2,3,1]B=4 float64)"
    # only the two largest networks count for the bound: [2,3,1]'s 3.3× is not held against it
    assert vs_bound.met is True and vs_bound.worst.startswith("1.11 ([64,64,10]B=32")
    assert memory.met is True
    assert ladder.met is False and ladder.worst.startswith("1.50 (")  # a tie, up to rounding
    assert "gelu → identity · mse" in ladder.worst
    assert ops.met is False and ops.worst == "2.50 (relu forward float64)"
    assert "aim 1.25" in ops.name


def test_a_target_met_exactly_is_met_and_contention_is_marked() -> None:
    run = synthetic_run()
    for b in run["benchmarks"]:
        info = b["extra_info"]
        if info["kind"] == "step" and info["impl"] in ("refbp", "jax"):
            b["stats"]["median"] = 2e-3  # refbp / JAX = 1.00 everywhere
        if info["kind"] == "step" and info["case"] == "[64,64,10]B=32" and info["impl"] == "jax":
            info["others_cpu"] = 0.5
    vs_jax = check_targets(parse_results(run))[0]
    assert (vs_jax.met, vs_jax.worst) == (True, "1.00 ([64,64,10]B=32 float64) †")
    quick = parse_results(synthetic_run(quick=True))
    assert check_targets(quick)[1].met is None  # a quick run has no "two largest" sizes


def test_formatting_helpers() -> None:
    """Every unit, at and just below each boundary."""
    times = {None: "–", float("nan"): "–", float("inf"): "–", 1.5: "1.5 s", 1.0: "1 s",
             0.999: "999 ms", 2.5e-3: "2.5 ms", 1e-3: "1 ms", 1e-6: "1 µs", 9.99e-7: "999 ns",
             3e-8: "30 ns", 0.0: "0 ns"}  # fmt: skip
    assert {t: fmt.fmt_time(t) for t in times} == times
    assert fmt.fmt_ratio(None) == "–" and fmt.fmt_ratio(None, 1.0, True) == "–"
    assert fmt.fmt_ratio(1.2, 1.0) == "**1.20**" and fmt.fmt_ratio(0.9, 1.0) == "0.90"
    assert fmt.fmt_ratio(1.0, 1.0) == "1.00"  # at the target is not over it
    assert fmt.fmt_ratio(1.2) == "1.20"  # no target: never bold
    assert fmt.fmt_ratio(1.2, 1.0, mark=True) == "**1.20** †"
    assert (fmt.fmt_ratio(0.1), fmt.fmt_ratio(0.0999), fmt.fmt_ratio(0.0039)) == (
        "0.10",
        "0.1",
        "0.0039",
    )  # a ratio far below 1 keeps its digits
    assert fmt.fmt_share(None, True) == "–" and fmt.fmt_share(0.25, True) == "25% †"
    assert fmt.fmt_share(0.05, False) == "5%"
    sizes = {None: "–", 10: "10 B", 1023: "1023 B", 1024: "1 KiB", 2048: "2 KiB",
             2**20 - 1: "1.02e+03 KiB", 2**20: "1 MiB", 3 * 2**20: "3 MiB", 2**30: "1 GiB",
             5 * 2**30: "5 GiB"}  # fmt: skip
    assert {n: fmt.fmt_bytes(n) for n in sizes} == sizes
    flops = {216: "216 FLOP", 999: "999 FLOP", 1e3: "1 kFLOP", 1e6: "1 MFLOP",
             2.5e6: "2.5 MFLOP", 1e9: "1 GFLOP", 1.29e10: "12.9 GFLOP"}  # fmt: skip
    assert {n: fmt.fmt_flops(n) for n in flops} == flops
    assert fmt.table(["a", "b"], [["1", "2"]]) == ["| a | b |", "|---|---|", "| 1 | 2 |"]
