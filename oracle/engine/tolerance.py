"""The tolerance model: how far a target's result may lie from the reference's.

A target's result r for a quantity q (the loss, each δˡ, ∂C/∂Wˡ, ∂C/∂bˡ, ∂C/∂X) is compared
with the reference's o (the float64 JAX oracle, or the exact arbiter) normwise:

    ‖r − o‖  ≤  c · u · (L + 1) · √n · max(‖o‖, s, M, χ‖o‖ for the loss)        (1)

Every term is a property of the case and of the target's dtype, never of a formula some
implementation happens to use:

* u is the unit roundoff of the target's dtype (2⁻²⁴ float32, 2⁻⁵³ float64).
* L + 1 counts the rounding stages an error passes through (L layers and the loss); √n the
  typical growth of rounding in a length-n sum, n the widest layer or the batch, whichever
  is larger (the batch is summed over in ∂C/∂W and ∂C/∂b).
* s is the quantity's measured sensitivity to its inputs: the reference is re-evaluated on
  copies of the parameters, data and targets perturbed by relative amounts ±ρ (ρ = 64u;
  two copies with random signs and one with every sign +, which moves products of
  inputs most) and s = maxₖ ‖qₖ − o‖ / ρ.  s is what rounding the inputs to dtype (which
  every target must do) can move the result by; where q is well conditioned s ≈ ‖o‖ and
  (1) is a relative bound; where q cancels (a gradient near zero, a kink crossed by
  rounding) s grows and (1) grows with it.
* M is the magnitude of the terms the quantity sums, the classic componentwise bound
  |fl(A B) − A B| ≤ γ |A| |B|: ‖Σ_B |δˡ|‖ for ∂C/∂bˡ, ‖|aˡ⁻¹|ᵀ |δˡ|‖ for ∂C/∂Wˡ,
  ‖|δ¹| |W¹|ᵀ‖ for ∂C/∂X and ‖(|δˡ⁺¹| |Wˡ⁺¹|ᵀ) ⊙ |σ'(zˡ)|‖ for δˡ, propagated from the
  output's |∇ₐC| (softmax: the terms a ⊙ (|g| + Σ|g| a) of its VJP).  Where a sum cancels
  (a bias gradient over a balanced batch is exactly 0), rounding is relative to the terms,
  not to the tiny result, and multiplicative perturbations cannot show that when the inputs
  are exact zeros.
* χ, for the loss value only, is C's measured sensitivity to rounding the output aᴸ alone by
  ±ρ: the protocol's network produces aᴸ in its dtype and the loss is a function of aᴸ, so
  a binary cross-entropy on a probability within a few ulps of 1 is ill-conditioned for
  every target.  Gradients get no such allowance: ∂C/∂z is a function of z, and a target
  whose δᴸ inherits the rounding of aᴸ (∇ₐC from the rounded a times σ' from z) is wrong.
* c = 16 = 2 × 4 × 2: both sides round (the reference's float64 error is part of every
  float64 comparison); vectorised transcendentals are accurate to a few ulps, not half an
  ulp; and 2 for the random-sign estimate of s.

s, M and χ cost more reference evaluations, so they are only computed when the cheaper
bound with s = M = 0, χ = 1 (a pure relative bound) fails; that bound is never looser than
(1) itself.  Every report shows the worst ratio ‖r − o‖ / bound seen, so the slack is visible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

import numpy as np

__all__ = [
    "PERTURBATION_ULPS",
    "SAFETY",
    "Measurement",
    "Quantity",
    "Reference",
    "Sensitivity",
    "bound_factor",
    "judge",
    "norm",
    "norms",
    "once",
    "perturbation",
    "perturbed_copies",
    "quantities",
    "unit_roundoff",
    "wrong_shapes",
]

SAFETY = 16.0
PERTURBATION_ULPS = 64.0
FAMILIES = ("loss", "delta", "grad_W", "grad_b", "grad_X")


class Reference(Protocol):
    """What the reference says about a case (the oracle's OracleResult has these fields)."""

    @property
    def loss(self) -> float: ...
    @property
    def deltas(self) -> list[Any]: ...
    @property
    def grad_weights(self) -> list[Any]: ...
    @property
    def grad_biases(self) -> list[Any]: ...
    @property
    def grad_input(self) -> Any: ...


def unit_roundoff(dtype: Any) -> float:
    return float(np.finfo(dtype).eps) / 2.0


def perturbation(dtype: Any) -> float:
    return PERTURBATION_ULPS * unit_roundoff(dtype)


def bound_factor(dtype: Any, depth: int, width: int) -> float:
    """c · u · (L + 1) · √n of (1)."""
    return SAFETY * unit_roundoff(dtype) * (depth + 1) * math.sqrt(width)


class Quantity(NamedTuple):
    family: str  # loss | delta | grad_W | grad_b | grad_X
    layer: int | None  # 1-based (the equations' l), None for the loss and ∂C/∂X

    @property
    def label(self) -> str:
        names = {"loss": "C", "delta": "δ", "grad_W": "∂C/∂W", "grad_b": "∂C/∂b", "grad_X": "∂C/∂X"}
        return (
            names[self.family]
            if self.layer is None
            else f"{names[self.family]} of layer {self.layer}"
        )


def quantities(r: Any, families: Sequence[str] = FAMILIES) -> list[tuple[Quantity, np.ndarray]]:
    """The quantities of a result among ``families``, output side first (errors flow that way).

    ``r`` has the fields of :class:`Reference`; a field that is None is skipped.
    """
    L = len(r.grad_weights)
    keys = _quantity_keys(
        L, tuple(families), r.deltas is not None, r.grad_biases is not None,
        r.grad_input is not None,
    )  # fmt: skip
    fields = {"delta": r.deltas, "grad_W": r.grad_weights, "grad_b": r.grad_biases}
    out: list[tuple[Quantity, np.ndarray]] = []
    for q in keys:
        if q.family == "loss":
            out.append((q, np.asarray(r.loss, dtype=np.float64)))
        elif q.family == "grad_X":
            out.append((q, np.asarray(r.grad_input)))
        else:
            assert q.layer is not None
            out.append((q, np.asarray(fields[q.family][q.layer - 1])))
    return out


@lru_cache(maxsize=256)
def _quantity_keys(
    L: int, families: tuple[str, ...], deltas: bool, biases: bool, grad_x: bool
) -> tuple[Quantity, ...]:
    """The keys :func:`quantities` lists for a result of L layers (a verified network's are
    listed four times: built once per structure)."""
    present = {"delta": deltas, "grad_W": True, "grad_b": biases}
    keys = [Quantity("loss", None)] if "loss" in families else []
    for i in range(L - 1, -1, -1):
        keys += [Quantity(f, i + 1) for f in ("delta", "grad_W", "grad_b")
                 if f in families and present[f]]  # fmt: skip
    if "grad_X" in families and grad_x:
        keys.append(Quantity("grad_X", None))
    return tuple(keys)


_LISTS = (("grad_W", "grad_weights"), ("grad_b", "grad_biases"), ("delta", "deltas"))


def wrong_count(got: Any, ref: Any) -> str | None:
    """The first family whose list has another length than the network's layers, or None."""
    for family, name in _LISTS:
        arrays = getattr(got, name)
        if arrays is not None and len(arrays) != len(getattr(ref, name)):
            return family
    return None


def count_message(got: Any, ref: Any) -> str:
    """What ``wrong_count`` found, in words: "deltas has 1 array for a network of 2 layers"."""
    name = dict(_LISTS)[wrong_count(got, ref) or "grad_W"]
    n, layers = len(getattr(got, name)), len(ref.grad_weights)
    return (
        f"{name} has {n} array{'s' * (n != 1)} for a network of {layers} layer{'s' * (layers != 1)}"
    )


def wrong_shapes(got: Any, ref: Any, families: Sequence[str]) -> list[Quantity]:
    """The quantities whose shape differs from the reference's (a different layer count too)."""
    if (family := wrong_count(got, ref)) is not None:
        return [Quantity(family, None)]
    return [
        q
        for (q, r), (_, o) in zip(quantities(got, families), quantities(ref, families), strict=True)
        if np.shape(r) != np.shape(o)
    ]


def norm(a: Any) -> float:
    """The 2-norm, also where squaring the entries would overflow (scaled by the largest)."""
    x = np.asarray(a, dtype=np.float64).ravel()
    with np.errstate(over="ignore", invalid="ignore"):
        n = float(np.sqrt(x @ x)) if x.size else 0.0
    if math.isfinite(n) and n > 1e-150:
        return n  # neither overflow nor underflow of the squares
    if n == 0.0 and not x.any():
        return 0.0
    m = float(np.abs(x).max())
    if not math.isfinite(m):
        return math.nan if np.isnan(x).any() else math.inf
    if m == 0.0:
        return 0.0
    return m * float(np.linalg.norm(x / m))


def norms(arrays: Sequence[Any]) -> list[float]:
    """``[norm(a) for a in arrays]``, the sums of squares taken in one pass over all of them
    (a network has a dozen small quantities: one call each would cost more than the sums);
    any whose squares overflow or underflow are redone by :func:`norm`."""
    flat = [np.ravel(a) for a in arrays]
    if not flat:
        return []
    sizes = np.fromiter((f.size for f in flat), dtype=np.intp, count=len(flat))
    x = np.concatenate(flat, dtype=np.float64, casting="same_kind")
    if x.size == 0:
        return [0.0] * len(flat)
    starts = np.zeros(len(flat), dtype=np.intp)
    np.cumsum(sizes[:-1], out=starts[1:])
    full = sizes > 0  # reduceat cannot express an empty segment: those stay 0
    out = np.zeros(len(flat))
    with np.errstate(over="ignore", invalid="ignore"):
        out[full] = np.sqrt(np.add.reduceat(x * x, starts[full]))
    safe = np.isfinite(out) & ((out > 1e-150) | (sizes == 0))
    if safe.all():
        return list(out.tolist())
    return [float(n) if ok else norm(f) for n, ok, f in zip(out, safe, flat, strict=True)]


@dataclass
class Sensitivity:
    """The reference on perturbed inputs, the terms' magnitudes M, and χ of the loss value."""

    runs: Sequence[Reference]
    magnitudes: dict[Quantity, float] = field(default_factory=dict)
    chi_loss: float = 1.0
    #: the unperturbed result the runs moved away from (the judged reference if None): a
    #: bug model judged with the oracle's sensitivity measures s against the oracle, not
    #: against itself
    base: Reference | None = None


@dataclass(frozen=True)
class Measurement:
    """One quantity judged: error ‖r − o‖, the reference's norm, the bound (1), the terms."""

    quantity: Quantity
    error: float
    norm: float
    bound: float
    sensitivity: float
    magnitude: float
    got: np.ndarray = field(repr=False)
    expected: np.ndarray = field(repr=False)

    @property
    def ratio(self) -> float:
        if self.bound > 0:
            return self.error / self.bound
        return 0.0 if self.error == 0 else math.inf

    @property
    def passed(self) -> bool:
        return math.isfinite(self.error) and self.error <= self.bound

    @property
    def relative(self) -> float:
        """The error relative to the scale the bound uses (not to a value that is almost 0)."""
        scale = max(self.norm, self.sensitivity, self.magnitude)
        if scale > 0:
            return self.error / scale
        return 0.0 if self.error == 0 else math.inf


def once(measure: Callable[[], Sensitivity]) -> Callable[[], Sensitivity]:
    """``measure`` run at most once: the sensitivity is costly and several judges may ask."""
    done: list[Sensitivity] = []

    def get() -> Sensitivity:
        if not done:
            done.append(measure())
        return done[0]

    return get


def judge(
    got: Any,
    ref: Reference,
    *,
    dtype: Any,
    depth: int,
    width: int,
    families: Sequence[str],
    sensitivity: Callable[[], Sensitivity] | None,
) -> list[Measurement]:
    """Apply (1) to every quantity in ``families``; shapes must already match.

    ``sensitivity()`` is called at most once, and only if the relative bound fails somewhere.
    """
    pairs_got = quantities(got, families)
    pairs_ref = quantities(ref, families)
    factor = bound_factor(dtype, depth, width)
    n = len(pairs_ref)
    both = norms(  # the errors and the reference's norms in one pass
        [np.asarray(r, np.float64) - o for (_, r), (_, o) in zip(pairs_got, pairs_ref, strict=True)]
        + [o for _, o in pairs_ref]
    )
    errors, ref_norms = both[:n], both[n:]
    sens = [0.0] * len(errors)
    mags = [0.0] * len(errors)
    chi = 1.0
    if sensitivity is not None and any(
        not e <= factor * n for e, n in zip(errors, ref_norms, strict=True)
    ):
        rho = perturbation(dtype)
        measured = sensitivity()
        chi = measured.chi_loss
        base = pairs_ref if measured.base is None else quantities(measured.base, families)
        for run in measured.runs:
            moved = norms(
                [
                    np.asarray(p, np.float64) - o
                    for (_, o), (_, p) in zip(base, quantities(run, families), strict=True)
                ]
            )
            sens = [max(s, m / rho) for s, m in zip(sens, moved, strict=True)]
        for k, (q, _) in enumerate(pairs_ref):
            mags[k] = measured.magnitudes.get(q, 0.0)
    out = []
    for k, ((q, r), (_, o)) in enumerate(zip(pairs_got, pairs_ref, strict=True)):
        scale = max(ref_norms[k] * (chi if q.family == "loss" else 1.0), sens[k], mags[k])
        out.append(Measurement(q, errors[k], ref_norms[k], factor * scale, sens[k], mags[k], r, o))
    return out


def perturbed_copies(
    arrays: Sequence[np.ndarray], dtype: Any, count: int = 2, seed: int = 0, aligned: bool = False
) -> list[list[np.ndarray]]:
    """``count`` copies of ``arrays`` in float64, each entry scaled by 1 ± ρ (random signs);
    ``aligned``: one copy more first, every entry scaled by 1 + ρ.

    Random signs alone miss the direction that moves a product most: in z = x w + b, a
    copy that scales x up and w down leaves x w where it was, and where z sits near a
    zero of σ' (gelu's at z ≈ −0.75) two such copies can measure s fifty times too small.
    Rounding gives the inputs errors of any sign, so the aligned pattern is one of those s
    must cover."""
    rho = perturbation(dtype)
    rng = np.random.default_rng(seed)
    copies = [[np.asarray(a, np.float64) * (1.0 + rho) for a in arrays]] if aligned else []
    return copies + [
        [
            np.asarray(a, np.float64) * (1.0 + rho * rng.choice([-1.0, 1.0], np.shape(a)))
            for a in arrays
        ]
        for _ in range(count)
    ]
