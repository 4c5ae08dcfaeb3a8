"""The mutation catalogue and ``refbp mutate``'s machinery, without running any mutant.

The mutation run itself is ``refbp mutate`` (minutes); here: every entry applies exactly
once to the current sources, a patch really changes its file, stale entries are reported,
and the report writer produces the table.
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
from refbp_tools.mutate import catalogue as mut

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {
    "bp2_sigma_prime_dropped",
    "sigma_prime_at_a",
    "w_not_transposed",
    "mse_batch_mean_lost",
    "dw_mean_applied_twice",
    "bias_grad_wrong_axis",
    "bias_grad_unsummed",
    "sigma_prime_of_wrong_layer",
    "softmax_without_max_shift",
    "bce_log_1_minus_a",
    "relu_prime_at_zero_is_one",
    "leaky_slope_on_positive_side",
    "gelu_constant_wrong",
    "momentum_shared_between_layers",
    "weight_decay_on_biases",
    "batches_with_replacement",
    "mlp_does_not_copy_weights",
    "gelu_float64_constant",
}


def test_catalogue_is_large_and_has_the_required_mistakes() -> None:
    names = [m.name for m in mut.CATALOGUE]
    assert len(names) >= 25
    assert len(set(names)) == len(names)
    assert REQUIRED <= set(names)
    for m in mut.CATALOGUE:
        assert m.description and "\n" not in m.description
        assert m.path.startswith("refbp/") and m.path.endswith(".py")


def test_every_entry_applies_exactly_once_to_the_current_sources() -> None:
    assert mut.catalogue_problems(ROOT) == []
    for m in mut.CATALOGUE:
        assert (ROOT / m.path).read_text(encoding="utf-8").count(m.old) == 1, m.name


@pytest.mark.parametrize("m", mut.CATALOGUE, ids=lambda m: m.name)
def test_applying_a_patch_changes_the_file_and_keeps_it_python(
    m: mut.Mutation, tmp_path: Path
) -> None:
    target = tmp_path / m.path
    target.parent.mkdir(parents=True)
    shutil.copy2(ROOT / m.path, target)
    before = target.read_text(encoding="utf-8")
    mut.apply_mutation(m, tmp_path)
    after = target.read_text(encoding="utf-8")
    assert after != before
    assert after == before.replace(m.old, m.new, 1)
    compile(after, str(target), "exec")  # a mutant is a bug, not a syntax error
    if m.old not in m.new:  # the old snippet is gone now: a second application is refused
        with pytest.raises(ValueError, match="occurs 0 times"):
            mut.apply_mutation(m, tmp_path)


def test_stale_and_ambiguous_entries_are_errors_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "refbp").mkdir()
    (tmp_path / "refbp" / "x.py").write_text("a = 1\na = 1\nb = 2\n", encoding="utf-8")
    entries = [
        mut.Mutation("gone", "refbp/x.py", "c = 3", "c = 4", "missing"),
        mut.Mutation("twice", "refbp/x.py", "a = 1", "a = 2", "ambiguous"),
        mut.Mutation("fine", "refbp/x.py", "b = 2", "b = 3", "applies"),
        mut.Mutation("nofile", "refbp/y.py", "b = 2", "b = 3", "no file"),
    ]
    problems = mut.catalogue_problems(tmp_path, entries)
    assert len(problems) == 3
    assert any(p.startswith("gone:") and "0 times" in p for p in problems)
    assert any(p.startswith("twice:") and "2 times" in p for p in problems)
    assert any(p.startswith("nofile:") for p in problems)
    with pytest.raises(ValueError, match="2 times"):
        mut.apply_mutation(entries[1], tmp_path)


def test_catalogue_problems_exactly(tmp_path: Path) -> None:
    """The whole list, in order: duplicate names first, then each entry's problems."""
    (tmp_path / "refbp").mkdir()
    (tmp_path / "refbp" / "x.py").write_text("a = 1\nb = 2\n", encoding="utf-8")
    long_old = "c = " + "9" * 100
    entries = [
        mut.Mutation("nofile", "refbp/y.py", "b = 2", "b = 3", "no file"),
        mut.Mutation("dup", "refbp/x.py", "a = 1", "a = 2", "first"),
        mut.Mutation("dup", "refbp/x.py", "b = 2", "b = 3", "second"),
        mut.Mutation("gone", "refbp/x.py", long_old, "c = 0", "missing, long snippet"),
        mut.Mutation("noop", "refbp/x.py", "b = 2", "b = 2", "changes nothing"),
    ]
    assert mut.catalogue_problems(tmp_path, entries) == [
        "dup: the name is used twice",
        "nofile: refbp/y.py does not exist",
        "gone: the old snippet occurs 0 times in refbp/x.py, expected exactly once (the "
        f"catalogue entry is stale): {long_old[:80]!r}",
        "noop: the patch changes nothing",
    ]


