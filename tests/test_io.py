"""``refbp.save`` / ``refbp.load``: bit-exact round trips, and which path each one uses.

What load refuses is in tests/test_io_refusals.py.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import refbp

PROBABILITY_OUTPUTS = ("sigmoid", "softmax")


def _net(act: str, loss: str, dtype: type, seed: int = 0) -> refbp.MLP:
    out = act
    if loss == "binary_cross_entropy" and act not in PROBABILITY_OUTPUTS:
        out = "sigmoid"
    net = refbp.MLP.init([3, 4, 5, 2], [act, act, out], loss, dtype=dtype, seed=seed)
    # non-zero biases, and values that use every bit of the mantissa
    rng = np.random.default_rng(seed + 1)
    biases = [rng.normal(size=b.shape).astype(dtype) for b in net.biases]
    return refbp.MLP(net.weights, biases, list(net.activations), net.loss)


def _assert_same_network(a: refbp.MLP, b: refbp.MLP) -> None:
    assert list(a.activations) == list(b.activations) and a.loss == b.loss
    assert len(a.weights) == len(b.weights)
    for p, q in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        np.testing.assert_array_equal(p, q, strict=True)  # bit-exact, same dtype and shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", sorted(refbp.LOSSES))
@pytest.mark.parametrize("act", sorted(refbp.ACTIVATIONS))
def test_round_trip_is_bit_exact(act: str, loss: str, dtype: type, tmp_path: Path) -> None:
    net = _net(act, loss, dtype)
    path = refbp.save(net, tmp_path / "net.npz")
    loaded = refbp.load(path)
    _assert_same_network(net, loaded)
    X = np.random.default_rng(2).normal(size=(4, 3))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X), strict=True)


def test_save_appends_npz_and_load_finds_it(tmp_path: Path) -> None:
    net = _net("tanh", "mse", np.float64)
    path = refbp.save(net, tmp_path / "model")
    assert path == tmp_path / "model.npz" and path.is_file()
    _assert_same_network(net, refbp.load(str(path)))
    _assert_same_network(net, refbp.load(tmp_path / "model"))  # the name given to save


def test_loaded_network_is_independent_of_the_saved_one(tmp_path: Path) -> None:
    net = _net("relu", "mse", np.float64)
    loaded = refbp.load(refbp.save(net, tmp_path / "n.npz"))
    snapshot = [w.copy() for w in net.weights]
    X = np.random.default_rng(0).normal(size=(8, 3))
    refbp.train(loaded, X, np.zeros((8, 2)), epochs=1)
    for w, s in zip(net.weights, snapshot, strict=True):
        np.testing.assert_array_equal(w, s)


def test_archive_holds_only_plain_arrays(tmp_path: Path) -> None:
    path = refbp.save(_net("tanh", "softmax_cross_entropy", np.float32), tmp_path / "n.npz")
    with np.load(path, allow_pickle=False) as data:  # would raise on any object array
        assert sorted(data.files) == sorted(
            ["format", "activations", "loss", "W0", "W1", "W2", "b0", "b1", "b2"]
        )
        assert all(data[k].dtype != object for k in data.files)


# --- paths --------------------------------------------------------------------------------


def _one_layer(w: float) -> refbp.MLP:
    return refbp.MLP([np.array([[w]])], [np.zeros(1)], ["identity"], "mse")


def test_save_keeps_a_path_that_already_ends_in_npz(tmp_path: Path) -> None:
    """``.npz`` is appended only if missing: "net.npz" is not written as "net.npz.npz"."""
    path = refbp.save(_one_layer(2.0), tmp_path / "net.npz")
    assert path == tmp_path / "net.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.npz"]


def test_load_reads_the_exact_path_when_it_exists(tmp_path: Path) -> None:
    """load falls back to ``path + ".npz"`` only when ``path`` itself does not exist.

    Both "m" (written through a file object, so no suffix is added) and "m.npz" exist and hold
    different networks; load("m") must read "m".
    """
    refbp.save(_one_layer(1.0), tmp_path / "m")  # writes m.npz
    with open(tmp_path / "m", "wb") as f:
        np.savez(
            f, format=np.array("refbp-mlp-1"), activations=np.array(["identity"]),
            loss=np.array("mse"), W0=np.array([[7.0]]), b0=np.zeros(1),
        )
    assert refbp.load(tmp_path / "m").weights[0][0, 0] == 7.0
    assert refbp.load(tmp_path / "m.npz").weights[0][0, 0] == 1.0


def test_load_does_not_append_npz_to_a_path_that_ends_in_npz(tmp_path: Path) -> None:
    """save("a.npz") writes "a.npz", so load("a.npz") looks there only: "a.npz.npz" is another
    file, and a missing "a.npz" is a FileNotFoundError naming it."""
    written = refbp.save(_one_layer(3.0), tmp_path / "a.npz.npz")
    assert written.name == "a.npz.npz"
    shown = repr(str(tmp_path / "a.npz"))
    with pytest.raises(FileNotFoundError, match=f"^{re.escape('load: no such file ' + shown)}$"):
        refbp.load(str(tmp_path / "a.npz"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^load: no such file .*nothing\.npz"):
        refbp.load(tmp_path / "nothing.npz")
