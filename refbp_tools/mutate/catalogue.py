"""A catalogue of classic backprop bugs, each a small textual patch of refbp's own sources.

``refbp mutate`` plants each one in a copy of the project and runs the test suite there: a
mutant the suite does not kill is a hole in the suite (or an equivalent mutant, marked so
here with the reason).  Every entry is checked against the current sources before a run:
its ``old`` snippet must occur exactly once in its file, or the entry is an error (a stale
entry is never silently skipped).

Only the standard library is used here; the command that runs the mutants lives in
``refbp_tools.mutate``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "CATALOGUE",
    "Mutation",
    "MutationResult",
    "apply_mutation",
    "catalogue_problems",
    "render_markdown",
    "write_reports",
]


@dataclass(frozen=True, slots=True)
class Mutation:
    """One planted bug: replace ``old`` (exactly once) by ``new`` in ``path`` (repo-relative).

    ``equivalent``, if set, says why no test can tell the mutant from the original (or why
    the difference is a rounding one, below any honest tolerance); such a mutant that
    survives is reported as equivalent, not as a hole in the suite.
    """

    name: str
    path: str
    old: str
    new: str
    description: str
    equivalent: str | None = None


@dataclass(slots=True)
class MutationResult:
    """The outcome of one mutant: killed | survived | equivalent | timeout | error."""

    name: str
    status: str
    killed_by: str | None
    seconds: float
    description: str
    detail: str = ""


_NET = "refbp/network.py"
_ACT = "refbp/activations.py"
_LOSS = "refbp/losses.py"
_LAYER = "refbp/layers.py"
_TRAIN = "refbp/train.py"

_BP1 = "delta = self._acts[-1].backward(fw.zs[-1], out, self._loss.grad(out, y))"
_BP2 = "delta = self._acts[i - 1].backward(fw.zs[i - 1], fw.activations[i - 1], g.dx)"

CATALOGUE: tuple[Mutation, ...] = (
    # --- the four equations ---------------------------------------------------------------
    Mutation(
        "bp2_sigma_prime_dropped",
        _NET,
        _BP2,
        "delta = g.dx",
        "BP2 without ⊙ σ'(zˡ): hidden δ is just δˡ⁺¹ Wᵀ",
    ),
    Mutation(
        "bp1_sigma_prime_dropped",
        _NET,
        _BP1,
        "delta = self._loss.grad(out, y)",
        "BP1 without ⊙ σ'(zᴸ): δᴸ = ∇ₐC for every output activation",
    ),
    Mutation(
        "sigma_prime_at_a",
        _NET,
        _BP2,
        "delta = self._acts[i - 1].backward(fw.activations[i - 1], fw.activations[i - 1], g.dx)",
        "σ' evaluated at a instead of z in BP2 (relu is immune: a > 0 ⇔ z > 0)",
    ),
    Mutation(
        "sigma_prime_of_wrong_layer",
        _NET,
        _BP2,
        "delta = self._acts[i].backward(fw.zs[i - 1], fw.activations[i - 1], g.dx)",
        "layer index off by one: BP2 uses the activation of the layer above",
    ),
    Mutation(
        "a_prev_off_by_one",
        _NET,
        "a_prev = fw.activations[i - 1] if i > 0 else x",
        "a_prev = fw.activations[i] if i > 0 else x",
        "layer index off by one: BP4 uses the layer's own output instead of its input",
    ),
    Mutation(
        "w_not_transposed",
        _LAYER,
        "dx = product(delta, cache.w.T) if need_dx else delta[:, :0]",
        "dx = product(delta, cache.w) if need_dx else delta[:, :0]",
        "W for Wᵀ in δ Wᵀ (crashes on non-square layers: must surface as a failure)",
    ),
    Mutation(
        "w_not_transposed_square",
        _LAYER,
        "dx = product(delta, cache.w.T) if need_dx else delta[:, :0]",
        "dx = (product(delta, cache.w) if cache.w.shape[0] == cache.w.shape[1] "
        "else product(delta, cache.w.T)) if need_dx else delta[:, :0]",
        "W for Wᵀ, shape-valid: only on square layers, where nothing crashes",
    ),
    Mutation(
        "bias_grad_wrong_axis",
        _LAYER,
        "db = np.add.reduce(delta, axis=0)",
        "db = np.add.reduce(delta, axis=1)",
        "BP3 summed over units instead of the batch",
    ),
    Mutation(
        "bias_grad_unsummed",
        _LAYER,
        "db = np.add.reduce(delta, axis=0)",
        "db = delta",
        "BP3 left unsummed: ∂C/∂b is δ itself (B, O)",
    ),
    Mutation(
        "bias_grad_first_row",
        _LAYER,
        "db = np.add.reduce(delta, axis=0)",
        "db = delta[0].copy()",
        "BP3 from the first sample only (shape-valid; right when B = 1)",
    ),
    Mutation(
        "dw_mean_applied_twice",
        _LAYER,
        "dw = product(cache.x.T, delta)",
        "dw = product(cache.x.T, delta) / len(delta)",
        "1/B applied twice: BP4 divides by B again although δ already carries it",
    ),
    Mutation(
        "grad_input_skipped",
        _NET,
        "need_dx = i > 0 or need_grad_input",
        "need_dx = i > 0",
        "∂C/∂X never computed for the first layer (an empty array returned)",
    ),
    Mutation(
        "deltas_not_reversed",
        _NET,
        "        deltas.reverse()\n",
        "",
        "δ list left in output-first order",
    ),
    Mutation(
        "fused_output_error_everywhere",
        _NET,
        _BP1,
        "delta = (out - y) / len(out)",
        "fused δᴸ = (a − y)/B used for every activation/loss pair",
    ),
    Mutation(
        "fused_output_error_sigmoid",
        _NET,
        _BP1,
        "delta = ((out - y) / len(out) if self._acts[-1].name == 'sigmoid' else " + _BP1[8:] + ")",
        "fused δᴸ = (a − y)/B whenever the output is a sigmoid, whatever the loss",
    ),
    Mutation(
        "fused_output_error_sigmoid_bce",
        _NET,
        _BP1,
        "delta = ((out - y) / len(out) if self._acts[-1].name == 'sigmoid' and "
        "self._loss.name == 'binary_cross_entropy' else " + _BP1[8:] + ")",
        "fused δᴸ = (a − y)/B for sigmoid + binary cross-entropy, its valid pairing",
        equivalent="(a − y)/B is exactly BP1 for sigmoid + BCE (σ' = a(1 − a) cancels "
        "1/(a(1 − a))); it differs from BP1 only by rounding",
    ),
    Mutation(
        "stateful_grad_accumulation",
        _NET,
        "            grad_w.append(g.dw)\n",
        "            acc = self.__dict__.setdefault(f'_acc_w{i}', np.zeros_like(g.dw))\n"
        "            acc += g.dw\n"
        "            grad_w.append(acc.copy())\n",
        "∂C/∂W accumulated into per-network state: a second backprop doubles it",
    ),
    # --- losses ---------------------------------------------------------------------------
    Mutation(
        "mse_batch_mean_lost",
        _LOSS,
        "g *= 2.0 / a.size",
        "g *= 2.0 / a.shape[1]",
        "1/B lost in the mse gradient (divides by O only)",
    ),
    Mutation(
        "mse_factor_two_lost",
        _LOSS,
        "g *= 2.0 / a.size",
        "g *= 1.0 / a.size",
        "d(a − y)²/da taken as (a − y): the factor 2 dropped",
    ),
    Mutation(
        "softmax_ce_grad_without_1_over_B",
        _LOSS,
        "out: FloatArray = g / len(a)\n    return out\n\n\n_register(\n    Loss(\n"
        '        "softmax_cross_entropy"',
        "out: FloatArray = g\n    return out\n\n\n_register(\n    Loss(\n"
        '        "softmax_cross_entropy"',
        "softmax cross-entropy gradient p − y without the 1/B",
    ),
    Mutation(
        "quadratic_batch_mean_twice",
        _LOSS,
        "lambda a, y: (a - y) / len(a)",
        "lambda a, y: (a - y) / len(a) / len(a)",
        "1/B applied twice in the quadratic cost's gradient",
    ),
    Mutation(
        "sigmoid_ce_mean_over_entries",
        _LOSS,
        "out: FloatArray = ((1.0 - y) * s - y * s_neg) / len(a)",
        "out: FloatArray = ((1.0 - y) * s - y * s_neg) / a.size",
        "sigmoid cross-entropy gradient normalised by B·O while C is normalised by B",
    ),
    Mutation(
        "bce_gradient_sign",
        _LOSS,
        "return ((1.0 - y) / (1.0 - a) - y / a) / len(a)",
        "return (y / a - (1.0 - y) / (1.0 - a)) / len(a)",
        "binary cross-entropy gradient with the sign flipped (gradient ascent)",
    ),
    Mutation(
        "bce_log_1_minus_a",
        _LOSS,
        "(1.0 - y) * np.log1p(-a)",
        "(1.0 - y) * np.log(1 - a)",
        "log(1 − a) instead of log1p(−a) in binary cross-entropy (precision only: the loss "
        "of a confident, correct prediction loses its digits)",
    ),
    Mutation(
        "mse_broadcast_n1_minus_n",
        _LOSS,
        "    d = a - y\n    d *= d",
        "    d = a - np.squeeze(y)\n    d *= d",
        "(N, 1) − (N,) broadcast to (N, N) in the mse value when there is one output",
    ),
    Mutation(
        "mse_grad_in_place_on_a",
        _LOSS,
        "    g = a - y\n    g *= 2.0 / a.size",
        "    g = a\n    g -= y\n    g *= 2.0 / a.size",
        "in-place update that overwrites the caller's output array a in the mse gradient",
    ),
    Mutation(
        "huber_threshold_wrong",
        _LOSS,
        "np.where(d <= 1.0, 0.5 * d * d, d - 0.5)",
        "np.where(d <= 2.0, 0.5 * d * d, d - 0.5)",
        "huber switches from quadratic to linear at 2 instead of δ = 1",
    ),
    Mutation(
        "huber_grad_clip_wrong",
        _LOSS,
        "np.clip(a - y, -1.0, 1.0) / a.size",
        "np.clip(a - y, -0.5, 0.5) / a.size",
        "huber gradient clipped at ±0.5 instead of ±δ",
    ),
    Mutation(
        "l1_sign_zero_is_one",
        _LOSS,
        "lambda a, y: np.sign(a - y) / a.size",
        "lambda a, y: np.where(a >= y, 1.0, -1.0).astype(a.dtype) / a.size",
        "l1 subgradient 1 at a = y (jnp.abs's grad) instead of the sign(0) = 0 convention",
    ),
    Mutation(
        "log_softmax_without_max_shift",
        _LOSS,
        "shifted: FloatArray = a - a.max(axis=1, keepdims=True)",
        "shifted: FloatArray = a",
        "log-softmax in the cross-entropy value without the max shift (exp overflows)",
    ),
    # --- activations ----------------------------------------------------------------------
    Mutation(
        "softmax_without_max_shift",
        _ACT,
        "e = np.exp(z - z.max(axis=1, keepdims=True))",
        "e = np.exp(z)",
        "softmax activation without the max shift (exp overflows for large z)",
    ),
    Mutation(
        "softmax_vjp_wrong_axis",
        _ACT,
        "ga: FloatArray = (g * a).sum(axis=1, keepdims=True)",
        "ga: FloatArray = (g * a).sum(axis=0, keepdims=True)",
        "softmax VJP sums over the batch instead of the row (broadcasts silently)",
    ),
    Mutation(
        "softmax_vjp_in_place_on_g",
        _ACT,
        "    return a * (g - ga)",
        "    g -= ga\n    return a * g",
        "softmax VJP updates the caller's upstream gradient g in place",
    ),
    Mutation(
        "relu_prime_at_zero_is_one",
        _ACT,
        "derivative=lambda z, a: (z > 0).astype(z.dtype),\n"
        "        vjp=lambda z, a, g: g * (z > 0),",
        "derivative=lambda z, a: (z >= 0).astype(z.dtype),\n"
        "        vjp=lambda z, a, g: g * (z >= 0),",
        "relu'(0) = 1 instead of jax.nn's 0",
    ),
    Mutation(
        "relu_forward_in_place",
        _ACT,
        "forward=lambda z: np.maximum(z, 0.0),",
        "forward=lambda z: np.maximum(z, 0.0, out=z),",
        "relu forward writes into the caller's z (values and gradients are unchanged)",
    ),
    Mutation(
        "leaky_slope_on_positive_side",
        _ACT,
        "derivative=lambda z, a: np.where(z >= 0, 1.0, LEAKY_SLOPE).astype(z.dtype),",
        "derivative=lambda z, a: np.where(z >= 0, LEAKY_SLOPE, 1.0).astype(z.dtype),",
        "leaky relu's slope 0.01 applied on the positive side of its derivative",
    ),
    Mutation(
        "leaky_prime_at_zero",
        _ACT,
        "derivative=lambda z, a: np.where(z >= 0, 1.0, LEAKY_SLOPE).astype(z.dtype),",
        "derivative=lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype),",
        "leaky_relu'(0) = 0.01 instead of jax.nn's 1",
    ),
    Mutation(
        "elu_prime_at_zero_ge",
        _ACT,
        "derivative=lambda z, a: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))",
        "derivative=lambda z, a: np.where(z >= 0, 1.0, np.exp(np.minimum(z, 0.0)))",
        "elu' kink taken from the right (z >= 0) instead of z > 0",
        equivalent="both branches give exactly 1 at z = 0 (exp(0) = 1): no observable change",
    ),
    Mutation(
        "elu_prime_via_a_plus_1",
        _ACT,
        "derivative=lambda z, a: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))",
        "derivative=lambda z, a: np.where(z > 0, 1.0, a + 1.0)",
        "elu' for z <= 0 as a + 1 (cancels to 0 once a rounds to −1)",
    ),
    Mutation(
        "gelu_constant_wrong",
        _ACT,
        "GELU_K = 0.044715",
        "GELU_K = 0.04715",
        "gelu's cubic coefficient mistyped (0.04715 for 0.044715)",
    ),
    Mutation(
        "gelu_float64_constant",
        _ACT,
        "GELU_C = math.sqrt(2.0 / math.pi)",
        "GELU_C = np.sqrt(2.0 / np.pi)",
        "gelu's √(2/π) as a NumPy float64 scalar: promotes float32 to float64 (NumPy 2)",
    ),
    Mutation(
        "sigmoid_naive_overflow",
        _ACT,
        "return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
        "return 1.0 / (1.0 + np.exp(-z))",
        "sigmoid as 1/(1 + exp(−z)): exp overflows for z ≪ 0",
    ),
    Mutation(
        "sigmoid_prime_as_a_one_minus_a",
        _ACT,
        "d = _sigmoid_derivative(z, a)  # a fresh array",
        "d = a * (1.0 - a)  # a fresh array",
        "sigmoid' as a(1 − a): 1 − a cancels to 0 where a rounds to 1",
    ),
    Mutation(
        "tanh_prime_as_one_minus_a_squared",
        _ACT,
        "d = _tanh_derivative(z, a)  # a fresh array",
        "d = 1.0 - a * a  # a fresh array",
        "tanh' as 1 − a²: cancels to 0 where |a| rounds to 1",
    ),
    Mutation(
        "softplus_prime_sign",
        _ACT,
        "derivative=lambda z, a: _sigmoid(z),",
        "derivative=lambda z, a: _sigmoid(-z),",
        "softplus' = σ(−z) instead of σ(z)",
    ),
    Mutation(
        "silu_prime_term_wrong",
        _ACT,
        "return s * (1.0 + z * (1.0 - s))",
        "return s * (1.0 + z * s)",
        "silu' with σ in place of 1 − σ",
    ),
    # --- training -------------------------------------------------------------------------
    Mutation(
        "momentum_shared_between_layers",
        _TRAIN,
        "velocity = [np.zeros_like(p) for p in params] if mu > 0 else []",
        "velocity = (lambda d: [d.setdefault(p.shape, np.zeros_like(p)) for p in params])({}) "
        "if mu > 0 else []",
        "one momentum buffer shared by all parameter arrays of the same shape",
    ),
    Mutation(
        "momentum_dampened",
        _TRAIN,
        "velocity[i] += g",
        "velocity[i] += (1.0 - mu) * g",
        "momentum with dampening (v = μv + (1 − μ)g) instead of the documented v = μv + g",
    ),
    Mutation(
        "weight_decay_on_biases",
        _TRAIN,
        "decays = [lam] * len(net._w) + [0.0] * len(net._b)",
        "decays = [lam] * (len(net._w) + len(net._b))",
        "L2 weight decay applied to the biases too",
    ),
    Mutation(
        "batches_with_replacement",
        _TRAIN,
        "perm = rng.permutation(n)",
        "perm = rng.integers(0, n, n)",
        "mini-batches sampled with replacement",
    ),
    Mutation(
        "history_not_sample_weighted",
        _TRAIN,
        "total += bp.loss * len(idx)",
        "total += bp.loss * bs",
        "epoch loss weights a short last batch as a full one",
    ),
    Mutation(
        "mlp_does_not_copy_weights",
        _NET,
        'self._w.append(check.cast(wa, dtype, f"weights[{i}]", where, copy=True))',
        'self._w.append(check.cast(wa, dtype, f"weights[{i}]", where, copy=False))',
        "MLP keeps the caller's weight arrays: train mutates them",
    ),
)


def catalogue_problems(root: Path, catalogue: Sequence[Mutation] = CATALOGUE) -> list[str]:
    """Every reason the catalogue does not apply to the sources under ``root`` (none: [])."""
    problems: list[str] = []
    names = [m.name for m in catalogue]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{dup}: the name is used twice")
    for m in catalogue:
        f = root / m.path
        if not f.is_file():
            problems.append(f"{m.name}: {m.path} does not exist")
            continue
        count = f.read_text(encoding="utf-8").count(m.old)
        if count != 1:
            problems.append(
                f"{m.name}: the old snippet occurs {count} times in {m.path}, expected exactly "
                f"once (the catalogue entry is stale): {m.old[:80]!r}"
            )
        if m.old == m.new:
            problems.append(f"{m.name}: the patch changes nothing")
    return problems


def apply_mutation(m: Mutation, root: Path) -> None:
    """Patch ``root / m.path`` in place; ValueError unless ``old`` occurs exactly once."""
    f = root / m.path
    text = f.read_text(encoding="utf-8")
    count = text.count(m.old)
    if count != 1:
        raise ValueError(
            f"mutation {m.name}: the old snippet occurs {count} times in {m.path}, expected 1"
        )
    f.write_text(text.replace(m.old, m.new, 1), encoding="utf-8")


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Iterable[MutationResult], meta: dict[str, object]) -> str:
    """The report: a summary line, then one table row per mutant."""
    rows = list(results)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    lines = [
        "# Mutation report",
        "",
        f"{len(rows)} mutants — {summary}.",
        "",
    ]
    for key, value in meta.items():
        lines.append(f"- {key}: {value}")
    lines += [
        "",
        "| mutant | status | killed by | seconds | mistake |",
        "|---|---|---|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {_cell(r.name)} | {r.status} | {_cell(r.killed_by) or '—'} | "
            f"{r.seconds:.1f} | {_cell(r.description)} |"
        )
    notes = [r for r in rows if r.detail]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- **{r.name}** ({r.status}): {_cell(r.detail)}" for r in notes]
    return "\n".join(lines) + "\n"


def write_reports(
    results: Sequence[MutationResult], md_path: Path, json_path: Path, meta: dict[str, object]
) -> None:
    """reports/mutation.md (a table) and reports/mutation.json (the same rows, and meta)."""
    md_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(render_markdown(results, meta), encoding="utf-8")
    payload = {"meta": meta, "results": [asdict(r) for r in results]}
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
