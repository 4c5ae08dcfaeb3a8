"""``refbp bench``'s report code, on small synthetic pytest-benchmark JSON (no timing here).

The benchmark modules themselves are marked ``bench`` and deselected by default; this file
keeps the code that turns their JSON into bench.md, the plots and the regression check
covered by the default test run.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest

from refbp import cli
from refbp_tools import bench
from tests.figures import record_saved_figures

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


def _bench(name: str, extra: dict[str, Any], median: float) -> dict[str, Any]:
    return {
        "group": "g",
        "name": name,
        "fullname": f"tests/bench/x.py::{name}",
        "extra_info": extra,
        "stats": {"median": median, "min": median * 0.9, "rounds": 10},
    }


def synthetic_run(
    scale: float = 1.0, when: str = "2026-01-01T00:00:00", quick: bool = False
) -> dict[str, Any]:
    benchmarks = []
    for dtype, dscale in (("float32", 1.0), ("float64", 1.5)):
        for case, (sizes, batch, flops) in CASES.items():
            for impl, median in zip(bench.IMPLS, MEDIANS[case], strict=True):
                extra: dict[str, Any] = {
                    "kind": "step",
                    "impl": impl,
                    "case": case,
                    "sizes": sizes,
                    "batch": batch,
                    "dtype": dtype,
                    "gemm_flops": flops,
                    "others_cpu": 0.02,
                    "page_faults_per_call": 3.0,
                }
                t = median * dscale * (scale if impl == "refbp" else 1.0)
                if impl == "refbp":
                    extra["memory"] = {
                        "parameters": 1000,
                        "gradients": 1000,
                        "z": 400,
                        "a": 300,
                        "deltas": 400,
                        "grad_input": 100,
                        "must_hold": 3200,
                        "peak": 3300,
                        "ratio": 3300 / 3200,
                    }
                benchmarks.append(_bench(f"test_step[{case}-{dtype}-{impl}]", extra, t))
        for name in ("tanh", "relu"):
            for phase in ("forward", "backward"):
                extra = {
                    "kind": "activation",
                    "impl": "refbp",
                    "name": name,
                    "phase": phase,
                    "dtype": dtype,
                    "shape": [256, 1024],
                }
                benchmarks.append(
                    _bench(f"test_activation[{name}-{phase}-{dtype}]", extra, 1e-4 * scale)
                )
        for phase in ("value", "grad"):
            extra = {
                "kind": "loss",
                "impl": "refbp",
                "name": "mse",
                "phase": phase,
                "dtype": dtype,
                "shape": [256, 1024],
            }
            benchmarks.append(_bench(f"test_loss[mse-{phase}-{dtype}]", extra, 2e-4))
    return {
        "machine_info": {
            "node": "testhost",
            "cpu": {"brand_raw": "Test CPU", "count": 2},
            "refbp_bench": {
                "quick": quick,
                "op_shape": [256, 1024],
                "cpu_count": 2,
                "versions": {"numpy": "2.0", "jax": "0.1"},
                "blas": [
                    {
                        "internal_api": "openblas",
                        "version": "0.3",
                        "num_threads": 2,
                        "architecture": "Haswell",
                    }
                ],
                "env": {"OPENBLAS_CORETYPE": None},
            },
        },
        "datetime": when,
        "benchmarks": benchmarks,
    }


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _args(**kw: Any) -> argparse.Namespace:
    base: dict[str, Any] = dict(
        quick=False,
        peers="jax,torch",
        compare=False,
        threshold=0.10,
        out=Path("reports"),
        from_json=None,
        no_plots=True,  # the plots have their own test; matplotlib costs a second a figure
        wait_idle=0.0,
        compare_stat="median",
    )
    base.update(kw)
    return argparse.Namespace(**base)


def test_parse_groups_steps_and_ops() -> None:
    res = bench.parse_results(synthetic_run())
    assert len(res.steps) == 6  # 3 cases × 2 dtypes, ordered by flops then dtype
    assert [r.case for r in res.steps[:2]] == ["[2,3,1]B=4", "[2,3,1]B=4"]
    first = res.steps[0]
    assert (first.sizes, first.batch, first.gemm_flops) == ([2, 3, 1], 4, 108)
    assert set(first.median) == set(bench.IMPLS)
    assert first.ratio("jax") == pytest.approx(20 / 16)
    assert first.ratio("bound") == pytest.approx(20 / 6)
    assert first.memory is not None and first.memory["must_hold"] == 3200
    assert {(o.kind, o.name) for o in res.ops} == {
        ("activation", "relu"),
        ("activation", "tanh"),
        ("loss", "mse"),
    }


def test_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "_project_root", lambda: None)  # never benchmark from here
    assert bench.run(_args(peers="jax,tensorflow", out=tmp_path)) == 2
    assert capsys.readouterr().out == (
        "refbp bench: unknown peer(s) ['tensorflow']; valid are ['jax', 'torch']\n"
    )
    for bad in (0.0, 10.0, -1.0):
        assert bench.run(_args(threshold=bad, out=tmp_path)) == 2
        assert capsys.readouterr().out == (
            f"refbp bench: --threshold must be in (0, 10), got {bad}\n"
        )
    assert bench.run(_args(from_json=tmp_path / "missing.json", out=tmp_path)) == 2
    assert capsys.readouterr().out == f"refbp bench: no such file {tmp_path / 'missing.json'}\n"


def test_from_json_never_runs_the_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*a: Any) -> int:
        raise AssertionError("--from-json must not run the benchmarks")

    monkeypatch.setattr(bench, "run_benchmarks", must_not_run)
    monkeypatch.setattr(bench, "_project_root", lambda: None)
    path = _write(tmp_path / "bench" / "r.json", synthetic_run())
    out = tmp_path / "new" / "deep"  # --out need not exist
    assert bench.run(_args(from_json=path, out=out)) == 0
    assert "## Compared" not in (out / "bench.md").read_text()  # no --compare: no section


def test_parse_tolerates_what_it_does_not_know() -> None:
    """A JSON with no benchmarks, or benchmarks of someone else's (no extra_info), parses to
    empty rows rather than failing; a ratio against a zero time is undefined, not infinite."""
    empty = bench.parse_results({})
    assert (empty.steps, empty.ops, empty.raw, empty.machine, empty.datetime) == (
        [],
        [],
        [],
        {},
        "",
    )
    foreign = {"name": "test_x", "stats": {"median": 1.0}}
    res = bench.parse_results({"benchmarks": [foreign]})
    assert (res.steps, res.ops, res.raw) == ([], [], [foreign])
    row = bench.StepRow("c", [1], 1, "float64", 1, median={"refbp": 1.0, "jax": 0.0})
    assert row.ratio("jax") is None and row.ratio("torch") is None
    step = _bench("test_step[c]", synthetic_run()["benchmarks"][0]["extra_info"], 2.0)
    step["stats"] = {"median": 2.0}  # an older pytest-benchmark: no min, no rounds
    [row] = bench.parse_results({"benchmarks": [step]}).steps
    assert (row.median, row.minimum, row.rounds) == ({"refbp": 2.0}, {"refbp": 2.0}, {"refbp": 0})
    first = bench.parse_results(synthetic_run()).steps[0]
    assert first.rounds == dict.fromkeys(bench.IMPLS, 10)
    assert first.minimum["refbp"] == pytest.approx(18e-6)


def test_compare_matches_benchmarks_by_full_name() -> None:
    """Two modules may hold a benchmark of the same name: they are matched by their full
    names; a JSON without full names (older pytest-benchmark) is matched by name."""

    def run(times: dict[tuple[str | None, str], float]) -> bench.Results:
        raw = [
            {"name": name, **({"fullname": full} if full else {}),
             "extra_info": {"impl": "refbp"}, "stats": {"median": t, "min": t}}
            for (full, name), t in times.items()
        ]  # fmt: skip
        return bench.parse_results({"benchmarks": raw})

    prev = run({("a.py::t", "t"): 1.0, ("b.py::t", "t"): 2.0, (None, "u"): 4.0, (None, "v"): 6.0})
    now = run({("a.py::t", "t"): 1.5, ("b.py::t", "t"): 2.0, (None, "u"): 5.0, (None, "v"): 6.0})
    changes = bench.compare_runs(prev, now)
    assert [(c.name, c.previous, c.now) for c in changes] == [
        ("t", 1.0, 1.5), ("t", 2.0, 2.0), ("u", 4.0, 5.0), ("v", 6.0, 6.0)
    ]  # fmt: skip


def _raw(name: str, impl: str | None, median: float, minimum: float | None = None,
         case: str = "c", dtype: str = "float64") -> dict[str, Any]:  # fmt: skip
    stats: dict[str, float] = {"median": median}
    if minimum is not None:
        stats["min"] = minimum
    info = {"impl": impl, "case": case, "dtype": dtype} if impl else None
    return {"name": name, "fullname": f"m.py::{name}", "stats": stats,
            **({"extra_info": info} if info else {})}  # fmt: skip


def test_compare_details() -> None:
    """Which statistic, the bound's drift and its gaps, foreign and new benchmarks."""

    def res(*raw: dict[str, Any]) -> bench.Results:
        return bench.parse_results({"benchmarks": list(raw)})

    prev = res(
        _raw("foreign", None, 1.0),  # no extra_info: someone else's benchmark, skipped
        _raw("r", "refbp", 10.0, 8.0), _raw("bd", "bound", 4.0, 4.0),
        _raw("r2", "refbp", 10.0, 8.0, case="d"), _raw("bd2", "bound", 0.0, 0.0, case="d"),
        _raw("r3", "refbp", 10.0, case="e"), _raw("bd3", "bound", 1.0, 1.0, case="e"),
    )  # fmt: skip
    now = res(
        _raw("foreign", None, 1.0),
        _raw("new", "refbp", 1.0),  # not in the previous run: nothing to compare, go on
        _raw("r", "refbp", 12.0, 10.0), _raw("bd", "bound", 4.0, 8.0),
        _raw("r2", "refbp", 10.0, 8.0, case="d"), _raw("bd2", "bound", 1.0, 1.0, case="d"),
        _raw("r3", "refbp", 15.0, case="e"),  # no bound measured now
    )  # fmt: skip
    by_min = bench.compare_runs(prev, now)  # the default statistic is the minimum
    assert by_min == bench.compare_runs(prev, now, "min")
    assert [(c.name, c.previous, c.now, c.bound_change) for c in by_min] == [
        ("r", 8.0, 10.0, 1.0),  # the bound's min doubled
        ("r2", 8.0, 8.0, None),  # a zero bound before: no drift figure
        ("r3", 10.0, 15.0, None),  # no min recorded: the median; no bound now
    ]
    by_median = bench.compare_runs(prev, now, "median")
    assert [(c.name, c.previous, c.now, c.bound_change) for c in by_median] == [
        ("r", 10.0, 12.0, 0.0), ("r2", 10.0, 10.0, None), ("r3", 10.0, 15.0, None)
    ]  # fmt: skip
    # a regression is a change over the threshold, not at it
    assert [c.name for c in bench.regressions(by_min, 0.25)] == ["r3"]
    assert [c.name for c in bench.regressions(by_min, 0.5)] == []


