"""The JAX configuration the oracle computes under, whatever its caller has set.

The oracle's formulas are written for float64 (``jax_enable_x64``), NumPy's broadcasting
and dtype promotion, jitted code (op by op, XLA rounds differently: not the same bits),
the default matmul precision, and no NaN or inf checks (which would turn an intermediate
infinity into an error).  A target under test may set any of these for its own
computations: a JAX target in float32 switches x64 off, a careful one sets
``jax_numpy_rank_promotion`` to ``"raise"``; before these overrides the first made the
oracle compute in float32 and the second made it raise.
Each entry point of the oracle runs under ``ORACLE_SETTINGS`` as thread-local overrides,
entered only for the settings that differ, so the caller's own settings are neither
obeyed by the oracle nor changed by it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, ParamSpec, TypeVar

import jax

__all__ = ["ORACLE_SETTINGS", "oracle_numerics"]

P = ParamSpec("P")
R = TypeVar("R")

ORACLE_SETTINGS: tuple[tuple[str, object, Callable[[Any], Any]], ...] = (
    ("jax_enable_x64", True, jax.enable_x64),
    ("jax_numpy_rank_promotion", "allow", jax.numpy_rank_promotion),
    ("jax_numpy_dtype_promotion", "standard", jax.numpy_dtype_promotion),
    ("jax_debug_nans", False, jax.debug_nans),
    ("jax_debug_infs", False, jax.debug_infs),
    ("jax_disable_jit", False, jax.disable_jit),
    ("jax_default_matmul_precision", None, jax.default_matmul_precision),
)
"""(JAX option, the value the oracle needs, the context manager that sets it locally)."""


def oracle_numerics(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run under ``ORACLE_SETTINGS``."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        config = jax.config
        differ = [(local, v) for name, v, local in ORACLE_SETTINGS if getattr(config, name) != v]
        if not differ:
            return fn(*args, **kwargs)
        with ExitStack() as stack:
            for local, value in differ:
                stack.enter_context(local(value))
            return fn(*args, **kwargs)

    return run
