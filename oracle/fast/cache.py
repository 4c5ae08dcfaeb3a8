"""The compile budget: the persistent compilation cache, and compiling ahead of use."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.experimental.compilation_cache import compilation_cache

from oracle._config import oracle_numerics
from oracle._monitor import CompileStats, compile_stats
from oracle.fast import buckets
from oracle.fast.network import backprop_fast, forward_fast

__all__ = ["enable_persistent_cache", "warmup"]


def enable_persistent_cache(path: str | os.PathLike[str]) -> None:
    """Store every compiled executable under ``path`` and reuse them in later processes.

    Thresholds are zeroed so that even the small executables here are written
    (JAX's defaults skip compiles under 1 s).  Safe to call after compiles have
    already happened: the cache is re-initialised for the next one.
    """
    p = os.fspath(path)
    os.makedirs(p, exist_ok=True)
    update: Any = jax.config.update
    update("jax_compilation_cache_dir", p)
    update("jax_persistent_cache_min_compile_time_secs", 0.0)
    # -1 = no minimum size and no filesystem-specific override (0 would allow one).
    update("jax_persistent_cache_min_entry_size_bytes", -1)
    compilation_cache.reset_cache()


@oracle_numerics
def warmup(
    depths: Sequence[int] = (buckets.MAX_DEPTH,),
    widths: Sequence[int] | None = None,
    batches: Sequence[int] | None = None,
    forward: bool = False,
) -> CompileStats:
    """Compile (or load from the persistent cache) the executables for every bucket given.

    Defaults: :func:`oracle.fast.backprop_fast` for every (width bucket, batch bucket)
    pair at ``MAX_DEPTH``; ``forward=True`` adds :func:`oracle.fast.forward_fast`'s.
    Returns the compile statistics accrued by the warm-up.
    """
    before = compile_stats()
    for d in depths:
        for p in widths if widths is not None else buckets.WIDTH_BUCKETS:
            for bsz in batches if batches is not None else buckets.BATCH_BUCKETS:
                ws = [np.zeros((p, p)) for _ in range(d)]
                bs = [np.zeros(p) for _ in range(d)]
                acts = ["identity"] * d
                X = np.zeros((bsz, p))
                backprop_fast(ws, bs, acts, "mse", X, X)
                if forward:
                    forward_fast(ws, bs, acts, X)
    after = compile_stats()
    return CompileStats(
        after.compiles - before.compiles,
        after.cache_hits - before.cache_hits,
        after.seconds - before.seconds,
    )