def test_previous_run_is_chosen_by_timestamp_not_by_name(tmp_path: Path) -> None:
    d = tmp_path / "bench"
    _write(d / "z-oldest.json", synthetic_run(when="2026-01-01T00:00:00"))
    newest = _write(d / "a-newest.json", synthetic_run(when="2026-01-05T00:00:00"))
    plain = {"datetime": "2026-01-03T00:00:00", "benchmarks": []}  # no refbp_bench: a full run
    middle = _write(d / "m-plain.json", plain)
    _write(d / "no-time.json", {"machine_info": {}, "benchmarks": []})  # undated: never chosen
    assert bench.previous_run(d, None, quick=False) == newest
    assert bench.previous_run(d, newest, quick=False) == middle
    assert bench.previous_run(d, None, quick=True) is None
    assert [r.datetime for r in bench.saved_runs(d, quick=False)] == [
        "2026-01-01T00:00:00", "2026-01-03T00:00:00", "2026-01-05T00:00:00"
    ]  # fmt: skip


def test_blas_description() -> None:
    lib = {"internal_api": "openblas", "version": "0.3.31", "prefix": "libscipy_openblas",
           "architecture": "SkylakeX", "num_threads": 2, "filepath": "/x.so"}  # fmt: skip
    assert bench._describe_pool(lib) == (
        "openblas 0.3.31 (libscipy_openblas, SkylakeX kernels, 2 threads)"
    )
    assert bench._describe_pool({"internal_api": "mkl", "num_threads": 1}) == "mkl (1 threads)"


def test_saved_runs_skip_unreadable_ones(tmp_path: Path) -> None:
    d = tmp_path / "bench"
    bad = synthetic_run(when="2026-01-01T00:00:00")
    del bad["benchmarks"][0]["stats"]  # a damaged file, first in name order
    _write(d / "a.json", bad)
    _write(d / "b.json", synthetic_run(when="2026-01-02T00:00:00"))
    assert [r.datetime for r in bench.saved_runs(d, quick=False)] == ["2026-01-02T00:00:00"]


