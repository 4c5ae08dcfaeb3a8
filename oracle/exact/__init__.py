"""The exact arbiter: backpropagation in arbitrary precision (mpmath) on small networks.

The JAX oracle computes in float64 and loses every digit of a saturated layer's δ; this
package computes the same quantities at 60 decimal digits (by default) from the contract's
formulas, with its own derivatives, independently of refbp and of the JAX oracle, so that a
disagreement between a target and the oracle can be settled.

* :func:`exact_backprop` / :func:`exact_forward` — the network at ``dps`` digits
* :func:`rounded` — an exact result correctly rounded to float32 or float64
* :func:`exact_sensitivity` — exact results on randomly perturbed copies: conditioning
* :func:`exact_magnitudes` — every quantity's scale (the reverse pass over |·|)
* :data:`SMALL`, :func:`is_small` — the sizes the arbiter is meant for (pure-Python cost)
"""

from oracle.exact._functions import EXACT_ACTIVATIONS, EXACT_LOSSES, ExactActivation, ExactLoss
from oracle.exact._network import (
    SMALL,
    ExactForward,
    ExactResult,
    exact_backprop,
    exact_forward,
    exact_magnitudes,
    exact_sensitivity,
    is_small,
)
from oracle.exact._rounding import RoundedResult, round_mpf, rounded

__all__ = [
    "EXACT_ACTIVATIONS",
    "EXACT_LOSSES",
    "SMALL",
    "ExactActivation",
    "ExactForward",
    "ExactLoss",
    "ExactResult",
    "RoundedResult",
    "exact_backprop",
    "exact_forward",
    "exact_magnitudes",
    "exact_sensitivity",
    "is_small",
    "round_mpf",
    "rounded",
]
