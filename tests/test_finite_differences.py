"""refbp's gradients against central finite differences of its own loss, in float64.

For every activation × loss pair (binary_cross_entropy gets a sigmoid output unless the pair's
activation is already sigmoid or softmax), a [3, 4, 3, 3] network on a batch of 4 has every
∂C/∂W, ∂C/∂b, ∂C/∂X and every δ = ∂C/∂z compared with central differences of
``MLP.evaluate`` on networks built from perturbed parameters.  Only the public contract is used.

δ without access to z: every loss is a mean over the B rows of a per-row term with the same
1/B factor, so C = (1/B) Σ_r C_r where C_r is the loss of the *one-row* batch (X[r], Y[r])
(e.g. mse: C = (1/(B·O)) Σ_r Σ_o (a−y)², and the one-row batch's loss is (1/O) Σ_o (a_r−y_r)²).
On a one-row batch, z_l = a_{l−1} W_l + b_l, so perturbing the bias b_l[j] is exactly a probe
added to z_l[r, j].  Hence δ_l[r, j] = ∂C/∂z_l[r, j] = (1/B) ∂C_r/∂b_l[j].

The kink test at the end checks the subgradient conventions at the points where finite
differences are meaningless.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import refbp

SIZES = [3, 4, 3, 3]
BATCH = 4
PROBABILITY_OUTPUTS = ("sigmoid", "softmax")

# Step and tolerance.  Central differences with step h have, per entry, truncation error
# ≈ h²·|C'''|/6 and rounding error ≈ ε_C/h, where ε_C ≈ κ·u·|C| is the rounding error of one
# evaluation of C (u = 1.1e-16; κ ~ 10–100 for the sums of a forward pass).  The step is
# relative, h = H·max(1, |θ|), with H = 5e-5: truncation ≈ 4e-10·|C'''| and rounding
# ≈ 2e-12·κ|C| ≈ 2e-11..2e-10, so each entry is good to a few 1e-10 (z ~ N(0, 1) keeps the
# third derivatives O(1)).  Normwise relative to gradients whose norm is ≥ ~1e-2·|C| that is
# ≤ ~3e-8.  Measured worst case for these 70 problems: 1.6e-8 (gelu × huber, grad_weights[1]);
# 4e-8 over five other seeds.  Smaller H is dominated by rounding (H = 3e-6: 2.5e-7), larger
# by truncation (H = 1e-4: 1.4e-8, growing with H²).
# Any real backprop mistake (a missing σ', a transposed W, a wrong 1/B) is an O(1) error.
H = 5e-5
RTOL = 1e-7
# Kinks are kept this far away (in z, and in a − y for l1 and |a − y| = 1 for huber) so that
# no perturbation of size ≤ H·max(|x|) ≈ 3e-4 crosses one.
KINK_MARGIN = 2e-3


def targets_for(loss: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Random targets valid for ``loss``: probability rows, [0, 1] entries, or any reals."""
    if loss == "softmax_cross_entropy":
        return rng.dirichlet(np.ones(shape[1]), size=shape[0])
    if loss in ("sigmoid_cross_entropy", "binary_cross_entropy"):
        return rng.uniform(size=shape)
    return rng.normal(scale=1.5, size=shape)  # scale 1.5: both branches of huber occur


@dataclass
class Problem:
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activations: list[str]
    loss: str
    X: np.ndarray
    Y: np.ndarray

    def cost(
        self,
        weights: list[np.ndarray] | None = None,
        biases: list[np.ndarray] | None = None,
        X: np.ndarray | None = None,
        rows: slice = slice(None),
    ) -> float:
        net = refbp.MLP(
            self.weights if weights is None else weights,
            self.biases if biases is None else biases,
            self.activations,
            self.loss,
        )
        return net.evaluate((self.X if X is None else X)[rows], self.Y[rows])

    def pre_activations(self) -> list[np.ndarray]:
        """z of every layer, from predict of the truncated networks (contract only)."""
        zs, a = [], self.X
        for i in range(len(self.weights)):
            zs.append(a @ self.weights[i] + self.biases[i])
            sub = refbp.MLP(self.weights[: i + 1], self.biases[: i + 1],
                            self.activations[: i + 1], "mse")  # fmt: skip
            a = sub.predict(self.X)
        return zs