def test_machine_lines_fallbacks_and_median() -> None:
    run = {"machine_info": {"node": "n", "cpu": {"brand_raw": "X", "count": 4}},
           "datetime": "2026-01-01T00:00:00", "benchmarks": []}  # fmt: skip
    res = bench.parse_results(run)
    assert bench._machine_lines(res)[0] == (
        "Run 2026-01-01T00:00:00 on `n`: X, 4 logical CPUs; ."
    )  # no refbp_bench section: pytest-benchmark's own CPU count
    run["machine_info"]["refbp_bench"] = {"cpu_count": 8}
    assert "X, 8 logical CPUs" in bench._machine_lines(bench.parse_results(run))[0]
    res.steps = [bench.StepRow("c", [1], 1, "float64", 1, others_cpu=[0.06, 0.01, 0.05]),
                 bench.StepRow("d", [1], 1, "float64", 1, others_cpu=[0.02, 0.04, 0.03])]  # fmt: skip
    assert bench._machine_lines(res)[1] == (
        "BLAS: unknown; OPENBLAS_CORETYPE unset; other processes used 1%–6% of the CPUs while "
        "the steps were timed (median 4%)."
    )


def test_render_defaults_and_the_busy_mark() -> None:
    res = bench.parse_results(synthetic_run())
    for row in res.steps:
        row.others_cpu = [0.10]  # exactly the limit: not marked
    changes = bench.compare_runs(res, res)
    md = bench.render_markdown(res, changes, previous=Path("old.json"))
    assert "Compared: each benchmark's min time; flagged: refbp more than 10% slower." in md
    assert "0 regression(s) over 10%." in md
    assert "†" not in md.split("Bold: over the target.")[0]


def test_op_sections_without_activations_or_shape() -> None:
    run = synthetic_run()
    run["benchmarks"] = [b for b in run["benchmarks"] if b["extra_info"]["kind"] != "activation"]
    del run["machine_info"]["refbp_bench"]["op_shape"]
    md = bench.render_markdown(bench.parse_results(run))
    assert "## Activations" not in md
    assert (
        "\n## Losses\n\n| loss | value float32 | grad float32 | value float64 | grad float64 |\n"
        in md
    )


def test_project_root_is_the_checkout_with_the_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refbp

    checkout = Path(refbp.__file__).resolve().parent.parent
    assert bench._project_root() == checkout and (checkout / "tests" / "bench").is_dir()
    (tmp_path / "refbp").mkdir()
    (tmp_path / "tests" / "benchmarks").mkdir(parents=True)  # not tests/bench
    monkeypatch.setattr(refbp, "__file__", str(tmp_path / "refbp" / "__init__.py"))
    assert bench._project_root() is None  # an installed wheel: no benchmark modules


def test_raw_timings_are_stripped_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    bench._strip_raw_timings(path)  # no file (pytest wrote none): nothing to do
    assert not path.exists()
    data = {"machine_info": {"x": 1}, "benchmarks": [
        {"name": "a", "stats": {"median": 1.0, "data": [1.0, 2.0]}},
        {"name": "b", "stats": {"median": 2.0}},  # no per-round data
        {"name": "c"},  # no stats at all
    ]}  # fmt: skip
    path.write_text(json.dumps(data))
    bench._strip_raw_timings(path)
    del data["benchmarks"][0]["stats"]["data"]
    assert path.read_text() == json.dumps(data, indent=1)
    path.write_text('{"version": 1}')  # no benchmarks
    bench._strip_raw_timings(path)
    assert json.loads(path.read_text()) == {"version": 1}


def test_a_run_saved_at_the_same_time_is_not_older(tmp_path: Path) -> None:
    d = tmp_path / "bench"
    older = _write(d / "1.json", synthetic_run(when="2026-01-01T00:00:00"))
    _write(d / "2.json", synthetic_run(when="2026-01-02T00:00:00"))
    current = _write(d / "3.json", synthetic_run(when="2026-01-02T00:00:00"))
    assert bench.previous_run(d, current, quick=False) == older


