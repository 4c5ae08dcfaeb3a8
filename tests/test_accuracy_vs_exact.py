"""refbp against exact arithmetic (oracle.exact, mpmath) at the points where a textbook form
loses digits: a saturated softmax's backward pass, binary cross-entropy near its minimum,
the sigmoid cross-entropy's δ where σ(z) ≈ 1.

Each network here is one layer with W = I and b = 0, so z = X exactly (a dot product with
one non-zero term) and refbp's only rounding is in the formulas under test: its results
can be held to a few ulps of the exact answer correctly rounded to the dtype.  The bounds
count the roundings of the stable form (each at most half an ulp of the number rounded),
not the errors of any implementation; the old forms miss them by orders of magnitude.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import refbp
from oracle.exact import exact_backprop, rounded

DTYPES = (np.float32, np.float64)


def _one_layer(
    z: np.ndarray, y: np.ndarray, activation: str, loss: str, dtype: type[np.floating]
) -> tuple[refbp.Backprop, object]:
    """refbp's and the exact (correctly rounded) results for W = I, b = 0, X = z, Y = y."""
    n = z.shape[1]
    args = ([np.eye(n, dtype=dtype)], [np.zeros(n, dtype)], [activation], loss, z, y)
    mine = refbp.MLP(weights=args[0], biases=args[1], activations=args[2], loss=loss)
    return mine.backprop(z, y), rounded(exact_backprop(*args), dtype)


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got − want| in ulps of want (of the smallest normal where want is 0 or subnormal)."""
    want = np.asarray(want)
    tiny = np.finfo(want.dtype).tiny
    unit = np.spacing(np.maximum(np.abs(want), tiny))
    return np.abs(got.astype(np.float64) - want.astype(np.float64)) / unit.astype(np.float64)


# --- softmax backward in saturation ------------------------------------------------------

# A row whose softmax is one-hot to within 3e-12, and targets that keep ∂C/∂a of size 1:
# the VJP's entries are of the size of the small probabilities.  g − Σ g a would cancel to
# five correct digits of sixteen in the largest column (refbp before the shifted form, and
# PyTorch: relative error 1.8e-5 there).
SATURATED = {
    np.float64: ([-35.245545793848964, -28.416262487436285, -1.9923912079971327],
                 [0.23367509, 0.98775446, -0.26528206]),
    np.float32: ([-15.5, -11.25, -0.75], [0.25, 0.875, -0.25]),
}  # fmt: skip


@pytest.mark.parametrize("loss", ["quadratic", "mse", "huber"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_saturated_softmax_delta_is_within_a_few_ulps_of_exact(
    dtype: type[np.floating], loss: str
) -> None:
    """Every entry of δ: a_k (h_k − Σ a h) with h = g − g_m rounds g, h, the products and the
    short sum, each within half an ulp (8 ulps in all, generously), and a_k = e^{s_k}/Σ e^s:
    the shift s_k = z_k − max z rounds by up to half an ulp of s_k, which is |s_k| ulps of
    a_k (and of δ_k) at most, plus the exp and the division."""
    z, y = (np.array([row], dtype) for row in SATURATED[dtype])
    bp, exact = _one_layer(z, y, "softmax", loss, dtype)
    shift = np.abs(z - z.max()).astype(np.float64)
    assert (_ulps(bp.deltas[0], exact.deltas[0]) <= 8.0 + shift).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_a_constant_upstream_gradient_is_exactly_zero(dtype: type[np.floating]) -> None:
    """l1 with every output above its target: ∂C/∂a is the same in every column, and the
    exact δ = a ⊙ (g − Σ g a) is 0 (Σ a = 1).  refbp returns exact zeros, not the rounding
    of g − Σ g a (4.8e-14 of the gradient's scale before)."""
    z = np.array([[0.3, -1.7], [2.5, 2.25]], dtype)
    y = np.full_like(z, -1.0)
    bp, exact = _one_layer(z, y, "softmax", "l1", dtype)
    assert not np.any(exact.deltas[0])
    np.testing.assert_array_equal(bp.deltas[0], np.zeros_like(z), strict=True)
    np.testing.assert_array_equal(bp.grad_weights[0], np.zeros((2, 2), dtype), strict=True)


# --- cross-entropy losses near their minimum ----------------------------------------------

LOGITS = [2.75, 5.0, 11.25, 20.0, 35.0]


@pytest.mark.parametrize("pair", [("sigmoid", "binary_cross_entropy"),
                                  ("identity", "sigmoid_cross_entropy")])  # fmt: skip
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", LOGITS)
def test_cross_entropy_near_its_minimum_is_within_two_ulps_of_exact(
    z: float, dtype: type[np.floating], pair: tuple[str, str]
) -> None:
    """y = 1 and z ≫ 0 (and the mirror, y = 0 and z ≪ 0): C = softplus(−|z|) ≈ e^{−|z|}.
    As a sum of non-negative terms it is log1p(e) within an ulp or so; softplus(z) − y z
    left float32 one digit at z = 11.25 (refbp before: relative error 3e-2)."""
    activation, loss = pair
    for zz, yy in ((z, 1.0), (-z, 0.0)):
        bp, exact = _one_layer(np.array([[zz]], dtype), np.array([[yy]], dtype), activation,
                               loss, dtype)  # fmt: skip
        want = np.array(exact.loss, dtype)
        assert _ulps(np.array(bp.loss, dtype), want) <= 2.0, (zz, yy, bp.loss, exact.loss)


def test_sigmoid_cross_entropy_loss_keeps_its_digits_below_its_minimum_scale() -> None:
    """A row of ordinary logits and targets: every term y softplus(−z) + (1 − y) softplus(z)
    is ≥ 0, so the mean is within a few ulps of exact in float32 (the textbook form
    subtracts y z from softplus(z) and loses digits wherever y z ≈ z)."""
    z = np.array([[2.75, -0.5, 7.0, -3.25]], np.float32)
    y = np.array([[1.0, 0.125, 0.9375, 0.0]], np.float32)
    bp, exact = _one_layer(z, y, "identity", "sigmoid_cross_entropy", np.float32)
    assert _ulps(np.array(bp.loss, np.float32), np.array(exact.loss, np.float32)) <= 4.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gap", [8.0, 21.5, 30.0])
def test_softmax_cross_entropy_of_a_confident_correct_row_is_within_two_ulps_of_exact(
    gap: float, dtype: type[np.floating]
) -> None:
    """y one-hot at the largest logit: C = log(1 + r), r = Σ_{j≠m} e^{z_j − z_m} ≈ e^{−gap}.
    log1p(r) rounds r (a short sum of exps, each within an ulp) and the log1p: within 2
    ulps; log(1 + r) kept six digits of sixteen at gap 21.5 in float64 (refbp before)."""
    z = np.array([[-1.5, gap, -12.0, 0.0]], dtype)
    y = np.array([[0.0, 1.0, 0.0, 0.0]], dtype)
    bp, exact = _one_layer(z, y, "identity", "softmax_cross_entropy", dtype)
    assert _ulps(np.array(bp.loss, dtype), np.array(exact.loss, dtype)) <= 2.0


# --- the sigmoid cross-entropy's δ --------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_cross_entropy_delta_is_within_a_few_ulps_of_exact(
    dtype: type[np.floating],
) -> None:
    """δ = σ(z) − y on z ∈ [−40, 40], y ∈ {0, 1/4, 1/2, 3/4, 1} (exact in both dtypes):
    (1 − y) − s or s − y with s = σ(−|z|) rounds s (exp, add, divide: ≤ 2 ulps of s) and
    the difference (half an ulp of δ).  Where δ is not below s, that is within 3 ulps of δ;
    the textbook σ(z) − 1 at y = 1, z = 35 keeps no digit in float64."""
    worst = 0.0
    for z in np.linspace(-40.0, 40.0, 81):
        for y in (0.0, 0.25, 0.5, 0.75, 1.0):
            bp, exact = _one_layer(np.array([[z]], dtype), np.array([[y]], dtype), "identity",
                                   "sigmoid_cross_entropy", dtype)  # fmt: skip
            want = exact.deltas[0]
            s = 1.0 / (1.0 + np.exp(abs(z)))
            if abs(float(want[0, 0])) >= s:
                worst = max(worst, float(_ulps(bp.deltas[0], want).max()))
    assert worst <= 3.0