def test_report_files_exactly(tmp_path: Path) -> None:
    """The Markdown and JSON byte for byte: directories created, UTF-8, non-ASCII kept."""
    results = [
        mut.MutationResult("a_mutant", "killed", "tests/t.py::test_x[p|q]", 1.25, "σ' | bug"),
        mut.MutationResult("b_mutant", "survived", None, 3.5, "another\nbug"),
        mut.MutationResult("c_mutant", "equivalent", None, 2.0, "same", "no | change\nat all"),
        mut.MutationResult("d_mutant", "killed", "tests/t.py::test_y", 0.04, "d"),
    ]
    md, js = tmp_path / "a" / "b" / "mutation.md", tmp_path / "c" / "d" / "mutation.json"
    meta = {"jobs": 2, "note": "δ"}
    for _ in range(2):  # the second time the directories exist already
        mut.write_reports(results, md, js, meta)
    assert md.read_bytes().decode("utf-8") == (
        "# Mutation report\n"
        "\n"
        "4 mutants — equivalent: 1, killed: 2, survived: 1.\n"
        "\n"
        "- jobs: 2\n"
        "- note: δ\n"
        "\n"
        "| mutant | status | killed by | seconds | mistake |\n"
        "|---|---|---|---:|---|\n"
        "| a_mutant | killed | tests/t.py::test_x[p\\|q] | 1.2 | σ' \\| bug |\n"
        "| b_mutant | survived | — | 3.5 | another bug |\n"
        "| c_mutant | equivalent | — | 2.0 | same |\n"
        "| d_mutant | killed | tests/t.py::test_y | 0.0 | d |\n"
        "\n"
        "## Notes\n"
        "\n"
        "- **c_mutant** (equivalent): no \\| change at all\n"
    )
    payload = {
        "meta": meta,
        "results": [
            {"name": r.name, "status": r.status, "killed_by": r.killed_by, "seconds": r.seconds,
             "description": r.description, "detail": r.detail}
            for r in results
        ],
    }  # fmt: skip
    assert js.read_bytes().decode("utf-8") == json.dumps(payload, indent=2, ensure_ascii=False) + (
        "\n"
    )
    assert '"note": "δ"' in js.read_text(encoding="utf-8")
    assert mut.render_markdown([], {}).endswith("|---|---|---|---:|---|\n")  # no Notes section


def test_equivalent_entries_say_why() -> None:
    for m in mut.CATALOGUE:
        if m.equivalent is not None:
            assert len(m.equivalent) > 20, m.name


def test_report_writer_produces_the_table(tmp_path: Path) -> None:
    results = [
        mut.MutationResult("a_mutant", "killed", "tests/t.py::test_x[p|q]", 1.25, "a | bug"),
        mut.MutationResult("b_mutant", "survived", None, 3.5, "another bug"),
        mut.MutationResult("c_mutant", "equivalent", None, 2.0, "same", "no observable change"),
    ]
    md, js = tmp_path / "r" / "mutation.md", tmp_path / "r" / "mutation.json"
    mut.write_reports(results, md, js, {"jobs": 2})
    text = md.read_text(encoding="utf-8")
    assert "| mutant | status | killed by | seconds | mistake |" in text
    assert "| a_mutant | killed | tests/t.py::test_x[p\\|q] | 1.2 | a \\| bug |" in text
    assert "| b_mutant | survived | — | 3.5 | another bug |" in text
    assert "3 mutants — equivalent: 1, killed: 1, survived: 1." in text
    assert "no observable change" in text
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["meta"] == {"jobs": 2}
    assert [r["status"] for r in data["results"]] == ["killed", "survived", "equivalent"]


