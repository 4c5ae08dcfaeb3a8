"""Process-wide counts of XLA compilations, from ``jax.monitoring`` events.

JAX 0.10.2 records, for every executable it needs (``pxla._cached_compilation``),
a duration event ``/jax/core/compile/backend_compile_duration`` around
``compiler.compile_or_get_cached``.  That span covers a persistent-cache *hit*
too, which additionally records ``/jax/compilation_cache/cache_hits``.  So:

* real XLA compiles  = backend_compile events − persistent-cache hits
* cache hits          = ``cache_hits`` events

Executables found in a jitted function's in-memory cache record nothing.
Eager ``jnp`` operations are compiled too (one executable per primitive and
shape) and are counted: the counts are for the whole process, not only the oracle.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import jax.monitoring

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"

_lock = threading.Lock()
_backend = 0
_hits = 0
_seconds = 0.0


class CompileStats(NamedTuple):
    """Counts since the process started (or since the oracle was first imported)."""

    compiles: int  #: XLA compilations actually performed
    cache_hits: int  #: executables loaded from the persistent compilation cache
    seconds: float  #: wall time spent in compile-or-load, hits included


def _on_duration(event: str, duration_secs: float, **kwargs: str | int) -> None:
    global _backend, _seconds
    if event == BACKEND_COMPILE_EVENT:
        with _lock:
            _backend += 1
            _seconds += duration_secs


def _on_event(event: str, **kwargs: str | int) -> None:
    global _hits
    if event == CACHE_HIT_EVENT:
        with _lock:
            _hits += 1


jax.monitoring.register_event_duration_secs_listener(_on_duration)
jax.monitoring.register_event_listener(_on_event)


def compile_stats() -> CompileStats:
    with _lock:
        return CompileStats(_backend - _hits, _hits, _seconds)


def compile_count() -> int:
    """XLA compilations performed in this process so far (persistent-cache hits excluded)."""
    return compile_stats().compiles


def cache_hit_count() -> int:
    """Executables loaded from the persistent compilation cache in this process so far."""
    return compile_stats().cache_hits
