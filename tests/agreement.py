"""The tolerance model, and the comparison that applies it.

refbp's result r for a quantity q (the loss, each δˡ, ∂C/∂Wˡ, ∂C/∂bˡ, ∂C/∂X) is compared
with the float64 oracle's o = q(inputs) normwise:

    ‖r − o‖  ≤  c · u · (L + 1) · √n · max(χ ‖o‖, s, M)       (1)

* u is the unit roundoff of refbp's dtype (2⁻²⁴ for float32, 2⁻⁵³ for float64).
* L + 1 counts the rounding stages error passes through (L layers and the loss), √n the
  typical growth of rounding in a length-n dot product with n the widest layer or the batch,
  whichever is larger (the batch is summed over in ∂C/∂W and ∂C/∂b; random-walk
  accumulation, the worst case is n).
* s is the quantity's measured sensitivity to its inputs: the oracle is re-run on copies of
  the parameters and data perturbed by relative amounts ±ρ (ρ = 64u, random signs) and
  s = maxₖ ‖qₖ − o‖ / ρ.  ‖o‖·κ = s is a condition estimate: it is what the rounding of
  any backward-stable algorithm in dtype u can be expected to move the result by.  Where
  q is well conditioned, s ≈ ‖o‖ and (1) is a relative bound; where q cancels (a gradient
  near zero, a kink crossed by rounding), s grows and (1) grows with it.
* The output aᴸ is itself rounded to dtype before the loss sees it, and some losses are
  ill-conditioned in a where the network is not (binary cross-entropy on probabilities near
  0 or 1: d log(1 − a)/da = 1/(1 − a)).  So ‖o‖ is scaled by χ ≥ 1, the loss gradient's
  measured sensitivity to relative perturbations ±ρ of aᴸ alone (χ of the loss value for
  the quantity "loss"): χ = maxₖ ‖∇C(aₖ) − ∇C(a)‖ / (ρ ‖∇C(a)‖).
* M is the magnitude of the terms the quantity sums, the classic componentwise bound
  |fl(A B) − A B| ≤ γ |A| |B|: ‖Σ_B |δˡ|‖ for ∂C/∂bˡ, ‖|aˡ⁻¹|ᵀ |δˡ|‖ for ∂C/∂Wˡ,
  ‖|δ¹| |W¹|ᵀ‖ for ∂C/∂X and ‖(|δˡ⁺¹| |Wˡ⁺¹|ᵀ) ⊙ |σ'|‖ for δˡ, all from the oracle's own
  results.  Where a sum cancels (the gradient of a bias over a balanced batch is exactly 0),
  rounding is relative to the terms, not to the tiny result; multiplicative perturbations
  cannot show that when the inputs are exact zeros.
* c = 16 = 2 × 4 × 2: both sides round (refbp, and the oracle whose float64 error is part
  of every float64 comparison); elementwise transcendentals are accurate to a few ulps, not
  half an ulp (XLA's vectorised exp/log/tanh are polynomial approximations: a [1, 1]
  sigmoid + binary cross-entropy network in float64 showed 19 u between the two, all of it
  in exp/log1p); and 2 for the random-sign estimate of s.  (c = 8, without the first
  factor, was the first choice; that example is why it is 16.)  Every report shows the
  worst ratio ‖r − o‖ / bound that was seen, so the slack is visible.

s and χ cost more oracle evaluations, so they are only computed when the cheaper bound with
s = 0, χ = 1 (a pure relative bound) fails; that bound is never looser than (1) itself.

For float64 with L ≤ 6 and n ≤ 64 the relative bound is at most 8·2⁻⁵³·7·8 ≈ 5e-14.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

SAFETY = 16.0
PERTURBATION_ULPS = 64.0


class Results(Protocol):
    """The fields refbp's Backprop and the oracle's OracleResult share."""

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


def magnitudes(
    ref: Results,
    weights: Sequence[np.ndarray],
    layer_inputs: Sequence[np.ndarray],
    output: np.ndarray,
    output_grad: np.ndarray,
    output_grad_terms: np.ndarray,
    rowwise: Sequence[bool],
    oracle_share: float,
) -> list[float]:
    """M of (1) for every quantity, in the order of ``quantities``.

    ``layer_inputs[l]`` is the input a of layer l+1 (X first) and ``output`` aᴸ, from the
    oracle's forward; ``output_grad`` is ∇ₐC and ``output_grad_terms`` the magnitude of the
    terms it is computed from (p − y cancels where a softmax is confident and right: the
    oracle's float64 p − y keeps |y| u₆₄, not |p − y| u₆₄); ``rowwise[l]`` says layer l+1's activation
    mixes a row (softmax: δ = a ⊙ (g − Σ g a), whose terms are a ⊙ (|g| + Σ |g| a)).

    ``oracle_share`` = u₆₄ / u: the oracle's own derivative rules (JAX's JVPs a (1 − a),
    1 − a², expm1(z) + 1) round to u₆₄ relative to the upstream gradient, not to σ'; in
    units of refbp's u that is negligible for float32 and equal for float64.
    """
    d = [np.asarray(x, np.float64) for x in ref.deltas]
    w = [np.abs(np.asarray(x, np.float64)) for x in weights]
    acts_out = [*layer_inputs[1:], output]  # a of layer l+1
    L = len(d)
    out = [0.0]  # the loss value: χ covers it
    # T is the running magnitude of δ's terms, propagated through |W| like δ through W:
    # an error allowed in δˡ⁺¹ reaches δˡ, ∂C/∂Wˡ and ∂C/∂bˡ through the same products.
    T = np.maximum(np.abs(np.asarray(output_grad, np.float64)), oracle_share * output_grad_terms)
    for i in range(L - 1, -1, -1):
        signed = (
            np.asarray(output_grad, np.float64)
            if i == L - 1
            else d[i + 1] @ np.asarray(weights[i + 1], np.float64).T
        )
        upstream = T if i == L - 1 else T @ w[i + 1].T
        if rowwise[i]:
            a = np.abs(np.asarray(acts_out[i], np.float64))
            terms = a * (upstream + (upstream * a).sum(axis=1, keepdims=True))
        else:
            # |σ'| recovered from the oracle's own δ: δˡ = (δˡ⁺¹ Wᵀ) ⊙ σ'
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = np.where(signed != 0, np.abs(d[i]) / np.abs(signed), 1.0)
            terms = upstream * slope
        T = np.maximum(terms, oracle_share * upstream)
        out.append(_norm(T))
        # The oracle's forward itself rounds a to about u₆₄ on unit scale (XLA's gelu, for one,
        # cancels 1 + tanh(u) to exactly 0 where the value is 1e-60): the + 1 term.
        a_in = np.abs(np.asarray(layer_inputs[i], np.float64)) + oracle_share
        out.append(_norm(a_in.T @ T))
        out.append(_norm(T.sum(axis=0)))
    out.append(_norm(T @ w[0].T))
    return out


def bound_factor(dtype: Any, depth: int, width: int) -> float:
    """c · u · (L + 1) · √n of (1)."""
    return SAFETY * unit_roundoff(dtype) * (depth + 1) * math.sqrt(width)


class Quantity(NamedTuple):
    label: str  # e.g. "layer 2 ∂C/∂W"
    family: str  # loss | delta | grad_W | grad_b | grad_X
    layer: int | None  # 1-based, None for loss and ∂C/∂X


def quantities(r: Results) -> list[tuple[Quantity, np.ndarray]]:
    """Every quantity of a backprop result, output side first (the order errors flow in)."""
    out: list[tuple[Quantity, np.ndarray]] = [(Quantity("loss", "loss", None), np.asarray(r.loss))]
    L = len(r.deltas)
    for i in range(L - 1, -1, -1):
        n = i + 1
        out.append((Quantity(f"layer {n} δ (∂C/∂z)", "delta", n), np.asarray(r.deltas[i])))
        out.append((Quantity(f"layer {n} ∂C/∂W", "grad_W", n), np.asarray(r.grad_weights[i])))
        out.append((Quantity(f"layer {n} ∂C/∂b", "grad_b", n), np.asarray(r.grad_biases[i])))
    out.append((Quantity("∂C/∂X", "grad_X", None), np.asarray(r.grad_input)))
    return out


@dataclass
class Sensitivity:
    """Oracle results on perturbed inputs, and χ for the loss value and its gradient."""

    runs: Sequence[Results]
    chi_value: float = 1.0
    chi_grad: float = 1.0
    magnitudes: Sequence[float] = ()  # M of (1), in the order of ``quantities``


@dataclass
class Verdict:
    """Per-family worst relative error, the worst error/bound ratio, and failures if any."""

    errors: dict[str, float]
    worst_ratio: float
    failures: list[str]
    used_sensitivity: bool


def _norm(a: np.ndarray) -> float:
    """The 2-norm, also when squaring the entries would overflow (magnitude bounds can reach
    1e160 where a slope recovered from the oracle's δ is large): then scaled by the largest."""
    x = np.asarray(a, dtype=np.float64).ravel()
    with np.errstate(over="ignore"):
        n = float(np.linalg.norm(x))
    if n == np.inf and np.isfinite(x).all():
        m = float(np.abs(x).max())
        n = m * float(np.linalg.norm(x / m))
    return n


def _describe(
    q: Quantity,
    r: np.ndarray,
    o: np.ndarray,
    err: float,
    bound: float,
    norm_o: float,
    sens: float,
    chi: float,
) -> str:
    d = np.abs(np.asarray(r, dtype=np.float64) - o)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(d)), d.shape)) if d.size else ()
    rel = err / norm_o if norm_o > 0 else math.inf
    at = f"[{', '.join(map(str, idx))}]" if idx else ""
    return (
        f"{q.label}: ‖refbp − oracle‖ = {err:.3e} > bound {bound:.3e} "
        f"(relative error {rel:.3e}, ‖oracle‖ = {norm_o:.3e}, sensitivity s = {sens:.3e}, χ = {chi:.3g}); "
        f"worst entry {at}: refbp {np.asarray(r).reshape(d.shape)[idx]!r} vs "
        f"oracle {o[idx]!r}"
    )


