"""The tolerance model's pieces, for the tests of single functions and of training.

The model itself, with its derivation, is ``oracle.engine.tolerance``: the one every target
is judged by.  These names are the ones the function and training tests use.
"""

from oracle.engine.tolerance import bound_factor, perturbation, perturbed_copies
from oracle.engine.tolerance import norm as _norm

__all__ = ["_norm", "bound_factor", "perturbation", "perturbed_copies"]
