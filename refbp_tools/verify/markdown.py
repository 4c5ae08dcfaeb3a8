"""The Markdown verification report: what was run, the full table, every failure."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line imports this module; JAX only once verify runs
    from oracle.engine.summary import Summary


from refbp_tools.verify.table import HEADS, _families

__all__ = ["markdown"]


def _fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.2e}"


def markdown(summary: Summary, meta: dict[str, Any]) -> str:
    s = summary
    rate = s.network_examples / s.seconds if s.seconds > 0 else 0.0
    verdict = "**all agree**" if s.exit_code() == 0 else f"**{len(s.failures)} failures**"
    lines = [
        f"# Verification of `{s.target}`",
        "",
        f"Profile `{meta['profile']}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on "
        f"`{platform.node()}`: {s.network_examples} whole networks ({s.examples} cases in "
        f"all) in {s.seconds:.1f} s, {rate:.0f} networks/s; {s.unsupported} unsupported; "
        f"{verdict}.",
        "",
        "Outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(s.outcomes.items())) + ".",
    ]
    if s.not_returned:
        lines += [
            "",
            f"Not checked, because the target does not return them: {', '.join(s.not_returned)}.",
        ]
    if s.matched:
        lines += [
            "",
            "Expected deviations met: "
            + ", ".join(f"`{k}` ×{v}" for k, v in s.matched.items())
            + ".",
        ]
    if s.unmatched:
        lines += [
            "",
            "Expected deviations that did not occur: "
            + ", ".join(f"`{k}`" for k in s.unmatched)
            + ".",
        ]
    lines += [
        "",
        "Each network counts once in the cell of every activation it uses.  Errors are "
        "normwise, relative to the scale the tolerance model uses (the larger of the "
        "quantity's norm, its measured sensitivity and the magnitude of its terms), worst over "
        "the cell; *bound used* is the worst error as a share of the allowed error "
        "(`oracle/engine/tolerance.py`).",
        "",
        "| activation | loss | dtype | networks | "
        + " | ".join(HEADS[f] for f in _families())
        + " | bound used |",
        "|---|---|---|---:|" + "---:|" * len(_families()) + "---:|",
    ]
    for key in s.cell_keys():
        c = s.cells.get(key)
        if c is None:
            lines.append(f"| {' | '.join(key)} | **0** |" + " |" * (len(_families()) + 1))
            continue
        figs = " | ".join("—" if f in s.not_returned else _fmt(c.worst[f]) for f in _families())
        lines.append(f"| {' | '.join(key)} | {c.examples} | {figs} | {c.bound_used:.2f} |")
    if s.failures:
        lines += ["", "## Failures", ""]
        for f in s.failures:
            lines += ["```", f.text(), "```", ""]
    return "\n".join(lines) + "\n"
