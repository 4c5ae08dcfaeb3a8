"""The loss registry: one entry per loss, C(a, y) and its gradient ∇ₐC, and what y must be.

C is averaged over the batch: a (B, O) are the network's outputs, y (B, O) the targets.
Each loss is a pair of plain functions, ``<name>_value(a, y)`` (a 0-d array in the
network's dtype) and ``<name>_grad(a, y)`` (dC/da (B, O)), with the formula in the
docstring, and one line in the table ``_TABLE`` at the bottom.  These are the reference
forms; the network runs the kernels of ``refbp.loss_kernels`` where an entry has them, and
tests/bench/test_fast_paths.py holds each kernel to its reference form.

Stable forms: log-sum-exp with the max shift (and log1p of the sum without the max) for
softmax cross-entropy, the sigmoid cross-entropy on logits as a sum of non-negative terms
(y softplus(−a) + (1 − y) softplus(a)), log1p for log(1 − a).  No entry
overflows, or warns, for outputs as large as ±1e4.

An entry may also declare ``output_forms``: for a given output activation, C and δᴸ =
∂C/∂zᴸ computed from the output layer's z directly (``refbp.output_forms``).  BP1's
general form ∇ₐC ⊙ σ'(zᴸ) is exact in exact arithmetic for every pair, but for binary
cross-entropy after a sigmoid or a softmax it divides by a rounded 1 − a and loses digits
there; the output form keeps them.  The general form serves every other pair.

Adding a loss is one entry in ``_TABLE`` here and one in ``oracle.functions``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

import numpy as np

from refbp import loss_kernels, output_forms
from refbp._entries import bare, checked
from refbp._types import FloatArray
from refbp.output_forms import OutputForm

__all__ = ["LOSSES", "Loss", "OutputForm", "get_loss"]

TargetKind = Literal["real", "unit_interval", "probability_rows"]
LossFunction = Callable[[FloatArray, FloatArray], FloatArray]
"""(a, y) -> C (0-d) or dC/da (B, O)."""


@dataclass(frozen=True, slots=True)
class Loss:
    """One loss C(a, y) with a, y (B, O), averaged over the B rows.

    ``value`` and ``grad`` are the reference forms; ``fast_value`` / ``fast_grad``, where
    set, the kernels the network runs instead.  ``targets`` says what y must be: any real
    numbers, numbers in [0, 1], or rows that are probability vectors.
    ``output_activations``, if set, lists the output activations whose values the loss can
    take (binary cross-entropy needs probabilities in (0, 1)).  ``output_forms`` maps an
    output activation's name to C and δᴸ computed from zᴸ (see the module docstring).
    """

    name: str
    value: LossFunction
    grad: LossFunction
    targets: TargetKind = "real"
    output_activations: tuple[str, ...] | None = None
    output_forms: Mapping[str, OutputForm] = field(default_factory=dict)
    fast_value: LossFunction | None = None
    fast_grad: LossFunction | None = None

    @property
    def functions(self) -> tuple[LossFunction, LossFunction]:
        """(value, grad) as the network runs them, on arrays it has checked: the kernels
        where there are some, else the bare reference forms."""
        return (self.fast_value or bare(self.value), self.fast_grad or bare(self.grad))


_REGISTRY: dict[str, Loss] = {}
LOSSES: Mapping[str, Loss] = MappingProxyType(_REGISTRY)
"""Name -> Loss.  Read-only view of ``_TABLE``."""


def _register(entry: Loss) -> None:
    """Add ``entry``, its public forms checked at the door (``refbp._entries``)."""
    if entry.name in _REGISTRY:
        raise ValueError(f"loss {entry.name!r} is registered twice")
    door = f"LOSSES[{entry.name!r}]"
    _REGISTRY[entry.name] = replace(
        entry,
        value=checked(entry.value, f"{door}.value", ("a", "y"), rows=True),
        grad=checked(entry.grad, f"{door}.grad", ("a", "y"), rows=True),
    )


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


# --- the reference forms ----------------------------------------------------------------


def mse_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """C = mean over all B·O entries of (a − y)²."""
    d = a - y
    return _sum(d * d) / d.size


def mse_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """dC/da = (2 / BO) (a − y)."""
    g = a - y
    g *= 2.0 / a.size
    return g


def quadratic_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """C = (1/2B) Σ ‖a − y‖², Nielsen's cost."""
    d = a - y
    return _sum(d * d) / (2 * len(a))


def quadratic_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """dC/da = (a − y) / B."""
    return (a - y) / len(a)


def l1_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """C = mean over all entries of |a − y|."""
    return _sum(np.abs(a - y)) / a.size


def l1_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """dC/da = sign(a − y) / BO; the subgradient sign(0) = 0 where a == y."""
    return np.sign(a - y) / a.size


def huber_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """C = mean of huber(a − y), δ = 1: ½d² for |d| ≤ 1, |d| − ½ beyond."""
    d = np.abs(a - y)
    return _sum(np.where(d <= 1.0, 0.5 * d * d, d - 0.5)) / a.size


def huber_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """dC/da = clip(a − y, −1, 1) / BO."""
    return np.clip(a - y, -1.0, 1.0) / a.size


