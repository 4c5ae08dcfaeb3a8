"""An independent JAX oracle for backpropagation: float64, gradients only from autodiff.

``oracle`` imports nothing from ``refbp`` and shares no formula with it.

* :mod:`oracle.functions` — activations and losses by name (forward formulas only)
* :mod:`oracle.network`   — the plain oracle: jitted per shape, obviously correct
* :mod:`oracle.fast`      — the same results in padded buckets: a bounded number of compiles
* :mod:`oracle.numeric`   — central finite differences: the check on the oracle itself
* :mod:`oracle.engine`    — the verification engine: ``check_backprop(make)`` checks any
  backprop implementation of the target protocol, ``check_case`` replays one case
"""

import jax

# Must run before any JAX array exists: otherwise jnp.asarray(float64) silently
# becomes float32 and a float32 oracle "finds" bugs in refbp.
jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]

from oracle._monitor import CompileStats, cache_hit_count, compile_count, compile_stats  # noqa: E402
from oracle.fast import (  # noqa: E402
    MAX_DEPTH,
    Buckets,
    ForwardTrace,
    PendingResult,
    activation_vjp_fast,
    backprop_fast,
    backprop_fast_async,
    backprop_many,
    buckets_for,
    dense_vjp_fast,
    enable_persistent_cache,
    forward_fast,
    loss_grad_fast,
    predict_fast,
    set_buckets,
    sgd_fast,
    warmup,
)
from oracle.functions import (  # noqa: E402
    ACTIVATION_NAMES,
    ACTIVATION_SPECS,
    ACTIVATIONS,
    LOSS_NAMES,
    LOSS_SPECS,
    LOSSES,
    ActivationSpec,
    LossSpec,
)
from oracle.network import (  # noqa: E402
    OracleResult,
    SGDResult,
    activation_vjp,
    backprop,
    dense_vjp,
    loss_grad,
    loss_value,
    predict,
    sgd,
)
from oracle.numeric import numeric_backprop  # noqa: E402

# The engine needs Hypothesis (the verify extra); the oracle itself does not.
try:
    from oracle.engine import check_backprop, check_case
except ImportError:  # pragma: no cover - an oracle-only install
    pass

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_NAMES",
    "ACTIVATION_SPECS",
    "LOSSES",
    "LOSS_NAMES",
    "LOSS_SPECS",
    "MAX_DEPTH",
    "ActivationSpec",
    "Buckets",
    "CompileStats",
    "ForwardTrace",
    "LossSpec",
    "OracleResult",
    "PendingResult",
    "SGDResult",
    "activation_vjp",
    "activation_vjp_fast",
    "backprop",
    "backprop_fast",
    "backprop_fast_async",
    "backprop_many",
    "buckets_for",
    "cache_hit_count",
    "check_backprop",
    "check_case",
    "compile_count",
    "compile_stats",
    "dense_vjp",
    "dense_vjp_fast",
    "enable_persistent_cache",
    "forward_fast",
    "loss_grad",
    "loss_grad_fast",
    "loss_value",
    "numeric_backprop",
    "predict",
    "predict_fast",
    "set_buckets",
    "sgd",
    "sgd_fast",
    "warmup",
]
