"""``refbp verify``'s own logic: folding the rows, the report, and the verdict (exit status).

The differential suite decides whether refbp agrees with the oracle; this file checks that
``refbp verify`` reports that decision faithfully.  pytest is replaced by a fake process that
writes chosen rows and progress lines, so every branch (a failure, pytest dying without one,
an activation × loss × dtype cell with no examples, xdist worker logs) runs in milliseconds and
without JAX.  Expected figures are written out by hand from the rows given.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import refbp
from refbp import cli
from refbp_tools import _verify_plugin, verify
from refbp_tools.progress import Progress

DTYPES = ("float32", "float64")
N_CELLS = len(DTYPES) * len(refbp.ACTIVATIONS) * len(refbp.LOSSES)  # activation × loss × dtype
ZERO_ERRORS = dict.fromkeys(verify.QUANTITIES, 0.0)


def _row(
    acts: list[str], loss_name: str, dtype: str, ratio: float, source: str | None = None,
    **err: float,
) -> dict[str, Any]:
    return {"kind": "network", "activations": acts, "loss": loss_name, "dtype": dtype,
            "errors": {**ZERO_ERRORS, **err}, "ratio": ratio, "source": source}  # fmt: skip


def _compiles(n: int, hits: int, seconds: float) -> dict[str, Any]:
    return {"kind": "_compiles", "compiles": n, "cache_hits": hits, "seconds": seconds}


def _every_cell(skip: tuple[str, str, str] | None = None) -> list[dict[str, Any]]:
    """One network row per activation × loss × dtype cell of the registries (140 today)."""
    return [
        _row([a], loss, dt, 0.25, source="test_networks")
        for a in sorted(refbp.ACTIVATIONS)
        for loss in sorted(refbp.LOSSES)
        for dt in DTYPES
        if (a, loss, dt) != skip
    ]


def test_aggregate_folds_rows_into_cells_and_totals() -> None:
    """A network row counts once in the cell of each distinct activation it uses; the cell
    keeps the worst error of each quantity and the worst bound ratio; other kinds only count;
    compile records are summed and kept one per process."""
    rows = [
        _row(["relu", "tanh"], "mse", "float32", 0.5, "test_networks", delta=1e-6, grad_W=2e-7),
        _row(["tanh"], "mse", "float32", 0.75, "test_networks", delta=3e-7, grad_X=4e-6),
        _row(["tanh"], "mse", "float64", 0.125, None, loss=1e-15),
        {"kind": "function", "activations": ["tanh"], "loss": None, "dtype": "float64",
         "errors": {}, "ratio": 0.9, "source": None},
        _compiles(10, 2, 3.5),
        _compiles(4, 6, 1.25),
    ]  # fmt: skip
    agg = verify.aggregate(rows)
    tanh32 = agg["cells"][("tanh", "mse", "float32")]
    assert tanh32["examples"] == 2
    assert tanh32["ratio"] == 0.75
    assert tanh32["worst"] == {"loss": 0.0, "delta": 1e-6, "grad_W": 2e-7, "grad_b": 0.0,
                               "grad_X": 4e-6}  # fmt: skip
    relu32 = agg["cells"][("relu", "mse", "float32")]
    assert relu32["examples"] == 1
    assert relu32["worst"]["grad_X"] == 0.0
    assert agg["cells"][("tanh", "mse", "float64")]["worst"]["loss"] == 1e-15
    assert ("tanh", None, "float64") not in agg["cells"]  # a function row fills no cell
    assert set(agg["cells"]) == {("relu", "mse", "float32"), ("tanh", "mse", "float32"),
                                 ("tanh", "mse", "float64")}  # fmt: skip
    assert agg["counts"] == {"network": 3, "function": 1}
    assert agg["worst_ratio"] == 0.9
    assert agg["network_test_examples"] == 2
    assert (agg["compiles"], agg["cache_hits"], agg["compile_seconds"]) == (14, 8, 4.75)
    assert agg["sessions"] == [rows[4], rows[5]]


def test_aggregate_of_nothing_is_empty() -> None:
    agg = verify.aggregate([])
    assert agg["cells"] == {}
    assert agg["counts"] == {}
    assert (agg["compiles"], agg["worst_ratio"], agg["network_test_examples"]) == (0, 0.0, 0)


def _summary(**over: Any) -> dict[str, Any]:
    base = {"profile": "quick", "date": "2026-11-23 17:00 UTC", "host": "vm",
            "network_examples": 280, "examples": 300, "seconds": 12.34,
            "networks_per_second": 22.7, "networks_per_second_sustained": 41.6,
            "compiles": 14, "cache_hits": 8, "failures": [],
            "counts": {"network": 280, "function": 20}}  # fmt: skip
    return {**base, **over}


def test_markdown_states_the_run_and_lists_every_cell() -> None:
    rows = _every_cell(skip=("tanh", "mse", "float64"))
    rows[0]["errors"]["grad_b"] = 2.5e-7
    agg = verify.aggregate(rows)
    text = verify.markdown(_summary(), agg)
    lines = text.splitlines()
    assert lines[0] == "# refbp verification"
    assert lines[1] == lines[3] == lines[5] == ""
    assert lines[2] == (
        "Profile `quick`, 2026-11-23 17:00 UTC, on `vm`: **280 whole networks** and 300 "
        "examples in all verified in 12.3 s (23 networks/s over the whole run, 42/s "
        "sustained inside the whole-network property tests); 14 XLA compiles, 8 "
        "persistent-cache hits; 0 failures."
    )
    assert lines[4] == (
        "Each network row counts once in the cell of every activation it uses.  Errors are "
        "normwise relative errors of refbp against the float64 JAX oracle, worst over the "
        "cell; *bound used* is the worst error as a share of the tolerance model's bound "
        "(tests/agreement.py).  The examples per kind: function 20, network 280."
    )
    assert lines[6:8] == [
        "| activation | loss | dtype | examples | loss | δ | ∂C/∂W | ∂C/∂b | ∂C/∂X | bound used |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    first = rows[0]
    assert (f"| {first['activations'][0]} | {first['loss']} | {first['dtype']} | 1 | "
            "0 | 0 | 0 | 2.5e-07 | 0 | 0.25 |") in lines  # fmt: skip
    assert "| tanh | mse | float64 | **0** | | | | | | |" in lines
    table = [x for x in lines if x.startswith("| ") and not x.startswith("| activation")]
    assert len(table) == N_CELLS
    assert "## Failures" not in text
    with_failure = verify.markdown(_summary(failures=["tests/x.py::t"]), agg)
    table_end = text.rstrip("\n").rsplit("\n", 1)[1]
    assert with_failure.replace("; 1 failures.", "; 0 failures.") == text.rstrip("\n") + (
        "\n\n## Failures\n\n- `tests/x.py::t`\n"
    )
    assert table_end.startswith("| tanh | softmax_cross_entropy | float64 |")


def test_table_is_printed_without_rich(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # import raises ImportError
    agg = verify.aggregate([_row(["tanh"], "mse", "float32", 0.5, grad_W=3e-7)])
    verify._print_table(agg)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == N_CELLS
    pad = " " * 19  # "mse" right-aligned in 22 columns
    assert f"      tanh {pad}mse float32      1 loss=0 delta=0 grad_W=3.0e-07 grad_b=0 grad_X=0" in out
    assert f"      tanh {pad}mse float64      0 loss=0 delta=0 grad_W=0 grad_b=0 grad_X=0" in out


def test_table_is_printed_with_rich(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names left-aligned, numbers right-aligned (the loss error column too), an empty cell
    shows 0 examples and blank errors."""
    pytest.importorskip("rich")
    monkeypatch.setenv("COLUMNS", "200")  # rich would wrap the cells at 80
    agg = verify.aggregate([_row(["tanh"], "mse", "float32", 0.5, delta=1e-7, grad_W=3e-7)])
    verify._print_table(agg)
    lines = [x.strip() for x in capsys.readouterr().out.splitlines()]
    assert lines[0] == "refbp vs the JAX oracle: worst relative error per cell"
    assert lines[2] == (
        "┃ activation ┃ loss                  ┃   dtype ┃ examples ┃ loss ┃   delta ┃  grad_W ┃ "
        "grad_b ┃ grad_X ┃ bound used ┃"
    )
    assert (
        "│ tanh       │ mse                   │ float32 │        1 │    0 │ 1.0e-07 │ 3.0e-07 │ "
        "     0 │      0 │       0.50 │"
    ) in lines
    assert (
        "│ tanh       │ mse                   │ float64 │        0 │      │         │         │ "
        "       │        │            │"
    ) in lines
    assert len([x for x in lines if x.startswith("│")]) == N_CELLS


