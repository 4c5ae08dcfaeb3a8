"""The learning curve ``refbp train`` writes: loss per epoch, and accuracy beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Curves", "plot"]


@dataclass
class Curves:
    """Per epoch: training loss (refbp.train's history), held-out loss and, for
    classification, the accuracy on the training and the held-out rows after the epoch."""

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)


def plot(curves: Curves, path: Path, title: str) -> bool:
    """Write the PNG; False (and nothing written) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    accuracy = bool(curves.train_accuracy)
    fig, axes = plt.subplots(1, 2 if accuracy else 1, figsize=(10 if accuracy else 6, 4))
    loss_ax = axes[0] if accuracy else axes
    epochs = np.arange(1, len(curves.train_loss) + 1)
    loss_ax.plot(epochs, curves.train_loss, label="training loss")
    loss_ax.plot(epochs, curves.test_loss, label="held-out loss")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.set_yscale("log")
    loss_ax.set_title(title)
    loss_ax.legend()
    if accuracy:
        acc_ax = axes[1]
        acc_ax.plot(epochs, curves.train_accuracy, label="training accuracy")
        acc_ax.plot(epochs, curves.test_accuracy, label="held-out accuracy")
        acc_ax.set_xlabel("epoch")
        acc_ax.set_ylabel("accuracy")
        acc_ax.set_ylim(0.0, 1.02)  # a curve at 1 stays visible above the frame
        acc_ax.set_title("accuracy after each epoch")
        acc_ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
