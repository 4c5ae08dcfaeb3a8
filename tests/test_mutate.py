"""The mutation catalogue and ``refbp mutate``'s machinery, without running any mutant.

The mutation run itself is ``refbp mutate`` (minutes); here: every entry applies exactly
once to the current sources, a patch really changes its file, stale entries are reported,
and the report writer produces the table.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from refbp import _mutations as mut
from refbp.commands import mutate as cmd

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
    plain = mut.CATALOGUE[0]
    equiv = next(m for m in mut.CATALOGUE if m.equivalent)
    assert cmd._judge(plain, 0, "", 1.0).status == "survived"
    assert cmd._judge(equiv, 0, "", 1.0).status == "equivalent"
    killed = cmd._judge(plain, 1, "FAILED tests/t.py::test_x - boom\n", 1.0)
    assert (killed.status, killed.killed_by) == ("killed", "tests/t.py::test_x")
    assert cmd._judge(plain, None, "", 9.0).status == "timeout"
    assert cmd._judge(plain, 4, "usage error", 1.0).status == "error"


def test_copy_holds_the_sources_and_the_profile_plugin(tmp_path: Path) -> None:
    cmd._copy_project(ROOT, tmp_path)
    for name in ("refbp/network.py", "oracle/fast.py", "tests/conftest.py", "pyproject.toml"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / f"{cmd._PLUGIN_NAME}.py").is_file()
    assert not list(tmp_path.rglob("__pycache__"))
    env = cmd._env(tmp_path, ROOT)
    assert env["PYTHONPATH"] == str(tmp_path)
    assert env["REFBP_JAX_CACHE"] == str(ROOT / ".jax_cache")


def test_list_and_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    from refbp.cli import main

    assert main(["mutate", "--list"]) == 0
    assert "sigma_prime_at_a" in capsys.readouterr().out
    assert main(["mutate", "--only", "no_such_mutant"]) == 2
    assert "unknown mutation" in capsys.readouterr().out
