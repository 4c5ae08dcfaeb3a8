"""The public contract (docs/contract.md), checked from the outside.

Names, shapes and dtypes of everything ``MLP``, ``MLP.init``, ``predict``, ``backprop`` and
``train`` return; the forward maps and loss values against the formulas written in
the contract (independent NumPy, no refbp code); and the two promises "nothing passed in is
mutated" and "two calls on the same data return identical results", over random shapes.
Gradients are checked in test_finite_differences.py.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refbp

CONTRACT_ACTIVATIONS = {
    "identity", "sigmoid", "tanh", "relu", "leaky_relu",
    "elu", "softplus", "gelu", "silu", "softmax",
}  # fmt: skip
CONTRACT_LOSSES = {
    "mse", "quadratic", "l1", "huber",
    "softmax_cross_entropy", "sigmoid_cross_entropy", "binary_cross_entropy",
}  # fmt: skip
DTYPES = (np.float32, np.float64)


def targets_for(loss: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Random targets valid for ``loss``: probability rows, [0, 1] entries, or any reals."""
    kind = refbp.LOSSES[loss].targets
    if kind == "probability_rows":
        return rng.dirichlet(np.ones(shape[1]), size=shape[0])
    if kind == "unit_interval":
        return rng.uniform(size=shape)
    return rng.normal(size=shape)


# --- registries and construction ----------------------------------------------------------


def test_registries_hold_the_contracts_names() -> None:
    """Every name the contract (docs/contract.md) promises is registered (more may be added)."""
    assert CONTRACT_ACTIVATIONS <= set(refbp.ACTIVATIONS)
    assert CONTRACT_LOSSES <= set(refbp.LOSSES)


@pytest.mark.parametrize("name", sorted(refbp.ACTIVATIONS))
def test_activation_entries_are_well_formed(name: str) -> None:
    act = refbp.ACTIVATIONS[name]
    assert act.name == name and callable(act.forward)
    assert act.elementwise == (act.vjp is None) == (act.asymptotes is not None)
    assert act.forward.__doc__ and (act.derivative is None or act.derivative.__doc__)


@pytest.mark.parametrize("name", sorted(refbp.LOSSES))
def test_loss_entries_are_well_formed(name: str) -> None:
    loss = refbp.LOSSES[name]
    assert loss.name == name and loss.value.__doc__ and loss.grad.__doc__
    allowed = loss.output_activations or ()
    assert set(loss.output_forms) <= set(allowed) <= set(refbp.ACTIVATIONS)


@pytest.mark.parametrize("dtype", DTYPES)
def test_init_builds_the_documented_network(dtype: type[np.floating]) -> None:
    net = refbp.MLP.init(
        [4, 8, 3], activations=["relu", "identity"], loss="softmax_cross_entropy",
        dtype=dtype, seed=0,
    )  # fmt: skip
    assert isinstance(net.weights, list) and isinstance(net.biases, list)
    assert [w.shape for w in net.weights] == [(4, 8), (8, 3)]
    assert [b.shape for b in net.biases] == [(8,), (3,)]
    assert all(p.dtype == dtype for p in [*net.weights, *net.biases])
    assert all(np.isfinite(p).all() for p in [*net.weights, *net.biases])
    assert all(np.any(w != 0) for w in net.weights)  # initialised, not zeros


def test_init_is_reproducible_by_seed() -> None:
    def weights(seed: int) -> list[np.ndarray]:
        return refbp.MLP.init([5, 6, 2], ["tanh", "identity"], "mse", seed=seed).weights

    for a, b in zip(weights(7), weights(7), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(weights(7)[0], weights(8)[0])


def test_network_dtype_is_the_first_weights_dtype() -> None:
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(4, 2))]
    biases = [np.zeros(4), np.zeros(2, dtype=np.float32)]
    net = refbp.MLP(weights, biases, ["tanh", "identity"], "mse")
    assert all(p.dtype == np.float32 for p in [*net.weights, *net.biases])
    net64 = refbp.MLP([w.astype(np.float64) for w in weights], biases, ["tanh", "identity"], "mse")
    assert all(p.dtype == np.float64 for p in [*net64.weights, *net64.biases])


def test_backprop_shapes_of_the_designs_example() -> None:
    """A [2, 3, 1] network on a batch of 4: δ (4, 3), (4, 1); ∂C/∂W (2, 3), (3, 1)."""
    rng = np.random.default_rng(0)
    net = refbp.MLP.init([2, 3, 1], ["tanh", "identity"], "mse", seed=0)
    X, Y = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    bp = net.backprop(X, Y)
    assert isinstance(bp, refbp.Backprop)
    assert type(bp.loss) is float and math.isfinite(bp.loss)
    assert [d.shape for d in bp.deltas] == [(4, 3), (4, 1)]
    assert [g.shape for g in bp.grad_weights] == [(2, 3), (3, 1)]
    assert [g.shape for g in bp.grad_biases] == [(3,), (1,)]
    assert bp.grad_input.shape == (4, 2)
    assert net.predict(X).shape == (4, 1)
    assert bp._fields == ("loss", "grad_weights", "grad_biases", "deltas", "grad_input")


def test_train_returns_one_float_per_epoch() -> None:
    rng = np.random.default_rng(0)
    net = refbp.MLP.init([3, 5, 2], ["tanh", "identity"], "mse", seed=0)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    history = refbp.train(net, X, Y, lr=0.1, batch_size=8, epochs=4, seed=0)
    assert isinstance(history, list) and len(history) == 4
    assert all(type(h) is float and math.isfinite(h) for h in history)
    assert history[-1] < history[0]  # it learns
    assert refbp.train(net, X, Y, epochs=0) == []


# --- the forward maps and the loss table of the contract (docs/contract.md), in independent NumPy ------------


@pytest.mark.parametrize("name", sorted(refbp.ACTIVATIONS))
def test_predict_follows_the_entrys_reference_form(name: str) -> None:
    """One layer with W = I, b = 0: predict(Z) = σ(Z) by the reference form (which
    tests/differential/test_functions.py holds to the oracle)."""
    z = np.random.default_rng(0).uniform(-5, 5, size=(6, 4))
    net = refbp.MLP([np.eye(4)], [np.zeros(4)], [name], "mse")
    act = refbp.ACTIVATIONS[name]
    np.testing.assert_allclose(net.predict(z), act.forward(z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("loss", sorted(refbp.LOSSES))
def test_loss_value_follows_the_entrys_reference_form(loss: str) -> None:
    rng = np.random.default_rng(3)
    entry = refbp.LOSSES[loss]
    for out in entry.output_activations or ("identity",):
        net = refbp.MLP([rng.normal(size=(3, 4))], [rng.normal(size=4)], [out], loss)
        X = rng.normal(size=(5, 3)) * 1.5
        Y = targets_for(loss, rng, (5, 4))
        a = net.predict(X)
        expected = float(entry.value(a, Y))
        # both branches of a piecewise loss are in play (|a − y| on both sides of 1)
        assert (np.abs(a - Y) > 1).any() or out != "identity"
        assert (np.abs(a - Y) < 1).any()
        assert net.backprop(X, Y).loss == pytest.approx(expected, rel=1e-13)
        assert net.evaluate(X, Y) == pytest.approx(expected, rel=1e-13)


# --- random networks: shapes, dtypes, immutability, idempotence ---------------------------


@dataclass
class Case:
    sizes: list[int]
    activations: list[str]
    loss: str
    dtype: type[np.floating]
    batch: int
    seed: int

    def build(self) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
        """Weights, biases (in the network dtype), X (float64), Y valid for the loss."""
        rng = np.random.default_rng(self.seed)
        pairs = zip(self.sizes[:-1], self.sizes[1:], strict=True)
        weights = [(rng.normal(size=(i, o)) / math.sqrt(i)).astype(self.dtype) for i, o in pairs]
        biases = [rng.normal(scale=0.1, size=o).astype(self.dtype) for o in self.sizes[1:]]
        X = rng.normal(size=(self.batch, self.sizes[0]))
        Y = targets_for(self.loss, rng, (self.batch, self.sizes[-1]))
        return weights, biases, X, Y


@st.composite
def cases(draw: st.DrawFn) -> Case:
    depth = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1))
    names = st.sampled_from(sorted(refbp.ACTIVATIONS))
    acts = draw(st.lists(names, min_size=depth, max_size=depth))
    loss = draw(st.sampled_from(sorted(refbp.LOSSES)))
    allowed = refbp.LOSSES[loss].output_activations
    if allowed is not None and acts[-1] not in allowed:
        acts[-1] = draw(st.sampled_from(allowed))
    if allowed is not None and not refbp.ACTIVATIONS[acts[-1]].elementwise:
        sizes[-1] = max(sizes[-1], 2)  # a softmax of one unit is exactly 1: not in (0, 1)
    dtype = draw(st.sampled_from(DTYPES))
    return Case(sizes, acts, loss, dtype, draw(st.integers(1, 6)), draw(st.integers(0, 2**32)))


