"""The two records of ``refbp mutate``: a planted bug and the outcome of running the suite on it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Mutation", "MutationResult"]


@dataclass(frozen=True, slots=True)
class Mutation:
    """One planted bug: replace ``old`` (exactly once) by ``new`` in ``path`` (repo-relative).

    ``equivalent``, if set, says why no test can tell the mutant from the original (or why
    the difference is a rounding one, below any honest tolerance); such a mutant that
    survives is reported as equivalent, not as a hole in the suite.
    """

    name: str
    path: str
    old: str
    new: str
    description: str
    equivalent: str | None = None


@dataclass(slots=True)
class MutationResult:
    """The outcome of one mutant: killed | survived | equivalent | timeout | error."""

    name: str
    status: str
    killed_by: str | None
    seconds: float
    description: str
    detail: str = ""
