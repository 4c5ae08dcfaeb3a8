"""Numbers as the report prints them: times, ratios, work, bytes, Markdown tables."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def fmt_time(seconds: float | None) -> str:
    """Three significant digits in the largest unit that keeps the number ≥ 1."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r: float | None, target: float | None = None, mark: bool = False) -> str:
    """Two decimals (two significant digits under 0.1, where two decimals would print a
    nonzero ratio as 0.00); bold when over ``target``; `` †`` after it when ``mark``."""
    if r is None:
        return "–"
    text = f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"
    text = f"**{text}**" if target is not None and r > target else text
    return text + " †" if mark else text


def fmt_flops(n: float) -> str:
    for unit, scale in (("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} FLOP"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit, scale in (("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def fmt_share(share: float | None, contended: bool) -> str:
    """Others' CPU share as a percentage, `` †`` when it made the row contended."""
    if share is None:
        return "–"
    return f"{share:.0%}" + (" †" if contended else "")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table, one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines
