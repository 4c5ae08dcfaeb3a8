"""``refbp bench --compare`` and the saved runs: which run is the previous one, what is
compared (refbp's benchmarks, by full name, on the chosen statistic), what a regression
is, and the run-to-run spread over the saved runs of one kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from refbp import cli
from refbp_tools.bench import command
from refbp_tools.bench.compare import compare_runs, previous_run, regressions, saved_runs
from refbp_tools.bench.markdown import render_markdown
from refbp_tools.bench.model import Results, load_results, parse_results
from tests.tools.bench_runs import bench_args, raw_entry, synthetic_run, write_json


def _res(*raw: dict[str, Any]) -> Results:
    return parse_results({"benchmarks": list(raw)})


def test_compare_matches_benchmarks_by_full_name() -> None:
    """Two modules may hold a benchmark of the same name: they are matched by their full
    names; a JSON without full names (older pytest-benchmark) is matched by name."""

    def run(times: dict[tuple[str | None, str], float]) -> Results:
        return _res(*[
            {"name": name, **({"fullname": full} if full else {}),
             "extra_info": {"impl": "refbp"}, "stats": {"median": t, "min": t}}
            for (full, name), t in times.items()
        ])  # fmt: skip

    prev = run({("a.py::t", "t"): 1.0, ("b.py::t", "t"): 2.0, (None, "u"): 4.0, (None, "v"): 6.0})
    now = run({("a.py::t", "t"): 1.5, ("b.py::t", "t"): 2.0, (None, "u"): 5.0, (None, "v"): 6.0})
    assert [(c.name, c.previous, c.now) for c in compare_runs(prev, now)] == [
        ("t", 1.0, 1.5), ("t", 2.0, 2.0), ("u", 4.0, 5.0), ("v", 6.0, 6.0)
    ]  # fmt: skip


def test_compare_details() -> None:
    """Which statistic, the bound's drift and its gaps, foreign and new benchmarks."""
    prev = _res(
        raw_entry("foreign", None, 1.0),  # no extra_info: someone else's benchmark, skipped
        raw_entry("r", "refbp", 10.0, 8.0), raw_entry("bd", "bound", 4.0, 4.0),
        raw_entry("r2", "refbp", 10.0, 8.0, case="d"), raw_entry("bd2", "bound", 0.0, 0.0, case="d"),
        raw_entry("r3", "refbp", 10.0, case="e"), raw_entry("bd3", "bound", 1.0, 1.0, case="e"),
    )  # fmt: skip
    now = _res(
        raw_entry("foreign", None, 1.0),
        raw_entry("new", "refbp", 1.0),  # not in the previous run: nothing to compare, go on
        raw_entry("r", "refbp", 12.0, 10.0), raw_entry("bd", "bound", 4.0, 8.0),
        raw_entry("r2", "refbp", 10.0, 8.0, case="d"), raw_entry("bd2", "bound", 1.0, 1.0, case="d"),
        raw_entry("r3", "refbp", 15.0, case="e"),  # no bound measured now
    )  # fmt: skip
    by_min = compare_runs(prev, now)  # the default statistic is the minimum
    assert by_min == compare_runs(prev, now, "min")
    assert [(c.name, c.previous, c.now, c.bound_change) for c in by_min] == [
        ("r", 8.0, 10.0, 1.0),  # the bound's min doubled
        ("r2", 8.0, 8.0, None),  # a zero bound before: no drift figure
        ("r3", 10.0, 15.0, None),  # no min recorded: the median; no bound now
    ]
    by_median = compare_runs(prev, now, "median")
    assert [(c.name, c.previous, c.now, c.bound_change) for c in by_median] == [
        ("r", 10.0, 12.0, 0.0), ("r2", 10.0, 10.0, None), ("r3", 10.0, 15.0, None)
    ]  # fmt: skip
    # a regression is a change over the threshold, not at it
    assert [c.name for c in regressions(by_min, 0.25)] == ["r3"]
    assert [c.name for c in regressions(by_min, 0.5)] == []


