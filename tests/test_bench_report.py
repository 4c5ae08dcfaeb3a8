"""``refbp bench``'s report code, on small synthetic pytest-benchmark JSON (no timing here).

The benchmark modules themselves are marked ``bench`` and deselected by default; this file
keeps the code that turns their JSON into bench.md, the plots and the regression check
covered by the default test run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from refbp import cli
from refbp.commands import bench

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
    assert set(first.median) == set(bench.IMPLS)
    assert first.ratio("jax") == pytest.approx(20 / 16)
    assert first.ratio("bound") == pytest.approx(20 / 6)
    assert first.memory is not None and first.memory["must_hold"] == 3200
    assert {(o.kind, o.name) for o in res.ops} == {
        ("activation", "relu"),
        ("activation", "tanh"),
        ("loss", "mse"),
    }


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
    assert bench.fmt_time(None) == "–"
    assert bench.fmt_time(1.5) == "1.5 s"
    assert bench.fmt_time(2.5e-3) == "2.5 ms"
    assert bench.fmt_time(3e-8) == "30 ns"
    assert bench.fmt_ratio(1.2, 1.0) == "**1.20**" and bench.fmt_ratio(0.9, 1.0) == "0.90"
    assert bench.fmt_bytes(2048) == "2 KiB" and bench.fmt_bytes(10) == "10 B"
    assert bench.fmt_flops(216) == "216 FLOP" and bench.fmt_flops(1.29e10) == "12.9 GFLOP"


def test_plots_are_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    paths = bench.write_plots(bench.parse_results(synthetic_run()), tmp_path, "bench")
    assert [p.name for p in paths] == ["bench-time.png", "bench-ratio.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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


def test_bad_arguments(tmp_path: Path) -> None:
    assert bench.run(_args(peers="jax,tensorflow", out=tmp_path)) == 2
    assert bench.run(_args(threshold=0.0, out=tmp_path)) == 2
    assert bench.run(_args(from_json=tmp_path / "missing.json", out=tmp_path)) == 2


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