def test_first_failing_test_is_parsed_from_pytest_output() -> None:
    out = (
        "....F\n=== short test summary info ===\n"
        "FAILED tests/test_a.py::test_b[x-float32] - AssertionError: no\n"
        "FAILED tests/test_a.py::test_c - AssertionError\n"
    )
    assert cmd._first_failure(out) == "tests/test_a.py::test_b[x-float32]"
    assert cmd._first_failure("ERROR tests/test_z.py - ImportError\n") == "tests/test_z.py"
    assert cmd._first_failure("5 passed in 1.0s\n") is None


def test_judging_outcomes() -> None:
    """Every field of every verdict: the report and the exit status are built from them."""
    plain = mut.CATALOGUE[0]
    equiv = next(m for m in mut.CATALOGUE if m.equivalent)
    R = mut.MutationResult
    name, desc = plain.name, plain.description
    assert cmd._judge(plain, 0, "", 1.5) == R(name, "survived", None, 1.5, desc, "")
    assert cmd._judge(equiv, 0, "", 2.5) == R(
        equiv.name, "equivalent", None, 2.5, equiv.description, str(equiv.equivalent)
    )
    failed = "FAILED tests/t.py::test_x - boom\n"
    assert cmd._judge(plain, 1, failed, 3.5) == R(name, "killed", "tests/t.py::test_x", 3.5, desc)
    # exit 1 without a FAILED line (a plugin ate the summary): still killed, by an unknown test
    assert cmd._judge(plain, 1, "", 3.5) == R(name, "killed", None, 3.5, desc)
    assert cmd._judge(plain, None, "partial output", 9.5) == R(
        name, "timeout", "(timeout)", 9.5, desc,
        "the suite did not finish in time; counted as killed",
    )  # fmt: skip
    # exit 2-4 with a failing test named (a collection error: the mutant broke an import)
    broken = "ERROR tests/t.py - ImportError: cannot import name\n"
    assert cmd._judge(plain, 2, broken, 4.5) == R(name, "killed", "tests/t.py", 4.5, desc)
    # exit 2-4 with none: an error, with the last three lines of output, at most 300 characters
    lines = "first line\n" + "".join(f"line {i}\n" for i in range(4)) + "\n"
    assert cmd._judge(plain, 4, lines, 5.5) == R(
        name, "error", None, 5.5, desc, "pytest exit 4: line 1 line 2 line 3"
    )
    long = "x" * 500
    assert cmd._judge(plain, 3, long, 5.5).detail == "pytest exit 3: " + "x" * 300


def test_copy_holds_the_sources_and_the_profile_plugin(tmp_path: Path) -> None:
    cmd._copy_project(ROOT, tmp_path)
    for name in ("refbp/network.py", "oracle/fast.py", "tests/conftest.py", "pyproject.toml"):
        assert (tmp_path / name).is_file(), name
    plugin = tmp_path / f"{cmd._PLUGIN_NAME}.py"
    assert plugin.read_text(encoding="utf-8") == cmd._PLUGIN
    assert not list(tmp_path.rglob("__pycache__"))


