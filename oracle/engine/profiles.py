"""How much the engine tries: Hypothesis profiles by name, and where examples are remembered.

* ``quick``     the default: 100 examples per property, random, failures remembered in the
                user's cache directory and replayed first next time;
* ``ci``        the same examples every run (derandomized), nothing remembered;
* ``thorough``  ten times the examples.

The example database lives in ``$REFBP_CACHE_DIR`` or the user cache directory
(``$XDG_CACHE_HOME/refbp`` or ``~/.cache/refbp``), never in the current directory, so a run
leaves a checkout as it found it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

__all__ = ["PROFILES", "Profile", "cache_dir", "profile"]


def cache_dir() -> Path:
    """Where the engine keeps what outlives a run (the example database)."""
    explicit = os.environ.get("REFBP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "refbp"


@dataclass(frozen=True)
class Profile:
    name: str
    max_examples: int
    derandomize: bool
    remember: bool

    def examples(self, label: str) -> int:
        """Hypothesis examples for the property ``label`` (``agreement/mse/float64``, …).

        The whole-network agreement properties get ``max_examples``; the probes of one
        behaviour (kinks, repeatability, exact arithmetic) a fifth of it, at least five.
        """
        if label.startswith("agreement/"):
            return self.max_examples
        return max(5, self.max_examples // 5)

    def database(self) -> ExampleDatabase | None:
        if not self.remember:
            return None
        return DirectoryBasedExampleDatabase(str(cache_dir() / "hypothesis"))

    def with_examples(self, n: int | None) -> Profile:
        if n is None:
            return self
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"max_examples must be a positive int, got {n!r}")
        return Profile(self.name, n, self.derandomize, self.remember)


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", 100, derandomize=False, remember=True),
    "ci": Profile("ci", 100, derandomize=True, remember=False),
    "thorough": Profile("thorough", 1000, derandomize=False, remember=True),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; valid are {list(PROFILES)}") from None