def test_write_reports_paths_plots_history_and_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the Markdown and the plots go (quick runs have their own names), which saved
    runs make the history, and the defaults: plots on, comparison on minimum times."""
    drawn: list[tuple[Any, ...]] = []

    def fake_plots(res: bench.Results, out: Path, prefix: str) -> list[Path]:
        drawn.append((res, out, prefix))
        return [out / f"{prefix}-time.png", out / f"{prefix}-ratio.png"]

    monkeypatch.setattr(bench, "write_plots", fake_plots)
    out = tmp_path / "deep" / "out"
    quick = bench.parse_results(synthetic_run(quick=True))  # not read from a file: no path
    for when in ("2026-01-01T00:00:00", "2026-01-02T00:00:00"):  # out/bench is its history
        _write(out / "bench" / f"{when[:10]}-q.json", synthetic_run(when=when, quick=True))
    md_path, pngs, flagged = bench.write_reports(quick, out, False, 0.1)
    assert md_path == out / "bench-quick.md" and flagged == []
    assert drawn == [(quick, out, "bench-quick")]
    assert pngs == [out / "bench-quick-time.png", out / "bench-quick-ratio.png"]
    md = md_path.read_text()
    assert md.endswith("## Plots\n\n![bench-quick-time](bench-quick-time.png)\n"
                       "![bench-quick-ratio](bench-quick-ratio.png)\n")  # fmt: skip
    assert "## Run-to-run spread (2 saved runs of this kind)" in md

    saved = tmp_path / "saved"
    _write(saved / "a.json", synthetic_run())
    slower = synthetic_run(when="2026-01-02T00:00:00")
    for b in slower["benchmarks"]:
        if b["name"] == "test_loss[mse-grad-float64]":
            b["stats"]["min"] *= 1.5  # slower on minimum times only
    current = bench.load_results(_write(saved / "b.json", slower))
    drawn.clear()
    md_path, pngs, flagged = bench.write_reports(current, out, True, 0.1)
    assert md_path == out / "bench.md" and drawn == [(current, out, "bench")]
    assert [c.name for c in flagged] == ["test_loss[mse-grad-float64]"]
    md = md_path.read_text()
    assert "Previous run: `a.json`.  Compared: each benchmark's min time" in md
    assert "## Run-to-run spread (2 saved runs of this kind)" in md  # the JSON's own folder
    assert bench.write_reports(current, out, False, 0.1, plots=False)[1] == []
    _, _, flagged = bench.write_reports(current, out, True, 0.1, stat="median")
    assert flagged == [] and "each benchmark's median time" in (out / "bench.md").read_text()


def test_a_target_met_exactly_is_met() -> None:
    run = synthetic_run()
    for b in run["benchmarks"]:
        info = b["extra_info"]
        if info["kind"] == "step" and info["impl"] in ("refbp", "jax"):
            b["stats"]["median"] = 2e-3  # refbp / JAX = 1.00 everywhere
    vs_jax = bench.check_targets(bench.parse_results(run))[0]
    assert (vs_jax.met, vs_jax.worst) == (True, "1.00 ([64,64,10]B=32 float64)")


def test_targets_are_judged_on_the_right_rows() -> None:
    checks = bench.check_targets(bench.parse_results(synthetic_run()))
    vs_jax, vs_bound, memory = checks
    assert vs_jax.met is False and "1.25" in vs_jax.worst and "[2,3,1]B=4" in vs_jax.worst
    # only the two largest networks count for the bound: [2,3,1]'s 3.3× is not held against it
    assert vs_bound.met is True and "1.11 ([64,64,10]B=32" in vs_bound.worst
    assert memory.met is True


def test_markdown_has_the_tables_and_ratios() -> None:
    res = bench.parse_results(synthetic_run())
    md = bench.render_markdown(res, plots=["reports/bench-time.png"])
    assert "| [2,3,1]B=4 | float32 | 20 µs | 16 µs | 120 µs | 6 µs | **1.25** |" in md
    assert "| [1024,1024,10]B=256 | float64 | 45 ms |" in md
    assert "| 1.07 | 3 | 2% |" in md  # refbp / bound, page faults per call, others' CPU
    assert "**not met**" in md and "| met |" in md
    assert "## Peak memory of one backprop" in md and "1.03" in md
    assert "## Activations on a 256×1024 array" in md and "| tanh | 100 µs |" in md
    assert "## Losses" in md
    assert "OPENBLAS_CORETYPE unset" in md
    assert "![bench-time](bench-time.png)" in md


def test_formatting_helpers() -> None:
    """Every unit, at and just below each boundary."""
    times = {None: "–", float("nan"): "–", float("inf"): "–", 1.5: "1.5 s", 1.0: "1 s",
             0.999: "999 ms", 2.5e-3: "2.5 ms", 1e-3: "1 ms", 1e-6: "1 µs", 9.99e-7: "999 ns",
             3e-8: "30 ns", 0.0: "0 ns"}  # fmt: skip
    assert {t: bench.fmt_time(t) for t in times} == times
    assert bench.fmt_ratio(None) == "–" and bench.fmt_ratio(None, 1.0) == "–"
    assert bench.fmt_ratio(1.2, 1.0) == "**1.20**" and bench.fmt_ratio(0.9, 1.0) == "0.90"
    assert bench.fmt_ratio(1.0, 1.0) == "1.00"  # at the target is not over it
    assert bench.fmt_ratio(1.2) == "1.20"  # no target: never bold
    sizes = {None: "–", 10: "10 B", 1023: "1023 B", 1024: "1 KiB", 2048: "2 KiB",
             2**20 - 1: "1.02e+03 KiB", 2**20: "1 MiB", 3 * 2**20: "3 MiB", 2**30: "1 GiB",
             5 * 2**30: "5 GiB"}  # fmt: skip
    assert {n: bench.fmt_bytes(n) for n in sizes} == sizes
    flops = {216: "216 FLOP", 999: "999 FLOP", 1e3: "1 kFLOP", 1e6: "1 MFLOP",
             2.5e6: "2.5 MFLOP", 1e9: "1 GFLOP", 1.29e10: "12.9 GFLOP"}  # fmt: skip
    assert {n: bench.fmt_flops(n) for n in flops} == flops


def test_compare_flags_a_regression_and_exits_1(tmp_path: Path) -> None:
    old = _write(tmp_path / "bench" / "2026-01-01-testhost.json", synthetic_run())
    new = _write(
        tmp_path / "bench" / "2026-01-02-testhost.json",
        synthetic_run(scale=1.2, when="2026-01-02T00:00:00"),
    )
    assert bench.previous_run(tmp_path / "bench", new, quick=False) == old
    changes = bench.compare_runs(bench.load_results(old), bench.load_results(new))
    assert len(changes) == 6 + 8 + 4  # refbp's steps, activations, losses; not the peers
    assert all(c.change == pytest.approx(0.2) for c in changes if "step" in c.name)
    assert all(c.bound_change == pytest.approx(0.0) for c in changes if "step" in c.name)
    code = bench.run(_args(compare=True, out=tmp_path, from_json=new))
    assert code == 1
    md = (tmp_path / "bench.md").read_text()
    assert "## Compared with the previous run" in md and "2026-01-01-testhost.json" in md
    assert "**test_step[[2,3,1]B=4-float32-refbp]**" in md and "+20%" in md


def test_compare_passes_within_the_threshold(tmp_path: Path) -> None:
    _write(tmp_path / "bench" / "a.json", synthetic_run())
    new = _write(tmp_path / "bench" / "b.json", synthetic_run(1.05, "2026-01-02T00:00:00"))
    assert bench.run(_args(compare=True, out=tmp_path, from_json=new)) == 0
    assert "0 regression(s) over 10%" in (tmp_path / "bench.md").read_text()


def test_previous_run_is_of_the_same_kind_and_older(tmp_path: Path) -> None:
    d = tmp_path / "bench"
    full = _write(d / "2026-01-01-h.json", synthetic_run(when="2026-01-01T00:00:00"))
    _write(d / "2026-01-02-h-quick.json", synthetic_run(when="2026-01-02T00:00:00", quick=True))
    _write(d / "2026-01-09-h.json", synthetic_run(when="2026-01-09T00:00:00"))  # newer: not it
    _write(d / "broken.json", {"no": "datetime"})
    current = _write(d / "2026-01-03-h.json", synthetic_run(when="2026-01-03T00:00:00"))
    assert bench.previous_run(d, current, quick=False) == full
    assert bench.previous_run(d, current, quick=True) == d / "2026-01-02-h-quick.json"
    assert bench.previous_run(tmp_path / "empty", None, quick=False) is None


def test_compare_without_history_says_so(tmp_path: Path) -> None:
    only = _write(tmp_path / "bench" / "only.json", synthetic_run())
    assert bench.run(_args(compare=True, out=tmp_path, from_json=only)) == 0
    assert "No earlier run" in (tmp_path / "bench.md").read_text()


def test_quick_runs_write_their_own_report(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.json", synthetic_run(quick=True))
    assert cli.main(["bench", "--from-json", str(path), "--out", str(tmp_path), "--no-plots"]) == 0
    md = (tmp_path / "bench-quick.md").read_text()
    assert md.startswith("# refbp benchmark (quick smoke run)")
    assert not (tmp_path / "bench.md").exists()


def test_json_names_never_overwrite(tmp_path: Path) -> None:
    first = bench.json_path(tmp_path, quick=False)
    first.write_text("{}")
    second = bench.json_path(tmp_path, quick=False)
    assert second != first and second.stem.endswith("-2")
    assert bench.json_path(tmp_path, quick=True).stem.endswith("-quick")


def test_pytest_output_parsing() -> None:
    m = bench._COLLECTED.search("collecting ... collected 184 items / 92 deselected / 92 selected")
    assert m is not None and int(m.group(2) or m.group(1)) == 92
    m = bench._COLLECTED.search("collected 7 items")
    assert m is not None and int(m.group(2) or m.group(1)) == 7
    line = "tests/bench/test_bench_step.py::test_step[[2,3,1]B=4-float32-jax] PASSED [  1%]"
    m = bench._RESULT_LINE.match(line)
    assert m is not None and m.group(2) == "PASSED" and m.group(1).endswith("-jax]")


def test_wait_idle(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    shares = iter([0.5, 0.01])
    monkeypatch.setattr(bench, "others_share", lambda window=2.0: next(shares))
    assert bench.wait_idle(60.0) is True
    assert "waiting for an idle machine (others use 50%)" in capsys.readouterr().out
    monkeypatch.setattr(bench, "others_share", lambda window=2.0: 0.9)
    assert bench.wait_idle(0.0) is False
    monkeypatch.setattr(bench, "others_share", lambda window=2.0: None)  # not Linux
    assert bench.wait_idle(60.0) is True


def test_compare_on_min_ignores_a_disturbed_median(tmp_path: Path) -> None:
    old = synthetic_run()
    new = synthetic_run(when="2026-01-02T00:00:00")
    for b in new["benchmarks"]:  # a noisy run: medians 30% up, best rounds unchanged
        b["stats"]["median"] *= 1.3
    prev = bench.parse_results(old)
    cur = bench.parse_results(new)
    assert bench.regressions(bench.compare_runs(prev, cur, "median"), 0.1)
    assert not bench.regressions(bench.compare_runs(prev, cur, "min"), 0.1)
    md = bench.render_markdown(cur)
    assert "The same ratios on minimum times" in md
    assert "| [2,3,1]B=4 | float32 | 1.25 | 0.17 | 3.33 |" in md  # min ratios: 18/14.4 etc.


def test_run_to_run_spread_over_saved_runs(tmp_path: Path) -> None:
    _write(tmp_path / "bench" / "a.json", synthetic_run())
    _write(tmp_path / "bench" / "q.json", synthetic_run(2.0, "2026-01-01T12:00:00", quick=True))
    new = _write(tmp_path / "bench" / "b.json", synthetic_run(1.2, "2026-01-02T00:00:00"))
    assert [r.datetime for r in bench.saved_runs(tmp_path / "bench", quick=False)] == [
        "2026-01-01T00:00:00",
        "2026-01-02T00:00:00",
    ]
    assert bench.run(_args(out=tmp_path, from_json=new)) == 0
    md = (tmp_path / "bench.md").read_text()
    assert "## Run-to-run spread (2 saved runs of this kind)" in md
    assert "| [2,3,1]B=4 | float32 | 1.50 (1.25–1.50) |" in md  # the quick run is not mixed in


# --- the whole report, written down ----------------------------------------------------------
# tests/bench_report_golden.md is what render_markdown makes of two synthetic runs (every
# section, footnote, mark and fallback); any change to the report fails here until the file
# is regenerated on purpose (``python tests/test_bench_report.py``) and its diff reviewed.

GOLDEN = Path(__file__).with_name("bench_report_golden.md")


def golden_reports() -> str:
    old = synthetic_run()
    new = synthetic_run(scale=1.2, when="2026-01-02T00:00:00")
    third = synthetic_run(scale=0.9, when="2026-01-03T00:00:00")
    steps = [b for b in new["benchmarks"] if b["extra_info"]["kind"] == "step"]
    for b in steps:
        info = b["extra_info"]
        if info["case"] == "[64,64,10]B=32" and info["dtype"] == "float64":
            info["others_cpu"] = 0.25 if info["impl"] == "torch" else 0.05  # a busy row: †
            info.pop("page_faults_per_call")  # faults not recorded
            info.pop("memory", None)  # no memory row
            if info["impl"] == "refbp":  # one undisturbed round: the min ratios differ
                b["stats"]["min"] *= 0.5
        if info["case"] == "[2,3,1]B=4" and info["dtype"] == "float64" and "memory" in info:
            info["memory"] = {**info["memory"], "peak": 4800, "ratio": 1.5}  # over the target
        if info["case"] == "[1024,1024,10]B=256" and info["impl"] == "bound":
            b["stats"]["median"] *= 1.5  # the machine drifted: the bound moved too
            b["stats"]["min"] *= 1.5
    new["benchmarks"] = [
        b for b in new["benchmarks"]
        if not (b["extra_info"].get("impl") == "torch" and b["extra_info"]["dtype"] == "float32"
                and b["extra_info"].get("case") == "[2,3,1]B=4")
    ]  # fmt: skip
    rb = new["machine_info"]["refbp_bench"]
    rb["blas"].append({"internal_api": "openmp", "prefix": "libgomp", "num_threads": 1})
    rb["versions"]["torch"] = None  # not installed: not listed
    rb["env"]["OPENBLAS_CORETYPE"] = "Haswell"
    prev, cur = bench.parse_results(old), bench.parse_results(new)
    full = bench.render_markdown(
        cur,
        bench.compare_runs(prev, cur, "median"),
        previous=Path("reports/bench/2026-01-01-testhost.json"),
        threshold=0.15,
        plots=["reports/bench-time.png", "reports/bench-ratio.png"],
        stat="median",
        history=[prev, cur, bench.parse_results(third)],
    )
    quick = synthetic_run(when="", quick=True)
    quick["machine_info"] = {"refbp_bench": {"quick": True}}
    quick["benchmarks"] = [b for b in quick["benchmarks"] if b["extra_info"]["kind"] == "step"]
    for b in quick["benchmarks"]:
        b["extra_info"].pop("others_cpu")
    short = bench.render_markdown(bench.parse_results(quick), [], previous=None)
    return full + "\n<!-- second report: a quick run, no machine facts, no history -->\n" + short


def test_the_whole_report_is_the_golden_one() -> None:
    assert golden_reports() == GOLDEN.read_text(encoding="utf-8")


# The plots, written down the same way: what is drawn (every line's points, style, colour and
# label, every annotation, axis, tick label and legend), read back from the figures as saved.
GOLDEN_PLOTS = Path(__file__).with_name("bench_plots_golden.json")


def golden_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import warnings

    import matplotlib.pyplot as plt

    saved = record_saved_figures(monkeypatch)
    run = synthetic_run()
    run["benchmarks"] = [  # no JAX in float64, no PyTorch for the smallest float32 network
        b for b in run["benchmarks"]
        if not (b["extra_info"].get("impl") == "jax" and b["extra_info"]["dtype"] == "float64")
        and not (b["extra_info"].get("impl") == "torch" and b["extra_info"]["dtype"] == "float32"
                 and b["extra_info"].get("case") == "[2,3,1]B=4")
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plotting call matplotlib warns about is a defect
        paths = bench.write_plots(bench.parse_results(run), tmp_path, "bench")
    assert [p.name for p in paths] == ["bench-time.png", "bench-ratio.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()  # every figure closed
    return saved


def test_the_plots_are_the_golden_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    described = json.loads(json.dumps(golden_plots(tmp_path, monkeypatch)))
    assert described == json.loads(GOLDEN_PLOTS.read_text(encoding="utf-8"))


def test_machine_load_from_proc_stat(monkeypatch: pytest.MonkeyPatch) -> None:
    """others_share: busy / total CPU time between two reads of /proc/stat (idle and iowait
    are not busy), so a benchmark can say how loaded the machine was."""
    import io

    lines = iter([
        "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\n",  # busy 200 of 1000 ticks
        "cpu  250 0 150 900 200 0 0 0 0 0\ncpu0 1 2 3\n",  # +200 busy, +300 idle/iowait
    ])  # fmt: skip
    opened: list[str] = []

    def fake_open(path: str, *a: Any, **k: Any) -> io.StringIO:
        opened.append(path)
        return io.StringIO(next(lines))

    monkeypatch.setattr(bench, "open", fake_open, raising=False)
    monkeypatch.setattr(bench.os, "sysconf", lambda name: 100 if name == "SC_CLK_TCK" else 0)
    slept: list[float] = []
    monkeypatch.setattr(bench.time, "sleep", slept.append)
    assert bench.others_share(1.5) == pytest.approx(200 / 500)
    assert slept == [1.5] and opened == ["/proc/stat", "/proc/stat"]

    lines = iter(["cpu  100 0 100 700\n"])  # no iowait column (old kernels)
    assert bench._machine_busy_seconds() == (2.0, 9.0)
    lines = iter(["cpu  100 0 100 700 50\n"])  # exactly five: the fifth is iowait, not busy
    assert bench._machine_busy_seconds() == (2.0, 9.5)
    lines = iter(["cpu  100 0 100 700 100 0 0 0 0 0\n", "cpu  100 0 100 700 100 0 0 0 0 0\n"])
    assert bench.others_share() is None and slept == [1.5, 2.0]  # two seconds by default
    lines = iter(["cpu  a b c\n"])
    assert bench._machine_busy_seconds() is None

    def no_proc(path: str, *a: Any, **k: Any) -> io.StringIO:
        raise FileNotFoundError(path)

    monkeypatch.setattr(bench, "open", no_proc, raising=False)
    assert bench.others_share() is None and slept == [1.5, 2.0]  # no /proc: no wait either

    reads = iter([(10.0, 100.0), (10.0, 100.0)])  # no time passed: no share
    monkeypatch.setattr(bench, "_machine_busy_seconds", lambda: next(reads))
    assert bench.others_share(0.0) is None
    reads = iter([(10.0, 100.0), (9.0, 101.0)])  # a counter that went backwards: 0, not < 0
    assert bench.others_share(0.0) == 0.0


def test_wait_idle_polls_with_three_second_windows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    windows: list[float] = []
    shares = iter([0.3, 0.05, 0.049])

    def share(window: float = 2.0) -> float:
        windows.append(window)
        return next(shares)

    monkeypatch.setattr(bench, "others_share", share)
    assert bench.wait_idle(100.0) is True
    assert windows == [3.0, 3.0, 3.0]  # 5 % is not below the 5 % limit
    assert capsys.readouterr().out == (
        "refbp bench: waiting for an idle machine (others use 30%)\n"
        "refbp bench: waiting for an idle machine (others use 5%)\n"
    )
    shares = iter([0.3, 0.2])
    assert bench.wait_idle(100.0, limit=0.25) is True
    monkeypatch.setattr(bench.time, "monotonic", lambda: 50.0)  # a clock that stands still
    shares = iter([0.3, 0.01])
    assert bench.wait_idle(0.0) is True  # the deadline is not passed until the clock moves on


def test_json_path_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime

    when = datetime(2026, 3, 4, 5, 6, 7)
    monkeypatch.setattr(bench.socket, "gethostname", lambda: "My box#1_x-Y.lab.example")
    name = "2026-03-04-My_box_1_x-Y"
    assert bench.json_path(tmp_path, False, when) == tmp_path / f"{name}.json"
    assert bench.json_path(tmp_path, True, when) == tmp_path / f"{name}-quick.json"
    (tmp_path / f"{name}.json").write_text("{}")
    (tmp_path / f"{name}-2.json").write_text("{}")
    assert bench.json_path(tmp_path, False, when) == tmp_path / f"{name}-3.json"
    monkeypatch.setattr(bench.socket, "gethostname", lambda: "")
    assert bench.json_path(tmp_path, False, when) == tmp_path / "2026-03-04-host.json"
    assert bench.json_path(tmp_path, False).name == f"{datetime.now():%Y-%m-%d}-host.json"


# --- `refbp bench` running benchmarks: a fake tests/bench, a real pytest subprocess ----------

_FAKE_BENCH = """
import os
import sys
import time