class _FakePytest:
    """Stands in for the pytest process: writes rows to the log(s) and prints lines."""

    rows: ClassVar[list[dict[str, Any]]] = []
    worker_rows: ClassVar[list[dict[str, Any]]] = []
    lines: ClassVar[list[str]] = []
    code: ClassVar[int] = 0
    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, cmd: list[str], cwd: Path, env: dict[str, str], **kw: Any) -> None:
        _FakePytest.calls.append({"cmd": cmd, "cwd": cwd, "env": env, **kw})
        log = env["REFBP_VERIFY_LOG"]
        for path, rows in ((log, self.rows), (log + ".gw1", self.worker_rows)):
            if rows:
                Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows))
        self.stdout = iter(self.lines)

    def wait(self) -> int:
        return self.code


def _marker(outcome: str, nodeid: str, seconds: float) -> str:
    return f"{_verify_plugin.PREFIX} done {outcome} {nodeid} {seconds:.4f}\n"


NET = "tests/differential/test_networks.py::test_networks[mse-float64]"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[_FakePytest]:
    monkeypatch.setattr(_FakePytest, "rows", [*_every_cell()[:100], _compiles(10, 1, 2.123456)])
    monkeypatch.setattr(_FakePytest, "worker_rows", [*_every_cell()[100:], _compiles(3, 0, 1.0)])
    monkeypatch.setattr(_FakePytest, "lines", [
        f"{_verify_plugin.PREFIX} total 3\n",
        ".." + _marker("passed", NET, 4.2511),  # pytest -q's dots end up before the marker
        _marker("passed", "tests/test_oracle.py::test_x", 9.0),
        _marker("passed", NET.replace("float64", "float32"), 3.0022),
        "3 passed in 16.0s\n",
    ])  # fmt: skip
    monkeypatch.setattr(_FakePytest, "code", 0)
    monkeypatch.setattr(_FakePytest, "calls", [])
    monkeypatch.setattr(subprocess, "Popen", _FakePytest)
    _clock(monkeypatch, 1000.0, 1012.3456)
    return _FakePytest


