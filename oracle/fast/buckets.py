"""The padded shapes (buckets) networks and single functions are evaluated at.

Every new array shape costs an XLA compile, so every network is embedded in a fixed-size
bucket and one executable per bucket serves every structure that fits: the depth padded to
``MAX_DEPTH``, all widths to one width bucket P, the batch to a batch bucket Bp.

Default buckets are a single (P, Bp) = (64, 64): measured on the 2-core machine, one compile
(~1.3 s) beats four (8/64 × 8/64, ~5 s) for a cold 5000-network run, and the per-call saving
of small buckets (~0.3 vs ~1 ms) only pays off with a warm persistent cache
(:func:`oracle.fast.enable_persistent_cache`); change them with :func:`set_buckets`.

Shapes beyond the largest bucket are not refused: they get the next power of two (depth: the
real depth), which costs one extra compile per new size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = [
    "BATCH_BUCKETS",
    "MAX_DEPTH",
    "WIDTH_BUCKETS",
    "Buckets",
    "bucket",
    "buckets_for",
    "float_layout",
    "float_size",
    "set_buckets",
    "split_floats",
]

#: Networks are padded to this many layers with skipped layers.
MAX_DEPTH = 6
#: Candidate padded widths (all layers of a network share one); see set_buckets.
WIDTH_BUCKETS: tuple[int, ...] = (64,)
#: Candidate padded batch sizes; see set_buckets.
BATCH_BUCKETS: tuple[int, ...] = (64,)


class Buckets(NamedTuple):
    """The padded shape a network is evaluated at: one executable per distinct value."""

    depth: int
    width: int
    batch: int


def set_buckets(
    widths: Sequence[int] | None = None, batches: Sequence[int] | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Replace the width and/or batch buckets (ascending positive ints); returns the previous pair.

    More buckets mean less padding (cheaper calls) but one more compile each.
    Already-compiled executables stay cached, so switching back costs nothing.
    """
    global WIDTH_BUCKETS, BATCH_BUCKETS
    previous = (WIDTH_BUCKETS, BATCH_BUCKETS)
    for what, new in (("widths", widths), ("batches", batches)):
        if new is not None and (
            len(new) == 0 or any(int(v) != v or v < 1 for v in new) or list(new) != sorted(set(new))
        ):
            raise ValueError(
                f"oracle.set_buckets: {what} must be strictly increasing positive ints, got {new!r}"
            )
    if widths is not None:
        WIDTH_BUCKETS = tuple(int(v) for v in widths)
    if batches is not None:
        BATCH_BUCKETS = tuple(int(v) for v in batches)
    return previous


def bucket(n: int, buckets: Sequence[int]) -> int:
    """The smallest of ``buckets`` holding ``n``, else the next power of two."""
    for b in buckets:
        if n <= b:
            return b
    # Beyond the largest bucket: a power of two, so sizes still share executables.
    return 1 << (n - 1).bit_length()


def width_bucket(n: int) -> int:
    """The padded width for ``n`` units under the current width buckets."""
    return bucket(n, WIDTH_BUCKETS)


def batch_bucket(n: int) -> int:
    """The padded batch for ``n`` rows under the current batch buckets."""
    return bucket(n, BATCH_BUCKETS)


def buckets_for(widths: Sequence[int], batch: int) -> Buckets:
    """Bucket of a network with widths ``(n_in, n_1, ..., n_out)`` on ``batch`` rows."""
    return Buckets(
        depth=max(MAX_DEPTH, len(widths) - 1),
        width=width_bucket(max(widths)),
        batch=batch_bucket(batch),
    )


def float_layout(bk: Buckets) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """The float arguments of a bucket's executable, in the order they lie in one flat
    buffer: ``W (D, P, P)``, ``b (D, P)``, ``X (Bp, P)``, ``Y (Bp, P)``, ``unit_mask (D, P)``
    and ``row_mask (Bp,)`` as 0/1, then B and B·O.  One buffer, not ten arrays, because
    handing a jitted call each argument costs more than the copy into one (~70 µs a
    call on this machine)."""
    D, P, Bp = bk
    return (
        ("W", (D, P, P)),
        ("b", (D, P)),
        ("X", (Bp, P)),
        ("Y", (Bp, P)),
        ("unit_mask", (D, P)),
        ("row_mask", (Bp,)),
        ("n_rows", ()),
        ("n_entries", ()),
    )


def float_size(bk: Buckets) -> int:
    """Length of a bucket's flat float buffer."""
    return sum(math.prod(shape) for _, shape in float_layout(bk))


def split_floats(flat: Any, bk: Buckets) -> dict[str, Any]:
    """Views of ``flat`` (a NumPy or a traced JAX array) under their names and shapes."""
    views, start = {}, 0
    for name, shape in float_layout(bk):
        n = math.prod(shape)
        views[name] = flat[start : start + n].reshape(shape)
        start += n
    return views
