"""``refbp mutate`` end to end, on a fake project whose suite is a few tiny tests.

The real suite takes minutes per mutant; a fake project (refbp's and the oracle's real
sources, a two-file suite driven by REFBP_FAKE_* variables) runs the command's whole loop in
seconds: the copies, the patches, the smoke import, the baseline run, the pytest
subprocesses, the verdicts, the reports and the exit status.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import refbp_tools.mutate as cmd
from refbp import cli
from refbp_tools.mutate import catalogue as mut

ROOT = Path(__file__).resolve().parents[2]


_FAKE_FIRST = """
import os
import time

import numpy as np
import pytest

from refbp.activations import get_activation


def test_already_failing():
    if not os.environ.get("REFBP_FAKE_GREEN"):
        raise AssertionError("fails on the unmutated sources: deselected by the baseline")


@pytest.mark.parametrize("scale", [1.0])
def test_relu_prime_at_zero(scale):
    forward, backward = get_activation("relu").functions  # what the network runs
    z = np.array([[-1.0, 0.0, 2.0]])
    assert backward(z, forward(z), scale * np.ones_like(z)).tolist() == [[0, 0, 1]]


def test_sleeps_when_asked():
    if os.environ.get("REFBP_FAKE_SLEEP"):
        time.sleep(60)
"""
# the second file of the suite: the copy (not this checkout) is what the subprocess imports,
# and the run's Hypothesis profile (ci without shrinking) is the one in effect
_FAKE_SECOND = """
import os
from pathlib import Path

import refbp

if os.environ.get("REFBP_FAKE_BROKEN"):  # a collection error, with a long message
    raise ImportError("broken on purpose " + "x" * 3000)


def test_says_which_copies_reach_it():
    log = os.environ.get("REFBP_FAKE_LOG")
    if log:
        source = (Path(refbp.__file__).parent / "kernels.py").read_text(encoding="utf-8")
        kind = "relu-mutant" if "g * (z >= 0)" in source else "other"
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{kind} {Path.cwd().name[:13]}\\n")


def test_the_copy_is_imported():
    assert Path(refbp.__file__).resolve().parent.parent == Path.cwd().resolve()


def test_the_mutate_profile_is_in_effect():
    from hypothesis import Phase, settings

    assert settings().phases == (Phase.explicit, Phase.reuse, Phase.generate)
"""
# what the real conftest does with the profile, without its JAX cache (seconds per process)
_FAKE_CONFTEST = """
import os

