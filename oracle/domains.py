"""What data each loss is defined on: the oracle's statement of the losses' domains.

The test strategies draw targets from here, so a new loss gets valid targets by one entry
in this table (the registry-parity test says so if it is missing).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

__all__ = ["PROBABILITY_ACTIVATIONS", "PROBABILITY_OUTPUT_LOSSES", "TARGET_KINDS", "TargetKind"]

TargetKind = Literal["real", "unit_interval", "probability_rows"]

#: loss name -> what its targets y must be.
TARGET_KINDS: Mapping[str, TargetKind] = MappingProxyType(
    {
        "mse": "real",
        "quadratic": "real",
        "l1": "real",
        "huber": "real",
        "softmax_cross_entropy": "probability_rows",  # rows of y are probability vectors
        "sigmoid_cross_entropy": "unit_interval",
        "binary_cross_entropy": "unit_interval",
    }
)

#: Losses that take probabilities a ∈ (0, 1), not logits: the network's output activation
#: must be one of PROBABILITY_ACTIVATIONS.
PROBABILITY_OUTPUT_LOSSES: frozenset[str] = frozenset({"binary_cross_entropy"})
PROBABILITY_ACTIVATIONS: tuple[str, ...] = ("sigmoid", "softmax")
