"""What a run leaves: counts, the activation × loss × dtype table, failures, and its verdict.

Each checked network counts once in the cell of every activation it uses.  A cell's error
figures are errors relative to the scale the tolerance model uses (the larger of the
quantity's norm, its measured sensitivity and the magnitude of its terms), never relative
to a value that happens to be almost zero; *bound used* is the worst error as a share of
the allowed one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from oracle.engine.cases import Case
from oracle.engine.check import Outcome
from oracle.engine.protocol import Capabilities
from oracle.engine.report import Failure
from oracle.engine.tolerance import FAMILIES

__all__ = ["Cell", "Summary"]

#: outcome kinds that mean the case was actually compared
COMPARED = ("checked", "arbitrated", "kink_ambiguous", "expected")


@dataclass
class Cell:
    examples: int = 0
    worst: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FAMILIES, 0.0))
    bound_used: float = 0.0


@dataclass
class Summary:
    target: str
    capabilities: Capabilities
    outcomes: Counter[str] = field(default_factory=Counter)
    by_property: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)
    returned: set[str] = field(default_factory=set)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    matched: dict[str, int] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    network_examples: int = 0

    def record(self, prop: str, case: Case, outcome: Outcome) -> None:
        self.outcomes[outcome.kind] += 1
        self.by_property[prop][outcome.kind] += 1
        if outcome.kind not in COMPARED:
            return
        self.returned.update(outcome.returned)
        if prop != "agreement":
            return
        self.network_examples += 1
        s = case.structure
        worst: dict[str, float] = {}
        used = 0.0
        for m in outcome.measurements:
            fam = m.quantity.family
            worst[fam] = max(worst.get(fam, 0.0), m.relative)
            used = max(used, m.ratio)
        for act in dict.fromkeys(s.activations):
            cell = self.cells.setdefault((act, s.loss, s.dtype), Cell())
            cell.examples += 1
            for fam, w in worst.items():
                cell.worst[fam] = max(cell.worst[fam], w)
            cell.bound_used = max(cell.bound_used, used)

    def merge(self, part: Summary) -> None:
        """Add the counts, cells and failures of ``part``, a run of other properties of the
        same target (seconds and unmatched expectations are the whole run's: not added)."""
        self.outcomes.update(part.outcomes)
        for prop, counts in part.by_property.items():
            self.by_property[prop].update(counts)
        for key, c in part.cells.items():
            cell = self.cells.setdefault(key, Cell())
            cell.examples += c.examples
            for fam, w in c.worst.items():
                cell.worst[fam] = max(cell.worst[fam], w)
            cell.bound_used = max(cell.bound_used, c.bound_used)
        self.returned |= part.returned
        self.failures.extend(part.failures)
        self.network_examples += part.network_examples
        for line, n in part.matched.items():
            self.matched[line] = self.matched.get(line, 0) + n

    @property
    def examples(self) -> int:
        return sum(self.outcomes.values())

    @property
    def compared(self) -> int:
        return sum(self.outcomes[k] for k in COMPARED)

    @property
    def unsupported(self) -> int:
        return self.outcomes["unsupported"]

    @property
    def not_returned(self) -> list[str]:
        """Optional quantities the target never returned, so never checked."""
        return [q for q in ("delta", "grad_X") if q not in self.returned]

    def cell_keys(self) -> list[tuple[str, str, str]]:
        caps = self.capabilities
        keys = []
        for act in dict.fromkeys((*caps.activations, *caps.output_activations)):
            for loss in caps.losses_usable():
                for dt in caps.dtypes:
                    if act in caps.activations or act in caps.outputs_for(loss):
                        keys.append((act, loss, dt))
        return keys

    def exit_code(self) -> int:
        """0 when everything agrees, 1 on a disagreement (or an expectation nothing matched)."""
        return 1 if (self.failures or self.unmatched) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "examples": self.examples,
            "network_examples": self.network_examples,
            "unsupported": self.unsupported,
            "seconds": round(self.seconds, 3),
            "networks_per_second": (
                round(self.network_examples / self.seconds, 1) if self.seconds > 0 else 0.0
            ),
            "failures": [f.to_json() for f in self.failures],
            "outcomes": dict(self.outcomes),
            "properties": {p: dict(c) for p, c in sorted(self.by_property.items())},
            "not_returned": self.not_returned,
            "expected_failures": self.matched,
            "unmatched_expectations": self.unmatched,
            "capabilities": self.capabilities.as_dict(),
            "cells": {
                "/".join(k): {"examples": c.examples, "worst": c.worst, "bound_used": c.bound_used}
                for k, c in sorted(self.cells.items())
            },
        }

    def failure_text(self) -> str:
        parts = [f.text() for f in self.failures]
        parts += [f"expected failure {line!r} did not occur" for line in self.unmatched]
        return "\n\n".join(parts)
