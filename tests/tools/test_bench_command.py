"""``refbp bench`` from its arguments to its reports: refusals, --from-json, where the
reports go, what it passes to the driver and prints, and its exit status."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from refbp import cli
from refbp_tools.bench import command, driver
from refbp_tools.bench.model import Results, load_results, parse_results
from tests.tools.bench_runs import bench_args, synthetic_run, write_json


def test_bad_arguments_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver, "project_root", lambda: None)  # never benchmark from here
    refusals = {
        "refbp bench: unknown peer(s) ['tensorflow']; valid are ['jax', 'torch']":
            dict(peers="jax,tensorflow"),
        "refbp bench: --threads must be 0 (leave as is) or a positive count, got -1":
            dict(threads=-1),
        "refbp bench: --wait-idle must be a finite number ≥ 0 of seconds, got -1.0": dict(wait_idle=-1.0),
        "refbp bench: --wait-each must be a finite number ≥ 0 of seconds, got -4.0": dict(wait_each=-4.0),
        "refbp bench: --retry-wait must be a finite number ≥ 0 of seconds, got -2.0": dict(retry_wait=-2.0),
        "refbp bench: --retry-budget must be a finite number ≥ 0 of seconds, got -3.0": dict(retry_budget=-3.0),
        "refbp bench: --wait-each must be a finite number ≥ 0 of seconds, got nan":
            dict(wait_each=float("nan")),
        "refbp bench: --wait-idle must be a finite number ≥ 0 of seconds, got inf":
            dict(wait_idle=float("inf")),
        f"refbp bench: no such file {tmp_path / 'missing.json'}":
            dict(from_json=tmp_path / "missing.json"),
    }  # fmt: skip
    for bad in (0.0, 10.0, -1.0):
        refusals[f"refbp bench: --threshold must be in (0, 10), got {bad}"] = dict(threshold=bad)
    a_file = tmp_path / "a_file"
    refusals[f"refbp bench: --out: {a_file} exists and is not a directory"] = dict(out=a_file)
    a_file.write_text("kept\n")
    for message, kw in refusals.items():
        assert command.run(bench_args(**{"out": tmp_path, **kw})) == 2
        said = capsys.readouterr()
        assert (said.out, said.err) == ("", message + "\n")  # a usage error, on stderr
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"] and a_file.read_text() == "kept\n"


def test_runs_write_outside_the_checkout_by_default() -> None:
    """Like verify: a run's reports go to .refbp/ (ignored by git) unless --out says reports."""
    args = cli.build_parser().parse_args(["bench"])
    gitignore = Path(__file__).resolve().parents[2] / ".gitignore"
    assert args.out == Path(".refbp") and ".refbp/" in gitignore.read_text().split()
    assert (args.threads, args.retries, args.wait_idle, args.wait_each) == (1, 1, 0.0, 0.0)
    assert args.passes == 3


@pytest.mark.parametrize("passes", ["0", "-1", "two", "1.5"])
def test_a_pass_count_that_is_not_positive_is_refused_by_the_parser(
    passes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["bench", "--passes", passes])
    assert exc.value.code == 2
    assert "argument --passes: expected a positive integer, got " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("not json", "not JSON"),
        ("[]", "not a pytest-benchmark JSON"),
        ('{"benchmarks": "x"}', "not a pytest-benchmark JSON"),
        ('{"benchmarks": [{"name": 1}]}', "not a pytest-benchmark JSON"),
        ('{"benchmarks": []}', "holds no benchmarks"),
    ],
    ids=["not json", "a list", "benchmarks not a list", "a benchmark without stats", "empty"],
)
def test_a_json_that_is_no_benchmark_run_is_refused_and_the_report_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    out = tmp_path / "out"
    good = write_json(tmp_path / "bench" / "good.json", synthetic_run())
    assert command.run(bench_args(from_json=good, out=out)) == 0
    report = (out / "bench.md").read_text()
    bad = tmp_path / "bench" / "bad.json"
    bad.write_text(text)
    capsys.readouterr()
    assert command.run(bench_args(from_json=bad, out=out)) == 2
    printed = capsys.readouterr().err
    assert printed.startswith(f"refbp bench: --from-json {bad}: ") and said in printed
    assert (out / "bench.md").read_text() == report  # the good report is not overwritten
    # and a broken file beside a good run does not stop the good run's report (the spread
    # reads every saved run in the directory)
    assert command.run(bench_args(from_json=good, out=out)) == 0