# --- the binary cross-entropy gradient on probabilities ---------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_gradient_on_probabilities_is_within_two_ulps_where_a_is_close_to_y(
    dtype: type[np.floating],
) -> None:
    """dC/da = (a − y)/(a(1 − a))/B against exact arithmetic where a − y is a few ulps:
    a − y is exact there, a(1 − a), the division and /B round once each (1.5 ulps), so 2
    ulps; the form (1 − y)/(1 − a) − y/a loses every digit to the cancellation of its terms
    (up to 4.5e15 ulps in float64)."""
    rng = np.random.default_rng(3)
    a = rng.uniform(0.02, 0.98, (16, 3)).astype(dtype)
    steps = rng.integers(-3, 4, a.shape)
    y = a.copy()
    for k in range(1, 4):  # y a few ulps from a, and y = a exactly where steps is 0
        y = np.where(np.abs(steps) >= k, np.nextafter(y, np.where(steps > 0, 2, -1).astype(dtype)), y)
    loss = refbp.losses.get_loss("binary_cross_entropy", "test")
    _, grad = loss.functions
    got = grad(a, y)
    with mpmath.workdps(40):
        want = np.array(
            [[float((mpmath.mpf(float(p)) - mpmath.mpf(float(t)))
                    / (mpmath.mpf(float(p)) * (1 - mpmath.mpf(float(p)))) / len(a))
              for p, t in zip(ra, ry, strict=True)] for ra, ry in zip(a, y, strict=True)]
        ).astype(dtype)  # fmt: skip
    assert got.dtype == dtype
    assert _ulps(got, want).max() <= 2.0
