"""JAX activations and losses under the names of refbp's registries.

Everything here is a *forward* formula; derivatives come from ``jax.grad`` /
``jax.vjp`` applied to these functions, never from hand-written code.

Kink conventions (pinned by tests/judge/test_oracle_kinks.py through ``jax.grad``):

* relu'(0) = 0          (``jax.nn.relu`` has a custom JVP; ``jnp.maximum`` would give 0.5)
* leaky_relu'(0) = 1    (``jax.nn.leaky_relu`` selects the ``x >= 0`` branch at 0)
* elu'(0) = 1           (``jax.nn.elu``: the ``x > 0`` branch is not taken, alpha·expm1'(0) = 1)
* l1: d|a - y|/da = 0 at a == y (``jnp.abs`` alone would give 1)

Each loss is declared as a :class:`LossSpec`: an elementwise term array plus a
normaliser (``"entries"`` = B·O, ``"rows"`` = B).  ``LOSSES[name](a, y)`` and the
masked evaluation used by the padded fast oracle are both derived from the same
spec, so the formula is written exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import jax
import jax.numpy as jnp

Array = jax.Array
#: ``where`` is a boolean mask broadcastable to the input; ``None`` means "all real".
Mask = Array | None

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_NAMES",
    "ACTIVATION_SPECS",
    "LOSSES",
    "LOSS_NAMES",
    "LOSS_SPECS",
    "ActivationSpec",
    "LossSpec",
    "TargetKind",
    "apply_activation",
    "masked_loss",
]


# --------------------------------------------------------------------------- activations


@dataclass(frozen=True, slots=True)
class ActivationSpec:
    """One activation: its forward map and where a subgradient convention was chosen.

    ``fn(z, where)`` maps pre-activations ``z (B, n)`` to ``a (B, n)``.  ``where``
    (bool, broadcastable to ``z``) only matters for row-wise activations: entries
    where it is False are excluded from the row (padding in the fast oracle) and
    come out as 0.  Elementwise activations ignore it.
    """

    name: str
    fn: Callable[[Array, Mask], Array]
    kinks: tuple[float, ...] = ()
    #: the slope chosen at each kink (the convention jax.grad must give there)
    kink_slopes: tuple[float, ...] = ()
    rowwise: bool = False
    #: every value lies in (0, 1): a loss on probabilities may follow it
    probability: bool = False


def _elementwise(f: Callable[[Array], Array]) -> Callable[[Array, Mask], Array]:
    def apply(z: Array, where: Mask = None) -> Array:
        del where  # elementwise maps never mix entries, so padding cannot leak in
        return f(z)

    return apply


def _identity(z: Array) -> Array:
    return z


def _leaky_relu(z: Array) -> Array:
    # Spelled out so the slope is visibly the contract's 0.01 (jax's default too).
    return jax.nn.leaky_relu(z, negative_slope=0.01)


def _elu(z: Array) -> Array:
    return jax.nn.elu(z, alpha=1.0)


def _gelu(z: Array) -> Array:
    # The tanh approximation, z/2 (1 + tanh u) with u = √(2/π) (z + 0.044715 z³): the
    # contract, and jax.nn.gelu's default.  It is evaluated as z · sigmoid(2u), the same
    # number, because 1 + tanh u cancels for z < −3: jax.nn.gelu(−10) is exactly 0 in
    # float64 where the value is −9e-38, and a relu after it then sits on its kink in the
    # oracle but not in truth (the differential suite found that).  Its derivative still
    # comes from jax.grad.
    u2 = 2.0 * math.sqrt(2.0 / math.pi) * (z + 0.044715 * (z * z * z))
    return z * jax.nn.sigmoid(u2)


def _softmax(z: Array, where: Mask = None) -> Array:
    # jax.nn.softmax with ``where`` excludes masked logits from max and sum and
    # returns 0 there; its custom JVP multiplies by y = 0 at masked entries, so no
    # NaN reaches a gradient (checked by tests via the fast/plain comparison).
    return jax.nn.softmax(z, axis=-1, where=where)


_ACTIVATION_LIST: tuple[ActivationSpec, ...] = (
    ActivationSpec("identity", _elementwise(_identity)),
    ActivationSpec("sigmoid", _elementwise(jax.nn.sigmoid), probability=True),
    ActivationSpec("tanh", _elementwise(jnp.tanh)),
    ActivationSpec("relu", _elementwise(jax.nn.relu), kinks=(0.0,), kink_slopes=(0.0,)),
    ActivationSpec("leaky_relu", _elementwise(_leaky_relu), kinks=(0.0,), kink_slopes=(1.0,)),
    ActivationSpec("elu", _elementwise(_elu), kinks=(0.0,), kink_slopes=(1.0,)),
    ActivationSpec("softplus", _elementwise(jax.nn.softplus)),
    ActivationSpec("gelu", _elementwise(_gelu)),
    ActivationSpec("silu", _elementwise(jax.nn.silu)),
    ActivationSpec("softmax", _softmax, rowwise=True, probability=True),
)

#: Fixed order: the fast oracle selects activations by index into this tuple.
ACTIVATION_NAMES: tuple[str, ...] = tuple(s.name for s in _ACTIVATION_LIST)
ACTIVATION_SPECS: Mapping[str, ActivationSpec] = MappingProxyType(
    {s.name: s for s in _ACTIVATION_LIST}
)


def _unmasked(spec: ActivationSpec) -> Callable[[Array], Array]:
    def apply(z: Array) -> Array:
        return spec.fn(z, None)

    apply.__name__ = spec.name
    return apply


#: name -> ``z (B, n) -> a (B, n)``; softmax is row-wise over the last axis.
ACTIVATIONS: Mapping[str, Callable[[Array], Array]] = MappingProxyType(
    {s.name: _unmasked(s) for s in _ACTIVATION_LIST}
)


def apply_activation(name: str, z: Array, where: Mask = None) -> Array:
    """Apply activation ``name`` to ``z (B, n)``; ``where`` masks padded units (row-wise only)."""
    return ACTIVATION_SPECS[name].fn(z, where)


# --------------------------------------------------------------------------- losses

Normaliser = Literal["entries", "rows"]
#: What a loss's targets y must be: any reals, numbers in [0, 1], or probability rows.
TargetKind = Literal["real", "unit_interval", "probability_rows"]


@dataclass(frozen=True, slots=True)
class LossSpec:
    """One loss: ``C = sum(terms(a, y, where)) / N`` with N = B·O ("entries") or B ("rows").

    ``terms(a (B, O), y (B, O), where)`` returns the (B, O) elementwise
    contributions.  ``where`` (bool, broadcastable to (B, O)) is only consulted by
    terms that mix a row (log_softmax); the caller zeroes masked terms itself.
    ``a`` and ``y`` handed to ``terms`` are always finite and inside the loss's
    domain (the masked path substitutes ``safe`` at padded entries first).
    """

    name: str
    terms: Callable[[Array, Array, Mask], Array]
    normaliser: Normaliser
    #: what the targets y must be; the strategies draw valid targets from it
    targets: TargetKind = "real"
    #: the loss takes probabilities a ∈ (0, 1), so the output activation must produce them
    probability_output: bool = False
    #: value substituted for padded a and y so that log terms stay finite there
    safe: float = 0.5


def _mse_terms(a: Array, y: Array, where: Mask) -> Array:
    d = a - y
    return d * d


def _quadratic_terms(a: Array, y: Array, where: Mask) -> Array:
    # (1/2B) Σ‖a − y‖²: the 1/2 is in the terms, the 1/B is the "rows" normaliser.
    d = a - y
    return 0.5 * (d * d)


def _l1_terms(a: Array, y: Array, where: Mask) -> Array:
    d = a - y
    # jax.grad(jnp.abs)(0.) == 1; selecting a constant at d == 0 makes the
    # subgradient there 0, i.e. sign(0) = 0 as in NumPy.
    return jnp.where(d == 0.0, 0.0, jnp.abs(d))


def _huber_terms(a: Array, y: Array, where: Mask) -> Array:
    d = a - y
    ad = jnp.abs(d)
    # delta = 1; both branches are finite everywhere, so the unselected branch's
    # zero cotangent cannot produce NaN.  At |d| = 1 both branches have slope ±1.
    return jnp.where(ad <= 1.0, 0.5 * (d * d), ad - 0.5)


def _softmax_ce_terms(a: Array, y: Array, where: Mask) -> Array:
    # −y log p with log p = s − log1p(r), s = a − max and r = Σ e^s over every column but
    # the max's (an identity for any choice of that column, so jax.grad of it is exact).
    # jax.nn.log_softmax takes log(1 + r) instead: where a row is confident (r ≪ 1) the
    # rounding of 1 + r costs C a relative error of u / C (1.3e-13 seen at C = 4e-4 in
    # float64, exact arithmetic deciding against the oracle).  The max keeps ±1e4 finite.
    real = jnp.ones(a.shape, dtype=bool) if where is None else jnp.broadcast_to(where, a.shape)
    m = jnp.argmax(jnp.where(real, a, -jnp.inf), axis=-1, keepdims=True)
    s = a - jnp.take_along_axis(a, m, axis=-1)
    others = real & (jnp.arange(a.shape[-1]) != m)
    # exp only where it counts (a padded s may be huge): no inf, no NaN cotangent
    e = jnp.where(others, jnp.exp(jnp.where(others, s, 0.0)), 0.0)
    log_p = s - jnp.log1p(e.sum(axis=-1, keepdims=True))
    return -(y * log_p)


def _sigmoid_ce_terms(a: Array, y: Array, where: Mask) -> Array:
    # BCE(sigmoid(a), y) with log σ(a) = log_sigmoid(a), log(1 − σ(a)) = log_sigmoid(−a):
    # no σ is ever rounded to 0 or 1 before the log, so |a| = 1e4 stays finite.
    return -(y * jax.nn.log_sigmoid(a) + (1.0 - y) * jax.nn.log_sigmoid(-a))


# XLA's float64 log1p on the CPU is up to 129 ulp off for x in (−0.53, −0.28) (jax-ml/jax
# #39707; openxla/xla #46765); the differential suite met it as a 75-ulp disagreement in a
# binary cross-entropy.  There, 1 − a is at least 0.47 and is formed with one rounding, so
# log(1 − a) is accurate; log1p(−a) is kept elsewhere, where it is accurate and 1 − a is not.
_LOG1P_BAD_LOW, _LOG1P_BAD_HIGH = 0.27, 0.54


def _log_one_minus(a: Array) -> Array:
    bad = (a > _LOG1P_BAD_LOW) & (a < _LOG1P_BAD_HIGH)
    return jnp.where(bad, jnp.log(1.0 - a), jnp.log1p(-a))


def _bce_terms(a: Array, y: Array, where: Mask) -> Array:
    # a are probabilities in (0, 1), used as given: no clipping, so a = 0 or 1 gives inf.
    return -(y * jnp.log(a) + (1.0 - y) * _log_one_minus(a))


_LOSS_LIST: tuple[LossSpec, ...] = (
    LossSpec("mse", _mse_terms, "entries"),
    LossSpec("quadratic", _quadratic_terms, "rows"),
    LossSpec("l1", _l1_terms, "entries"),
    LossSpec("huber", _huber_terms, "entries"),
    LossSpec("softmax_cross_entropy", _softmax_ce_terms, "rows", targets="probability_rows"),
    LossSpec("sigmoid_cross_entropy", _sigmoid_ce_terms, "rows", targets="unit_interval"),
    LossSpec(
        "binary_cross_entropy", _bce_terms, "rows", targets="unit_interval", probability_output=True
    ),
)

#: Fixed order: the fast oracle selects the loss by index into this tuple.
LOSS_NAMES: tuple[str, ...] = tuple(s.name for s in _LOSS_LIST)
LOSS_SPECS: Mapping[str, LossSpec] = MappingProxyType({s.name: s for s in _LOSS_LIST})


def _plain_loss(spec: LossSpec) -> Callable[[Array, Array], Array]:
    def loss(a: Array, y: Array) -> Array:
        """Scalar loss of outputs ``a (B, O)`` against targets ``y (B, O)``."""
        if a.shape != y.shape:
            # (N, 1) − (N,) broadcasts to (N, N): refuse instead of averaging garbage.
            raise ValueError(
                f"oracle loss {spec.name!r}: a and y must have the same shape, "
                f"got {a.shape} and {y.shape}"
            )
        rows = a.shape[0]
        n = rows * a.shape[1] if spec.normaliser == "entries" else rows
        return jnp.sum(spec.terms(a, y, None)) / n

    loss.__name__ = spec.name
    return loss


#: name -> ``(a (B, O), y (B, O)) -> scalar C``.
LOSSES: Mapping[str, Callable[[Array, Array], Array]] = MappingProxyType(
    {s.name: _plain_loss(s) for s in _LOSS_LIST}
)


def masked_loss(
    spec: LossSpec,
    a: Array,
    y: Array,
    mask: Array,
    col_mask: Array,
    n_rows: Array,
    n_entries: Array,
) -> Array:
    """The loss of ``spec`` over the real entries of padded ``a, y (Bp, Op)``.

    ``mask (Bp, Op)`` marks real entries, ``col_mask (Op,)`` real output units,
    ``n_rows`` / ``n_entries`` are the real B and B·O as (traced) scalars, so the
    padded shape never enters the normaliser.
    """
    # Double-where: padded entries get safe values *before* any log, and their
    # terms are replaced by 0 afterwards; the unselected branch then receives a
    # zero cotangent multiplied by finite partials, never 0·inf = NaN.
    a_safe = jnp.where(mask, a, spec.safe)
    y_safe = jnp.where(mask, y, spec.safe)
    # Row-wise terms exclude padded *columns* only: a fully masked padded row
    # would have an empty softmax (−inf max), so padded rows are kept in and
    # zeroed below like every other padded entry.
    terms = jnp.where(mask, spec.terms(a_safe, y_safe, col_mask), 0.0)
    n = n_entries if spec.normaliser == "entries" else n_rows
    return jnp.sum(terms) / n