def test_from_json_never_runs_the_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*a: Any) -> int:
        raise AssertionError("--from-json must not run the benchmarks")

    monkeypatch.setattr(driver, "run_benchmarks", must_not_run)
    monkeypatch.setattr(driver, "project_root", lambda: None)
    path = write_json(tmp_path / "bench" / "r.json", synthetic_run())
    out = tmp_path / "new" / "deep"  # --out need not exist
    assert command.run(bench_args(from_json=path, out=out)) == 0
    assert "## Compared" not in (out / "bench.md").read_text()  # no --compare: no section


def test_quick_runs_write_their_own_report(tmp_path: Path) -> None:
    path = write_json(tmp_path / "q.json", synthetic_run(quick=True))
    assert cli.main(["bench", "--from-json", str(path), "--out", str(tmp_path), "--no-plots"]) == 0
    md = (tmp_path / "bench-quick.md").read_text()
    assert md.startswith("# refbp benchmark (quick smoke run)")
    assert not (tmp_path / "bench.md").exists()


def test_write_reports_paths_plots_history_and_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the Markdown and the plots go (quick runs have their own names), which saved
    runs make the history, and the defaults: plots on, comparison on minimum times."""
    drawn: list[tuple[Any, ...]] = []

    def fake_plots(res: Results, out: Path, prefix: str) -> list[Path]:
        drawn.append((res, out, prefix))
        return [out / f"{prefix}-time.png", out / f"{prefix}-ratio.png"]

    monkeypatch.setattr(command, "write_plots", fake_plots)
    out = tmp_path / "deep" / "out"
    quick = parse_results(synthetic_run(quick=True))  # not read from a file: no path
    for when in ("2026-01-01T00:00:00", "2026-01-02T00:00:00"):  # out/bench is its history
        write_json(out / "bench" / f"{when[:10]}-q.json", synthetic_run(when=when, quick=True))
    md_path, pngs, flagged = command.write_reports(quick, out, False, 0.1)
    assert md_path == out / "bench-quick.md" and flagged == []
    assert drawn == [(quick, out, "bench-quick")]
    assert pngs == [out / "bench-quick-time.png", out / "bench-quick-ratio.png"]
    md = md_path.read_text()
    assert md.endswith("## Plots\n\n![bench-quick-time](bench-quick-time.png)\n"
                       "![bench-quick-ratio](bench-quick-ratio.png)\n")  # fmt: skip
    assert "## Run-to-run spread (2 saved runs of this kind)" in md

    saved = tmp_path / "saved"
    write_json(saved / "a.json", synthetic_run())
    slower = synthetic_run(when="2026-01-02T00:00:00")
    for b in slower["benchmarks"]:
        if b["name"] == "test_loss[mse-grad-float64]":
            b["stats"]["min"] *= 1.5  # slower on minimum times only
    current = load_results(write_json(saved / "b.json", slower))
    drawn.clear()
    md_path, pngs, flagged = command.write_reports(current, out, True, 0.1)
    assert md_path == out / "bench.md" and drawn == [(current, out, "bench")]
    assert [c.name for c in flagged] == ["test_loss[mse-grad-float64]"]
    md = md_path.read_text()
    assert "Previous run: `a.json`.  Compared: each benchmark's min time" in md
    assert "## Run-to-run spread (2 saved runs of this kind)" in md  # the JSON's own folder
    assert command.write_reports(current, out, False, 0.1, plots=False)[1] == []
    _, _, flagged = command.write_reports(current, out, True, 0.1, stat="median")
    assert flagged == [] and "each benchmark's median time" in (out / "bench.md").read_text()


def _busy_quick_run() -> dict[str, Any]:
    run = synthetic_run(quick=True)
    for b in run["benchmarks"]:  # the smallest network's rows busy; one row at the limit
        info = b["extra_info"]
        if info.get("case") == "[2,3,1]B=4":
            info["others_cpu"] = 0.5
        if info.get("case") == "[64,64,10]B=32" and info["dtype"] == "float32":
            info["others_cpu"] = 0.10
    return run


def test_bench_command_runs_the_checkout_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command around run_benchmarks: where the JSON goes, what it is told, what is
    printed, and that pytest's exit status is the command's."""
    from datetime import datetime

    root = tmp_path / "checkout"
    calls: list[tuple[Any, ...]] = []

    def fake_run(*a: Any) -> int:
        calls.append(a)
        a[1].write_text(json.dumps(_busy_quick_run()))
        return 3

    monkeypatch.setattr(driver, "project_root", lambda: root)
    monkeypatch.setattr(driver, "run_benchmarks", fake_run)
    monkeypatch.setattr(driver.socket, "gethostname", lambda: "box.example.org")
    waits: list[float] = []

    def busy(seconds: float) -> bool:  # a machine that stays busy
        waits.append(seconds)
        return False

    monkeypatch.setattr(command.contention, "wait_idle", busy)
    out = tmp_path / "out"
    argv = ["bench", "--quick", "--out", str(out), "--no-plots", "--peers", "torch, jax,",
            "--wait-idle", "7", "--wait-each", "0.5", "--threads", "2", "--retries", "0", "--retry-wait", "1",
            "--retry-budget", "9", "--malloc", "system", "--passes", "2"]  # fmt: skip
    assert cli.main(argv) == 3  # pytest's status when no regression check asks otherwise
    json_file = (out / "bench" / f"{datetime.now():%Y-%m-%d}-box-quick.json").resolve()
    [(got_root, got_json, settings, log)] = calls
    assert (got_root, got_json, log) == (root, json_file, json_file.with_suffix(".log"))
    assert settings.note.pop("waited_before") >= 0
    assert settings == driver.Settings(
        quick=True, peers=["torch", "jax"], wait_each=0.5, threads=2, retries=0,
        retry_wait=1.0, retry_budget=9.0, malloc="system", passes=2,
        note={"wait_idle": 7.0, "stayed_busy": True},
    )  # fmt: skip
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "refbp bench: the machine stayed busy for 7 s; running anyway"
    assert waits == [7.0]
    assert re.fullmatch(r"refbp bench: ran in \d s", printed[1])  # a fake run: no time at all
    assert printed[2] == f"refbp bench: wrote {json_file}, {out / 'bench-quick.md'}"
    assert printed[3] == (
        "  refbp / JAX jit ≤ 1.00 at every size and dtype: NOT met (worst 1.25 ([2,3,1]B=4 "
        "float64) †)"
    )
    assert printed[4] == (
        "  refbp ≤ 1.15 × the three-GEMM bound at the two largest sizes: n/a (worst not measured)"
    )
    assert printed[-1] == (
        "  note: 8 of 30 rows were timed while other processes used more than 10% of the "
        "CPUs (marked † in the report and ringed in the plots); rerun on an idle machine "
        "(--wait-idle) for numbers about the code"
    )  # the smallest network's 2 size- and 6 step-ladder rows; of 6 + 12 + 12 kernel cells
    assert (out / "bench-quick.md").read_text().startswith("# refbp benchmark (quick")