def _log_softmax(a: FloatArray) -> FloatArray:
    """log softmax(a) = s − log Σ e^s with s = a − max, per row, and log Σ e^s = log1p(r),
    r = Σ_{j≠m} e^{s_j} the sum without the max's column m (its e^0 = 1 exactly)."""
    rows = np.arange(len(a))
    m = a.argmax(axis=1)
    shifted: FloatArray = a - a[rows, m][:, None]
    e = np.exp(shifted)
    e[rows, m] = 0.0
    log_total: FloatArray = np.log1p(e.sum(axis=1, keepdims=True))
    return shifted - log_total


def softmax_cross_entropy_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """C = −(1/B) Σ y · log softmax(a); a are logits, log-softmax after the max shift.

    log Σ e^s is log1p of the sum without the max's 1: a confident, correct row has
    C ≈ r = 4e-10 (a logit 21 above the rest), which log(1 + r) would leave with the
    rounding of 1 + r (six digits of sixteen in float64) and log1p(r) keeps whole.
    """
    return -_sum(y * _log_softmax(a)) / len(a)


def softmax_cross_entropy_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """dC/da = (softmax(a) Σ_j y_j − y) / B, without the cancellation of p − 1 where p ≈ 1.

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


def sigmoid_cross_entropy_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """C = (1/B) Σ [y softplus(−a) + (1 − y) softplus(a)]: the binary cross-entropy of σ(a)
    against y, on logits a.  Per entry that is log1p(e^{−|a|}) + |a| c with c = 1 − y where
    a ≥ 0 and c = y where a < 0, written c = |[a ≥ 0] − y| for y in [0, 1].

    Every term is ≥ 0, so nothing cancels.  The textbook softplus(a) − y a subtracts two
    numbers near a where y ≈ 1 and a ≫ 0, around a loss of e^{−a}: a = 11 in float32 kept
    one digit of seven.
    """
    abs_a = np.abs(a)
    c = np.abs((a >= 0) - y)
    per_entry = np.log1p(np.exp(-abs_a)) + abs_a * c
    return _sum(per_entry) / len(a)


def sigmoid_cross_entropy_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """dC/da = (σ(a) − y) / B, written s − y where a < 0 and (1 − y) − s where a ≥ 0, with
    s = σ(−|a|) = e / (1 + e), e = exp(−|a|): the small one of σ(a) and 1 − σ(a), at full
    relative accuracy.  The split is on the sign bit, so −0.0 goes with the negatives (at
    a = ±0 both branches are 1/2 − y).

    y = 1 with a ≫ 0 (or y = 0 with a ≪ 0) is then −s (or s) exactly, where σ(a) − 1 would
    subtract two numbers near 1; elsewhere it is one subtraction of two numbers each within
    half an ulp or so, as good as the fused σ(a) − y, and exact by Sterbenz where they are
    close (1 − y is exact for y ≥ 1/2).
    """
    e = np.exp(-np.abs(a))
    s = e / (1.0 + e)
    out: FloatArray = np.where(np.signbit(a), s - y, (1.0 - y) - s) / len(a)
    return out


def binary_cross_entropy_value(a: FloatArray, y: FloatArray) -> FloatArray:
    """C = −(1/B) Σ [y log a + (1 − y) log1p(−a)], a probabilities in (0, 1)."""
    return -_sum(y * np.log(a) + (1.0 - y) * np.log1p(-a)) / len(a)


def binary_cross_entropy_grad(a: FloatArray, y: FloatArray) -> FloatArray:
    """dC/da = ((1 − y)/(1 − a) − y/a) / B, written (a − y) / (a (1 − a)) / B.

    The two terms of the first form are each of size 1/(1 − a) or 1/a and cancel where
    a ≈ y, leaving their rounding errors as the answer (millions of ulps off near a = y);
    in the second, a − y is exact there (Sterbenz) and every other step rounds once."""
    return (a - y) / (a * (1.0 - a)) / len(a)


# --- the table --------------------------------------------------------------------------

_TABLE: tuple[Loss, ...] = (
    Loss("mse", mse_value, mse_grad, fast_value=loss_kernels.mse_value),
    Loss("quadratic", quadratic_value, quadratic_grad, fast_value=loss_kernels.quadratic_value),
    Loss("l1", l1_value, l1_grad, fast_grad=loss_kernels.l1_grad),
    Loss(
        "huber", huber_value, huber_grad,
        fast_value=loss_kernels.huber_value, fast_grad=loss_kernels.huber_grad,
    ),
    Loss(
        "softmax_cross_entropy", softmax_cross_entropy_value, softmax_cross_entropy_grad,
        targets="probability_rows",
        fast_value=loss_kernels.softmax_cross_entropy_value,
        fast_grad=loss_kernels.softmax_cross_entropy_grad,
    ),
    Loss(
        "sigmoid_cross_entropy", sigmoid_cross_entropy_value, sigmoid_cross_entropy_grad,
        targets="unit_interval",
        fast_value=loss_kernels.sigmoid_cross_entropy_value,
        fast_grad=loss_kernels.sigmoid_cross_entropy_grad,
    ),
    Loss(
        "binary_cross_entropy", binary_cross_entropy_value, binary_cross_entropy_grad,
        targets="unit_interval", output_activations=("sigmoid", "softmax"),
        output_forms=MappingProxyType({
            "sigmoid": output_forms.SIGMOID_BINARY_CROSS_ENTROPY,
            "softmax": output_forms.SOFTMAX_BINARY_CROSS_ENTROPY,
        }),
        fast_value=loss_kernels.binary_cross_entropy_value,
        fast_grad=loss_kernels.binary_cross_entropy_grad,
    ),
)  # fmt: skip

for _entry in _TABLE:
    _register(_entry)
