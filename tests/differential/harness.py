"""Run one generated case through refbp and the oracle and judge it with the tolerance model."""

from __future__ import annotations

import numpy as np

import refbp
from oracle.domains import PROBABILITY_OUTPUT_LOSSES
from oracle.fast import (
    PendingResult,
    backprop_fast_async,
    backprop_many,
    forward_fast,
    loss_grad_fast,
)
from oracle.functions import ACTIVATION_SPECS, LOSS_SPECS
from oracle.network import OracleResult
from tests import record
from tests.agreement import (
    Sensitivity,
    Verdict,
    compare,
    magnitudes,
    perturbation,
    perturbed_copies,
    unit_roundoff,
)
from tests.strategies import NetCase


def output_conditioning(
    loss: str, ref: OracleResult, y: np.ndarray, dtype: type, rowwise_output: bool
) -> tuple[float, float]:
    """χ of the loss value and of δᴸ: their sensitivity to rounding the output aᴸ alone.

    δᴸ = ∇ₐC(aᴸ) ⊙ σ'(zᴸ) (or softmax's VJP of ∇ₐC); perturbing aᴸ moves ∇ₐC while σ'
    stays, as it does in refbp, where σ' comes from z and ∇ₐC from the rounded a.
    """
    rho = perturbation(dtype)
    a = ref.output
    d_out = np.asarray(ref.deltas[-1], np.float64)
    c0, g0 = loss_grad_fast(loss, a, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(g0 != 0, d_out / g0, 0.0)  # σ'(zᴸ), recovered from the oracle
    chi_v = chi_g = 1.0
    nd = float(np.linalg.norm(d_out))
    for (a_k,) in perturbed_copies([a], dtype, seed=1):
        if loss in PROBABILITY_OUTPUT_LOSSES:
            # stay a probability: where rounding up would reach 1, round down instead
            a_k = np.where(a_k >= 1.0, a - (a_k - a), a_k)
        c_k, g_k = loss_grad_fast(loss, a_k, y)
        assert np.isfinite(c_k) and np.isfinite(g_k).all(), "perturbed output left the domain"
        if c0 != 0:
            chi_v = max(chi_v, abs(c_k - c0) / (rho * abs(c0)))
        dg = g_k - g0
        if rowwise_output:
            moved = a * (dg - (dg * a).sum(axis=1, keepdims=True))
        else:
            moved = dg * slope
        if nd > 0:
            chi_g = max(chi_g, float(np.linalg.norm(moved)) / (rho * nd))
    return chi_v, chi_g


def oracle_sensitivity(case: NetCase, ref: OracleResult) -> Sensitivity:
    """The oracle on two copies of the case's parameters and data perturbed by ±ρ, and χ."""
    s = case.structure
    L = s.depth
    # Targets are inputs too: perturbing them exposes cancellation in ∇ₐC such as p − y with
    # p ≈ y.  A probability row then sums to 1 ± ρ, which the oracle's formulas accept.
    arrays = [*case.weights, *case.biases, case.X, case.Y]
    runs = []
    for c in perturbed_copies(arrays, s.dtype, seed=case.seed):
        runs.append((c[:L], c[L : 2 * L], c[2 * L], c[2 * L + 1]))
    rowwise = [ACTIVATION_SPECS[name].rowwise for name in s.activations]
    chi_v, chi_g = output_conditioning(
        s.loss, ref, np.asarray(case.Y, np.float64), s.dtype, rowwise[-1]
    )
    trace = forward_fast(case.weights, case.biases, list(s.activations), case.X)
    inputs = [np.asarray(case.X, np.float64), *trace.activations[:-1]]
    y64 = np.asarray(case.Y, np.float64)
    _, g_out = loss_grad_fast(s.loss, ref.output, y64)
    share = unit_roundoff(np.float64) / unit_roundoff(s.dtype)
    spec = LOSS_SPECS[s.loss]
    count = y64.size if spec.normaliser == "entries" else len(y64)
    g_terms = np.abs(g_out) + (np.abs(ref.output) + np.abs(y64)) / count
    m = magnitudes(ref, case.weights, inputs, ref.output, g_out, g_terms, rowwise, share)
    return Sensitivity(backprop_many(runs, list(s.activations), s.loss), chi_v, chi_g, m)


def saturated(case: NetCase, ref: OracleResult) -> bool:
    """Is a probability-valued output within rounding reach of 0 or 1 in the case's dtype?

    refbp computes the output in the case's dtype; an exact probability within 64 unit
    roundoffs of 0 or 1 may legitimately round onto it, where the loss is infinite.
    """
    out = ref.output
    reach = 64 * unit_roundoff(case.structure.dtype)
    return bool((np.minimum(out, 1.0 - out) <= reach).any())


def kink_within_rounding(case: NetCase, net: refbp.MLP) -> bool:
    """Does some z sit on different sides of a kink in refbp and the oracle, within rounding?

    A pre-activation whose exact value is closer to a kink than refbp's dtype can resolve
    (c·u times the magnitude of its terms, or below the dtype's smallest normal number:
    gelu(−14.6) = −6e-106 is −0 in float32) may round onto the other side; there the two
    derivatives differ legitimately, by the kink's jump.  Such an example is not evidence
    either way, and is counted apart ("kink_ambiguous") instead of failing.
    """
    s = case.structure
    trace = forward_fast(case.weights, case.biases, list(s.activations), case.X)
    mine = net.forward(case.X)
    a_in = np.abs(np.asarray(case.X, np.float64))
    u = unit_roundoff(s.dtype)
    tiny = float(np.finfo(s.dtype).tiny)
    for i, name in enumerate(s.activations):
        z_ref = trace.pre_activations[i]
        terms = a_in @ np.abs(np.asarray(case.weights[i], np.float64)) + np.abs(
            np.asarray(case.biases[i], np.float64)
        )
        reach = np.maximum(16 * u * (s.depth + 1) * np.sqrt(max(s.sizes)) * terms, tiny)
        z_got = np.asarray(mine.zs[i], np.float64)
        for k in ACTIVATION_SPECS[name].kinks:
            crossed = np.sign(z_ref - k) != np.sign(z_got - k)
            if (crossed & (np.abs(z_ref - k) <= reach)).any():
                return True
        a_in = np.abs(trace.activations[i])
    return False


def _dispatch(case: NetCase) -> PendingResult:
    s = case.structure
    return backprop_fast_async(
        case.weights, case.biases, list(s.activations), s.loss, case.X, case.Y
    )


def check_networks(cases: list[NetCase], source: str | None = None) -> None:
    """:func:`check_network` on each case; every oracle call is dispatched before the first
    refbp call, so XLA works through them on the second core while this one checks."""
    pending = [_dispatch(case) for case in cases]
    for case, p in zip(cases, pending, strict=True):
        check_network(case, source, pending=p)


def check_network(
    case: NetCase, source: str | None = None, pending: PendingResult | None = None
) -> Verdict | None:
    """Compare every backprop quantity; None if the case is legitimately not computable.

    ``pending``: the oracle's result for this case if already dispatched (``check_networks``).
    """
    s = case.structure
    # The oracle runs on the second core while refbp computes on this one.
    if pending is None:
        pending = _dispatch(case)
    net = case.net()
    try:
        got = net.backprop(case.X, case.Y)
    except refbp.NumericalError:
        ref = pending.result()
        # Only one refusal is legitimate: a probability loss whose output saturated to 0 or 1
        # in this dtype, where the loss is infinite.  Anything else is a refbp bug.
        if s.loss in PROBABILITY_OUTPUT_LOSSES and saturated(case, ref):
            return None
        raise
    ref = pending.result()
    try:
        verdict = compare(
            got,
            ref,
            dtype=s.dtype,
            depth=s.depth,
            width=max(*s.sizes, s.batch),
            sensitivity=lambda: oracle_sensitivity(case, ref),
            context=f"{case!r}:\n  ",
        )
    except AssertionError:
        if kink_within_rounding(case, net):
            record.add_raw({"kind": "kink_ambiguous", "ratio": 0.0})
            return None
        raise
    record.add(
        "network",
        s.activations,
        s.loss,
        np.dtype(s.dtype).name,
        verdict.errors,
        verdict.worst_ratio,
        source,
    )
    return verdict


def replay_batches(n: int, batch_size: int, epochs: int, seed: int) -> list[list[np.ndarray]]:
    """refbp.train's documented sampling, written independently: one
    ``default_rng(seed)``, a fresh permutation per epoch, consecutive slices."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        out.append([perm[k : k + batch_size] for k in range(0, n, batch_size)])
    return out


def epoch_means(step_losses: list[float], epochs: list[list[np.ndarray]], n: int) -> list[float]:
    """Per-epoch mean over samples of the step losses: what refbp.train's history holds."""
    means, k = [], 0
    for batches in epochs:
        means.append(sum(step_losses[k + i] * len(b) for i, b in enumerate(batches)) / n)
        k += len(batches)
    return means