def test_previous_run_is_chosen_by_timestamp_not_by_name(tmp_path: Path) -> None:
    d = tmp_path / "bench"
    write_json(d / "z-oldest.json", synthetic_run(when="2026-01-01T00:00:00"))
    newest = write_json(d / "a-newest.json", synthetic_run(when="2026-01-05T00:00:00"))
    plain = {"datetime": "2026-01-03T00:00:00", "benchmarks": [raw_entry("x", "refbp", 1.0)]}
    middle = write_json(d / "m-plain.json", plain)  # no refbp_bench: a full run
    empty = {"datetime": "2026-01-04T00:00:00", "benchmarks": []}  # nothing to compare with
    write_json(d / "n-empty.json", empty)
    undated = {"machine_info": {}, "benchmarks": [raw_entry("x", "refbp", 1.0)]}
    write_json(d / "no-time.json", undated)  # never chosen
    (d / "garbage.json").write_text("{not json")
    assert previous_run(d, None, quick=False) == newest
    assert previous_run(d, newest, quick=False) == middle
    assert previous_run(d, None, quick=True) is None
    assert [r.datetime for r in saved_runs(d, quick=False)] == [
        "2026-01-01T00:00:00", "2026-01-03T00:00:00", "2026-01-05T00:00:00"
    ]  # fmt: skip


def test_previous_run_is_of_the_same_kind_and_older(tmp_path: Path) -> None:
    d = tmp_path / "bench"
    full = write_json(d / "2026-01-01-h.json", synthetic_run(when="2026-01-01T00:00:00"))
    write_json(d / "2026-01-02-h-quick.json", synthetic_run(when="2026-01-02T00:00:00", quick=True))
    write_json(d / "2026-01-09-h.json", synthetic_run(when="2026-01-09T00:00:00"))  # newer
    write_json(d / "broken.json", {"no": "datetime"})
    current = write_json(d / "2026-01-03-h.json", synthetic_run(when="2026-01-03T00:00:00"))
    assert previous_run(d, current, quick=False) == full
    assert previous_run(d, current, quick=True) == d / "2026-01-02-h-quick.json"
    assert previous_run(tmp_path / "empty", None, quick=False) is None


def test_a_run_saved_at_the_same_time_is_not_older(tmp_path: Path) -> None:
    d = tmp_path / "bench"
    older = write_json(d / "1.json", synthetic_run(when="2026-01-01T00:00:00"))
    write_json(d / "2.json", synthetic_run(when="2026-01-02T00:00:00"))
    current = write_json(d / "3.json", synthetic_run(when="2026-01-02T00:00:00"))
    assert previous_run(d, current, quick=False) == older


def test_saved_runs_skip_unreadable_ones(tmp_path: Path) -> None:
    d = tmp_path / "bench"
    bad = synthetic_run(when="2026-01-01T00:00:00")
    del bad["benchmarks"][0]["stats"]  # a damaged file, first in name order
    write_json(d / "a.json", bad)
    write_json(d / "b.json", synthetic_run(when="2026-01-02T00:00:00"))
    assert [r.datetime for r in saved_runs(d, quick=False)] == ["2026-01-02T00:00:00"]


def test_compare_flags_a_regression_and_exits_1(tmp_path: Path) -> None:
    old = write_json(tmp_path / "bench" / "2026-01-01-testhost.json", synthetic_run())
    new = write_json(
        tmp_path / "bench" / "2026-01-02-testhost.json",
        synthetic_run(scale=1.2, when="2026-01-02T00:00:00"),
    )
    assert previous_run(tmp_path / "bench", new, quick=False) == old
    changes = compare_runs(load_results(old), load_results(new))
    # refbp's size ladder, step ladder, activations and losses; not the peers
    assert len(changes) == 6 + 12 + 8 + 4
    assert all(c.change == pytest.approx(0.2) for c in changes)
    assert all(c.bound_change == pytest.approx(0.0) for c in changes if "step" in c.name)
    assert command.run(bench_args(compare=True, out=tmp_path, from_json=new)) == 1
    md = (tmp_path / "bench.md").read_text()
    assert "## Compared with the previous run" in md and "2026-01-01-testhost.json" in md
    assert "**test_step[[2,3,1]B=4-float32-refbp]**" in md and "+20%" in md