def _clock(monkeypatch: pytest.MonkeyPatch, start: float, stop: float) -> None:
    """verify.run reads perf_counter twice: at the start and after pytest ends."""
    times = iter([start, stop])
    monkeypatch.setattr(verify.time, "perf_counter", lambda: next(times))


def _run(tmp_path: Path, **over: Any) -> tuple[int, dict[str, Any]]:
    args = argparse.Namespace(profile="quick", json=tmp_path / "v.json",
                              report=tmp_path / "r" / "v.md", jobs=None, pytest_args=[])  # fmt: skip
    for k, v in over.items():
        setattr(args, k, v)
    code = verify.run(args)
    return code, json.loads((tmp_path / "v.json").read_text())


def test_a_clean_run_passes_and_reports_what_was_checked(
    fake: type[_FakePytest], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # the date must be UTC, not the local time
    time.tzset()
    try:
        code, summary = _run(tmp_path)
        now = datetime.now(UTC)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert code == 0
    n = N_CELLS
    assert summary["network_examples"] == summary["examples"] == n  # both logs were read
    assert summary["counts"] == {"network": n}
    assert (summary["compiles"], summary["cache_hits"], summary["compile_seconds"]) == (
        13, 1, 3.12)  # fmt: skip
    assert summary["compile_sessions"] == [_compiles(10, 1, 2.123456), _compiles(3, 0, 1.0)]
    assert summary["failures"] == [] and summary["empty_cells"] == []
    assert summary["pytest_exit_code"] == 0
    assert summary["profile"] == "quick"
    assert summary["seconds"] == 12.35
    assert summary["networks_per_second"] == pytest.approx(n / 12.3456, rel=1e-9)
    assert summary["network_test_seconds"] == 7.25  # the two test_networks lines, not the oracle
    assert summary["networks_per_second_sustained"] == n / 7.2533
    assert summary["worst_bound_ratio"] == 0.25
    assert len(summary["cells"]) == n
    assert summary["cells"]["tanh/mse/float32"] == {
        "examples": 1, "worst": ZERO_ERRORS, "bound_used": 0.25}  # fmt: skip
    stamp = datetime.strptime(summary["date"], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    assert abs((now - stamp).total_seconds()) < 120
    report = (tmp_path / "r" / "v.md").read_text()
    assert f"**{n} whole networks**" in report
    assert "**0**" not in report
    out = capsys.readouterr().out
    assert out.endswith(
        f"{n} networks ({n} examples) in 12.3 s = {n / 12.3456:.0f} networks/s "
        f"({n / 7.2533:.0f}/s sustained in the network tests); 13 compiles, 1 cache hits; "
        f"0 failures; report: {tmp_path / 'r' / 'v.md'}\n"
    )
    assert "cells with no examples" not in out
    assert "3 passed in 16.0s" not in out  # pytest's own output is shown only on failure
    # progress without a terminal: the first line, then at most one line per 2 s, and the last
    assert "verify (quick): 1/3 test_networks[mse-float64]\n" in out
    assert "verify (quick): 2/3" not in out
    assert "verify (quick): 3/3 test_networks[mse-float32]\n" in out
    (call,) = fake.calls
    assert call["env"]["HYPOTHESIS_PROFILE"] == "quick"
    assert call["cmd"] == [
        sys.executable, "-m", "pytest", *verify.SUITE, "-q", "-p", "no:cacheprovider",
        "-p", "refbp_tools._verify_plugin", "--tb=short", "-m", "not bench and not slow",
    ]  # fmt: skip
    assert {k: call[k] for k in ("stdout", "stderr", "text")} == {
        "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}  # fmt: skip
    assert call["cwd"] == verify.checkout_root()
    assert (tmp_path / "v.json").read_text().startswith('{\n  "profile": "quick",\n')
    log = Path(call["env"]["REFBP_VERIFY_LOG"])
    assert log.name.startswith("refbp-verify-") and log.suffix == ".jsonl"
    assert not list(log.parent.glob(log.name + "*"))  # the row files are removed


def test_progress_of_a_run_on_a_terminal_shows_the_total_and_the_test(
    fake: type[_FakePytest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test's name is the last part of its node id, cut at 50 characters."""
    pytest.importorskip("rich")
    long_name = "test_" + "x" * 60
    monkeypatch.setattr(fake, "lines", [
        f"{_verify_plugin.PREFIX} total 2\n",
        _marker("passed", NET, 1.0),
        _marker("passed", f"tests/t.py::TestClass::{long_name}", 1.0),
    ])  # fmt: skip
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.setenv("COLUMNS", "150")
    code, _ = _run(tmp_path)
    assert code == 0
    screen = _visible(term.getvalue())
    frames = [f for f in re.split(r"[\r\n]", screen) if "verify (quick)" in f]
    assert re.fullmatch(rf"verify \(quick\) ━+ 2/2 0:00:0\d {long_name[:50]}\s*", frames[-1]), (
        frames[-1]
    )


def test_a_failing_test_fails_the_run_and_is_named(
    fake: type[_FakePytest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(fake, "lines", [
        *fake.lines[:2], _marker("failed", "tests/t.py::bad", 1.0),
        "FAILED tests/t.py::bad - assert 0\n",
    ])  # fmt: skip
    monkeypatch.setattr(fake, "code", 1)
    (tmp_path / "r").mkdir()  # an existing report directory is fine
    code, summary = _run(tmp_path)
    assert code == 1
    assert summary["failures"] == ["tests/t.py::bad"]
    assert summary["pytest_exit_code"] == 1
    assert (tmp_path / "r" / "v.md").read_text().endswith("## Failures\n\n- `tests/t.py::bad`\n")
    out = capsys.readouterr().out
    assert "..\nFAILED tests/t.py::bad - assert 0\n" in out  # pytest's output, shown on failure
    assert "1 failures; report:" in out


def test_pytest_dying_without_a_failed_test_fails_the_run(
    fake: type[_FakePytest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """No rows, no markers, no time: every rate is 0 and pytest's output is shown as it came."""
    monkeypatch.setattr(fake, "rows", [])
    monkeypatch.setattr(fake, "worker_rows", [])
    monkeypatch.setattr(fake, "lines", [
        *(f"noise {i}\n" for i in range(100)),  # only the last 80 lines are shown
        "ERROR collecting tests/differential/x.py\n", "E   ImportError: nope\n",
        "." + _marker("passed", "tests/test_oracle.py::a", 0.1),
        _marker("passed", "tests/test_oracle.py::b", 0.1).rstrip("\n"),
    ])  # fmt: skip
    monkeypatch.setattr(fake, "code", 2)
    _clock(monkeypatch, 5.0, 5.0)
    code, summary = _run(tmp_path)
    assert code == 1
    assert summary["failures"] == ["pytest exited with status 2"]
    assert (summary["network_examples"], summary["examples"], summary["counts"]) == (0, 0, {})
    assert (summary["seconds"], summary["networks_per_second"]) == (0.0, 0.0)
    assert summary["networks_per_second_sustained"] == 0.0
    out = capsys.readouterr().out
    shown = "".join(f"noise {i}\n" for i in range(23, 100)) + "ERROR collecting tests/differential/x.py\nE   ImportError: nope\n.\n"
    assert out.startswith(f"verify (quick): 1 a\n{shown}")  # then the table, no blank line
    assert out[len(f"verify (quick): 1 a\n{shown}")] != "\n"
    assert len(summary["empty_cells"]) == N_CELLS


def test_a_short_network_test_still_gives_a_sustained_rate(
    fake: type[_FakePytest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake, "lines", [_marker("passed", NET, 0.5)])
    code, summary = _run(tmp_path)
    assert code == 0
    n = N_CELLS
    assert summary["networks_per_second_sustained"] == n / 0.5


def test_an_empty_cell_fails_the_run(
    fake: type[_FakePytest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(fake, "rows", _every_cell(skip=("relu", "l1", "float32"))[:100])
    code, summary = _run(tmp_path, report=tmp_path / "new" / "dirs" / "v.md")
    assert code == 1
    assert summary["failures"] == []
    assert summary["empty_cells"] == ["relu/l1/float32"]
    assert "cells with no examples: ['relu/l1/float32']" in capsys.readouterr().out
    assert "| relu | l1 | float32 | **0** |" in (tmp_path / "new" / "dirs" / "v.md").read_text()


def test_thorough_runs_slow_checks_and_jobs_use_xdist(
    fake: type[_FakePytest], tmp_path: Path
) -> None:
    code, summary = _run(tmp_path, profile="thorough", jobs="2", pytest_args=["-k", "relu"])
    assert code == 0
    assert summary["profile"] == "thorough"
    cmd = fake.calls[0]["cmd"]
    assert cmd[cmd.index("-m", 3) + 1] == "not bench"
    assert cmd[-4:] == ["-n", "2", "-k", "relu"]
    assert fake.calls[0]["env"]["HYPOTHESIS_PROFILE"] == "thorough"


def test_the_default_report_goes_to_the_checkout(
    fake: type[_FakePytest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tests" / "differential").mkdir(parents=True)
    monkeypatch.setattr(verify, "checkout_root", lambda: tmp_path)
    code, _ = _run(tmp_path, report=None)
    assert code == 0
    assert (tmp_path / "reports" / "verification.md").read_text().startswith("# refbp verif")


def test_outside_a_checkout_verify_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(refbp, "__file__", str(tmp_path / "site" / "refbp" / "__init__.py"))
    with pytest.raises(SystemExit) as e:
        verify.checkout_root()
    assert str(e.value) == (
        f"refbp verify runs the test suite of a source checkout, and {tmp_path / 'site'} has "
        "no tests/differential: clone the repository and `pip install -e '.[verify]'` there"
    )


def test_the_progress_plugin_prints_one_line_per_finished_test(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _verify_plugin.pytest_collection_finish(SimpleNamespace(items=[1, 2, 3]))
    for when, outcome in [("setup", "passed"), ("call", "passed"), ("teardown", "passed"),
                          ("setup", "skipped"), ("call", "failed")]:  # fmt: skip
        _verify_plugin.pytest_runtest_logreport(
            SimpleNamespace(when=when, outcome=outcome, nodeid=f"t::{when}", duration=0.5)
        )
    assert capsys.readouterr().out.split("\n") == [
        "", "@@refbp-verify total 3",
        "", "@@refbp-verify done passed t::call 0.5000",
        "", "@@refbp-verify done skipped t::setup 0.5000",
        "", "@@refbp-verify done failed t::call 0.5000",
        "",
    ]  # fmt: skip


def test_cli_dispatches_to_the_subcommand_and_returns_its_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[argparse.Namespace] = []

    def fake_run(args: argparse.Namespace) -> int:
        seen.append(args)
        return 3

    monkeypatch.setattr(verify, "run", fake_run)
    assert cli.main(["verify", "--profile", "ci"]) == 3
    assert seen[0].profile == "ci"
    assert seen[0].command == "verify"


def test_cli_lists_its_commands_and_refuses_unknown_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    for name, text in cli._COMMANDS.items():
        assert name in out and text in out
    with pytest.raises(SystemExit) as e:
        cli.main(["frobnicate"])
    assert e.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2


def test_progress_without_a_known_total_counts_up(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("training", total=None) as p:
        p.advance(text="loss 0.5")
        p.advance(2, text="loss 0.25")  # within 2 s of the first line: not printed
    assert p.done == 3
    assert capsys.readouterr().out == "training: 1 loss 0.5\n"


def test_plain_progress_prints_at_most_every_two_seconds_and_always_the_last(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import refbp_tools.progress as progress

    clock = iter([100.0, 101.0, 102.0, 102.5, 103.0, 104.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with Progress("epochs", total=6) as p:
        for _ in range(5):
            p.advance()
        p.advance(text="done")
    # printed at 100 (first), 102.5 (> 2 s after 100), not 101, 102 (exactly 2 s), 103, and
    # at 104 because it is the last step
    assert capsys.readouterr().out == "epochs: 1/6 \nepochs: 4/6 \nepochs: 6/6 done\n"


def _visible(text: str) -> str:
    """``text`` without its ANSI control sequences (colours, cursor moves)."""
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_a_rich_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """Description, bar, done/total, elapsed time and the step's text, then the cursor back."""
    pytest.importorskip("rich")
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.setenv("COLUMNS", "100")
    with Progress("training", total=4) as p:
        p.advance(text="loss 0.5")
        p.advance(3, text="loss 0.25")
    screen = _visible(term.getvalue())
    frames = [f.rstrip("\n") for f in screen.split("\r") if f.strip()]
    # (the frames before the last depend on rich's 10 Hz refresh thread: not checked)
    assert re.fullmatch(r"training ━{40} 4/4 0:00:0\d loss 0\.25", frames[-1]), frames[-1]
    assert term.getvalue().rstrip("\n").endswith("\x1b[?25h")  # closed: cursor shown again
    assert p.done == 4


def test_progress_without_rich_prints_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    monkeypatch.setattr(sys, "stdout", _Terminal())
    with Progress("verify", total=2) as p:
        p.advance(2)
    assert sys.stdout.getvalue() == "verify: 2/2 \n"


_BLOCKS_AFTER = """
import sys
from types import SimpleNamespace as NS
{call}
sys.stdin.read()  # keep running: the line must arrive through the pipe before the exit
"""


@pytest.mark.parametrize(
    ("call", "line"),
    [
        ("from refbp_tools._verify_plugin import pytest_collection_finish as f\n"
         "f(NS(items=[1, 2]))", "@@refbp-verify total 2"),
        ("from refbp_tools._verify_plugin import pytest_runtest_logreport as f\n"
         "f(NS(when='call', outcome='passed', nodeid='t::x', duration=1.0))",
         "@@refbp-verify done passed t::x 1.0000"),
        ("from refbp_tools.progress import Progress\n"
         "p = Progress('steps', total=3).__enter__(); p.advance(text='a')", "steps: 1/3 a"),
    ],
)  # fmt: skip
def test_progress_lines_reach_a_pipe_while_the_run_goes_on(call: str, line: str) -> None:
    """refbp verify reads its pytest's stdout through a pipe, where Python buffers output
    until exit unless it is flushed: without the flush the progress bar would not move."""
    from tests.pipes import lines_while_running

    got, running = lines_while_running([sys.executable, "-c", _BLOCKS_AFTER.format(call=call)],
                                       line, 60)  # fmt: skip
    # the hooks print a blank line before theirs; nothing else may come first
    assert [x.strip() for x in got if x.strip()] == [line], (
        "the line did not arrive before the process ended"
    )
    assert running


def test_a_failed_test_fails_the_run_whatever_pytest_exits_with(
    fake: type[_FakePytest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verdict does not trust pytest's exit status alone (a plugin can change it)."""
    monkeypatch.setattr(fake, "lines", [_marker("failed", "tests/t.py::bad", 1.0)])
    code, summary = _run(tmp_path)
    assert (code, summary["failures"], summary["pytest_exit_code"]) == (1, ["tests/t.py::bad"], 0)