def _is_kink_free(p: Problem) -> bool:
    """No z near an activation kink, no a − y near a loss kink, no dead unit (vacuity)."""
    for z, act in zip(p.pre_activations(), p.activations, strict=True):
        if act in ("relu", "leaky_relu", "elu") and np.abs(z).min() < KINK_MARGIN:
            return False
        if act == "relu" and not (z > 0).any(axis=0).all():
            return False  # a unit dead for the whole batch would compare 0 with 0
    d = np.abs(refbp.MLP(p.weights, p.biases, p.activations, p.loss).predict(p.X) - p.Y)
    if p.loss == "l1" and d.min() < KINK_MARGIN:
        return False
    return not (p.loss == "huber" and np.abs(d - 1).min() < KINK_MARGIN)


def make_problem(act: str, loss: str) -> Problem:
    """A deterministic, kink-free, unsaturated problem for the pair (first good seed)."""
    out = act
    if loss == "binary_cross_entropy" and act not in PROBABILITY_OUTPUTS:
        out = "sigmoid"
    acts = [act] * (len(SIZES) - 2) + [out]
    for seed in range(1000):
        rng = np.random.default_rng([seed, zlib.crc32(f"{act}/{loss}".encode())])
        # W ~ N(0, 1/fan_in), X ~ N(0, 1): z ~ N(0, 1)-ish, units neither dead nor saturated
        weights = [rng.normal(size=(i, o)) / math.sqrt(i) for i, o in itertools.pairwise(SIZES)]
        biases = [rng.normal(scale=0.3, size=o) for o in SIZES[1:]]
        X = rng.normal(size=(BATCH, SIZES[0]))
        p = Problem(weights, biases, acts, loss, X, targets_for(loss, rng, (BATCH, SIZES[-1])))
        if _is_kink_free(p):
            return p
    raise AssertionError(f"no kink-free problem found for {act} × {loss}")


def central_difference(f: Callable[[np.ndarray], float], theta: np.ndarray) -> np.ndarray:
    """∂f/∂θ by (f(θ + h e_i) − f(θ − h e_i)) / (2h), h = H·max(1, |θ_i|)."""
    grad = np.empty_like(theta)
    for i in np.ndindex(theta.shape):
        h = H * max(1.0, abs(float(theta[i])))
        plus, minus = theta.copy(), theta.copy()
        plus[i] += h
        minus[i] -= h
        grad[i] = (f(plus) - f(minus)) / (plus[i] - minus[i])  # the step actually taken
    return grad


def _replace(arrays: list[np.ndarray], index: int, value: np.ndarray) -> list[np.ndarray]:
    return [value if k == index else a for k, a in enumerate(arrays)]


def _assert_close(name: str, numeric: np.ndarray, analytic: np.ndarray) -> None:
    assert analytic.shape == numeric.shape, name
    scale = float(np.linalg.norm(numeric))
    assert scale > 1e-6, f"{name}: vacuous comparison, the numeric gradient is {scale}"
    err = float(np.linalg.norm(analytic - numeric)) / scale
    assert err <= RTOL, f"{name}: normwise relative error {err:.2e} > {RTOL:.0e}"


