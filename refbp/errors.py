"""refbp's exceptions.

Each subclasses ``ValueError`` or ``TypeError`` so that callers who catch the builtin
exceptions keep working; the subclass says which kind of mistake it was.  Messages name
the function that complained, what it expected and what it got.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DTypeError",
    "FormatError",
    "NonFiniteError",
    "NumericalError",
    "RefbpError",
    "ShapeError",
    "TargetError",
    "UnknownNameError",
]


class RefbpError(Exception):
    """Base of every refbp exception."""


class ShapeError(RefbpError, ValueError):
    """An array has the wrong number of dimensions or the wrong shape."""


class DTypeError(RefbpError, TypeError):
    """An argument has the wrong type or an unsupported dtype."""


class FormatError(RefbpError, ValueError):
    """A file that is not what it should be (e.g. not an archive written by ``refbp.save``)."""


class NonFiniteError(RefbpError, ValueError):
    """NaN or infinity in data or parameters."""


class TargetError(RefbpError, ValueError):
    """Targets that are not valid for the chosen loss (e.g. not probabilities)."""


class UnknownNameError(RefbpError, ValueError):
    """An activation or loss name that is not in the registry."""


class NumericalError(RefbpError, ValueError):
    """A computation overflowed or produced NaN although every input was finite."""


class ConfigError(RefbpError, ValueError):
    """Valid pieces that do not fit together, or a setting outside its range (lr <= 0, ...)."""
