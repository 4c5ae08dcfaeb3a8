"""``refbp.save`` / ``refbp.load``: bit-exact round trips, and no pickle ever.

refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import refbp
from refbp.errors import RefbpError

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


# --- refusals ----------------------------------------------------------------------------


def _write_archive(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def _valid_arrays() -> dict[str, np.ndarray]:
    net = _net("tanh", "mse", np.float64)
    arrays = {
        "format": np.array("refbp-mlp-1"),
        "activations": np.array(net.activations),
        "loss": np.array(net.loss),
    }
    for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{i}"], arrays[f"b{i}"] = w, b
    return arrays


def test_valid_handmade_archive_loads(tmp_path: Path) -> None:
    # the control for the refusals below: only the one change makes them fail
    net = refbp.load(_write_archive(tmp_path / "ok.npz", **_valid_arrays()))
    assert net.sizes == [3, 4, 5, 2]


def test_object_array_is_refused_not_unpickled(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    arrays["activations"] = np.array(["tanh", "tanh", "identity"], dtype=object)  # pickled
    path = _write_archive(tmp_path / "evil.npz", **arrays)
    with pytest.raises(refbp.errors.FormatError, match=r"^load: .*evil\.npz.*object \(pickled\)"):
        refbp.load(path)


def test_pickle_file_is_refused(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "net.npz"
    path.write_bytes(pickle.dumps({"W0": np.ones((2, 2))}))
    with pytest.raises(refbp.errors.FormatError, match=r"^load: .*net\.npz.*not a \.npz archive"):
        refbp.load(path)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"hello, I am text", "not a .npz archive"),
        (b"", "not a .npz archive"),
        (b"PK\x03\x04 truncated zip", "not a .npz archive"),
    ],
)
def test_bad_file_is_refused_clearly(content: bytes, why: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(refbp.errors.FormatError, match=rf"^load: .*bad\.npz.*{re.escape(why)}"):
        refbp.load(path)


def test_truncated_archive_is_refused(tmp_path: Path) -> None:
    good = refbp.save(_net("tanh", "mse", np.float64), tmp_path / "good.npz").read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(refbp.errors.FormatError, match=r"^load: .*cut\.npz"):
        refbp.load(path)


def test_npy_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.npy"
    np.save(path, np.ones((2, 2)))
    with pytest.raises(refbp.errors.FormatError, match=r"^load: .*w\.npy.*single array"):
        refbp.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^load: no such file .*nothing\.npz"):
        refbp.load(tmp_path / "nothing.npz")


def test_archive_of_something_else_is_refused(tmp_path: Path) -> None:
    path = _write_archive(tmp_path / "other.npz", X=np.ones((3, 2)), y=np.arange(3))
    with pytest.raises(
        refbp.errors.FormatError,
        match=r"^load: .*other\.npz.*expected format 'refbp-mlp-1'.*no 'format'",
    ):
        refbp.load(path)


def test_missing_layer_is_refused(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    del arrays["W2"]
    with pytest.raises(refbp.errors.FormatError, match=r"^load: .*needs exactly the keys"):
        refbp.load(_write_archive(tmp_path / "short.npz", **arrays))


def test_invalid_network_in_a_valid_archive_is_refused(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    arrays["W1"] = arrays["W1"][:2]  # does not chain
    path = _write_archive(tmp_path / "chain.npz", **arrays)
    with pytest.raises(refbp.ShapeError, match=r"^load: .*chain\.npz.*do not chain"):
        refbp.load(path)


def test_unknown_name_in_archive_is_refused(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    arrays["loss"] = np.array("mae")
    with pytest.raises(refbp.UnknownNameError, match=r"^load: .*unknown loss 'mae'"):
        refbp.load(_write_archive(tmp_path / "name.npz", **arrays))


def test_format_error_is_a_refbp_value_error() -> None:
    assert issubclass(refbp.errors.FormatError, RefbpError)
    assert issubclass(refbp.errors.FormatError, ValueError)


def test_save_needs_an_mlp(tmp_path: Path) -> None:
    with pytest.raises(refbp.DTypeError, match=r"^save: net must be a refbp\.MLP, got dict"):
        refbp.save({}, tmp_path / "x.npz")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())
