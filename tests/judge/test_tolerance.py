"""The tolerance model's arithmetic: the norm it measures with, the bound, the sensitivity base."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oracle.engine.tolerance import (
    Quantity,
    Sensitivity,
    bound_factor,
    judge,
    norm,
    norms,
    once,
    perturbation,
    unit_roundoff,
)


@pytest.mark.parametrize(
    ("x", "want"),
    [([3.0, 4.0], 5.0), ([1e200, 1e200], math.sqrt(2) * 1e200), ([1e-200, 1e-200], math.sqrt(2) * 1e-200),
     ([], 0.0), ([0.0, -0.0], 0.0), ([np.inf, 1.0], math.inf)],
)  # fmt: skip
def test_norm_neither_overflows_nor_underflows(x: list[float], want: float) -> None:
    assert norm(np.array(x)) == pytest.approx(want, rel=1e-15)


def test_norm_of_nan_is_nan() -> None:
    assert math.isnan(norm(np.array([np.nan, 1.0])))


def test_norms_of_many_arrays_are_each_arrays_norm() -> None:
    # empty arrays first, between and last; squares that overflow and underflow; nan and inf
    arrays = [
        np.empty(0), np.array([3.0, 4.0]), np.zeros((0, 2)), np.array(2.5), np.full(3, 1e200),
        np.array([1e-200]), np.array([np.nan, 1.0]), np.array([[1.0, -2.0], [2.0, 0.0]]),
        np.array([np.inf]), np.array([1.0, 2.0, 2.0]), np.empty(0),
    ]  # fmt: skip
    got = norms(arrays)
    want = [norm(a) for a in arrays]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, rel=1e-15)
    assert got[1] == 5.0 and got[-2] == 3.0 and got[0] == got[-1] == 0.0
    assert norms([]) == []


def test_bound_factor_is_c_u_depth_and_width() -> None:
    assert bound_factor(np.float32, 2, 16) == 16 * 2.0**-24 * 3 * 4
    assert unit_roundoff(np.float64) == 2.0**-53 and perturbation(np.float64) == 64 * 2.0**-53


class _R:
    def __init__(self, scale: float) -> None:
        self.loss = 1.0 * scale
        self.deltas = [np.full((2, 2), scale)]
        self.grad_weights = [np.full((2, 2), scale)]
        self.grad_biases = [np.full(2, scale)]
        self.grad_input = np.full((2, 2), scale)


def test_sensitivity_is_measured_from_its_base_not_from_the_judged_reference() -> None:
    oracle, moved = _R(1.0), _R(1.0 + 64 * 2.0**-53)
    model = _R(2.0)  # a bug model: far from the oracle
    sens = Sensitivity(runs=[moved], base=oracle)
    fams = ("loss", "delta", "grad_W", "grad_b", "grad_X")
    ms = judge(
        model, model, dtype=np.float64, depth=1, width=2, families=fams, sensitivity=lambda: sens
    )
    assert all(m.passed for m in ms)  # identical: the sensitivity is never needed
    got = _R(2.0 + 1e-6)
    ms = judge(
        got, model, dtype=np.float64, depth=1, width=2, families=fams, sensitivity=lambda: sens
    )
    assert not any(m.passed for m in ms), "s measured against the model itself would excuse this"
    assert all(m.sensitivity == pytest.approx(1.0 * np.sqrt(m.expected.size), rel=1e-6) for m in ms)


def test_the_sensitivity_is_measured_once() -> None:
    calls = []

    def measure() -> Sensitivity:
        calls.append(1)
        return Sensitivity(runs=[])

    get = once(measure)
    assert get() is get() and calls == [1]


def test_labels_name_the_layer_as_the_equations_do() -> None:
    assert Quantity("grad_W", 2).label == "∂C/∂W of layer 2" and Quantity("loss", None).label == "C"


def test_the_aligned_copy_scales_every_entry_up_and_comes_first() -> None:
    from oracle.engine.tolerance import perturbed_copies

    arrays = [np.array([[2.0, -3.0]]), np.array([0.5])]
    rho = perturbation(np.float32)
    first, *rest = perturbed_copies(arrays, np.float32, seed=4, aligned=True)
    assert len(rest) == 2 and all(
        np.array_equal(f, a * (1 + rho)) for f, a in zip(first, arrays, strict=True)
    )
    plain = perturbed_copies(arrays, np.float32, seed=4)
    assert all(np.array_equal(p, r) for pc, rc in zip(plain, rest, strict=True)
               for p, r in zip(pc, rc, strict=True))  # fmt: skip


def test_sensitivity_sees_a_product_whose_factors_moved_in_opposite_directions() -> None:
    """gelu' has a zero at z ≈ −0.75, so ∂C/∂X there is ill-conditioned in z = x w + b.
    With seed 1 both random-sign copies scale x and w in opposite directions and leave
    x w unmoved: s came out ~50× too small and refbp's float32 ∂C/∂X, 0.6 × what rounding
    z alone moves it by (exact arithmetic: the oracle's error 6e-17), failed by 0.5%."""
    from oracle.engine import Target
    from oracle.engine.cases import Case, Structure
    from oracle.engine.check import check_case
    from refbp import MLP

    s = Structure((1, 1), ("gelu",), "quadratic", "float32", 1)
    w, b = [np.array([[-1.487252116203308]], np.float32)], [np.array([0.0296243317425251], np.float32)]
    X, Y = np.array([[0.5302771925926208]], np.float32), np.array([[-2.1413376331329346]], np.float32)
    out = check_case(Target.of(MLP, "refbp:MLP"), Case(s, w, b, X, Y, seed=1))
    [m] = [m for m in out.measurements if m.quantity.family == "grad_X"]
    assert out.kind == "checked" and m.sensitivity > 100 * m.norm  # the conditioning, ≈ 236