@given(cases())
def test_shapes_and_dtypes_for_random_networks(case: Case) -> None:
    weights, biases, X, Y = case.build()
    net = refbp.MLP(weights, biases, case.activations, case.loss)
    B, n_in, n_out = case.batch, case.sizes[0], case.sizes[-1]
    out = net.predict(X)  # float64 data into a float32 network stays float32
    assert out.shape == (B, n_out) and out.dtype == case.dtype
    bp = net.backprop(X, Y)
    assert type(bp.loss) is float and math.isfinite(bp.loss)
    assert [g.shape for g in bp.grad_weights] == [w.shape for w in weights]
    assert [g.shape for g in bp.grad_biases] == [b.shape for b in biases]
    assert [d.shape for d in bp.deltas] == [(B, n) for n in case.sizes[1:]]
    assert bp.grad_input.shape == (B, n_in)
    arrays = [*bp.grad_weights, *bp.grad_biases, *bp.deltas, bp.grad_input]
    assert all(a.dtype == case.dtype and np.isfinite(a).all() for a in arrays)


def _snapshot(*arrays: np.ndarray) -> list[np.ndarray]:
    return [a.copy() for a in arrays]


def _assert_unchanged(arrays: list[np.ndarray], snapshot: list[np.ndarray]) -> None:
    for a, s in zip(arrays, snapshot, strict=True):
        assert a.dtype == s.dtype and a.shape == s.shape
        np.testing.assert_array_equal(a, s, strict=True)


@given(cases())
def test_nothing_passed_in_is_mutated(case: Case) -> None:
    weights, biases, X, Y = case.build()
    inputs = [*weights, *biases, X, Y]
    before = _snapshot(*inputs)
    acts = list(case.activations)
    net = refbp.MLP(weights, biases, acts, case.loss)
    net.predict(X)
    net.backprop(X, Y)
    net.evaluate(X, Y)
    refbp.train(net, X, Y, lr=0.05, batch_size=2, epochs=2, seed=0, momentum=0.5, weight_decay=1e-3)
    _assert_unchanged(inputs, before)
    assert acts == case.activations
    # MLP copied the parameters: training moved the network's, not the caller's
    assert not any(np.shares_memory(p, q) for p in net.weights + net.biases for q in inputs)
    assert any(not np.array_equal(p, q) for p, q in zip(net.weights, weights, strict=True))


@given(cases())
def test_two_calls_on_the_same_data_are_identical(case: Case) -> None:
    weights, biases, X, Y = case.build()
    net = refbp.MLP(weights, biases, case.activations, case.loss)
    p1, bp1 = net.predict(X), net.backprop(X, Y)
    p2, bp2 = net.predict(X), net.backprop(X, Y)
    np.testing.assert_array_equal(p1, p2, strict=True)
    assert bp1.loss == bp2.loss  # no accumulated state: a second backward is not doubled
    first = [*bp1.grad_weights, *bp1.grad_biases, *bp1.deltas, bp1.grad_input]
    second = [*bp2.grad_weights, *bp2.grad_biases, *bp2.deltas, bp2.grad_input]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
    assert net.evaluate(X, Y) == net.evaluate(X, Y) == bp1.loss


@given(cases())
def test_results_do_not_alias_the_network(case: Case) -> None:
    """Writing into a result must not change the next result (no shared caches)."""
    weights, biases, X, Y = case.build()
    net = refbp.MLP(weights, biases, case.activations, case.loss)
    reference = net.predict(X).copy()
    bp = net.backprop(X, Y)
    reference_grads = [g.copy() for g in bp.grad_weights]
    for a in [net.predict(X), *bp.grad_weights, *bp.grad_biases, *bp.deltas, bp.grad_input]:
        a[...] = 7.0
    np.testing.assert_array_equal(net.predict(X), reference, strict=True)
    for g, r in zip(net.backprop(X, Y).grad_weights, reference_grads, strict=True):
        np.testing.assert_array_equal(g, r, strict=True)
