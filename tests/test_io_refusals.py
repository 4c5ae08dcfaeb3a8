"""What ``refbp.load`` refuses, and ``refbp.save``: each a FormatError (or the library's own
error for a valid archive of an invalid network) saying which file and what is wrong.

No pickle is ever loaded.  refbp alone: no JAX, no oracle.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import refbp
from refbp.errors import FormatError


def _net() -> refbp.MLP:
    return refbp.MLP.init([3, 4, 5, 2], ["tanh", "tanh", "tanh"], "mse", seed=0)


def _write_archive(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def _valid_arrays() -> dict[str, np.ndarray]:
    net = _net()
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
    with pytest.raises(FormatError, match=r"^load: .*evil\.npz.*object \(pickled\)"):
        refbp.load(path)


def test_pickle_file_is_refused(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "net.npz"
    path.write_bytes(pickle.dumps({"W0": np.ones((2, 2))}))
    with pytest.raises(FormatError, match=r"^load: .*net\.npz.*not a \.npz archive"):
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
    with pytest.raises(FormatError, match=rf"^load: .*bad\.npz.*{re.escape(why)}"):
        refbp.load(path)


def test_truncated_archive_is_refused(tmp_path: Path) -> None:
    good = refbp.save(_net(), tmp_path / "good.npz").read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(FormatError, match=r"^load: .*cut\.npz"):
        refbp.load(path)


def test_archive_of_something_else_is_refused(tmp_path: Path) -> None:
    path = _write_archive(tmp_path / "other.npz", X=np.ones((3, 2)), y=np.arange(3))
    with pytest.raises(
        FormatError,
        match=r"^load: .*other\.npz.*expected format 'refbp-mlp-1'.*no 'format'",
    ):
        refbp.load(path)


def test_missing_layer_is_refused(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    del arrays["W2"]
    with pytest.raises(FormatError, match=r"^load: .*needs exactly the keys"):
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


def test_save_needs_an_mlp(tmp_path: Path) -> None:
    with pytest.raises(refbp.DTypeError, match=r"^save: net must be a refbp\.MLP, got dict"):
        refbp.save({}, tmp_path / "x.npz")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


# --- malformed archives, message by message ------------------------------------------------


def _archive(path: Path, **arrays: np.ndarray | None) -> str:
    """A hand-made archive: a valid one-layer network, with ``arrays`` replacing or adding
    keys (a value of None drops the key).  Returns the path as a string."""
    keys: dict[str, np.ndarray | None] = {
        "format": np.array("refbp-mlp-1"), "activations": np.array(["identity"]),
        "loss": np.array("mse"), "W0": np.array([[1.0]]), "b0": np.zeros(1),
    }
    keys.update(arrays)
    np.savez(path, **{k: v for k, v in keys.items() if v is not None})
    return str(path)


def _refused(path: str, what: str) -> str:
    return f"^{re.escape(f'load: {path!r}' + what)}$"


def test_npy_file_is_refused_naming_refbp_save(tmp_path: Path) -> None:
    """A single array (.npy) is not an archive; the message says what load expects."""
    path = tmp_path / "one.npy"
    np.save(path, np.ones(3))
    what = " holds a single array (.npy), expected a .npz archive written by refbp.save"
    with pytest.raises(FormatError, match=_refused(str(path), what)):
        refbp.load(str(path))
    with pytest.raises(FormatError, match=r"^load: .*one\.npy.*single array"):
        refbp.load(path)


def test_load_names_a_wrong_format_tag(tmp_path: Path) -> None:
    """An archive whose ``format`` is another string is refused, and the message shows the
    tag it found (not "no 'format' key")."""
    path = _archive(tmp_path / "v2.npz", format=np.array("refbp-mlp-2"))
    what = (
        " is not a refbp network archive: expected format 'refbp-mlp-1', got format "
        "array('refbp-mlp-2', dtype='<U11')"
    )
    with pytest.raises(FormatError, match=_refused(path, what)):
        refbp.load(path)


def test_load_says_when_the_format_key_is_missing(tmp_path: Path) -> None:
    """A network archive without its ``format`` key: the exact message says so."""
    path = _archive(tmp_path / "nofmt.npz", format=None)
    what = " is not a refbp network archive: expected format 'refbp-mlp-1', got no 'format' key"
    with pytest.raises(FormatError, match=_refused(path, what)):
        refbp.load(path)


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (np.array([1.0]), "array([1.])"),
        (None, "None"),
        (np.array("identity"), None),
        (np.array([], dtype="<U1"), None),
    ],
)
def test_load_refuses_activations_that_are_not_a_1d_array_of_names(
    names: np.ndarray | None, shown: str | None, tmp_path: Path
) -> None:
    """A float array, a missing key, a single (0-d) name or no names: a FormatError saying
    so, before anything reaches MLP (one-layer archives, one name, load fine above)."""
    path = _archive(tmp_path / "acts.npz", activations=names)
    shown = shown if shown is not None else repr(names)
    what = f": expected 'activations' to be a 1-D array of names, got {shown}"
    with pytest.raises(FormatError, match=_refused(path, what)):
        refbp.load(path)


def test_load_names_the_member_it_cannot_read(tmp_path: Path) -> None:
    """A member whose bytes were altered after writing (CRC mismatch, zipfile.BadZipFile while
    reading it): "load: <path> is corrupt: cannot read 'W0' (...)"."""
    path = tmp_path / "crc.npz"
    _archive(path, W0=np.arange(16.0).reshape(1, 16), b0=np.zeros(16))
    raw = bytearray(path.read_bytes())
    start = raw.find(b"W0.npy") + len(b"W0.npy")
    # W0's member: [zip64 extra field, 20 bytes] + .npy header (128 bytes) + 128 data bytes;
    # byte 200 after the name is inside the data with or without the extra field.
    raw[start + 200] ^= 0xFF
    path.write_bytes(bytes(raw))
    prefix = f"load: {str(path)!r} is corrupt: cannot read 'W0' ("
    with pytest.raises(FormatError, match=f"^{re.escape(prefix)}.*CRC"):
        refbp.load(str(path))


@pytest.mark.parametrize(("loss", "shown"), [(np.array(1.0), "array(1.)"), (None, "None")])
def test_load_refuses_a_loss_that_is_not_one_name(
    loss: np.ndarray | None, shown: str, tmp_path: Path
) -> None:
    """A float "loss" (which would reach MLP as the name "1.0") or a missing one is refused
    with the exact message."""
    path = _archive(tmp_path / "loss.npz", loss=loss)
    what = f": expected 'loss' to be one name, got {shown}"
    with pytest.raises(FormatError, match=_refused(path, what)):
        refbp.load(path)


def test_save_refuses_a_network_load_would_refuse(tmp_path: Path) -> None:
    """Parameters changed in place to inf: save says so instead of writing a file that load
    refuses."""
    net = refbp.MLP([np.ones((2, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)],
                    ["tanh", "identity"], "mse")  # fmt: skip
    net.biases[1][0] = np.inf  # the network's own array (as a diverged update once left it)
    if np.isfinite(net.biases[1]).all():
        pytest.skip("biases are copies here: nothing can make the network non-finite")
    with pytest.raises(refbp.NonFiniteError, match=r"^save: biases\[1\] must be finite, got inf"):
        refbp.save(net, tmp_path / "n.npz")
    assert not (tmp_path / "n.npz").exists()


def _small() -> refbp.MLP:
    return refbp.MLP([np.ones((2, 1))], [np.zeros(1)], ["identity"], "mse")


def test_save_says_who_could_not_write_where(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"save: cannot write .*nope/n\.npz: No such file"):
        refbp.save(_small(), tmp_path / "nope" / "n.npz")
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(IsADirectoryError, match=r"save: cannot write .*d\.npz: Is a directory"):
        refbp.save(_small(), tmp_path / "d.npz")
    for bad in ("", ".", tmp_path / ".."):
        with pytest.raises(ValueError, match=r"^save: path must name a file, got "):
            refbp.save(_small(), bad)
    with pytest.raises(TypeError, match=r"^save: path must be a str or a path, got bytes$"):
        refbp.save(_small(), b"n.npz")  # type: ignore[arg-type]


def test_a_damaged_member_is_called_corrupt_not_pickled(tmp_path: Path) -> None:
    import zipfile

    path = refbp.save(_small(), tmp_path / "n.npz")
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("W5.npy", b"\x93NUMPY garbage")
    with pytest.raises(FormatError, match=r"is corrupt: cannot read 'W5'") as exc:
        refbp.load(path)
    assert "pickle" not in str(exc.value)


def test_a_pickle_is_refused_without_numpy_s_advice_to_unpickle_it(tmp_path: Path) -> None:
    import pickle

    (tmp_path / "p.npz").write_bytes(pickle.dumps({"W0": 1}))
    with pytest.raises(FormatError, match=r"is not a \.npz archive written by refbp\.save") as exc:
        refbp.load(tmp_path / "p.npz")
    assert "allow_pickle" not in str(exc.value)


def test_a_refused_archive_leaves_no_file_open(tmp_path: Path) -> None:
    """np.load keeps the file it opened when a zip turns out truncated; load opens it
    itself and closes it on every way out (no ResourceWarning once the error is gone)."""
    import gc
    import warnings

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04" + bytes(10))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        try:
            refbp.load(bad)
        except FormatError:
            pass
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)]
