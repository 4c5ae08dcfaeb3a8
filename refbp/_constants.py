"""The numbers that define the contract's activations, shared by the reference forms
(refbp.activations) and the kernels (refbp.kernels).  Python floats: NumPy 2 treats them as
"weak", so they never promote a float32 array."""

from __future__ import annotations

import math

LEAKY_SLOPE = 0.01
"""leaky_relu's slope for z < 0 (jax.nn.leaky_relu's default).  Below 1, so that
leaky_relu(z) = max(z, LEAKY_SLOPE · z)."""

GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715
"""gelu's tanh approximation: u = GELU_C (z + GELU_K z³)."""

GELU_CLIP = 1.0e3
"""σ(2u) is exactly 0 or 1 in float64 once |z| > 10; clipping z at ±GELU_CLIP keeps z³ from
overflowing float32 (|z| > 7e12) without changing any result."""
