"""The fast oracle: the plain oracle's results for random shapes with a bounded number of compiles.

Every new array shape costs an XLA compile (60-300 ms; eager ``jax.grad`` is worse), so
property tests over random networks would spend their time compiling.  Here every network
is embedded in a fixed-size *bucket* and one executable per bucket serves every structure
that fits.  One job per module:

* :mod:`oracle.fast.buckets`   the padded shapes: ``MAX_DEPTH``, the width and batch buckets
* :mod:`oracle.fast.core`      the traced programs (loss with every gradient; forward only)
* :mod:`oracle.fast.packing`   a checked network into its bucket, and results sliced back
* :mod:`oracle.fast.network`   ``backprop_fast``, ``forward_fast``, ``predict_fast``
* :mod:`oracle.fast.pool`      ``backprop_fast_async`` (XLA computes while the caller goes
                               on); ``backprop_many``
* :mod:`oracle.fast.functions` one activation, loss or dense layer at a time
* :mod:`oracle.fast.sgd`       ``sgd_fast``
* :mod:`oracle.fast.cache`     the persistent compilation cache and ``warmup``

Results are float64 NumPy, sliced back to the real shapes, with the same meaning as
:func:`oracle.network.backprop`; they agree with it to rounding (the padded matmuls and
reductions may sum in a different order), checked to 1e-14 normwise by the judge's tests.
"""

from __future__ import annotations

from typing import Any

from oracle._monitor import CompileStats, cache_hit_count, compile_count, compile_stats
from oracle.fast import buckets as _buckets
from oracle.fast import core as _core
from oracle.fast import packing as _packing
from oracle.fast.buckets import MAX_DEPTH, Buckets, buckets_for, set_buckets
from oracle.fast.cache import enable_persistent_cache, warmup
from oracle.fast.functions import activation_vjp_fast, dense_vjp_fast, loss_grad_fast
from oracle.fast.network import ForwardTrace, backprop_fast, forward_fast, predict_fast
from oracle.fast.pool import PendingResult, backprop_fast_async, backprop_many
from oracle.fast.sgd import sgd_fast

__all__ = [
    "BATCH_BUCKETS",
    "MAX_DEPTH",
    "WIDTH_BUCKETS",
    "Buckets",
    "CompileStats",
    "ForwardTrace",
    "PendingResult",
    "activation_vjp_fast",
    "backprop_fast",
    "backprop_fast_async",
    "backprop_many",
    "buckets_for",
    "cache_hit_count",
    "compile_count",
    "compile_stats",
    "dense_vjp_fast",
    "enable_persistent_cache",
    "forward_fast",
    "loss_grad_fast",
    "predict_fast",
    "set_buckets",
    "sgd_fast",
    "warmup",
]

# The padded program's entry points, for the accuracy study's in-dtype runs
# (oracle/accuracy/peers.py): validate-and-pack, the executable, the slicing.
_checked_pack = _packing.checked_pack
_core_jit = _core.core_jit
_unpack = _packing.unpack


def __getattr__(name: str) -> Any:
    # The buckets are rebound by set_buckets: read them from their module at each access,
    # so ``oracle.fast.WIDTH_BUCKETS`` is always the current value.
    if name in ("WIDTH_BUCKETS", "BATCH_BUCKETS"):
        return getattr(_buckets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
