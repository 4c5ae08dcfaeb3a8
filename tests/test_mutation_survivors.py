"""Tests written for mutants that survived the general-purpose mutation run (mutmut 3.8.1).

See reports/mutation-general.md.  Each test names the mutant(s) it kills, by mutmut's name
(refbp.<module>.x_<function>__mutmut_<n>).  Everything here checks the documented contract
against values written out independently (never against refbp's own output), without JAX,
and the whole file runs in well under a second.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import refbp
from refbp import losses as losses_mod
from refbp.activations import ACTIVATIONS
from refbp.errors import DTypeError
from refbp.losses import LOSSES, Loss
from refbp.network import MLP


def _zero(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.asarray(0.0)


def test_registering_a_loss_name_twice_is_refused() -> None:
    """``_register``: a name already in the registry is refused, and the entry is unchanged.

    Kills refbp.losses.x__register__mutmut_1 (``in`` -> ``not in``: the duplicate silently
    replaces the entry) and _2 (the message loses the offending name).
    """
    original = LOSSES["mse"]
    duplicate = Loss("mse", _zero, _zero)
    with pytest.raises(ValueError, match=re.escape("'mse'")):
        losses_mod._register(duplicate)
    assert LOSSES["mse"] is original


def test_a_registered_loss_is_looked_up_by_its_name() -> None:
    """``_register`` adds the entry itself under its name (LOSSES is its read-only view).

    Kills refbp.losses.x__register__mutmut_3 (the registry stores None for the name).
    """
    name = "__mutation_survivor_probe__"
    entry = Loss(name, _zero, _zero)
    try:
        losses_mod._register(entry)
        assert LOSSES[name] is entry
        assert losses_mod.get_loss(name) is entry
    finally:
        losses_mod._REGISTRY.pop(name, None)
    assert name not in LOSSES


def test_a_loss_name_that_is_not_a_string_is_refused_with_its_type() -> None:
    """``get_loss``: who complained, what was expected and what came (tests/test_errors.py's rule).

    Kills refbp.losses.x_get_loss__mutmut_1 and _2 (default ``where`` changed to "XXrefbpXX" /
    "REFBP"), _4 (message dropped) and _5 (the type reported is NoneType, not the argument's).
    """
    from refbp.errors import DTypeError

    with pytest.raises(DTypeError, match=r"^refbp: loss names must be strings, got int$"):
        losses_mod.get_loss(3)
    with pytest.raises(TypeError, match=r"^fit: loss names must be strings, got bytes$"):
        losses_mod.get_loss(b"mse", where="fit")


def test_an_unknown_loss_name_lists_the_valid_ones() -> None:
    """``get_loss`` docstring: "an unknown name lists the valid ones".

    Pins the exact message next to the type-error test above.  (Mutants _6, message dropped,
    and _7, ``sorted(None)`` raising a bare TypeError, are already killed by the suite.)
    """
    from refbp.errors import UnknownNameError

    expected = f"refbp: unknown loss 'nope'; valid names are {sorted(LOSSES)}"
    with pytest.raises(UnknownNameError, match=f"^{re.escape(expected)}$"):
        losses_mod.get_loss("nope")
    with pytest.raises(ValueError, match="mse"):
        losses_mod.get_loss("nope")


def _softmax_ce_grad_exact(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(softmax(a) Σ_j y_j − y) / B, the formula in ``_softmax_ce_grad``'s docstring, written
    directly (no max shift needed for the small logits used here)."""
    e = np.exp(a)
    p = e / e.sum(axis=1, keepdims=True)
    return (p * y.sum(axis=1, keepdims=True) - y) / len(a)


def test_softmax_cross_entropy_gradient_is_per_row_for_a_batch() -> None:
    """The correct-class rewrite uses r = Σ_{j≠m} e^{a_j − a_m} of *its own row*.

    Kills refbp.losses.x__softmax_ce_grad__mutmut_19 (r summed over the whole batch): with
    B > 1 rows whose largest-logit column carries target mass, r/(1 + r) must not mix rows.
    """
    a = np.array([[2.0, 0.5, -1.0], [0.0, 1.5, 0.3], [-0.2, -0.4, 1.0]])
    y = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5]])
    g = LOSSES["softmax_cross_entropy"].grad(a, y)
    np.testing.assert_allclose(g, _softmax_ce_grad_exact(a, y), rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_gradient_is_exact_for_unnormalised_targets() -> None:
    """Docstring: Σ_j y_j "is kept so the gradient is exact for the targets actually given".

    Kills refbp.losses.x__softmax_ce_grad__mutmut_39 (p / Σy instead of p · Σy: identical only
    when every row of y sums to exactly 1).
    """
    a = np.array([[1.0, -0.5, 0.25], [0.3, 0.1, -2.0]])
    y = np.array([[1.0, 0.5, 0.5], [0.0, 0.5, 0.0]])  # row sums 2 and 0.5
    g = LOSSES["softmax_cross_entropy"].grad(a, y)
    np.testing.assert_allclose(g, _softmax_ce_grad_exact(a, y), rtol=1e-12, atol=1e-15)


# --- refbp/train.py ---------------------------------------------------------------------


def _linear_mse_sgd(
    X: np.ndarray, Y: np.ndarray, W: np.ndarray, b: np.ndarray,
    lr: float, batch_size: int, epochs: int, seed: int,
) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Plain SGD on a one-layer identity network with the mse loss, written out directly.

    Sampling as train.py's docstring states it (one default_rng(seed), a permutation per
    epoch, consecutive slices); mse gradient 2/(B·O) xᵀ(a − y) and 2/(B·O) Σ_B (a − y).
    """
    W, b = W.copy(), b.copy()
    rng = np.random.default_rng(seed)
    n = len(X)
    history = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        total = 0.0
        for k in range(0, n, batch_size):
            idx = perm[k : k + batch_size]
            r = X[idx] @ W + b - Y[idx]
            total += float(np.mean(r * r)) * len(idx)
            scale = 2.0 / r.size
            W -= lr * scale * (X[idx].T @ r)
            b -= lr * scale * r.sum(axis=0)
        history.append(total / n)
    return history, W, b


def test_train_defaults_are_lr_0_1_batch_32_epochs_10_seed_0() -> None:
    """DESIGN §2: ``train(net, X, Y, lr=0.1, batch_size=32, epochs=10, seed=0)`` are the defaults.

    Kills refbp.train.x_train__mutmut_1..4 (default lr 1.1, batch_size 33, epochs 11,
    seed 1).  N = 40 > 32, so the batch size and the seed both change which rows share a batch.
    """
    rng = np.random.default_rng(123)
    X = rng.normal(size=(40, 3))
    Y = rng.normal(size=(40, 2))
    W = 0.3 * rng.normal(size=(3, 2))
    b = np.array([0.1, -0.2])
    expected, W_exp, b_exp = _linear_mse_sgd(X, Y, W, b, 0.1, 32, 10, 0)
    net = MLP([W.copy()], [b.copy()], ["identity"], "mse")
    history = refbp.train(net, X, Y)
    assert len(history) == 10
    np.testing.assert_allclose(history, expected, rtol=1e-12)
    np.testing.assert_allclose(net.weights[0], W_exp, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(net.biases[0], b_exp, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("seed", "kind"), [(1.5, "float"), (True, "bool"), ("0", "str")])
def test_train_refuses_a_seed_that_is_not_an_int(seed: object, kind: str) -> None:
    """train: "seed must be an int or None", refused by refbp itself with the exact message.

    Kills refbp.train.x_train__mutmut_94 (``or`` -> ``and``: a float or bool seed slips
    through to NumPy), _96 (message dropped) and _97 (the type reported is NoneType).
    """
    net = MLP([np.ones((1, 1))], [np.zeros(1)], ["identity"], "mse")
    msg = f"train: seed must be an int or None, got {kind}"
    with pytest.raises(DTypeError, match=f"^{re.escape(msg)}$"):
        refbp.train(net, np.ones((2, 1)), np.ones((2, 1)), seed=seed)  # type: ignore[arg-type]


def test_an_update_that_overflows_is_a_numerical_error_with_the_documented_message() -> None:
    """The update itself overflows (lr·g = inf): a NumericalError naming the epoch and lr,
    never a RuntimeWarning.

    One layer, identity, mse, x = 1, y = 0, W = 10: dC/dW = 2·(10 − 0) = 20, and
    1e308 · 20 overflows.  Kills refbp.train.x_train__mutmut_138 (``np.errstate(all=None)``:
    the overflow warns) and _167.._172 (the message's parts dropped or altered).
    """
    from refbp.errors import NumericalError

    net = MLP([np.array([[10.0]])], [np.zeros(1)], ["identity"], "mse")
    msg = (
        "train (epoch 0, lr=1e+308): a parameter after an update (training diverged) came out "
        "non-finite although every input was finite; the inputs or weights are too large for "
        "this dtype (rescale them, or lower lr)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NumericalError, match=f"^{re.escape(msg)}$"):
            refbp.train(net, np.ones((1, 1)), np.zeros((1, 1)), lr=1e308, epochs=1)


def test_train_does_not_check_a_grad_input_it_does_not_need() -> None:
    """Training needs no ∂C/∂X, so it neither computes nor checks one.

    x = 1e-307 and W = 1e308 give z = 10 (finite loss and ∂C/∂W = x·δ), but ∂C/∂X = δ·Wᵀ
    overflows.  Kills refbp.train.x_train__mutmut_133 (``need_grad_input=True``: the
    overflowing ∂C/∂X is computed and refused with a NumericalError).
    """
    W = np.array([[1e308]])
    net = MLP([W.copy()], [np.zeros(1)], ["identity"], "mse")
    x, y = np.array([[1e-307]]), np.array([[0.0]])
    history = refbp.train(net, x, y, lr=0.1, epochs=1)
    # z = 10, C = 100; dC/dW = 2·10·1e-307 = 2e-306, so W moves by 2e-307: below W's ulp.
    np.testing.assert_allclose(history, [100.0], rtol=1e-12)
    assert net.weights[0][0, 0] == 1e308


# --- refbp/io.py ------------------------------------------------------------------------


def _one_layer(w: float) -> MLP:
    return MLP([np.array([[w]])], [np.zeros(1)], ["identity"], "mse")


def test_save_keeps_a_path_that_already_ends_in_npz(tmp_path: Path) -> None:
    """io.save: ``.npz`` is appended only "if missing".

    Kills refbp.io.x_save__mutmut_30 and _31 (the suffix compared with "XX.npzXX" / ".NPZ":
    "net.npz" would be written as "net.npz.npz").
    """
    path = refbp.save(_one_layer(2.0), tmp_path / "net.npz")
    assert path == tmp_path / "net.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.npz"]


def test_load_reads_the_exact_path_when_it_exists(tmp_path: Path) -> None:
    """io.load falls back to ``path + ".npz"`` only when ``path`` itself does not exist.

    Both "m" (written through a file object, so no suffix is added) and "m.npz" exist and hold
    different networks; load("m") must read "m".  Kills refbp.io.x__read__mutmut_3 and _4
    (the fallback taken although the exact path exists).
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
    file.  Kills refbp.io.x__read__mutmut_7 and _8 (suffix compared with "XX.npzXX" / ".NPZ").
    """
    written = refbp.save(_one_layer(3.0), tmp_path / "a.npz.npz")
    assert written.name == "a.npz.npz"
    shown = repr(str(tmp_path / "a.npz"))
    with pytest.raises(FileNotFoundError, match=f"^{re.escape('load: no such file ' + shown)}$"):
        refbp.load(str(tmp_path / "a.npz"))


def _archive(path: Path, **arrays: np.ndarray) -> str:
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


def test_load_names_a_wrong_format_tag(tmp_path: Path) -> None:
    """io.load refuses an archive whose ``format`` is another string, and says which.

    Kills refbp.io.x_load__mutmut_13 (``or`` -> ``and``: a text tag other than
    "refbp-mlp-1" is accepted) and _24 (the message always says "no 'format' key").
    """
    from refbp.errors import FormatError

    path = _archive(tmp_path / "v2.npz", format=np.array("refbp-mlp-2"))
    what = (
        " is not a refbp network archive: expected format 'refbp-mlp-1', got format "
        "array('refbp-mlp-2', dtype='<U11')"
    )
    with pytest.raises(FormatError, match=_refused(path, what)):
        refbp.load(path)


def test_load_says_when_the_format_key_is_missing(tmp_path: Path) -> None:
    """Kills refbp.io.x_load__mutmut_25 ("no 'format' key" altered in the message)."""
    from refbp.errors import FormatError

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
    """A float array, a missing key, a single (0-d) name or no names: a FormatError saying so.

    Kills refbp.io.x_load__mutmut_36 (``not _text(...) and len(...) == 0``: non-text names
    reach MLP), _37 (``names is None and ...``: a missing key hits len(None)) and _47 (the
    message dropped).  (_46, ``len(names) == 1`` refusing every one-layer archive, is killed
    by the one-layer loads in the tests above.)
    """
    from refbp.errors import FormatError

    path = _archive(tmp_path / "acts.npz", activations=names)
    shown = shown if shown is not None else repr(names)
    what = f": expected 'activations' to be a 1-D array of names, got {shown}"
    with pytest.raises(FormatError, match=_refused(path, what)):
        refbp.load(path)


def test_load_refuses_a_npy_file_naming_refbp_save(tmp_path: Path) -> None:
    """Kills refbp.io.x__read__mutmut_28 and _29 ("refbp.save" altered in the message)."""
    from refbp.errors import FormatError

    path = tmp_path / "one.npy"
    np.save(path, np.ones(3))
    what = " holds a single array (.npy), expected a .npz archive written by refbp.save"
    with pytest.raises(FormatError, match=_refused(str(path), what)):
        refbp.load(str(path))


def test_load_names_the_member_it_cannot_read(tmp_path: Path) -> None:
    """A member whose bytes were altered after writing (CRC mismatch, zipfile.BadZipFile while
    reading it): "load: <path> is corrupt: cannot read 'W0' (...)".

    Kills refbp.io.x__read__mutmut_33 (the message dropped).
    """
    from refbp.errors import FormatError

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
    """Kills refbp.io.x_load__mutmut_48 (``loss is None and ...``: a float "loss" reaches MLP
    as the name "1.0") and _56 (the message dropped)."""
    from refbp.errors import FormatError

    path = _archive(tmp_path / "loss.npz", loss=loss)
    what = f": expected 'loss' to be one name, got {shown}"
    with pytest.raises(FormatError, match=_refused(path, what)):
        refbp.load(path)


# --- refbp/activations.py ---------------------------------------------------------------


def test_registering_an_activation_name_twice_is_refused_by_name() -> None:
    """Kills refbp.activations.x__register__mutmut_2 (the duplicate-name message dropped)."""
    from refbp import activations as acts

    original = acts.ACTIVATIONS["relu"]
    with pytest.raises(ValueError, match=r"^activation 'relu' is registered twice$"):
        acts._register(acts.Activation("relu", lambda z: z, None))
    assert acts.ACTIVATIONS["relu"] is original


def test_an_activation_name_that_is_not_a_string_is_refused_with_its_type() -> None:
    """``get_activation``: who complained (default "refbp"), what was expected and what came.

    Kills refbp.activations.x_get_activation__mutmut_1 and _2 (default ``where`` altered),
    _4 (message dropped) and _5 (the type reported is NoneType).
    """
    from refbp.activations import get_activation

    with pytest.raises(DTypeError, match=r"^refbp: activation names must be strings, got int 3$"):
        get_activation(3)
    with pytest.raises(TypeError, match=r"^MLP: activation names must be strings, got bytes b'x'$"):
        get_activation(b"x", where="MLP")


def test_elementwise_derivatives_of_integer_input_are_float64() -> None:
    """``_blockwise`` computes into float64 when z is not a float array.

    tanh'(z) = 1/cosh²(z) and σ'(z) = σ(z)(1 − σ(z)), written directly.  Kills
    refbp.activations.x__blockwise__mutmut_3 (the output takes z's integer dtype).
    """
    z = np.array([[0, 1, -2], [3, -1, 2]])
    zf = z.astype(np.float64)
    d_tanh = ACTIVATIONS["tanh"].derivative(z, np.tanh(zf))
    s = 1.0 / (1.0 + np.exp(-zf))
    d_sig = ACTIVATIONS["sigmoid"].derivative(z, s)
    assert d_tanh.dtype == np.float64 and d_sig.dtype == np.float64
    np.testing.assert_allclose(d_tanh, 1.0 / np.cosh(zf) ** 2, rtol=1e-14)
    np.testing.assert_allclose(d_sig, s * (1.0 - s), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_derivatives_of_arrays_larger_than_one_block(dtype: type) -> None:
    """More elements than one ``_blockwise`` block (2**19 bytes: 65536 float64, 131072
    float32), and not a multiple of it: the same values as the formula written directly.

    Kills refbp.activations.x__blockwise__mutmut_14 (block = bytes / itemsize, a float:
    ``range`` refuses it once the array needs more than one block).
    """
    z = np.linspace(-6.0, 6.0, 400 * 401).reshape(400, 401)
    d = ACTIVATIONS["tanh"].derivative(z.astype(dtype), np.tanh(z).astype(dtype))
    assert d.dtype == dtype and d.shape == z.shape
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(d, 1.0 / np.cosh(z) ** 2, rtol=tol, atol=tol * 1e-3)


@pytest.mark.parametrize(("dtype", "big"), [(np.float32, 1e13), (np.float32, 3e38), (np.float64, 1e300)])
def test_gelu_is_quiet_and_exact_far_beyond_the_clip(dtype: type, big: float) -> None:
    """activations.py: "no overflow, no NaN, no RuntimeWarning" for pre-activations far beyond
    ±1e4.  There gelu(z) = z·σ(2u) is exactly z (z > 0) or 0 (z < 0), and gelu' is 1 or 0.

    z³ overflows float32 at |z| ≈ 7e12 and float64 at |z| ≈ 6e102, so the clip at ±1e3 must
    hold on both sides.  Kills refbp.activations.x__gelu_parts__mutmut_3 (no lower clip) and
    _4 (no upper clip).
    """
    z = np.array([[big, -big], [-big, big]], dtype=dtype)
    gelu = ACTIVATIONS["gelu"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = gelu.forward(z)
        d = gelu.derivative(z, a)
    assert a.dtype == dtype and d.dtype == dtype
    np.testing.assert_array_equal(a, np.array([[big, 0.0], [0.0, big]], dtype=dtype))
    np.testing.assert_array_equal(d, np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype))


# --- refbp/_validate.py -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["bogus", object()])
def test_a_dtype_numpy_cannot_interpret_is_refused_with_the_value(dtype: object) -> None:
    """``float_dtype``: a value that is not a dtype at all (np.dtype raises TypeError) gets
    the same message as an unsupported dtype.  Kills refbp._validate.x_float_dtype__mutmut_3
    (that message dropped)."""
    msg = f"MLP.init: dtype must be float32 or float64, got {dtype!r}"
    with pytest.raises(DTypeError, match=f"^{re.escape(msg)}$"):
        MLP.init([2, 1], ["identity"], "mse", dtype=dtype)  # type: ignore[arg-type]


def test_cast_returns_the_same_array_when_no_conversion_is_needed() -> None:
    """_validate's docstring: conversions return new arrays, "or the same array when no
    conversion is needed"; ``copy=True`` always returns a new one.

    Kills refbp._validate.x_cast__mutmut_1 (default ``copy=True``: every input is copied).
    """
    from refbp import _validate

    a = np.ones((2, 3))
    assert _validate.cast(a, np.dtype(np.float64), "X", "t") is a
    b = _validate.cast(a, np.dtype(np.float64), "X", "t", copy=True)
    assert b is not a and not np.shares_memory(a, b)
    c = _validate.cast(a, np.dtype(np.float32), "X", "t")
    assert c.dtype == np.float32 and not np.shares_memory(a, c)


def test_batch_matrix_messages_name_the_argument_and_hint_at_reshape() -> None:
    """X that is not numeric, and a 1-D X (one sample): the messages name X and, for 1-D,
    say how to make one row.

    Kills refbp._validate.x_batch_matrix__mutmut_3 (the name passed on as None), _10, _11,
    _13, _14 (the reshape hint replaced by None or missing for 1-D) and _12, _15 (a hint, or
    "XXXX", added for 3-D).
    """
    net = MLP([np.ones((2, 1))], [np.zeros(1)], ["identity"], "mse")
    with pytest.raises(DTypeError, match=r"^MLP\.predict: X must be a numeric array, got str$"):
        net.predict("ab")  # type: ignore[arg-type]
    msg = (
        "MLP.predict: X must be 2-D (batch, 2), got 1-D shape (2,); "
        "for one sample use X.reshape(1, -1)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        net.predict(np.ones(2))
    msg = "MLP.predict: X must be 2-D (batch, 2), got 3-D shape (1, 1, 2)"  # no hint here
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        net.predict(np.ones((1, 1, 2)))


def _probability_net(dtype: type = np.float64) -> MLP:
    return MLP(
        [np.ones((1, 3), dtype=dtype)], [np.zeros(3, dtype=dtype)], ["identity"],
        "softmax_cross_entropy",
    )


@pytest.mark.parametrize(
    ("Y", "row", "total"),
    [
        ([[0.2, 0.3, 0.5], [0.25, 0.25, 0.0]], 1, 0.5),  # the bad row is not row 0
        ([[0.25, 0.25, 0.0], [0.2, 0.3, 0.5]], 0, 0.5),  # ... and not the row with the largest sum
        ([[0.5, 0.5, 0.5], [0.2, 0.3, 0.5]], 0, 1.5),  # a sum above 1
    ],
)
def test_probability_targets_name_the_row_that_does_not_sum_to_1(
    Y: list[list[float]], row: int, total: float
) -> None:
    """``targets``: the row reported is the one farthest from summing to 1.

    Kills refbp._validate.x_targets__mutmut_55 (row 0 always), _57 (|Σ + 1|: the largest sum)
    and _58 (|Σ − 2|: a row summing to 1.5 is not the farthest from 2).
    """
    from refbp.errors import TargetError

    msg = (
        f"MLP.evaluate: softmax_cross_entropy needs rows of Y that sum to 1, "
        f"got row {row} summing to {total}"
    )
    with pytest.raises(TargetError, match=f"^{re.escape(msg)}$"):
        _probability_net().evaluate(np.ones((2, 1)), np.array(Y))


def test_float32_probability_rows_are_summed_in_float64() -> None:
    """Row sums are taken in float64, so a float32 row is judged on its exact sum.

    y = [0.5, 0.25, 0.25 + 6710·2⁻²⁶] (all exact in float32) sums exactly to
    1 + 9.99868e-5, inside the 1e-4 tolerance; summed in float32 it rounds to
    1 + 839·2⁻²³ = 1 + 1.000017e-4 and would be refused.  Kills
    refbp._validate.x_targets__mutmut_49 and _51 (the sum taken in Y's dtype).
    """
    third = 0.25 + 6710 * 2.0**-26
    assert float(np.float32(third)) == third
    Y = np.array([[0.5, 0.25, third]], dtype=np.float32)
    c = _probability_net(np.float32).evaluate(np.ones((1, 1), dtype=np.float32), Y)
    # all logits equal: C = −Σ y log(1/3) = log 3 · Σ y
    assert c == pytest.approx(np.log(3.0) * (1.0 + 6710 * 2.0**-26), rel=1e-6)


@pytest.mark.parametrize(("lr", "kind"), [("0.1", "str"), (True, "bool"), (None, "NoneType")])
def test_train_refuses_a_learning_rate_that_is_not_a_real_number(lr: object, kind: str) -> None:
    """``real``: bools and non-numbers are refused by name and type.

    Kills refbp._validate.x_real__mutmut_3 (``or`` -> ``and``: "0.1" reaches float() and is
    accepted), _5 (message dropped) and _6 (type reported as NoneType).
    """
    net = MLP([np.ones((1, 1))], [np.zeros(1)], ["identity"], "mse")
    msg = f"train: lr must be a real number, got {kind}"
    with pytest.raises(DTypeError, match=f"^{re.escape(msg)}$"):
        refbp.train(net, np.ones((2, 1)), np.ones((2, 1)), lr=lr)  # type: ignore[arg-type]


def test_train_refuses_a_batch_size_that_is_not_an_int_with_its_type() -> None:
    """Kills refbp._validate.x_positive_int__mutmut_5 (type reported as NoneType)."""
    net = MLP([np.ones((1, 1))], [np.zeros(1)], ["identity"], "mse")
    with pytest.raises(DTypeError, match=r"^train: batch_size must be an int, got float 2\.0$"):
        refbp.train(net, np.ones((2, 1)), np.ones((2, 1)), batch_size=2.0)  # type: ignore[arg-type]


# --- refbp/network.py ------------------------------------------------------------------

_TOO_LARGE = (
    "came out non-finite although every input was finite; the inputs or weights are too "
    "large for this dtype (rescale them, or lower lr)"
)


def _one_unit(w: float) -> MLP:
    """One identity layer, one input and one output, loss mse: z = x·w, C = (z − y)²,
    δ = 2(z − y), ∂C/∂W = x·δ, ∂C/∂b = δ, ∂C/∂X = δ·w (B = 1)."""
    return MLP([np.array([[w]])], [np.zeros(1)], ["identity"], "mse")


def test_backprop_says_the_loss_came_out_non_finite() -> None:
    """x = 1e200, w = 1: z = 1e200 is finite, C = z² = 1e400 overflows to inf.

    Kills refbp.network.xǁMLPǁ_backprop__mutmut_14, _17, _18 (the "the loss" part of the
    message: None, "XXthe lossXX", "THE LOSS").
    """
    with pytest.raises(refbp.NumericalError) as e:
        _one_unit(1.0).backprop(np.array([[1e200]]), np.array([[0.0]]))
    assert str(e.value) == f"MLP.backprop: the loss {_TOO_LARGE}"


def test_evaluate_says_the_loss_came_out_non_finite() -> None:
    """As above, through ``evaluate`` (its own check and message).

    Kills refbp.network.xǁMLPǁevaluate__mutmut_36–_41 (where / "the loss" -> None, dropped
    or altered in evaluate's non-finite-loss message).
    """
    with pytest.raises(refbp.NumericalError) as e:
        _one_unit(1.0).evaluate(np.array([[1e200]]), np.array([[0.0]]))
    assert str(e.value) == f"MLP.evaluate: the loss {_TOO_LARGE}"


def test_a_gradient_that_overflows_names_its_layer_though_the_bias_gradient_is_finite() -> None:
    """x = 1e308, w = 1e-308: z ≈ 1, C ≈ 1 and ∂C/∂b = δ ≈ 2 are finite, ∂C/∂X = δ·w ≈ 2e-308
    too, but ∂C/∂W = x·δ ≈ 2e308 overflows.  Only the weight gradient is non-finite.

    Kills refbp.network.xǁMLPǁ_backprop__mutmut_28 (``and`` -> ``or``: a finite ∂C/∂b let the
    layer pass), _31, _32 (``where`` / the "gradient of layer" part -> None), _33, _34 (an
    argument dropped: TypeError), _35, _36 (the layer numbered i − 1 / i + 2, not i + 1).
    """
    with pytest.raises(refbp.NumericalError) as e:
        _one_unit(1e-308).backprop(np.array([[1e308]]), np.array([[0.0]]))
    assert str(e.value) == f"MLP.backprop: the gradient of layer 1 {_TOO_LARGE}"


def test_a_grad_input_that_overflows_is_named() -> None:
    """x = 1e-308, w = 1e308: z ≈ 1, ∂C/∂W = x·δ ≈ 2e-308 and ∂C/∂b ≈ 2 are finite,
    ∂C/∂X = δ·w ≈ 2e308 overflows.

    Kills refbp.network.xǁMLPǁ_backprop__mutmut_39–_44 (where / "∂C/∂X" -> None, dropped or
    altered in the message).
    """
    with pytest.raises(refbp.NumericalError) as e:
        _one_unit(1e308).backprop(np.array([[1e-308]]), np.array([[0.0]]))
    assert str(e.value) == f"MLP.backprop: ∂C/∂X {_TOO_LARGE}"


@pytest.mark.parametrize("method", ["forward", "predict", "evaluate", "backprop"])
def test_a_parameter_made_non_finite_in_place_is_named_with_the_method(method: str) -> None:
    """``weights`` hands out the network's own arrays; a NaN written into one after
    construction makes the result non-finite, and the error names the parameter and the
    method that found it.

    Kills refbp.network.xǁMLPǁ_backprop__mutmut_12 and _check_output__mutmut_3
    (``_diagnose_parameters(None)``: the message starts "None: "); forward__mutmut_12, _17,
    _18, _19, predict__mutmut_14, _17, _18, _19 and evaluate__mutmut_23 (the ``where`` given
    to ``_check_output``, which it hands on); forward__mutmut_16 (the output check reads
    ``activations[-2]``, the finite hidden layer, and lets the NaN output through).
    """
    net = MLP([np.ones((2, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)],
              ["tanh", "identity"], "mse")  # fmt: skip
    net.weights[1][1, 0] = np.nan
    args = (np.ones((3, 2)),) if method in ("forward", "predict") else (np.ones((3, 2)), np.ones((3, 1)))
    with pytest.raises(refbp.NonFiniteError) as e:
        getattr(net, method)(*args)
    assert str(e.value) == f"MLP.{method}: weights[1] must be finite, got nan at index (1, 0)"


@pytest.mark.parametrize("method", ["forward", "predict", "evaluate"])
def test_an_output_that_overflows_is_named_with_the_method(method: str) -> None:
    """x = 1e200, w = 1e200: the output z = 1e400 overflows to inf, every parameter finite.

    Kills refbp.network.xǁMLPǁforward__mutmut_12, _17, _18, _19, predict__mutmut_14, _17,
    _18, _19 and evaluate__mutmut_23 (the ``where`` given to ``_check_output``: None or
    altered), forward__mutmut_15, _16 (the output check reads ``activations[+1]`` /
    ``[-2]``: an IndexError with one layer), and _check_output__mutmut_4–_9 (its message:
    where / "the output" -> None, dropped (TypeError) or altered).
    """
    args = (np.array([[1e200]]),) + ((np.array([[0.0]]),) if method == "evaluate" else ())
    with pytest.raises(refbp.NumericalError) as e:
        getattr(_one_unit(1e200), method)(*args)
    assert str(e.value) == f"MLP.{method}: the output {_TOO_LARGE}"


@pytest.mark.parametrize("method", ["forward", "predict", "evaluate", "backprop"])
def test_input_and_target_errors_name_the_method(method: str) -> None:
    """A network of 2 inputs and 1 output given X with 5 columns, then Y with 4 columns.

    Kills refbp.network.xǁMLPǁforward__mutmut_3, _6, _7, _8 (``_inputs(X, where)`` with
    where None / "XXMLP.forwardXX" / "mlp.forward" / "MLP.FORWARD"), and the same changes to
    the ``where`` of predict, evaluate and backprop.
    """
    net = MLP([np.ones((2, 1))], [np.zeros(1)], ["identity"], "mse")
    call = getattr(net, method)
    with_y = method in ("evaluate", "backprop")
    with pytest.raises(refbp.ShapeError) as e:
        call(np.ones((3, 5)), np.ones((3, 1))) if with_y else call(np.ones((3, 5)))
    assert str(e.value) == (
        f"MLP.{method}: X must have 2 columns to match the network, got shape (3, 5)"
    )
    if with_y:
        with pytest.raises(refbp.ShapeError) as e:
            call(np.ones((3, 2)), np.ones((3, 4)))
        assert str(e.value) == (
            f"MLP.{method}: Y must have shape (3, 1) to match X and the output layer, got (3, 4)"
        )


@pytest.mark.parametrize("method", ["evaluate", "backprop"])
def test_a_saturated_probability_output_is_named_with_method_activation_and_range(
    method: str,
) -> None:
    """identity, identity, softmax layers of one unit: a softmax of one unit is exactly 1.0,
    where binary cross-entropy is infinite for y = 0.5 (a saturated sigmoid is no longer
    refused: its loss and δᴸ come from z, see tests/test_stability.py).  The refusal names
    the method, the output activation (softmax, not a hidden identity) and the range.
    """
    net = MLP(
        [np.array([[1.0]]), np.array([[1.0]]), np.array([[100.0]])],
        [np.zeros(1)] * 3,
        ["identity", "identity", "softmax"],
        "binary_cross_entropy",
    )
    X = np.array([1.0, -10.0]).reshape(-1, 1)
    with pytest.raises(refbp.NumericalError) as e:
        getattr(net, method)(X, np.full_like(X, 0.5))
    assert str(e.value) == (
        f"MLP.{method}: binary_cross_entropy needs outputs strictly inside (0, 1), but the "
        "softmax output saturated to 1.0..1.0 in float64; train on logits with "
        "'sigmoid_cross_entropy' instead"
    )


def test_repr_lists_sizes_activations_loss_and_dtype() -> None:
    """Kills refbp.network.xǁMLPǁ__repr____mutmut_1 (``list(None)``: repr raises TypeError)."""
    net = MLP([np.ones((2, 3), np.float32), np.ones((3, 1))], [np.zeros(3), np.zeros(1)],
              ["tanh", "identity"], "mse")  # fmt: skip
    assert repr(net) == (
        "MLP(sizes=[2, 3, 1], activations=['tanh', 'identity'], loss='mse', dtype=float32)"
    )


def test_a_bias_made_non_finite_in_place_is_named() -> None:
    """``biases`` hands out the network's own arrays too; the diagnosis names a bias.

    Kills refbp.network.xǁMLPǁ_diagnose_parameters__mutmut_16 (the bias is named None).
    """
    net = MLP([np.ones((2, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)],
              ["tanh", "identity"], "mse")  # fmt: skip
    net.biases[1][0] = np.nan
    with pytest.raises(refbp.NonFiniteError) as e:
        net.backprop(np.ones((3, 2)), np.ones((3, 1)))
    assert str(e.value) == "MLP.backprop: biases[1] must be finite, got nan at index (0,)"


_W2 = [np.ones((2, 3)), np.ones((3, 1))]
_B2 = [np.zeros(3), np.zeros(1)]
_A2 = ["tanh", "identity"]
_F32_THEN_HUGE = [np.ones((2, 3), np.float32), np.full((3, 1), 1e300)]


@pytest.mark.parametrize(
    ("args", "kind", "message"),
    [
        pytest.param(
            (np.ones((1, 2, 2)), [np.zeros(2)], ["tanh"], "mse"), refbp.DTypeError,
            "MLP: weights must be a list of 2-D arrays, one per layer", id="weights-one-array",
        ),
        pytest.param(
            ([np.ones((2, 2))], np.zeros((1, 2)), ["tanh"], "mse"), refbp.DTypeError,
            "MLP: biases must be a list of 1-D arrays, one per layer", id="biases-one-array",
        ),
        pytest.param(
            (dict(enumerate(_W2)).values(), _B2, _A2, "mse"), refbp.DTypeError,
            "MLP: weights must be a list of 2-D arrays, one per layer", id="weights-not-a-sequence",
        ),
        pytest.param(
            (_W2, dict(enumerate(_B2)).values(), _A2, "mse"), refbp.DTypeError,
            "MLP: biases must be a list of 1-D arrays, one per layer", id="biases-not-a-sequence",
        ),
        pytest.param(
            (_W2, _B2, "tanh", "mse"), refbp.DTypeError,
            "MLP: activations must be a list of names, one per layer, got str",
            id="activations-a-string",
        ),
        pytest.param(
            (["ab", _W2[1]], _B2, _A2, "mse"), refbp.DTypeError,
            "MLP: weights[0] must be a numeric array, got str", id="weights0-not-numeric",
        ),
        pytest.param(
            ([_W2[0], "ab"], _B2, _A2, "mse"), refbp.DTypeError,
            "MLP: weights[1] must be a numeric array, got str", id="weights1-not-numeric",
        ),
        pytest.param(
            (_W2, [_B2[0], "ab"], _A2, "mse"), refbp.DTypeError,
            "MLP: biases[1] must be a numeric array, got str", id="biases1-not-numeric",
        ),
        pytest.param(
            ([_W2[0], np.ones((3, 0))], [_B2[0], np.zeros(0)], _A2, "mse"), refbp.ShapeError,
            "MLP: weights[1] has an empty dimension: (3, 0)", id="empty-dimension",
        ),
        pytest.param(
            ([_W2[0], np.ones((3, 2)), np.ones((3, 1))], [_B2[0], np.zeros(2), np.zeros(1)],
             ["tanh", "tanh", "identity"], "mse"), refbp.ShapeError,
            "MLP: weights do not chain: weights[1] has shape (3, 2) so weights[2] must have 2 "
            "rows, got shape (3, 1)", id="third-layer-does-not-chain",
        ),
        pytest.param(
            (_F32_THEN_HUGE, _B2, _A2, "mse"), refbp.NonFiniteError,
            "MLP: weights[1] must fit in the network's dtype float32, got 1e+300 at index "
            "(0, 0), which overflows to inf", id="weight-overflows-float32",
        ),
        pytest.param(
            ([_F32_THEN_HUGE[0], _W2[1]], [_B2[0], np.array([1e300])], _A2, "mse"),
            refbp.NonFiniteError,
            "MLP: biases[1] must fit in the network's dtype float32, got 1e+300 at index (0,), "
            "which overflows to inf", id="bias-overflows-float32",
        ),
        pytest.param(
            ([_W2[0], np.ones((3, 2)), np.ones((2, 1))], [_B2[0], np.zeros(2), np.zeros(1)],
             ["tanh", "sigmoid", "tanh"], "binary_cross_entropy"), refbp.ConfigError,
            "MLP: loss 'binary_cross_entropy' needs probabilities in (0, 1), so the output "
            "activation must be one of ['sigmoid', 'softmax'], got 'tanh' (for logits use "
            "'sigmoid_cross_entropy')", id="three-layers-output-not-a-probability",
        ),
    ],
)  # fmt: skip
def test_constructor_errors_name_the_argument_exactly(
    args: tuple[object, ...], kind: type[Exception], message: str
) -> None:
    """``MLP(...)``: who complained, which argument (and which layer), what came.

    Kills refbp.network.xǁMLPǁ__init____mutmut_2 ("XXMLPXX"), _4, _7 (``or`` -> ``and``: a
    container that is neither an ndarray nor a Sequence, here a dict's values, was let
    through and failed later with a bare TypeError), _6, _9, _85 (messages -> None), _15, _20, _21, _28, _29, _34, _35, _68, _69,
    _75, _76, _133, _134 (the argument's name or ``where`` handed to the check -> None or
    altered), _95, _96 (the previous layer numbered i + 1 / i − 2: only a chain error at
    the third layer tells them apart from i − 1), _166 (the output activation read as
    ``_acts[+1]``, which is the output only in a two-layer network), _168, _169 (the
    logits hint altered).
    """
    with pytest.raises(kind) as e:
        MLP(*args)  # type: ignore[arg-type]
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("kwargs", "kind", "message"),
    [
        ({"activations": "tanh"}, refbp.DTypeError,
         "MLP.init: activations must be a list of names, one per layer, got str"),
        ({"loss": "msee"}, refbp.UnknownNameError,
         "MLP.init: unknown loss 'msee'; valid names are ['binary_cross_entropy', 'huber', "
         "'l1', 'mse', 'quadratic', 'sigmoid_cross_entropy', 'softmax_cross_entropy']"),
        ({"scheme": "lecun"}, refbp.UnknownNameError,
         "MLP.init: unknown scheme 'lecun'; valid are ['auto', 'he', 'glorot']"),
    ],
)  # fmt: skip
def test_init_errors_name_the_argument_exactly(
    kwargs: dict[str, object], kind: type[Exception], message: str
) -> None:
    """Kills refbp.network.xǁMLPǁinit__mutmut_25, _26, _30, _31 (the activations check told
    None / an altered name or ``where``), _44, _46 (an unknown loss reported without
    "MLP.init"), _48, _49 (the scheme message -> None / ``list(None)``).
    """
    call: dict[str, object] = {"sizes": [2, 3], "activations": ["tanh"], "loss": "mse"}
    with pytest.raises(kind) as e:
        MLP.init(**{**call, **kwargs})  # type: ignore[arg-type]
    assert str(e.value) == message


def _documented_draws(
    sizes: list[int], he: list[bool], seed: int
) -> list[np.ndarray]:
    """MLP.init's docstring written out: one ``default_rng(seed)``, layer by layer, He normal
    N(0, 2/fan_in) or Glorot uniform U(±√(6/(fan_in + fan_out))), drawn in float64."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out, use_he in zip(sizes[:-1], sizes[1:], he, strict=True):
        if use_he:
            out.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)))
        else:
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            out.append(rng.uniform(-bound, bound, size=(fan_in, fan_out)))
    return out


_INIT_ACTS = ["relu", "tanh", "elu", "leaky_relu", "identity"]


@pytest.mark.parametrize(
    ("scheme", "he"),
    [("auto", [True, False, True, True, False]), ("he", [True] * 5), ("glorot", [False] * 5)],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_init_draws_the_documented_weights_and_zero_biases(
    scheme: str, he: list[bool], dtype: type
) -> None:
    """He for relu/leaky_relu/elu layers and Glorot for the rest under ``auto``, one scheme
    for all otherwise; seed 0 by default; float32 holds the float64 draws rounded.

    Kills refbp.network.xǁMLPǁinit__mutmut_1 (default seed 1), _70–_79 (the choice of He or
    Glorot: None, ``and``/``or`` swapped, ``!=``, altered names, ``not in``), _84, _85, _87,
    _89, _90 (He's mean or standard deviation altered or dropped), _93, _94, _101 (Glorot's
    bound altered, or U(−bound, 1)).
    """
    sizes = [3, 4, 5, 6, 7, 2]
    net = MLP.init(sizes, _INIT_ACTS, "mse", dtype=dtype, scheme=scheme)
    for got, want in zip(net.weights, _documented_draws(sizes, he, seed=0), strict=True):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want.astype(dtype))
    for got, n in zip(net.biases, sizes[1:], strict=True):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, np.zeros(n))
    seeded = MLP.init(sizes, _INIT_ACTS, "mse", dtype=dtype, seed=7, scheme=scheme)
    for got, want in zip(seeded.weights, _documented_draws(sizes, he, seed=7), strict=True):
        np.testing.assert_array_equal(got, want.astype(dtype))
