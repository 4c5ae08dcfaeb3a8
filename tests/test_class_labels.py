"""Integer class labels (B,) wherever softmax cross-entropy takes one-hot rows (B, O).

Labels are one-hot encoded inside refbp: the results equal those of the one-hot rows bit for
bit, the caller's array is never modified, and a label outside [0, O) or a float array of
shape (B,) is refused with the fix.  Losses that take no labels say how to encode them.
"""

from __future__ import annotations

import numpy as np
import pytest

import refbp


def _net(
    loss: str = "softmax_cross_entropy", outputs: int = 3, dtype: type = np.float64
) -> refbp.MLP:
    acts = ["tanh", "sigmoid" if loss == "binary_cross_entropy" else "identity"]
    return refbp.MLP.init([2, 4, outputs], acts, loss, dtype=dtype, seed=0)


X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0], [0.0, 1.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8])
def test_labels_give_the_one_hot_results_exactly(dtype: type, label_dtype: type) -> None:
    net = _net(dtype=dtype)
    labels = np.array([2, 0, 1, 2], dtype=label_dtype)
    kept = labels.copy()
    a, b = net.backprop(X, labels), net.backprop(X, np.eye(3)[labels])
    assert a.loss == b.loss
    for got, want in zip([*a.grad_weights, *a.deltas, a.grad_input],
                         [*b.grad_weights, *b.deltas, b.grad_input], strict=True):  # fmt: skip
        assert got.dtype == dtype and np.array_equal(got, want)
    assert net.evaluate(X, labels) == net.evaluate(X, np.eye(3)[labels])
    assert np.array_equal(labels, kept) and labels.dtype == label_dtype  # not mutated


def test_train_accepts_labels_and_follows_the_one_hot_run() -> None:
    labels = np.array([2, 0, 1, 2])
    n1, n2 = _net(), _net()
    h1 = refbp.train(n1, X, labels, lr=0.5, batch_size=2, epochs=5, seed=3)
    h2 = refbp.train(n2, X, np.eye(3)[labels], lr=0.5, batch_size=2, epochs=5, seed=3)
    assert h1 == h2 and h1[-1] < h1[0]
    assert all(np.array_equal(p, q) for p, q in zip(n1.weights, n2.weights, strict=True))
    assert labels.tolist() == [2, 0, 1, 2]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 1, 3, 1], "class labels must be in [0, 3) for 3 output units, got 3 at index 2"),
        ([0, -1, 2, 1], "class labels must be in [0, 3) for 3 output units, got -1 at index 1"),
    ],
)
def test_a_label_outside_the_outputs_is_refused_with_the_range(
    labels: list[int], message: str
) -> None:
    with pytest.raises(refbp.TargetError) as exc:
        _net().backprop(X, np.array(labels))
    assert str(exc.value) == f"MLP.backprop: {message}"


def test_float_labels_are_refused_with_the_fix() -> None:
    with pytest.raises(refbp.TargetError) as exc:
        refbp.train(_net(), X, np.array([0.0, 1.0, 2.0, 1.0]))
    assert str(exc.value) == (
        "train: Y of shape (4,) is read as class labels, which must be integers in [0, 3), "
        "got dtype float64; pass Y.astype(int) for labels, or one-hot rows of shape (4, 3)"
    )


def test_losses_without_labels_say_how_to_encode_them() -> None:
    with pytest.raises(refbp.ShapeError) as exc:
        _net("mse").backprop(X, np.array([0, 1, 2, 1]))
    assert str(exc.value) == (
        "MLP.backprop: Y must have shape (4, 3) to match X and the output layer, got (4,); "
        "mse takes no class labels: one-hot encode them, np.eye(3)[Y], or use "
        "softmax_cross_entropy, which accepts them"
    )
    with pytest.raises(refbp.ShapeError) as exc:
        _net("binary_cross_entropy", outputs=1).backprop(X, np.array([0.0, 1.0, 1.0, 0.0]))
    assert str(exc.value).endswith("got (4,); for one output per row pass Y.reshape(-1, 1)")


def test_labels_of_the_wrong_length_are_a_shape_error() -> None:
    with pytest.raises(refbp.ShapeError, match=r"must have shape \(4, 3\) .* got \(3,\)$"):
        _net().backprop(X, np.array([0, 1, 2]))