import pytest


@pytest.mark.bench
def test_a_slow_start():
    if os.environ.get("REFBP_FAKE_BENCH_SLEEP"):
        time.sleep(60)


@pytest.mark.bench
def test_records_how_it_was_run(benchmark):
    benchmark.extra_info["argv"] = sys.argv[1:]
    benchmark.extra_info["python"] = sys.executable
    benchmark.extra_info["env"] = {
        k: os.environ.get(k)
        for k in ("REFBP_BENCH_QUICK", "REFBP_BENCH_PEERS", "REFBP_BENCH_WAIT_IDLE")
    }
    benchmark(lambda: None)


@pytest.mark.bench
def test_broken(benchmark):
    raise AssertionError("a broken benchmark")


def test_not_a_benchmark():
    raise AssertionError("deselected by -m bench: never runs")
"""


# what the real tests/bench/conftest.py says about the run that the report needs
_FAKE_BENCH_CONFTEST = """
import os


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["refbp_bench"] = {"quick": os.environ["REFBP_BENCH_QUICK"] == "1"}
"""


@pytest.fixture(scope="module")
def fake_bench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("checkout")
    (root / "tests" / "bench").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("", encoding="utf-8")
    (root / "tests" / "bench" / "__init__.py").write_text("", encoding="utf-8")
    (root / "tests" / "bench" / "test_fake.py").write_text(_FAKE_BENCH, encoding="utf-8")
    (root / "tests" / "bench" / "conftest.py").write_text(_FAKE_BENCH_CONFTEST, encoding="utf-8")
    root.joinpath("pyproject.toml").write_text(
        Path(__file__).resolve().parent.parent.joinpath("pyproject.toml").read_text("utf-8"),
        encoding="utf-8",
    )
    return root


class _FakePopen:
    """subprocess.Popen for run_benchmarks: records the call, replays pytest's lines."""

    calls: ClassVar[list[tuple[list[str], dict[str, Any]]]] = []
    lines = (
        "collecting ... collected 5 items / 2 deselected / 3 selected\n",
        "tests/bench/a.py::test_one PASSED [ 33%]\n",
        "tests/bench/a.py::test_two ERROR [ 66%]\n",
        "tests/bench/a.py::test_three FAILED [100%]\n",
    )

    def __init__(self, cmd: list[str], **kw: Any) -> None:
        self.calls.append((cmd, kw))
        self.stdout = iter(self.lines)

    def __enter__(self) -> _FakePopen:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def wait(self) -> int:
        return 1


