"""The mutation catalogue of ``refbp mutate``: every entry applies exactly once to the current
sources, a patch really changes its file and keeps it Python, stale or ambiguous entries are
errors, and an entry marked equivalent says why.  No mutant is run here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from refbp_tools.mutate import catalogue as mut

ROOT = Path(__file__).resolve().parents[2]
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


def test_equivalent_entries_say_why() -> None:
    for m in mut.CATALOGUE:
        if m.equivalent is not None:
            assert len(m.equivalent) > 20, m.name