@pytest.mark.parametrize("loss", sorted(refbp.LOSSES))
@pytest.mark.parametrize("act", sorted(refbp.ACTIVATIONS))
def test_gradients_match_central_differences(act: str, loss: str) -> None:
    p = make_problem(act, loss)
    bp = refbp.MLP(p.weights, p.biases, p.activations, p.loss).backprop(p.X, p.Y)
    assert bp.loss == p.cost()
    for layer in range(len(SIZES) - 1):
        numeric = central_difference(
            lambda w, i=layer: p.cost(weights=_replace(p.weights, i, w)), p.weights[layer]
        )
        _assert_close(f"grad_weights[{layer}]", numeric, bp.grad_weights[layer])
        numeric = central_difference(
            lambda b, i=layer: p.cost(biases=_replace(p.biases, i, b)), p.biases[layer]
        )
        _assert_close(f"grad_biases[{layer}]", numeric, bp.grad_biases[layer])
        # δ_l[r, :] = (1/B) ∂C_r/∂b_l, C_r the loss of the one-row batch r (module docstring)
        delta = np.stack([
            central_difference(
                lambda b, i=layer, r=row: p.cost(biases=_replace(p.biases, i, b),
                                                 rows=slice(r, r + 1)),
                p.biases[layer],
            ) / BATCH
            for row in range(BATCH)
        ])  # fmt: skip
        _assert_close(f"deltas[{layer}]", delta, bp.deltas[layer])
    _assert_close("grad_input", central_difference(lambda x: p.cost(X=x), p.X), bp.grad_input)


# --- kinks: the conventions of jax.nn, where finite differences cannot decide ------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "slope"), [("relu", 0.0), ("leaky_relu", 1.0), ("elu", 1.0)])
def test_activation_derivative_at_its_kink(name: str, slope: float, dtype: type) -> None:
    act = refbp.ACTIVATIONS[name]
    z = np.array([[0.0, -0.0, 1.0, -1.0]], dtype=dtype)
    a = act.forward(z)
    expected_left = {"relu": 0.0, "leaky_relu": 0.01, "elu": math.exp(-1.0)}[name]
    expected = np.array([[slope, slope, 1.0, expected_left]])
    assert act.derivative is not None
    np.testing.assert_allclose(act.derivative(z, a), expected, rtol=1e-6)
    g = np.array([[3.0, -2.0, 0.5, 4.0]], dtype=dtype)  # a random-ish upstream gradient
    np.testing.assert_allclose(act.backward(z, a, g), g * expected, rtol=1e-6)
    assert act.backward(z, a, g).dtype == dtype


def test_relu_kink_through_backprop() -> None:
    # z = 0 exactly at the hidden unit: relu'(0) = 0 blocks the gradient to W1, b1 and X
    net = refbp.MLP([np.array([[1.0]]), np.array([[2.0]])], [np.zeros(1), np.zeros(1)],
                    ["relu", "identity"], "mse")  # fmt: skip
    bp = net.backprop(np.array([[0.0]]), np.array([[1.0]]))
    assert bp.deltas[1][0, 0] == -2.0  # ∂/∂a (a − 1)² at a = 0
    assert bp.deltas[0][0, 0] == 0.0 and bp.grad_input[0, 0] == 0.0
    assert bp.grad_weights[0][0, 0] == 0.0 and bp.grad_biases[0][0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l1_subgradient_is_zero_where_output_equals_target(dtype: type) -> None:
    loss = refbp.LOSSES["l1"]
    a = np.array([[0.5, 1.0], [-2.0, 3.0]], dtype=dtype)
    y = np.array([[0.5, 0.0], [-2.0, 4.0]], dtype=dtype)
    expected = np.array([[0.0, 1.0], [0.0, -1.0]]) / a.size  # sign(a − y) / (B·O)
    grad = loss.grad(a, y)
    np.testing.assert_array_equal(grad, expected.astype(dtype))
    assert grad.dtype == dtype


def test_l1_kink_through_backprop() -> None:
    net = refbp.MLP([np.eye(2)], [np.zeros(2)], ["identity"], "l1")
    bp = net.backprop(np.array([[0.5, 1.0]]), np.array([[0.5, 0.0]]))
    np.testing.assert_array_equal(bp.deltas[0], [[0.0, 0.5]])
