"""refbp's exceptions: each a RefbpError and a builtin ValueError or TypeError.

The contract only promises ValueError / TypeError (docs/contract.md); refbp's classes say
more, and ``except ValueError`` still catches them.  Each refusal's message is pinned by the
test of its subject (test_inputs.py, test_construction.py, test_init.py,
test_train_arguments.py, test_numerical_errors.py, test_io_refusals.py, test_registries.py).
"""

from __future__ import annotations

import refbp
from refbp.errors import RefbpError


def test_every_refusal_is_a_refbp_error_and_a_builtin() -> None:
    for cls in (
        refbp.ShapeError,
        refbp.NonFiniteError,
        refbp.TargetError,
        refbp.UnknownNameError,
        refbp.NumericalError,
    ):
        assert issubclass(cls, RefbpError) and issubclass(cls, ValueError)
    assert issubclass(refbp.DTypeError, RefbpError) and issubclass(refbp.DTypeError, TypeError)


def test_format_error_is_a_refbp_value_error() -> None:
    assert issubclass(refbp.errors.FormatError, RefbpError)
    assert issubclass(refbp.errors.FormatError, ValueError)
