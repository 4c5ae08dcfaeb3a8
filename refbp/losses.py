"""The loss registry: each entry carries C(a, y), its gradient ∇ₐC, and what its data must be.

C is averaged over the batch: a (B, O) are the network's outputs, y (B, O) the targets.
``value`` returns a 0-d array in the network's dtype; ``grad`` returns dC/da (B, O).

Stable forms: log-sum-exp with the max shift for softmax cross-entropy, softplus via
logaddexp for the sigmoid cross-entropy on logits, log1p for log(1 − a).  No entry
overflows, or warns, for outputs as large as ±1e4.

Adding a loss is one ``_register(Loss(...))`` call here and one entry in
``oracle.functions.LOSSES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np

from refbp._types import FloatArray

__all__ = ["LOSSES", "Loss", "get_loss"]

TargetKind = Literal["real", "unit_interval", "probability_rows"]


@dataclass(frozen=True, slots=True)
class Loss:
    """One loss C(a, y) with a, y (B, O), averaged over the B rows.

    ``targets`` says what y must be: any real numbers, numbers in [0, 1], or rows that are
    probability vectors.  ``output_activations``, if set, lists the output activations whose
    values the loss can take (binary cross-entropy needs probabilities in (0, 1)).
    """

    name: str
    value: Callable[[FloatArray, FloatArray], FloatArray]
    grad: Callable[[FloatArray, FloatArray], FloatArray]
    targets: TargetKind = "real"
    output_activations: tuple[str, ...] | None = None


_REGISTRY: dict[str, Loss] = {}
LOSSES: Mapping[str, Loss] = MappingProxyType(_REGISTRY)
"""Name -> Loss.  Read-only view; entries are added by ``_register`` in this module."""


def _register(entry: Loss) -> None:
    if entry.name in _REGISTRY:
        raise ValueError(f"loss {entry.name!r} is registered twice")
    _REGISTRY[entry.name] = entry


def get_loss(name: object, where: str = "refbp") -> Loss:
    """The registry entry for ``name``; an unknown name lists the valid ones."""
    from refbp.errors import DTypeError, UnknownNameError

    if not isinstance(name, str):
        raise DTypeError(f"{where}: loss names must be strings, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(
            f"{where}: unknown loss {name!r}; valid names are {sorted(_REGISTRY)}"
        ) from None


def _sum(x: FloatArray) -> FloatArray:
    # A 0-d array in x's dtype: np.sum returns a NumPy scalar of the same dtype.
    return np.asarray(x.sum())


def _mean(x: FloatArray, n: int) -> FloatArray:
    """Σ x / n as a 0-d array in x's dtype: x.sum() / n, with the division done on the NumPy
    scalar rather than on a 0-d array (the same rounding, a microsecond less overhead)."""
    return np.asarray(np.add.reduce(x, axis=None) / n)


# mse: mean over all B·O entries of (a − y)² --------------------------------------------------
def _mse(a: FloatArray, y: FloatArray) -> FloatArray:
    d = a - y
    d *= d  # in place: d is this function's own array
    return _mean(d, d.size)


def _mse_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    g = a - y
    g *= 2.0 / a.size  # (2 / BO) (a − y), scaled in place on the fresh difference
    return g


_register(Loss("mse", _mse, _mse_grad))


# quadratic: (1/2B) Σ ‖a − y‖², Nielsen's cost ---------------------------------------------
def _quadratic(a: FloatArray, y: FloatArray) -> FloatArray:
    d = a - y
    return _sum(d * d) / (2 * len(a))


_register(Loss("quadratic", _quadratic, lambda a, y: (a - y) / len(a)))

# l1: mean of |a − y|; subgradient sign(0) = 0 where a == y ----------------------------------
_register(
    Loss(
        "l1",
        lambda a, y: _sum(np.abs(a - y)) / a.size,
        lambda a, y: np.sign(a - y) / a.size,
    )
)


# huber, δ = 1: ½d² for |d| ≤ 1, |d| − ½ beyond; gradient clip(d, −1, 1) -----------------
def _huber(a: FloatArray, y: FloatArray) -> FloatArray:
    d = np.abs(a - y)
    return _sum(np.where(d <= 1.0, 0.5 * d * d, d - 0.5)) / a.size


_register(Loss("huber", _huber, lambda a, y: np.clip(a - y, -1.0, 1.0) / a.size))


# softmax_cross_entropy: −(1/B) Σ y · log softmax(a); a are logits --------------------------
def _log_softmax(a: FloatArray) -> FloatArray:
    shifted: FloatArray = a - a.max(axis=1, keepdims=True)
    row_sums: FloatArray = np.exp(shifted).sum(axis=1, keepdims=True)
    return shifted - np.log(row_sums)


def _softmax_ce_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """(softmax(a) Σ_j y_j − y) / B, without the cancellation of p − 1 where p ≈ 1.

    Σ_j y_j = 1 for valid targets; it is kept so the gradient is exact for the targets
    actually given.  In the column of each row's largest logit, p_m Σy − y_m is rewritten as
    p_m Σ_{j≠m} y_j − (1 − p_m) y_m with 1 − p_m = r / (1 + r), r = Σ_{j≠m} e^{a_j − a_m}:
    a confident, correct prediction (p_m = 1 − 1e-6) then keeps all its digits instead of
    the one or two that p_m − 1 leaves in float32.
    """
    e = np.exp(a - a.max(axis=1, keepdims=True))
    rows = np.arange(len(a))
    m = e.argmax(axis=1)  # e[rows, m] == 1 exactly after the max shift
    e_others = e.copy()
    e_others[rows, m] = 0.0
    r = e_others.sum(axis=1)
    total: FloatArray = e.sum(axis=1, keepdims=True)
    p = e / total
    y_mass: FloatArray = y.sum(axis=1, keepdims=True)
    g = p * y_mass - y
    y_m = y[rows, m]
    g[rows, m] = p[rows, m] * (y_mass[:, 0] - y_m) - (r / (1.0 + r)) * y_m
    out: FloatArray = g / len(a)
    return out


_register(
    Loss(
        "softmax_cross_entropy",
        lambda a, y: -_sum(y * _log_softmax(a)) / len(a),
        _softmax_ce_grad,
        targets="probability_rows",
    )
)


# sigmoid_cross_entropy on logits: softplus(a) − y a = max(a, 0) − y a + log1p(e^{−|a|}) ------
def _sigmoid_ce(a: FloatArray, y: FloatArray) -> FloatArray:
    per_entry = np.maximum(a, 0.0) - y * a + np.log1p(np.exp(-np.abs(a)))
    return _sum(per_entry) / len(a)


def _sigmoid_ce_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """(σ(a) − y) / B, written (1 − y) σ(a) − y σ(−a).

    y = 1 with a ≫ 0 (or y = 0 with a ≪ 0) would otherwise subtract two numbers near 1;
    σ(a) and σ(−a) = 1 − σ(a) both come from e = exp(−|a|) at full relative accuracy.
    """
    e = np.exp(-np.abs(a))
    big = 1.0 / (1.0 + e)  # σ(|a|)
    small = e / (1.0 + e)  # σ(−|a|)
    pos = a >= 0
    s = np.where(pos, big, small)  # σ(a)
    s_neg = np.where(pos, small, big)  # σ(−a)
    out: FloatArray = ((1.0 - y) * s - y * s_neg) / len(a)
    return out


_register(Loss("sigmoid_cross_entropy", _sigmoid_ce, _sigmoid_ce_grad, targets="unit_interval"))


# binary_cross_entropy on probabilities a ∈ (0, 1): −(1/B) Σ [y log a + (1 − y) log1p(−a)] ----
def _bce(a: FloatArray, y: FloatArray) -> FloatArray:
    return -_sum(y * np.log(a) + (1.0 - y) * np.log1p(-a)) / len(a)


def _bce_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    return ((1.0 - y) / (1.0 - a) - y / a) / len(a)


_register(
    Loss(
        "binary_cross_entropy",
        _bce,
        _bce_grad,
        targets="unit_interval",
        output_activations=("sigmoid", "softmax"),
    )
)