from hypothesis import settings

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
"""
_FIRST_ID = "tests/test_finite_differences.py"
_KILLER = f"{_FIRST_ID}::test_relu_prime_at_zero[1.0]"
_KILLER_TEST = f"{_FIRST_ID}::test_relu_prime_at_zero"  # "kills by test": without the parameters
_FAILING = f"{_FIRST_ID}::test_already_failing"


@pytest.fixture(scope="module")
def fake_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", ".jax_cache")
    for name in ("refbp", "oracle"):
        shutil.copytree(ROOT / name, root / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("", encoding="utf-8")
    (root / "tests" / "conftest.py").write_text(_FAKE_CONFTEST, encoding="utf-8")
    (root / cmd.SUITE[0]).write_text(_FAKE_FIRST, encoding="utf-8")
    (root / "tests" / "test_network.py").write_text(_FAKE_SECOND, encoding="utf-8")
    return root


def _mutate(root: Path, reports: Path, *extra: str) -> int:
    from refbp.cli import main

    return main(["mutate", "--root", str(root), "--reports", str(reports), *extra])


def test_run_end_to_end_kills_keeps_and_reports(
    fake_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = ["leaky_slope_on_positive_side", "relu_prime_at_zero_is_one", "elu_prime_at_zero_ge"]
    log = tmp_path / "reached.log"
    monkeypatch.setenv("REFBP_FAKE_LOG", str(log))
    # without the working directory on sys.path, PYTHONPATH alone must make the copy importable
    monkeypatch.setenv("PYTHONSAFEPATH", "1")
    started = time.perf_counter()
    code = _mutate(fake_project, tmp_path, "--jobs", "3", "--only", *chosen)
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    assert code == 1  # leaky_slope survives the three tiny tests
    # the baseline runs every test (no -x: it must find all the failing ones); a mutant stops
    # at its first failure (-x), so the killed relu mutant never reaches the second file
    assert log.read_text(encoding="utf-8") == "other refbp-mutant-\n" * 3
    lines = out.splitlines()
    assert lines[0].startswith(
        f"refbp mutate: the copies import {Path(tempfile.gettempdir()) / 'refbp-mutant-'}"
    )
    assert lines[1].startswith("refbp mutate: unmutated suite ")
    assert lines[1].endswith(f" s, 1 already failing (deselected): ['{_FAILING}']")
    assert lines[2] == "refbp mutate: 3 mutants, 3 at a time"
    verdicts = {line.split()[-1] if line.split()[0] != "killed" else line.split()[-2]: line
                for line in lines[3:6]}  # fmt: skip
    assert re.fullmatch(rf"  killed +[\d.]+ s  relu_prime_at_zero_is_one  {re.escape(_KILLER)}",
                        verdicts["relu_prime_at_zero_is_one"])  # fmt: skip
    assert re.fullmatch(r"  equivalent +[\d.]+ s  elu_prime_at_zero_ge  ",
                        verdicts["elu_prime_at_zero_ge"])  # fmt: skip
    assert re.fullmatch(r"  survived +[\d.]+ s  leaky_slope_on_positive_side  ",
                        verdicts["leaky_slope_on_positive_side"])  # fmt: skip
    assert lines[6].startswith("refbp mutate: {") and lines[6].endswith(
        f" s; wrote {tmp_path / 'mutation.md'}"
    )
    assert lines[7:] == ["refbp mutate: not killed: ['leaky_slope_on_positive_side']"]

    data = json.loads((tmp_path / "mutation.json").read_text(encoding="utf-8"))
    results = {r["name"]: r for r in data["results"]}
    # catalogue order, whatever the order of --only
    catalogue_order = [m.name for m in mut.CATALOGUE if m.name in chosen]
    assert [r["name"] for r in data["results"]] == catalogue_order
    relu = results["relu_prime_at_zero_is_one"]
    assert (relu["status"], relu["killed_by"]) == ("killed", _KILLER)
    assert 0 < relu["seconds"] < data["meta"]["total seconds (wall, incl. baseline)"]
    assert results["leaky_slope_on_positive_side"]["status"] == "survived"
    elu = results["elu_prime_at_zero_ge"]
    assert elu["status"] == "equivalent"
    assert elu["detail"] == next(m for m in mut.CATALOGUE if m.name == elu["name"]).equivalent

    meta = data["meta"]
    assert meta["mutants"] == 3
    assert meta["counts"] == {"survived": 1, "killed": 1, "equivalent": 1}
    assert meta["jobs"] == 3
    assert meta["only"] == chosen
    assert meta["deselected (already failing unmutated)"] == [_FAILING]
    assert meta["kills by test"] == {_KILLER_TEST: 1}
    assert meta["suite"] == " ".join(cmd.SUITE) + (
        " (pytest -x; Hypothesis profile ci without shrinking)"
    )
    total = meta["total seconds (wall, incl. baseline)"]
    assert 0 < meta["baseline seconds"] < total <= round(elapsed, 1)
    for figure in (total, meta["baseline seconds"]):  # tenths of a second, as floats
        assert isinstance(figure, float) and figure == round(figure, 1)
    md = (tmp_path / "mutation.md").read_text(encoding="utf-8")
    assert f"| relu_prime_at_zero_is_one | killed | {_KILLER} |" in md
    assert "3 mutants — equivalent: 1, killed: 1, survived: 1." in md


def test_without_baseline_an_already_failing_test_kills_everything(
    fake_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Why the baseline exists: without it the equivalent mutant is 'killed' by a test that
    fails anyway.  Also: --jobs 1, and a clean run exits 0."""
    code = _mutate(
        fake_project, tmp_path, "--no-baseline", "--jobs", "1", "--only", "elu_prime_at_zero_ge"
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "unmutated suite" not in out
    assert out.splitlines()[1] == "refbp mutate: 1 mutants, 1 at a time"
    assert "not killed" not in out
    data = json.loads((tmp_path / "mutation.json").read_text(encoding="utf-8"))
    [elu] = data["results"]
    assert (elu["status"], elu["killed_by"]) == ("killed", _FAILING)
    assert data["meta"]["deselected (already failing unmutated)"] == "none"
    assert data["meta"]["baseline seconds"] == 0.0
    assert data["meta"]["jobs"] == 1


def test_green_baseline_over_the_whole_catalogue(
    fake_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No --only: every catalogue entry runs (a five-entry catalogue here).  A baseline with
    no failing test is "green"; it gets twice the per-mutant timeout and no -x.  Reports go
    to .refbp/ in the current directory by default, never into the checkout; "kills by test"
    lists the most kills first; a mutant whose pytest run cannot start (exit 2-4, no test
    named) is an error, and fails the run."""
    from refbp.cli import main

    monkeypatch.setenv("REFBP_FAKE_GREEN", "1")
    monkeypatch.chdir(tmp_path)
    relu, elu = (next(m for m in mut.CATALOGUE if m.name == n)
                 for n in ("relu_prime_at_zero_is_one", "elu_prime_at_zero_ge"))  # fmt: skip
    second = "tests/test_network.py"
    imported = "    assert Path(refbp.__file__).resolve().parent.parent == Path.cwd().resolve()"
    planted = (  # two more mutants killed by one test of the second file
        mut.Mutation("plant_a", second, "def test_the_copy_is_imported():\n",
                     "def test_the_copy_is_imported():\n    raise AssertionError\n", "a"),
        mut.Mutation("plant_b", second, imported, "    assert False", "b"),
        mut.Mutation("plant_error", "tests/conftest.py", "from hypothesis import settings\n",
                     "from hypothesis import settings\nimport pytest\n\n"
                     "pytest.exit('planted', returncode=3)\n", "pytest cannot load conftest"),
    )  # fmt: skip
    monkeypatch.setattr(mut, "CATALOGUE", (relu, elu, *planted))
    calls: list[tuple[Any, ...]] = []
    active, most = [0], [0]
    lock = threading.Lock()
    real = cmd._run_copy

    snapshots: set[Path] = set()

    def recorded(*a: Any, **k: Any) -> tuple[int | None, str, float]:
        with lock:
            snapshots.add(k["sources"])
            calls.append((a[1].name if a[1] else None, *a[2:],
                          {key: v for key, v in k.items() if key != "sources"}))  # fmt: skip
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            return real(*a, **k)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(cmd, "_run_copy", recorded)
    argv = ["mutate", "--root", str(fake_project), "--timeout", "50", "--jobs", "1"]
    assert main(argv) == 1  # the error
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("refbp mutate: unmutated suite ") and lines[1].endswith(" s, green")
    assert lines[2] == "refbp mutate: 5 mutants, 1 at a time"
    assert lines[-1] == "refbp mutate: not killed: ['plant_error']"
    names = ["relu_prime_at_zero_is_one", "elu_prime_at_zero_ge", "plant_a", "plant_b",
             "plant_error"]  # fmt: skip
    assert calls == [(None, 100.0, [], {"stop_first": False})] + [(n, 50.0, [], {}) for n in names]
    assert most[0] == 1  # --jobs 1: one copy at a time
    # every copy comes from one snapshot of the sources taken at the start (edits in the
    # checkout during a run reach no mutant), removed at the end
    [snapshot] = snapshots
    assert snapshot.name.startswith("refbp-mutate-sources-") and not snapshot.exists()
    reports = tmp_path / ".refbp"
    assert not (fake_project / "reports").exists() and not (fake_project / ".refbp").exists()
    data = json.loads((reports / "mutation.json").read_text(encoding="utf-8"))
    assert (reports / "mutation.md").is_file()
    assert [r["status"] for r in data["results"]] == [
        "killed", "equivalent", "killed", "killed", "error"
    ]  # fmt: skip
    assert data["results"][-1]["detail"].startswith("pytest exit 4: ")  # conftest failed
    assert data["meta"]["counts"] == {"killed": 3, "equivalent": 1, "error": 1}
    kills = data["meta"]["kills by test"]
    assert list(kills.items()) == [(f"{second}::test_the_copy_is_imported", 2), (_KILLER_TEST, 1)]
    assert "only" not in data["meta"]


def test_a_baseline_that_cannot_run_stops_the_run(
    fake_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest exits 2-4 on the unmutated copy (here a collection error): the run stops with
    exit 2 and shows the last 2000 characters of pytest's output."""
    monkeypatch.setenv("REFBP_FAKE_BROKEN", "1")
    assert _mutate(fake_project, tmp_path, "--only", "elu_prime_at_zero_ge") == 2
    out = capsys.readouterr().out
    marker = " s, 1 already failing (deselected): ['tests/test_network.py']\n"
    shown = out[out.index(marker) + len(marker) :]
    assert len(shown) == 2001 and shown.endswith("\n")  # print adds the newline
    assert shown.count("x") > 1500  # the tail of the long message
    assert "Interrupted: 1 error during collection" in shown
    assert not (tmp_path / "mutation.md").exists()


def test_deselect_option_and_timeout(
    fake_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--deselect reaches the subprocess; a suite slower than --timeout is a timeout (counted
    as killed, so the run exits 0), and the environment reaches the copies."""
    monkeypatch.setenv("REFBP_FAKE_SLEEP", "1")
    code = _mutate(
        fake_project, tmp_path, "--no-baseline", "--deselect", _FAILING,
        "--timeout", "2", "--only", "elu_prime_at_zero_ge",
    )  # fmt: skip
    assert code == 0
    data = json.loads((tmp_path / "mutation.json").read_text(encoding="utf-8"))
    [elu] = data["results"]
    assert (elu["status"], elu["killed_by"]) == ("timeout", "(timeout)")
    assert elu["detail"] == "the suite did not finish in time; counted as killed"
    assert 2.0 <= elu["seconds"] < 30.0
    assert data["meta"]["deselected (already failing unmutated)"] == [_FAILING]
    assert "  timeout " in capsys.readouterr().out


def test_each_verdict_reaches_a_pipe_at_once(fake_project: Path, tmp_path: Path) -> None:
    """A wrapper reading `refbp mutate` through a pipe (a CI log) sees each verdict when it
    is reached, not when the run ends: the first mutant's line arrives while the second
    mutant is still running (it sleeps until its timeout)."""
    import sys

    from tests.pipes import lines_while_running

    argv = [sys.executable, "-c", "from refbp.cli import main; raise SystemExit(main())",
            "mutate", "--root", str(fake_project), "--reports", str(tmp_path), "--no-baseline",
            "--deselect", _FAILING, "--jobs", "1", "--timeout", "60",
            "--only", "relu_prime_at_zero_is_one", "elu_prime_at_zero_ge"]  # fmt: skip
    got, running = lines_while_running(argv, "relu_prime_at_zero_is_one", 50, REFBP_FAKE_SLEEP="1")
    assert "relu_prime_at_zero_is_one" in got[-1] and got[-1].startswith("  killed ")
    assert running  # the second mutant sleeps until its timeout: the run goes on


def test_baseline_timeout_stops_the_run(
    fake_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REFBP_FAKE_SLEEP", "1")
    assert _mutate(fake_project, tmp_path, "--timeout", "1", "--only", "elu_prime_at_zero_ge") == 2
    assert capsys.readouterr().err.splitlines()[-1] == "refbp mutate: the unmutated suite timed out"
    assert not (tmp_path / "mutation.md").exists()


def test_smoke_import_refuses_a_copy_that_imports_another_refbp(tmp_path: Path) -> None:
    """A copy without its own refbp imports the installed one: that must stop the run, or
    every mutant would be tested against the unmutated package and 'survive'."""
    root = tmp_path / "project"
    (root / "oracle").mkdir(parents=True)
    (root / "oracle" / "__init__.py").write_text("", encoding="utf-8")
    with pytest.raises(RuntimeError) as exc:
        cmd._smoke(root)
    message = str(exc.value)
    assert message.startswith("refbp mutate: the copy imports ")
    assert message.endswith(f"{Path('refbp', '__init__.py')}, not its own refbp")


def test_smoke_import_of_a_broken_copy_fails_loudly(tmp_path: Path) -> None:
    import subprocess

    root = tmp_path / "project"
    for name in ("refbp", "oracle"):
        (root / name).mkdir(parents=True)
    (root / "refbp" / "__init__.py").write_text("raise ImportError('broken')\n", "utf-8")
    (root / "oracle" / "__init__.py").write_text("", encoding="utf-8")
    with pytest.raises(subprocess.CalledProcessError):
        cmd._smoke(root)


def test_a_stale_catalogue_stops_the_run_before_any_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "refbp", root / "refbp", ignore=shutil.ignore_patterns("__pycache__"))
    relu = next(m for m in mut.CATALOGUE if m.name == "relu_prime_at_zero_is_one")
    target = root / relu.path
    target.write_text(target.read_text(encoding="utf-8").replace(relu.old, "", 1), "utf-8")
    assert _mutate(root, tmp_path / "reports") == 2
    out = capsys.readouterr().err
    assert out.startswith("refbp mutate: the catalogue does not apply to the current sources:\n")
    assert "\n  relu_prime_at_zero_is_one: " in out
    assert not (tmp_path / "reports").exists()


def test_an_unusable_reports_place_is_refused_before_any_mutant_runs(
    fake_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("kept\n")
    assert _mutate(fake_project, a_file) == 2
    assert capsys.readouterr().err == (
        f"refbp mutate: --reports: {a_file} exists and is not a directory\n"
    )
    assert a_file.read_text() == "kept\n"


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--jobs", "0", "expected a positive integer, got 0"),
        ("--jobs", "-1", "expected a positive integer, got -1"),
        ("--timeout", "0", "expected a number of seconds above 0, got 0"),
        ("--timeout", "-5", "expected a number of seconds above 0, got -5"),
        ("--timeout", "nan", "expected a number of seconds above 0, got nan"),
    ],
)
def test_counts_and_timeouts_that_mean_nothing_are_refused_before_any_mutant_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, said: str
) -> None:
    """--timeout 0 counted every mutant as killed by timeout and wrote that report."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["mutate", flag, value, "--reports", str(tmp_path / "r"), "--no-baseline"])
    assert exited.value.code == 2
    assert f"argument {flag}: {said}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
