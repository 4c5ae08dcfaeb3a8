"""What data each loss is defined on, read off the oracle's loss table.

Each :class:`oracle.functions.LossSpec` states its targets' domain and whether it takes
probabilities; this module gives the views the strategies use, so a new loss is one entry
in ``oracle/functions.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from oracle.functions import ACTIVATION_SPECS, LOSS_SPECS, TargetKind

__all__ = ["PROBABILITY_ACTIVATIONS", "PROBABILITY_OUTPUT_LOSSES", "TARGET_KINDS", "TargetKind"]

#: loss name -> what its targets y must be.
TARGET_KINDS: Mapping[str, TargetKind] = MappingProxyType(
    {name: spec.targets for name, spec in LOSS_SPECS.items()}
)

#: Losses that take probabilities a ∈ (0, 1), not logits: the network's output activation
#: must be one of PROBABILITY_ACTIVATIONS.
PROBABILITY_OUTPUT_LOSSES: frozenset[str] = frozenset(
    name for name, spec in LOSS_SPECS.items() if spec.probability_output
)
#: Activations whose every value lies in (0, 1) (mathematically; rounding may reach the ends).
PROBABILITY_ACTIVATIONS: tuple[str, ...] = tuple(
    name for name, spec in ACTIVATION_SPECS.items() if spec.probability
)
