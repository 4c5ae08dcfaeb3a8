"""A catalogue of classic backprop bugs, each a small textual patch of refbp's own sources.

``refbp mutate`` plants each one in a copy of the project and runs the test suite there: a
mutant the suite does not kill is a hole in the suite (or an equivalent mutant, marked so
with the reason).  Every entry is checked against the current sources before a run: its
``old`` snippet must occur exactly once in its file, or the entry is an error (a stale entry
is never silently skipped).

The entries live by subject in ``entries_network`` (the four equations, the output forms,
training) and ``entries_functions`` (losses, activations); here are the checks, the patch
and the reports.  Only the standard library is used; the command that runs the mutants
lives in ``refbp_tools.mutate``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

from refbp_tools.mutate import entries_functions, entries_network
from refbp_tools.mutate.mutation import Mutation, MutationResult

__all__ = [
    "CATALOGUE",
    "Mutation",
    "MutationResult",
    "apply_mutation",
    "catalogue_problems",
    "render_markdown",
    "write_reports",
]

CATALOGUE: tuple[Mutation, ...] = (
    *entries_network.EQUATIONS,
    *entries_functions.LOSSES,
    *entries_functions.ACTIVATIONS,
    *entries_network.TRAINING,
)


def catalogue_problems(root: Path, catalogue: Sequence[Mutation] = CATALOGUE) -> list[str]:
    """Every reason the catalogue does not apply to the sources under ``root`` (none: [])."""
    problems: list[str] = []
    names = [m.name for m in catalogue]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{dup}: the name is used twice")
    for m in catalogue:
        f = root / m.path
        if not f.is_file():
            problems.append(f"{m.name}: {m.path} does not exist")
            continue
        count = f.read_text(encoding="utf-8").count(m.old)
        if count != 1:
            problems.append(
                f"{m.name}: the old snippet occurs {count} times in {m.path}, expected exactly "
                f"once (the catalogue entry is stale): {m.old[:80]!r}"
            )
        if m.old == m.new:
            problems.append(f"{m.name}: the patch changes nothing")
    return problems


def apply_mutation(m: Mutation, root: Path) -> None:
    """Patch ``root / m.path`` in place; ValueError unless ``old`` occurs exactly once."""
    f = root / m.path
    text = f.read_text(encoding="utf-8")
    count = text.count(m.old)
    if count != 1:
        raise ValueError(
            f"mutation {m.name}: the old snippet occurs {count} times in {m.path}, expected 1"
        )
    f.write_text(text.replace(m.old, m.new, 1), encoding="utf-8")


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Iterable[MutationResult], meta: dict[str, object]) -> str:
    """The report: a summary line, then one table row per mutant."""
    rows = list(results)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    lines = [
        "# Mutation report",
        "",
        f"{len(rows)} mutants — {summary}.",
        "",
    ]
    for key, value in meta.items():
        lines.append(f"- {key}: {value}")
    lines += [
        "",
        "| mutant | status | killed by | seconds | mistake |",
        "|---|---|---|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {_cell(r.name)} | {r.status} | {_cell(r.killed_by) or '—'} | "
            f"{r.seconds:.1f} | {_cell(r.description)} |"
        )
    notes = [r for r in rows if r.detail]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- **{r.name}** ({r.status}): {_cell(r.detail)}" for r in notes]
    return "\n".join(lines) + "\n"


def write_reports(
    results: Sequence[MutationResult], md_path: Path, json_path: Path, meta: dict[str, object]
) -> None:
    """reports/mutation.md (a table) and reports/mutation.json (the same rows, and meta)."""
    md_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(render_markdown(results, meta), encoding="utf-8")
    payload = {"meta": meta, "results": [asdict(r) for r in results]}
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
