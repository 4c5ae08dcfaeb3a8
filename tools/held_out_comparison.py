"""Issue 13's held-out comparison: refbp, JAX (in the case's dtype) and PyTorch against exact.

    python tools/held_out_comparison.py CASES_PER_CELL SEED [OUT.md]

Draws CASES_PER_CELL random small networks per activation × loss × dtype cell up to
saturation (``oracle.accuracy.draw_cases``), evaluates each implementation and the exact
arbiter, and prints (1) the cases where refbp is more than 8× less accurate than the better
of JAX and PyTorch (errors below u·s count as u·s: u the unit roundoff, s the quantity's
conditioning measured exactly, see ``oracle.accuracy.behind``), with the same count for each
peer against the other two and the counts under the floor u alone beside it, and (2) the
refbp–PyTorch disagreements beyond float64 1e-9 / float32 2e-3 of the quantity's magnitude,
and how many of them have refbp the one farther from exact.  OUT.md gets the digits-kept
tables.  40 cases per cell take 4–8 minutes on 2 cores.  Needs the verify extra; PyTorch
only if installed.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import refbp
from oracle.accuracy import behind, disagreements, draw_cases, evaluate, markdown, rows
from oracle.accuracy.peers import peers

LIMITS = {"float64": 1e-9, "float32": 2e-3}


def refbp_impl(weights: Any, biases: Any, activations: Any, loss: str, X: Any, Y: Any) -> Any:
    net = refbp.MLP(weights=weights, biases=biases, activations=activations, loss=loss)
    return net.backprop(X, Y)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    n, seed = int(argv[0]), int(argv[1])
    lines: list[str] = []

    def say(line: str) -> None:
        print(line)
        lines.append(line)

    evs = evaluate({"refbp": refbp_impl, **peers()}, draw_cases(n, seed))
    others = [p for p in ("JAX", "PyTorch") if any(p in ev.errors for ev in evs)]
    found = behind(evs, "refbp", others)
    cases: dict[str, list[Any]] = defaultdict(list)
    for f in found:
        cases[f.case].append(f)
    say(f"refbp > 8x behind the better of {others}: {len(found)} findings in {len(cases)} cases")
    names = ["refbp", *others]
    for who in names:
        rest = [n for n in names if n != who]
        for conditioned, floor in ((True, "u*s"), (False, "u")):
            f = behind(evs, who, rest, conditioned=conditioned)
            say(f"  floor {floor:3s}: {who} > 8x behind the better of {rest}: "
                  f"{len(f)} findings in {len({x.case for x in f})} cases")  # fmt: skip
    for case, items in cases.items():
        w = max(items, key=lambda f: f.error)
        say(f"  {case}: worst {w.quantity}: refbp {w.error:.2e}, " +
              ", ".join(f"{k} {v:.2e}" for k, v in w.others.items()))  # fmt: skip
    if "PyTorch" in others:
        apart = disagreements(evs, "refbp", "PyTorch", LIMITS)
        worse = []
        for f in apart:
            ev = next(e for e in evs if e.case.describe() == f.case)
            mine, theirs = ev.errors["refbp"].get(f.quantity), ev.errors["PyTorch"].get(f.quantity)
            if mine is not None and theirs is not None and mine.error > theirs.error:
                worse.append(f)
        say(f"refbp-PyTorch disagreements beyond {LIMITS}: {len(apart)}, "
              f"where refbp is farther from exact: {len(worse)}")  # fmt: skip
    if len(argv) == 3:
        head = (
            f"# Held-out comparison against exact arithmetic\n\n"
            f"`python tools/held_out_comparison.py {n} {seed}`: {len(evs)} cases.\n\n"
            + "".join(f"    {line}\n" for line in lines)
            + "\n"
        )
        Path(argv[2]).write_text(head + markdown(rows(evs)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
