"""Catalogue entries for the losses and the activations.

Each patches the form the network runs: the kernel (refbp/loss_kernels.py, refbp/kernels.py)
where the registry entry has one, the reference form (refbp/losses.py, refbp/activations.py)
where it has none, and the shared constants (refbp/_constants.py).  Binary cross-entropy's
value and gradient reach the network only through the output forms (see entries_network), so
its entries here patch the reference form, which ``refbp.LOSSES`` offers to callers.
"""

from __future__ import annotations

from refbp_tools.mutate.mutation import Mutation

__all__ = ["ACTIVATIONS", "LOSSES"]

_LOSS = "refbp/losses.py"
_LOSS_K = "refbp/loss_kernels.py"
_ACT = "refbp/activations.py"
_ACT_K = "refbp/kernels.py"
_CONST = "refbp/_constants.py"

_LEAKY_MASK = "s = np.multiply((z >= 0).view(np.int8), 1.0 - LEAKY_SLOPE, dtype=g.dtype)"
_ELU_BACKWARD = "return blockwise(_elu_backward, z, g, temporaries=1)"

LOSSES: tuple[Mutation, ...] = (
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
        _LOSS_K,
        "    e /= len(a)\n    return e\n",
        "    return e\n",
        "softmax cross-entropy gradient p − y without the 1/B",
    ),
    Mutation(
        "quadratic_batch_mean_twice",
        _LOSS,
        "return (a - y) / len(a)\n",
        "return (a - y) / len(a) / len(a)\n",
        "1/B applied twice in the quadratic cost's gradient",
    ),
    Mutation(
        "sigmoid_ce_mean_over_entries",
        _LOSS_K,
        "batch = len(a)",
        "batch = a.size",
        "sigmoid cross-entropy gradient normalised by B·O while C is normalised by B",
    ),
    Mutation(
        "bce_gradient_sign",
        _LOSS,
        "return (a - y) / (a * (1.0 - a)) / len(a)",
        "return (y - a) / (a * (1.0 - a)) / len(a)",
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
        _LOSS_K,
        "    d = a - y\n    d *= d\n",
        "    d = a - np.squeeze(y)\n    d *= d\n",
        "(N, 1) − (N,) broadcast to (N, N) in the mse and quadratic values when there is one "
        "output",
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
        _LOSS_K,
        "m = np.clip(d, 0.0, 1.0)",
        "m = np.clip(d, 0.0, 2.0)",
        "huber switches from quadratic to linear at 2 instead of δ = 1",
    ),
    Mutation(
        "huber_grad_clip_wrong",
        _LOSS_K,
        "np.clip(g, -1.0, 1.0, out=g)",
        "np.clip(g, -0.5, 0.5, out=g)",
        "huber gradient clipped at ±0.5 instead of ±δ",
    ),
    Mutation(
        "l1_sign_zero_is_one",
        _LOSS_K,
        "sign = np.subtract((a > y).view(np.int8), (a < y).view(np.int8))",
        "sign = np.subtract((a >= y).view(np.int8), (a < y).view(np.int8))",
        "l1 subgradient 1 at a = y (jnp.abs's grad) instead of the sign(0) = 0 convention",
    ),
    Mutation(
        "log_softmax_without_max_shift",
        _LOSS_K,
        "    s = a - a[rows, m][:, None]\n"
        '    ys = np.einsum("ij,ij->i", y, s)\n'
        "    np.exp(s, out=s)\n"
        "    s[rows, m] = 0.0  # its e^0 = 1 is the 1 of log1p\n"
        "    log_total = np.log1p(np.add.reduce(s, axis=1))\n",
        "    s = a.copy()\n"
        '    ys = np.einsum("ij,ij->i", y, s)\n'
        "    np.exp(s, out=s)\n"
        "    log_total = np.log(np.add.reduce(s, axis=1))\n",
        "log Σ e^a in the cross-entropy value without the max shift (exp overflows)",
    ),
)

