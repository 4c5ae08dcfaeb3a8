"""refbp: a hand-written NumPy backpropagation reference, checked against a JAX oracle.

Runtime dependency: NumPy only.  See ``refbp.network`` for the four equations.
"""

from refbp.activations import ACTIVATIONS, Activation
from refbp.errors import (
    ConfigError,
    DTypeError,
    FormatError,
    NonFiniteError,
    NumericalError,
    RefbpError,
    ShapeError,
    TargetError,
    UnknownNameError,
)
from refbp.io import load, save
from refbp.layers import DenseCache, DenseGrads, dense_backward, dense_forward
from refbp.losses import LOSSES, Loss
from refbp.network import MLP, Backprop, Forward
from refbp.train import batch_indices, train

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "MLP",
    "Activation",
    "Backprop",
    "ConfigError",
    "DTypeError",
    "DenseCache",
    "DenseGrads",
    "FormatError",
    "Forward",
    "Loss",
    "NonFiniteError",
    "NumericalError",
    "RefbpError",
    "ShapeError",
    "TargetError",
    "UnknownNameError",
    "__version__",
    "batch_indices",
    "dense_backward",
    "dense_forward",
    "load",
    "save",
    "train",
]