def test_bench_command_without_json_plots_and_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver, "project_root", lambda: tmp_path / "checkout")
    monkeypatch.setattr(driver, "run_benchmarks", lambda *a: 0)
    assert cli.main(["bench", "--out", str(tmp_path / "o2"), "--no-plots"]) == 1
    assert capsys.readouterr().err == (
        "refbp bench: pytest wrote no benchmark JSON; see the log\n"
    )

    def waited(seconds: float) -> bool:
        raise AssertionError("--wait-idle 0 never waits")

    def fake_run(*a: Any) -> int:
        a[1].write_text(json.dumps(_busy_quick_run()))
        assert a[2].note == {}
        return 4

    monkeypatch.setattr(command.contention, "wait_idle", waited)
    monkeypatch.setattr(driver, "run_benchmarks", fake_run)
    monkeypatch.setattr(command, "write_plots", lambda res, o, prefix: [o / "p.png", o / "q.png"])
    out = tmp_path / "out"
    for _ in range(2):  # the same --out again (its bench/ exists): a second JSON
        assert cli.main(["bench", "--quick", "--out", str(out), "--wait-idle", "0"]) == 4
        line = next(x for x in capsys.readouterr().out.splitlines() if "wrote" in x)
        assert line.endswith(f"bench-quick.md, {out / 'p.png'}, {out / 'q.png'}")
    assert len(list((out / "bench").glob("*.json"))) == 2


def test_bench_command_without_a_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver, "project_root", lambda: None)
    assert cli.main(["bench", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().out == (
        "refbp bench: the benchmark modules (tests/bench) were not found next to the refbp "
        "package; run it from a source checkout (pip install -e '.[bench]')\n"
    )
    assert not list(tmp_path.iterdir())