def test_compare_passes_within_the_threshold(tmp_path: Path) -> None:
    write_json(tmp_path / "bench" / "a.json", synthetic_run())
    new = write_json(tmp_path / "bench" / "b.json", synthetic_run(1.05, "2026-01-02T00:00:00"))
    assert command.run(bench_args(compare=True, out=tmp_path, from_json=new)) == 0
    assert "0 regression(s) over 10%" in (tmp_path / "bench.md").read_text()


def test_compare_without_history_says_so(tmp_path: Path) -> None:
    only = write_json(tmp_path / "bench" / "only.json", synthetic_run())
    assert command.run(bench_args(compare=True, out=tmp_path, from_json=only)) == 0
    assert "No earlier run" in (tmp_path / "bench.md").read_text()


def _slower_loss_grad(when: str) -> dict[str, Any]:
    slower = synthetic_run(when=when)
    for b in slower["benchmarks"]:
        if b["name"] == "test_loss[mse-grad-float64]":
            b["stats"]["min"] *= 1.5  # slower on minimum times only
    return slower


def test_compare_prints_each_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_json(tmp_path / "bench" / "a.json", synthetic_run())
    new = write_json(tmp_path / "bench" / "b.json", _slower_loss_grad("2026-01-02T00:00:00"))
    argv = ["bench", "--from-json", str(new), "--out", str(tmp_path), "--no-plots", "--compare"]
    assert cli.main(argv) == 1  # --compare-stat min is the default
    assert capsys.readouterr().out.splitlines()[-1] == (
        "  regression: test_loss[mse-grad-float64] 108 µs -> 162 µs (+50%)"
    )
    assert cli.main([*argv, "--threshold", "0.6"]) == 0
    assert cli.main([*argv, "--compare-stat", "median"]) == 0  # the medians did not move


def test_compare_on_min_ignores_a_disturbed_median() -> None:
    new = synthetic_run(when="2026-01-02T00:00:00")
    for b in new["benchmarks"]:  # a noisy run: medians 30% up, best rounds unchanged
        b["stats"]["median"] *= 1.3
    prev, cur = parse_results(synthetic_run()), parse_results(new)
    assert regressions(compare_runs(prev, cur, "median"), 0.1)
    assert not regressions(compare_runs(prev, cur, "min"), 0.1)
    md = render_markdown(cur)
    assert "The same ratios on minimum times" in md
    assert "| [2,3,1]B=4 | float32 | 1.25 | 0.17 | 3.33 |" in md  # min ratios: 18/14.4 etc.


def test_run_to_run_spread_over_saved_runs(tmp_path: Path) -> None:
    write_json(tmp_path / "bench" / "a.json", synthetic_run())
    write_json(tmp_path / "bench" / "q.json", synthetic_run(2.0, "2026-01-01T12:00:00", quick=True))
    new = write_json(tmp_path / "bench" / "b.json", synthetic_run(1.2, "2026-01-02T00:00:00"))
    assert [r.datetime for r in saved_runs(tmp_path / "bench", quick=False)] == [
        "2026-01-01T00:00:00", "2026-01-02T00:00:00"
    ]  # fmt: skip
    assert command.run(bench_args(out=tmp_path, from_json=new)) == 0
    md = (tmp_path / "bench.md").read_text()
    assert "## Run-to-run spread (2 saved runs of this kind)" in md
    assert "| [2,3,1]B=4 | float32 | 1.50 (1.25–1.50) |" in md  # the quick run is not mixed in
    assert "--malloc" not in md.split("## Run-to-run spread")[1]  # every run alike: no word


def test_the_spread_says_when_its_runs_handled_memory_differently(tmp_path: Path) -> None:
    write_json(tmp_path / "bench" / "a.json", synthetic_run())  # from before --malloc
    newer = synthetic_run(1.2, "2026-01-02T00:00:00")
    newer["machine_info"]["refbp_bench"]["guard"]["malloc"] = "keep"
    new = write_json(tmp_path / "bench" / "b.json", newer)
    assert command.run(bench_args(out=tmp_path, from_json=new)) == 0
    spread = (tmp_path / "bench.md").read_text().split("## Run-to-run spread")[1]
    assert (
        "1 of them kept the memory they freed (--malloc keep), 1 ran on glibc's defaults"
    ) in spread