ACTIVATIONS: tuple[Mutation, ...] = (
    Mutation(
        "softmax_without_max_shift",
        _ACT_K,
        "e: FloatArray = z - z.max(axis=1, keepdims=True)",
        "e: FloatArray = z.copy()",
        "softmax activation without the max shift (exp overflows for large z)",
    ),
    Mutation(
        "softmax_vjp_wrong_axis",
        _ACT_K,
        "total = h[:, None, :] @ a[:, :, None]  # (B, 1, 1)",
        "total = (h * a).sum(axis=0)[None, None, :]  # (1, 1, O): over the batch",
        "softmax VJP sums over the batch instead of the row (broadcasts silently)",
    ),
    Mutation(
        "softmax_vjp_in_place_on_g",
        _ACT_K,
        "h: FloatArray = g - g[rows, a.argmax(axis=1)][:, None]",
        "h: FloatArray = g\n    h -= g[rows, a.argmax(axis=1)][:, None]",
        "softmax VJP updates the caller's upstream gradient g in place",
    ),
    Mutation(
        "relu_prime_at_zero_is_one",
        _ACT_K,
        "return g * (z > 0)",
        "return g * (z >= 0)",
        "relu'(0) = 1 instead of jax.nn's 0",
    ),
    Mutation(
        "relu_forward_in_place",
        _ACT,
        "return np.maximum(z, 0.0)",
        "return np.maximum(z, 0.0, out=z)",
        "relu forward writes into the caller's z (values and gradients are unchanged)",
    ),
    Mutation(
        "leaky_slope_on_positive_side",
        _ACT_K,
        _LEAKY_MASK,
        _LEAKY_MASK.replace("z >= 0", "z < 0"),
        "leaky relu's slope 0.01 applied on the positive side of its derivative",
    ),
    Mutation(
        "leaky_prime_at_zero",
        _ACT_K,
        _LEAKY_MASK,
        _LEAKY_MASK.replace("z >= 0", "z > 0"),
        "leaky_relu'(0) = 0.01 instead of jax.nn's 1",
    ),
    Mutation(
        "elu_prime_at_zero_ge",
        _ACT_K,
        "    t = np.minimum(z, 0.0)\n    np.exp(t, out=t)\n",
        "    t = np.where(z >= 0, 0.0, z)\n    np.exp(t, out=t)\n",
        "elu' kink taken from the right (z >= 0 gives the branch of z > 0)",
        equivalent="elu' is exp(min(z, 0)), one formula without a branch: at z = 0 either "
        "side gives exp(0) = 1, so the side the kink is taken from cannot show",
    ),
    Mutation(
        "elu_prime_via_a_plus_1",
        _ACT_K,
        _ELU_BACKWARD,
        "return g * np.where(z > 0, 1.0, a + 1.0)",
        "elu' for z <= 0 as a + 1 (cancels to 0 once a rounds to −1)",
    ),
    Mutation(
        "gelu_constant_wrong",
        _CONST,
        "GELU_K = 0.044715",
        "GELU_K = 0.04715",
        "gelu's cubic coefficient mistyped (0.04715 for 0.044715)",
    ),
    Mutation(
        "gelu_float64_constant",
        _CONST,
        "GELU_C = math.sqrt(2.0 / math.pi)",
        "import numpy as np\n\nGELU_C = np.sqrt(2.0 / np.pi)",
        "gelu's √(2/π) as a NumPy float64 scalar: promotes float32 to float64 (NumPy 2)",
    ),
    Mutation(
        "sigmoid_naive_overflow",
        _ACT_K,
        "    e = _exp_neg_abs(z)\n    return _sigmoid_from(z, e, e + 1.0)\n",
        "    return 1.0 / (1.0 + np.exp(-z))\n",
        "sigmoid as 1/(1 + exp(−z)): exp overflows for z ≪ 0",
    ),
    Mutation(
        "sigmoid_prime_as_a_one_minus_a",
        _ACT_K,
        "return blockwise(_sigmoid_backward, z, g, temporaries=2)",
        "return g * (a * (1.0 - a))",
        "sigmoid' as a(1 − a): 1 − a cancels to 0 where a rounds to 1",
    ),
    Mutation(
        "tanh_prime_as_one_minus_a_squared",
        _ACT_K,
        "return blockwise(_tanh_backward, z, g, temporaries=2)",
        "return g * (1.0 - a * a)",
        "tanh' as 1 − a²: cancels to 0 where |a| rounds to 1",
    ),
    Mutation(
        "softplus_prime_sign",
        _ACT_K,
        "s = _sigmoid(z)\n    s *= g\n",
        "s = _sigmoid(-z)\n    s *= g\n",
        "softplus' = σ(−z) instead of σ(z)",
    ),
    Mutation(
        "silu_prime_term_wrong",
        _ACT_K,
        "e /= d\n    e *= z\n    e += s\n",
        "e = s * s\n    e *= z\n    e += s\n",
        "silu' with σ in place of 1 − σ",
    ),
)