def test_copy_leaves_caches_and_bytecode_behind(tmp_path: Path) -> None:
    """Stale bytecode or a Hypothesis database in a copy could hide the planted bug."""
    root, dest = tmp_path / "root", tmp_path / "dest"
    for name in ("refbp", "oracle", "tests"):
        (root / name / "__pycache__").mkdir(parents=True)
        (root / name / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"")
        (root / name / "stray.pyc").write_bytes(b"")
        (root / name / ".hypothesis" / "examples").mkdir(parents=True)
        (root / name / ".jax_cache").mkdir()
        (root / name / "m.py").write_text("x = 1\n", encoding="utf-8")
    (root / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    (root / "not_copied.py").write_text("", encoding="utf-8")
    dest.mkdir()
    cmd._copy_project(root, dest)
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    assert copied == sorted(
        ["oracle", "oracle/m.py", "refbp", "refbp/m.py", "tests", "tests/m.py",
         "pyproject.toml", f"{cmd._PLUGIN_NAME}.py"]
    )  # fmt: skip


def test_copy_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's environment, with the copy first on the path, the mutate profile, one BLAS
    thread per process, no bytecode written into the copy, and no verify log to append to."""
    import os

    monkeypatch.setenv("REFBP_VERIFY_LOG", "/somewhere/verify.log")
    monkeypatch.setenv("SOME_USER_SETTING", "kept")
    env = cmd._env(tmp_path, ROOT)
    expected = dict(os.environ)
    del expected["REFBP_VERIFY_LOG"]
    expected.update(
        PYTHONPATH=str(tmp_path), HYPOTHESIS_PROFILE="mutate", OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
        REFBP_JAX_CACHE=str(ROOT / ".jax_cache"), PYTHONDONTWRITEBYTECODE="1",
    )  # fmt: skip
    assert env == expected
    monkeypatch.delenv("REFBP_VERIFY_LOG")
    assert "REFBP_VERIFY_LOG" not in cmd._env(tmp_path, ROOT)


def test_suite_command(tmp_path: Path) -> None:
    """Only the suite files the copy has, in SUITE's order (cheapest first), -x, deselections."""
    import sys

    (tmp_path / "tests" / "differential").mkdir(parents=True)
    present = [cmd.SUITE[-1], cmd.SUITE[0]]
    for name in present:
        (tmp_path / name).write_text("", encoding="utf-8")
    head = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", cmd._PLUGIN_NAME]
    assert cmd._suite(tmp_path, ["a::b", "c::d"]) == [
        *head, "-x", cmd.SUITE[0], cmd.SUITE[-1], "--deselect", "a::b", "--deselect", "c::d"
    ]  # fmt: skip
    assert cmd._suite(tmp_path, []) == [*head, "-x", cmd.SUITE[0], cmd.SUITE[-1]]


def test_list_and_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    from refbp.cli import main

    assert main(["mutate", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(mut.CATALOGUE)
    for line, m in zip(lines, mut.CATALOGUE, strict=True):
        mark = "  (equivalent)" if m.equivalent else ""
        assert line == f"{m.name:38s} {m.path:22s} {m.description}{mark}"
    assert sum(line.endswith("  (equivalent)") for line in lines) == 2
    assert main(["mutate", "--only", "no_such_mutant"]) == 2
    assert "unknown mutation" in capsys.readouterr().out


# --- `refbp mutate` end to end, on a project whose suite is a few tiny tests ----------------
# The real suite takes minutes per mutant; a fake project (refbp's and the oracle's real
# sources, a two-file suite driven by REFBP_FAKE_* variables) runs the command's whole loop
# in seconds: the copies, the
# patches, the smoke import, the baseline run, the pytest subprocesses, the verdicts, the
# reports and the exit status.

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
    relu = get_activation("relu")
    z = np.array([[-1.0, 0.0, 2.0]])
    assert relu.backward(z, relu.forward(z), scale * np.ones_like(z)).tolist() == [[0, 0, 1]]


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
        source = (Path(refbp.__file__).parent / "activations.py").read_text(encoding="utf-8")
        kind = "relu-mutant" if "(z >= 0)" in source else "other"
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
    to the checkout's reports/ by default; "kills by test" lists the most kills first; a
    mutant whose pytest run cannot start (exit 2-4, no test named) is an error, and fails the run."""
    from refbp.cli import main

    monkeypatch.setenv("REFBP_FAKE_GREEN", "1")
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

    def recorded(*a: Any, **k: Any) -> tuple[int | None, str, float]:
        with lock:
            calls.append((a[1].name if a[1] else None, *a[2:], k))
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
    reports = fake_project / "reports"
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
    shutil.rmtree(reports)


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
    assert capsys.readouterr().out.splitlines()[-1] == "refbp mutate: the unmutated suite timed out"
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
    target = root / "refbp" / "activations.py"
    relu = next(m for m in mut.CATALOGUE if m.name == "relu_prime_at_zero_is_one")
    target.write_text(target.read_text(encoding="utf-8").replace(relu.old, "", 1), "utf-8")
    assert _mutate(root, tmp_path / "reports") == 2
    out = capsys.readouterr().out
    assert out.startswith("refbp mutate: the catalogue does not apply to the current sources:\n")
    assert "\n  relu_prime_at_zero_is_one: " in out
    assert not (tmp_path / "reports").exists()
