"""Catalogue entries for the network: the four equations, the output layer's fused forms, and
training.  Each patches the code ``refbp.MLP`` runs (refbp/network.py, refbp/layers.py,
refbp/output_forms.py, refbp/train.py)."""

from __future__ import annotations

from refbp_tools.mutate.mutation import Mutation

__all__ = ["EQUATIONS", "TRAINING"]

_NET = "refbp/network.py"
_LAYER = "refbp/layers.py"
_FORMS = "refbp/output_forms.py"
_TRAIN = "refbp/train.py"

# BP1's general form (pairs without an output form) and BP2, as network.py writes them
_BP1 = "delta = self._backwards[-1](fw.zs[-1], out, self._loss_grad(out, y))"
_BP2 = "delta = self._backwards[i - 1](fw.zs[i - 1], fw.activations[i - 1], g.dx)"
_BP1_CALL = _BP1.removeprefix("delta = ")
# the sigmoid + binary cross-entropy output form's δᴸ, (1 − y) σ(z) − y σ(−z) in the wide float
_SIGMOID_BCE_DELTA = "delta = (1.0 - yw) * s - yw * s_neg"

EQUATIONS: tuple[Mutation, ...] = (
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
        "delta = self._loss_grad(out, y)",
        "BP1 without ⊙ σ'(zᴸ): δᴸ = ∇ₐC for every output activation",
    ),
    Mutation(
        "sigma_prime_at_a",
        _NET,
        _BP2,
        "delta = self._backwards[i - 1](fw.activations[i - 1], fw.activations[i - 1], g.dx)",
        "σ' evaluated at a instead of z in BP2 (relu is immune: a > 0 ⇔ z > 0)",
    ),
    Mutation(
        "sigma_prime_of_wrong_layer",
        _NET,
        _BP2,
        "delta = self._backwards[i](fw.zs[i - 1], fw.activations[i - 1], g.dx)",
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
        "dx = product(delta, w.T) if need_dx else delta[:, :0]",
        "dx = product(delta, w) if need_dx else delta[:, :0]",
        "W for Wᵀ in δ Wᵀ (crashes on non-square layers: must surface as a failure)",
    ),
    Mutation(
        "w_not_transposed_square",
        _LAYER,
        "dx = product(delta, w.T) if need_dx else delta[:, :0]",
        "dx = (product(delta, w) if w.shape[0] == w.shape[1] "
        "else product(delta, w.T)) if need_dx else delta[:, :0]",
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
        "dw = product(x.T, delta)",
        "dw = product(x.T, delta) / len(delta)",
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
        "fused δᴸ = (a − y)/B in place of BP1's general form, for every activation/loss pair",
    ),
    Mutation(
        "fused_output_error_sigmoid",
        _NET,
        _BP1,
        f"delta = ((out - y) / len(out) if self._acts[-1].name == 'sigmoid' else {_BP1_CALL})",
        "fused δᴸ = (a − y)/B whenever the output is a sigmoid, whatever the loss",
    ),
    Mutation(
        "fused_output_error_sigmoid_bce",
        _FORMS,
        _SIGMOID_BCE_DELTA,
        "delta = a.astype(wide) - yw",
        "fused δᴸ = (a − y)/B for sigmoid + binary cross-entropy from the rounded output a, "
        "not from z: where σ(z) ≈ y the subtraction keeps all of a's rounding",
    ),
    Mutation(
        "sigmoid_bce_delta_sign",
        _FORMS,
        _SIGMOID_BCE_DELTA,
        "delta = yw * s_neg - (1.0 - yw) * s",
        "sigmoid + binary cross-entropy δᴸ with the sign flipped, y − σ(z) (gradient ascent)",
    ),
    Mutation(
        "softmax_bce_delta_as_p_minus_y",
        _FORMS,
        "delta: FloatArray = p * (1.0 - yw) - q * yw - p * others",
        "delta: FloatArray = p - yw",
        "softmax + binary cross-entropy given softmax cross-entropy's fused δᴸ = (p − y)/B: "
        "a fused form outside its pairing",
    ),
    Mutation(
        "softmax_bce_one_minus_p_by_subtraction",
        _FORMS,
        "p, q = e / total, o / total",
        "p, q = e / total, 1.0 - e / total",
        "softmax + binary cross-entropy δᴸ with 1 − p computed as a difference (cancels where "
        "p ≈ 1) instead of from the other exponentials",
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
    Mutation(
        "mlp_does_not_copy_weights",
        _NET,
        'self._w.append(check.cast(wa, dtype, f"weights[{i}]", where, copy=True))',
        'self._w.append(check.cast(wa, dtype, f"weights[{i}]", where, copy=False))',
        "MLP keeps the caller's weight arrays: train mutates them",
    ),
)

TRAINING: tuple[Mutation, ...] = (
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
)
