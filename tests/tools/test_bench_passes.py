"""``refbp bench --passes N``: each row's implementations take turns N times, and the driver
pools each implementation's passes into one benchmark before the report reads them."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from refbp_tools.bench import command
from refbp_tools.bench.passes import contended_passes, merge_passes, pass_of
from tests.bench import cases
from tests.tools.bench_runs import bench_args, synthetic_run, write_json

ROOT = Path(__file__).resolve().parents[2]


def _entry(name: str, data: list[float], **info: Any) -> dict[str, Any]:
    return {
        "group": "g",
        "name": name,
        "fullname": f"tests/bench/m.py::{name}",
        "param": name[name.index("[") + 1 : -1] if "[" in name else None,
        "params": {"impl": info.get("impl"), "k": info.get("pass")},
        "extra_info": info,
        "options": {},
        "stats": {"median": statistics.median(data), "min": min(data), "rounds": len(data),
                  "total": sum(data), "iterations": 1, "data": data},
    }  # fmt: skip


def test_the_passes_of_a_benchmark_become_one_with_their_rounds_pooled() -> None:
    data = {
        "benchmarks": [
            _entry("t[row-refbp@p1]", [1.0, 1.0, 1.1], impl="refbp", others_cpu=0.0,
                   own_cores=1.0, waited_for_idle=0.5, page_faults_per_call=2.0, memory={"m": 1},
                   **{"pass": 1}),
            _entry("t[row-jax@p1]", [2.0, 2.0], impl="jax", others_cpu=0.01, **{"pass": 1}),
            _entry("t[row-refbp@p2]", [5.0, 5.0], impl="refbp", others_cpu=0.3, own_cores=1.1,
                   waited_for_idle=0.25, page_faults_per_call=4.0, attempts=2, **{"pass": 2}),
            _entry("t[row-jax@p2]", [2.2, 2.1], impl="jax", others_cpu=0.02, **{"pass": 2}),
            _entry("floor[exp]", [0.5], impl="numpy"),
        ]
    }  # fmt: skip
    assert merge_passes(data) == 2
    refbp, jax, floor = data["benchmarks"]  # each where its first pass stood
    assert refbp["fullname"] == "tests/bench/m.py::t[row-refbp]" and refbp["name"] == "t[row-refbp]"
    assert refbp["param"] == "row-refbp" and refbp["params"] == {"impl": "refbp"}
    stats = refbp["stats"]
    assert stats["data"] == [1.0, 1.0, 1.1, 5.0, 5.0] and stats["rounds"] == 5
    assert (stats["median"], stats["min"], stats["max"]) == (1.1, 1.0, 5.0)
    info = refbp["extra_info"]
    # the CPU shares over all the passes' timed seconds (3.1 s and 10 s), as one window
    # around them would read them; the waits add up; the faults are the passes' mean
    assert info["others_cpu"] == pytest.approx(0.3 * 10 / 13.1)
    assert info["own_cores"] == pytest.approx((1.0 * 3.1 + 1.1 * 10) / 13.1)
    assert info["waited_for_idle"] == 0.75
    assert info["page_faults_per_call"] == 3.0 and info["memory"] == {"m": 1}
    assert (info["passes"], info["pass_medians"], info["attempts"]) == (2, [1.0, 5.0], 2)
    assert "pass" not in info
    assert jax["stats"]["rounds"] == 4
    assert jax["extra_info"]["others_cpu"] == pytest.approx((0.01 * 4.0 + 0.02 * 4.3) / 8.3)
    assert floor["name"] == "floor[exp]" and "passes" not in floor["extra_info"]


def test_benchmarks_of_one_pass_are_retried_when_over_the_limit() -> None:
    data = {"benchmarks": [_entry("a", [1.0], others_cpu=0.5), _entry("b", [1.0], others_cpu=0.1),
                           _entry("c", [1.0]),
                           {"name": "nameless", "extra_info": {"others_cpu": 0.9}}]}  # fmt: skip
    names = ["tests/bench/m.py::a", "tests/bench/m.py::b"]
    assert contended_passes(data) == names[:1]  # at the limit is not over; no id: not retried
    assert contended_passes(data, limit=0.05) == names
    assert contended_passes({}) == []


def test_the_passes_of_a_benchmark_are_retried_together_on_their_joint_share() -> None:
    """A short pass with one busy tick is not contended when its benchmark was not: the
    share over all its passes decides, and then every pass is timed again."""
    quiet = [
        _entry("t[r-refbp@p1]", [1.0] * 9, others_cpu=0.0),
        _entry("t[r-refbp@p2]", [1.0], others_cpu=0.5),
        _entry("t[r-refbp@p3]", [1.0] * 9, others_cpu=0.0),
    ]  # 0.5 over a 19th of the time
    busy = [_entry("t[r-jax@p1]", [1.0], others_cpu=0.3),
            _entry("t[r-jax@p2]", [1.0], others_cpu=0.0)]  # fmt: skip
    data = {"benchmarks": [*quiet, *busy]}
    assert contended_passes(data) == [
        "tests/bench/m.py::t[r-jax@p1]",
        "tests/bench/m.py::t[r-jax@p2]",
    ]


def test_merging_a_run_of_one_pass_or_without_raw_timings_changes_nothing() -> None:
    one = {"benchmarks": [_entry("t[row-refbp]", [1.0, 2.0], impl="refbp")]}
    stripped = {"benchmarks": [_entry("t[row-refbp@p1]", [1.0], impl="refbp")]}
    del stripped["benchmarks"][0]["stats"]["data"]
    for data in (one, stripped):
        before = repr(data)
        assert merge_passes(data) == 0 and repr(data) == before


def test_a_pass_is_read_from_the_end_of_a_name_only() -> None:
    assert pass_of("t[a@p1-refbp@p12]") == ("t[a@p1-refbp]", 12)
    assert pass_of("t[a@p1-refbp]") == ("t[a@p1-refbp]", None)
    assert pass_of("t[row]@p2") == ("t[row]@p2", None)


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_pass_count_that_is_not_positive_is_refused(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFBP_BENCH_PASSES", raw)
    with pytest.raises(
        ValueError, match=f"REFBP_BENCH_PASSES must be a positive integer, got '{raw}'"
    ):
        cases.passes()


def test_rounds_and_time_are_shared_out_over_the_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFBP_BENCH_PASSES", raising=False)
    assert (cases.pass_ids(), cases.per_pass(5, 0.3)) == (
        [(1, "")],
        {"min_rounds": 5, "max_time": 0.3},
    )
    monkeypatch.setenv("REFBP_BENCH_PASSES", "3")
    assert cases.pass_ids() == [(1, "@p1"), (2, "@p2"), (3, "@p3")]
    assert cases.per_pass(5, 0.3) == {"min_rounds": 2, "max_time": pytest.approx(0.1)}


def test_every_row_times_its_implementations_in_turn() -> None:
    """The real benchmark modules, collected with two passes: within a row, every
    implementation's first pass comes before any second pass, in the same order."""
    env = dict(os.environ, REFBP_BENCH_PASSES="2", REFBP_BENCH_QUICK="1")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/bench", "-m", "bench", "--collect-only", "-q",
         "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    ids = [line for line in out.splitlines() if "::" in line]
    rows: dict[str, list[tuple[int, str]]] = {}
    for node in ids:
        merged, k = pass_of(node)
        assert k is not None, f"{node} has no pass"
        test, _, param = merged.partition("[")
        head, _, impl = param[:-1].rpartition("-")
        row = f"{test}[{head}]" if "floor" not in test else merged
        rows.setdefault(row, []).append((k, impl))
    kinds = {r.split("::")[1].split("[")[0] for r in rows}
    assert kinds == {"test_step", "test_ladder", "test_activation", "test_loss", "test_floor"}
    for row, order in rows.items():
        impls = [impl for k, impl in order if k == 1]
        assert order == [(1, i) for i in impls] + [(2, i) for i in impls], row
        positions = [ids.index(n) for n in ids if pass_of(n)[0].startswith(row[:-1])]
        assert positions == list(range(positions[0], positions[0] + len(positions))), row