def test_full_run_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full run: ten rounds, a second each at most, the environment says so; pytest's
    lines go to the log and its failures and errors are named."""
    import subprocess
    import sys

    _FakePopen.calls = []
    monkeypatch.setattr(bench.subprocess, "Popen", _FakePopen)
    monkeypatch.setenv("REFBP_BENCH_QUICK", "stale")
    out, log = tmp_path / "never-written.json", tmp_path / "run.log"
    assert bench.run_benchmarks(tmp_path, out, False, [], log) == 1  # wait_idle: 0 by default
    [(cmd, kw)] = _FakePopen.calls
    assert cmd == [
        sys.executable, "-u", "-m", "pytest", "tests/bench", "-m", "bench", "-v",
        "-p", "no:randomly", "-p", "no:cacheprovider", f"--benchmark-json={out}",
        "--benchmark-min-rounds=10", "--benchmark-max-time=1.0", "--benchmark-warmup=off",
        "--benchmark-columns=min,median,max,rounds",
    ]  # fmt: skip
    env = kw.pop("env")
    assert kw == {"cwd": tmp_path, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT,
                  "text": True, "bufsize": 1}  # fmt: skip
    assert (env["REFBP_BENCH_QUICK"], env["REFBP_BENCH_PEERS"]) == ("0", "")
    assert env["REFBP_BENCH_WAIT_IDLE"] == "0.0" and env["PATH"] == bench.os.environ["PATH"]
    assert log.read_text() == "".join(_FakePopen.lines)
    assert capsys.readouterr().out == (
        f"refbp bench: {' '.join(cmd[1:])}  (log: {log})\n"
        "benchmarking: 1/3 test_one passed\n"  # the first at once, then every 2 s, the last
        "benchmarking: 3/3 test_three failed\n"
        f"refbp bench: tests/bench/a.py::test_two failed (see {log})\n"
        f"refbp bench: tests/bench/a.py::test_three failed (see {log})\n"
    )
    assert not out.exists()

    # no deselection ("collected N items" alone), class-style test ids, then no count at all
    _FakePopen.calls = []
    monkeypatch.setattr(_FakePopen, "lines", (
        "collected 2 items\n",
        "tests/bench/a.py::TestX::test_one PASSED [ 50%]\n",
        "tests/bench/a.py::TestX::test_two PASSED [100%]\n",
    ))  # fmt: skip
    bench.run_benchmarks(tmp_path, out, True, ["jax"], log)
    assert capsys.readouterr().out.splitlines()[1:] == [
        "benchmarking: 1/2 test_one passed", "benchmarking: 2/2 test_two passed"
    ]  # fmt: skip
    monkeypatch.setattr(_FakePopen, "lines", ("tests/bench/a.py::test_one PASSED\n",))
    assert bench.run_benchmarks(tmp_path, out, True, ["jax"], log) == 1  # no bar: no progress
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_bench_command_runs_the_checkout_and_reports(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command around run_benchmarks: where the JSON goes, what it is told, what is
    printed, and that pytest's exit status is the command's."""
    from datetime import datetime

    root = tmp_path / "checkout"
    calls: list[tuple[Any, ...]] = []

    def fake_run(*a: Any) -> int:
        calls.append(a)
        run = synthetic_run(quick=True)
        for b in run["benchmarks"]:  # the smallest network's rows busy; one row at the limit
            if b["extra_info"].get("case") == "[2,3,1]B=4":
                b["extra_info"]["others_cpu"] = 0.5
            if (
                b["extra_info"].get("case") == "[64,64,10]B=32"
                and b["extra_info"]["dtype"] == "float32"
            ):
                b["extra_info"]["others_cpu"] = 0.10
        a[1].write_text(json.dumps(run))
        return 3

    monkeypatch.setattr(bench, "_project_root", lambda: root)
    monkeypatch.setattr(bench, "run_benchmarks", fake_run)
    monkeypatch.setattr(bench.socket, "gethostname", lambda: "box.example.org")
    waits: list[float] = []

    def busy(seconds: float) -> bool:  # a machine that stays busy
        waits.append(seconds)
        return False

    monkeypatch.setattr(bench, "wait_idle", busy)
    out = tmp_path / "out"
    argv = ["bench", "--quick", "--out", str(out), "--no-plots", "--peers", "torch, jax,",
            "--wait-idle", "7"]  # fmt: skip
    assert cli.main(argv) == 3  # pytest's status when no regression check asks otherwise
    json_file = (out / "bench" / f"{datetime.now():%Y-%m-%d}-box-quick.json").resolve()
    assert calls == [(root, json_file, True, ["torch", "jax"], json_file.with_suffix(".log"), 7.0)]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "refbp bench: the machine stayed busy for 7 s; running anyway"
    assert waits == [7.0]
    assert re.fullmatch(r"refbp bench: ran in \d s", printed[1])  # a fake run: no time at all
    assert printed[2:] == [
        f"refbp bench: wrote {json_file}, {out / 'bench-quick.md'}",
        "  refbp / JAX jit ≤ 1.00 at every size and dtype: NOT met (worst 1.25 ([2,3,1]B=4 "
        "float64))",
        "  refbp ≤ 1.15 × the three-GEMM bound at the two largest sizes: n/a (worst not measured)",
        "  peak memory of one backprop ≤ 1.3 × what it must hold: met (worst 1.03 "
        "([64,64,10]B=32 float64))",
        "  note: 2 of 6 step rows were timed while other processes used more than 10% of the "
        "CPUs (marked † in the report); rerun on an idle machine (--wait-idle) for numbers "
        "about the code",
    ]
    assert (out / "bench-quick.md").read_text().startswith("# refbp benchmark (quick")

    def no_json(*a: Any) -> int:
        return 0

    monkeypatch.setattr(bench, "run_benchmarks", no_json)
    assert cli.main(["bench", "--out", str(tmp_path / "o2"), "--no-plots"]) == 1
    assert capsys.readouterr().out.endswith(
        "refbp bench: pytest wrote no benchmark JSON; see the log\n"
    )
    monkeypatch.setattr(bench, "run_benchmarks", lambda *a: fake_run(*a) + 1)
    monkeypatch.setattr(bench, "write_plots", lambda res, o, prefix: [o / "p.png", o / "q.png"])
    for wait in ("0", "0.5"):  # the same --out again (its bench/ exists): plots this time
        assert cli.main(["bench", "--quick", "--out", str(out), "--wait-idle", wait]) == 4
        line = next(x for x in capsys.readouterr().out.splitlines() if "wrote" in x)
        assert line.endswith(f"bench-quick.md, {out / 'p.png'}, {out / 'q.png'}")
    assert waits == [7.0, 0.5]  # --wait-idle 0: no waiting at all


