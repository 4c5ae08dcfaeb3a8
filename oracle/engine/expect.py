"""Known deviations a project pins on purpose (``--expect-failures FILE``).

One line each, ``ID`` or ``ID:QUALIFIER``, ``#`` starts a comment.  ID is a diagnosis id
(``kink_convention``, ``inaccurate``, …) or a property (``dtype``, ``repeatable``, …);
QUALIFIER narrows it to an activation, a loss, a dtype or a quantity
(``kink_convention:leaky_relu``, ``inaccurate:softplus``, ``dtype:float32``).  A disagreement
that matches a line does not fail the run and is counted under that line; a line nothing
matched is reported, so a pin that is no longer needed is noticed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from oracle.engine.diagnosis import DIAGNOSES
from oracle.engine.tolerance import FAMILIES
from oracle.functions import ACTIVATION_NAMES, LOSS_NAMES

__all__ = ["PROPERTIES", "QUALIFIERS", "Expectation", "parse_expectations", "read_expectations"]

#: the properties a single case is held to (see oracle.engine.check)
PROPERTIES: tuple[str, ...] = (
    "runs",
    "not_mutated",
    "shapes",
    "agreement",
    "kinks",
    "exact",
    "dtype",
    "repeatable",
)

#: what a line's QUALIFIER may name: an activation, a loss, a dtype or a quantity
QUALIFIERS: tuple[str, ...] = (*ACTIVATION_NAMES, *LOSS_NAMES, "float32", "float64", *FAMILIES)


@dataclass(frozen=True)
class Expectation:
    id: str
    qualifier: str | None
    line: str

    def matches(self, prop: str, diagnosis: str | None, about: Iterable[str]) -> bool:
        if self.id not in (prop, diagnosis):
            return False
        return self.qualifier is None or self.qualifier in set(about)


def parse_expectations(text: str, source: str = "expectations") -> list[Expectation]:
    """Parse the lines of an expectations file; an unknown id is a ValueError naming the line."""
    out = []
    valid = (*DIAGNOSES, *PROPERTIES)
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        ident, _, qualifier = line.partition(":")
        ident, qualifier = ident.strip(), qualifier.strip()
        if ident not in valid:
            raise ValueError(
                f"{source}:{number}: unknown id {ident!r}; expected one of {list(valid)}, "
                "optionally followed by :QUALIFIER (an activation, loss, dtype or quantity)"
            )
        if qualifier and qualifier not in QUALIFIERS:  # such a line could never match
            raise ValueError(
                f"{source}:{number}: unknown qualifier {qualifier!r} after {ident!r}; expected "
                f"an activation, a loss, a dtype or a quantity: one of {list(QUALIFIERS)}"
            )
        out.append(Expectation(ident, qualifier or None, line))
    return out


def read_expectations(path: str | Path) -> list[Expectation]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"--expect-failures: cannot read {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"--expect-failures: {p} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "expected one ID or ID:QUALIFIER a line"
        ) from None
    return parse_expectations(text, str(p))