def compare(
    got: Results,
    ref: Results,
    *,
    dtype: Any,
    depth: int,
    width: int,
    sensitivity: Callable[[], Sensitivity] | None = None,
    context: str = "",
) -> Verdict:
    """Apply (1) to every quantity; raise AssertionError naming the first that disagrees.

    ``sensitivity()`` returns the oracle's results on perturbed copies (relative size
    ``perturbation(dtype)``); it is called at most once, and only if needed.
    """
    pairs_got = quantities(got)
    pairs_ref = quantities(ref)
    for (q, r), (_, o) in zip(pairs_got, pairs_ref, strict=True):
        if r.shape != o.shape:
            raise AssertionError(f"{context}{q.label}: refbp shape {r.shape}, oracle {o.shape}")
        if q.family != "loss" and r.dtype != np.dtype(dtype):
            raise AssertionError(
                f"{context}{q.label}: refbp returned {r.dtype} for a {np.dtype(dtype)} network"
            )
    factor = bound_factor(dtype, depth, width)
    diffs = [_norm(np.asarray(r, np.float64) - o) for (_, r), (_, o) in zip(pairs_got, pairs_ref, strict=True)]
    norms = [_norm(o) for _, o in pairs_ref]
    sens = [0.0] * len(diffs)
    chis = [1.0] * len(diffs)
    used = False
    if any(d > factor * n for d, n in zip(diffs, norms, strict=True)):
        if sensitivity is not None:
            used = True
            rho = perturbation(dtype)
            measured = sensitivity()
            for pert in measured.runs:
                for k, ((_, o), (_, p)) in enumerate(zip(pairs_ref, quantities(pert), strict=True)):
                    sens[k] = max(sens[k], _norm(p - o) / rho)
            for k, (q, _) in enumerate(pairs_ref):
                chis[k] = max(1.0, measured.chi_value if q.family == "loss" else measured.chi_grad)
            for k, m in enumerate(measured.magnitudes):
                sens[k] = max(sens[k], m)
    errors: dict[str, float] = {}
    worst_ratio = 0.0
    failures: list[str] = []
    for k, ((q, r), (_, o)) in enumerate(zip(pairs_got, pairs_ref, strict=True)):
        bound = factor * max(chis[k] * norms[k], sens[k])
        rel = diffs[k] / norms[k] if norms[k] > 0 else diffs[k]
        errors[q.family] = max(errors.get(q.family, 0.0), rel)
        ratio = diffs[k] / bound if bound > 0 else (0.0 if diffs[k] == 0 else math.inf)
        worst_ratio = max(worst_ratio, ratio)
        if diffs[k] > bound or not math.isfinite(diffs[k]):
            failures.append(_describe(q, r, o, diffs[k], bound, norms[k], sens[k], chis[k]))
    if failures:
        raise AssertionError(
            f"{context}refbp and the oracle disagree ({np.dtype(dtype).name}); first: "
            f"{failures[0]}"
            + ("\n  also: " + "\n  also: ".join(failures[1:]) if len(failures) > 1 else "")
        )
    return Verdict(errors, worst_ratio, failures, used)


def perturbed_copies(
    arrays: Sequence[np.ndarray], dtype: Any, count: int = 2, seed: int = 0
) -> list[list[np.ndarray]]:
    """``count`` copies of ``arrays`` in float64, each entry scaled by 1 ± ρ (random signs)."""
    rho = perturbation(dtype)
    rng = np.random.default_rng(seed)
    copies = []
    for _ in range(count):
        copies.append(
            [
                np.asarray(a, np.float64) * (1.0 + rho * rng.choice([-1.0, 1.0], np.shape(a)))
                for a in arrays
            ]
        )
    return copies