def test_compare_prints_each_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "bench" / "a.json", synthetic_run())
    slower = synthetic_run(when="2026-01-02T00:00:00")
    for b in slower["benchmarks"]:
        if b["name"] == "test_loss[mse-grad-float64]":
            b["stats"]["min"] *= 1.5
    new = _write(tmp_path / "bench" / "b.json", slower)
    argv = ["bench", "--from-json", str(new), "--out", str(tmp_path), "--no-plots", "--compare"]
    assert cli.main(argv) == 1  # --compare-stat min is the default
    assert capsys.readouterr().out.splitlines()[-1] == (
        "  regression: test_loss[mse-grad-float64] 180 µs -> 270 µs (+50%)"
    )
    assert cli.main([*argv, "--threshold", "0.6"]) == 0
    assert cli.main([*argv, "--compare-stat", "median"]) == 0  # the medians did not move


def test_bench_command_without_a_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "_project_root", lambda: None)
    assert cli.main(["bench", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().out == (
        "refbp bench: the benchmark modules (tests/bench) were not found next to the refbp "
        "package; run it from a source checkout (pip install -e '.[bench]')\n"
    )
    assert not list(tmp_path.iterdir())


def test_run_benchmarks_end_to_end(
    fake_bench_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    out, log = tmp_path / "run.json", tmp_path / "run.log"
    code = bench.run_benchmarks(fake_bench_root, out, True, ["jax", "torch"], log, 2.5)
    assert code == 1  # pytest's own exit status: one benchmark failed
    printed = capsys.readouterr().out
    args = [
        "tests/bench", "-m", "bench", "-v", "-p", "no:randomly", "-p", "no:cacheprovider",
        f"--benchmark-json={out}", "--benchmark-min-rounds=3", "--benchmark-max-time=0.05",
        "--benchmark-warmup=off", "--benchmark-columns=min,median,max,rounds",
    ]  # fmt: skip
    assert printed.startswith(f"refbp bench: -u -m pytest {' '.join(args)}  (log: {log})\n")
    assert printed.endswith(
        f"refbp bench: tests/bench/test_fake.py::test_broken failed (see {log})\n"
    )
    assert "benchmarking: 3/3 test_broken failed" in printed  # plain progress lines: no tty
    assert "test_not_a_benchmark" not in printed
    text = log.read_text()
    assert "test_records_how_it_was_run PASSED" in text and "a broken benchmark" in text
    data = json.loads(out.read_text())
    [only] = data["benchmarks"]
    assert only["extra_info"]["argv"] == args
    assert only["extra_info"]["env"] == {
        "REFBP_BENCH_QUICK": "1", "REFBP_BENCH_PEERS": "jax,torch", "REFBP_BENCH_WAIT_IDLE": "2.5"
    }  # fmt: skip
    assert only["stats"]["rounds"] >= 3
    assert "data" not in only["stats"]  # the per-round timings are dropped
    assert out.read_text() == json.dumps(data, indent=1)
    assert data["machine_info"]["refbp_bench"] == {"quick": True}
    assert only["extra_info"]["python"] == sys.executable  # the interpreter that runs refbp


def test_the_command_line_reaches_a_pipe_at_once(fake_bench_root: Path, tmp_path: Path) -> None:
    """A wrapper reading `refbp bench` through a pipe sees the command line it runs before
    the first benchmark ends (here: one that takes a minute)."""
    import sys

    from tests.pipes import lines_while_running

    code = ("import sys; from pathlib import Path; from refbp_tools import bench; "
            "bench.run_benchmarks(Path(sys.argv[1]), Path(sys.argv[2]), True, [], Path(sys.argv[3]))")  # fmt: skip
    argv = [sys.executable, "-c", code, str(fake_bench_root), str(tmp_path / "r.json"),
            str(tmp_path / "r.log")]  # fmt: skip
    got, running = lines_while_running(argv, "refbp bench:", 40, REFBP_FAKE_BENCH_SLEEP="1")
    assert got and got[-1].startswith("refbp bench: -u -m pytest tests/bench ")
    assert running  # the first benchmark takes a minute


if __name__ == "__main__":
    import tempfile

    GOLDEN.write_text(golden_reports(), encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        plots = golden_plots(Path(tmp), mp)
    GOLDEN_PLOTS.write_text(json.dumps(plots, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {GOLDEN} and {GOLDEN_PLOTS}")