def _in_passes(run: dict[str, Any], passes: int = 2) -> dict[str, Any]:
    """``run`` as pytest itself writes a run of ``passes`` passes: each benchmark once a
    pass, named ``...@p<k>]``, with its raw rounds."""
    split = []
    for bench in run["benchmarks"]:
        for k in range(1, passes + 1):
            b = json.loads(json.dumps(bench))
            b["name"], b["fullname"] = (n[:-1] + f"@p{k}]" if n.endswith("]") else f"{n}[@p{k}]"
                                        for n in (bench["name"], bench["fullname"]))  # fmt: skip
            low, mid = bench["stats"]["min"], bench["stats"]["median"]
            b["stats"]["data"] = [low, mid, 2 * mid - low]  # the same median and minimum
            b["stats"]["total"] = 3 * mid
            split.append(b)
    return {**run, "benchmarks": split}


def test_from_json_pools_a_raw_run_of_passes_and_refuses_one_without_its_rounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    whole = write_json(tmp_path / "a" / "whole.json", synthetic_run())  # one saved run a dir
    assert command.run(bench_args(from_json=whole, out=out)) == 0
    report = (out / "bench.md").read_text()
    raw = write_json(tmp_path / "b" / "raw.json", _in_passes(synthetic_run()))
    assert command.run(bench_args(from_json=raw, out=out / "passes")) == 0
    pooled = (out / "passes" / "bench.md").read_text()
    assert pooled.split("## Targets")[1] == report.split("## Targets")[1]  # the same rows
    stripped = _in_passes(synthetic_run())
    for b in stripped["benchmarks"]:
        del b["stats"]["data"]
    bad = write_json(tmp_path / "c" / "stripped.json", stripped)
    capsys.readouterr()
    assert command.run(bench_args(from_json=bad, out=out)) == 2
    printed = capsys.readouterr().err
    assert printed.startswith(f"refbp bench: --from-json {bad}: holds single passes (")
    assert (out / "bench.md").read_text() == report
