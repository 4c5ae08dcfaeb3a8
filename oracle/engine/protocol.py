"""The target protocol: how the engine builds, calls and reads an implementation under test.

A target is a callable ``make(*, weights, biases, activations, loss)`` returning a network
whose ``backprop(X, Y)`` gives ``loss``, ``grad_weights``, ``grad_biases`` and optionally
``deltas`` and ``grad_input``, as attributes or mapping keys.  ``make`` may raise
``NotImplementedError`` for a configuration it does not support, and may carry a
``capabilities`` dict that narrows what the engine generates (command-line flags and
keyword arguments override it).  Names and conventions are those of ``oracle.functions``.

Anything else a target does wrong is either a *protocol* break (it cannot be used: no
such callable, results missing a required field, not numbers at all), raised here as
:class:`ProtocolError`, or a *disagreement* (wrong values, shapes or dtypes), which the
properties judge.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from oracle.domains import PROBABILITY_ACTIVATIONS, PROBABILITY_OUTPUT_LOSSES
from oracle.functions import ACTIVATION_NAMES, LOSS_NAMES

__all__ = [
    "DEFAULT_TARGET",
    "DTYPE_NAMES",
    "Capabilities",
    "ProtocolError",
    "Target",
    "TargetExit",
    "TargetResult",
    "Unsupported",
    "load_target",
    "read_result",
    "valid_names",
]

DEFAULT_TARGET = "refbp:MLP"
DTYPE_NAMES: tuple[str, ...] = ("float32", "float64")
_LIMITS = {"max_depth": 6, "max_width": 64, "max_batch": 64}
_NAME_KEYS = ("activations", "output_activations", "losses", "dtypes")
_FLAG_KEYS = ("uniform_hidden", "square")


class ProtocolError(Exception):
    """The target cannot be used: it cannot be imported, or it breaks the protocol."""


class Unsupported(Exception):
    """The target declined a configuration (``NotImplementedError``): discarded, counted."""


class TargetExit(Exception):
    """The target's code raised SystemExit: an error of the target's, not the end of the run
    (left alone, ``sys.exit(0)`` inside a target would end ``refbp verify`` with "all agree")."""


@dataclass(frozen=True)
class Capabilities:
    """What the engine may generate for a target.  Every field has the full default."""

    activations: tuple[str, ...] = ACTIVATION_NAMES
    output_activations: tuple[str, ...] = ACTIVATION_NAMES
    losses: tuple[str, ...] = LOSS_NAMES
    dtypes: tuple[str, ...] = DTYPE_NAMES
    uniform_hidden: bool = False
    square: bool = False
    max_depth: int = _LIMITS["max_depth"]
    max_width: int = _LIMITS["max_width"]
    max_batch: int = _LIMITS["max_batch"]

    @classmethod
    def from_mapping(cls, given: Mapping[str, Any], where: str) -> Capabilities:
        """Validate a ``capabilities`` dict; unknown keys and names are refused by name."""
        if not isinstance(given, Mapping):
            raise ProtocolError(f"{where}: capabilities must be a dict, got {type(given).__name__}")
        known = (*_NAME_KEYS, *_FLAG_KEYS, *_LIMITS)
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ProtocolError(
                f"{where}: unknown capabilities {unknown}; valid keys are {list(known)}"
            )
        fields: dict[str, Any] = {}
        for key, value in given.items():
            if value is None:
                continue
            if key in _NAME_KEYS:
                fields[key] = _names(key, value, where)
            elif key in _FLAG_KEYS:
                if not isinstance(value, bool):
                    raise ProtocolError(
                        f"{where}: capabilities[{key!r}] must be True or False, got {value!r}"
                    )
                fields[key] = value
            else:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ProtocolError(
                        f"{where}: capabilities[{key!r}] must be a positive int, got {value!r}"
                    )
                # A limit says what the target takes; the engine generates within its own
                # (a target that takes widths up to 10⁶ gets the engine's 64, not 10⁶).
                fields[key] = min(value, _LIMITS[key])
        if "activations" in fields and "output_activations" not in fields:
            # A target that lists its activations has only those, at the output too: a
            # one-layer network's only activation is its output's.
            fields["output_activations"] = fields["activations"]
        return cls(**fields)

    def merged(self, overrides: Mapping[str, Any], where: str) -> Capabilities:
        """These capabilities with every non-None entry of ``overrides`` replacing its field."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        fresh = Capabilities.from_mapping(given, where)
        return replace(self, **{k: getattr(fresh, k) for k in given})

    def losses_usable(self) -> tuple[str, ...]:
        """Losses for which at least one output activation is available."""
        return tuple(loss for loss in self.losses if self.outputs_for(loss))

    def outputs_for(self, loss: str) -> tuple[str, ...]:
        """Output activations the target supports that ``loss`` is defined on."""
        if loss in PROBABILITY_OUTPUT_LOSSES:
            return tuple(a for a in self.output_activations if a in PROBABILITY_ACTIVATIONS)
        return self.output_activations

    def as_dict(self) -> dict[str, Any]:
        return {
            "activations": list(self.activations),
            "output_activations": list(self.output_activations),
            "losses": list(self.losses),
            "dtypes": list(self.dtypes),
            "uniform_hidden": self.uniform_hidden,
            "square": self.square,
            "max_depth": self.max_depth,
            "max_width": self.max_width,
            "max_batch": self.max_batch,
        }


def valid_names(key: str) -> tuple[str, ...]:
    """The names a capability list may hold: dtypes, losses, or (for the two lists of
    activations) activations."""
    return DTYPE_NAMES if key == "dtypes" else LOSS_NAMES if key == "losses" else ACTIVATION_NAMES


def _names(key: str, value: object, where: str) -> tuple[str, ...]:
    valid = valid_names(key)
    if isinstance(value, str) or not isinstance(value, Sequence | set | frozenset):
        raise ProtocolError(
            f"{where}: capabilities[{key!r}] must be a list of names, got {value!r}"
        )
    names = [np.dtype(v).name if key == "dtypes" and not isinstance(v, str) else v for v in value]
    bad = [n for n in names if n not in valid]
    if bad:
        raise ProtocolError(
            f"{where}: capabilities[{key!r}] has unknown names {bad}; valid are {list(valid)}"
        )
    if not names:
        raise ProtocolError(f"{where}: capabilities[{key!r}] is empty")
    # The registry's order, not the caller's: generation and reports stay deterministic.
    return tuple(n for n in valid if n in names)


@dataclass(frozen=True)
class TargetResult:
    """What one ``backprop`` call returned, as float arrays; None where not returned."""

    loss: float
    grad_weights: list[np.ndarray]
    grad_biases: list[np.ndarray]
    deltas: list[np.ndarray] | None
    grad_input: np.ndarray | None

    def returned(self) -> tuple[str, ...]:
        """The optional quantities present: a subset of ("delta", "grad_X")."""
        out = []
        if self.deltas is not None:
            out.append("delta")
        if self.grad_input is not None:
            out.append("grad_X")
        return tuple(out)


def _field(res: object, key: str) -> tuple[bool, Any]:
    if isinstance(res, Mapping):
        return (key in res, res.get(key))
    if hasattr(res, key):
        return True, getattr(res, key)
    return False, None


def _array(x: object, what: str, where: str) -> np.ndarray:
    """A NumPy array of what the target returned (a torch tensor or a list converts)."""
    for attr in ("detach", "cpu"):  # torch-like tensors, without importing torch
        if hasattr(x, attr) and hasattr(x, "numpy"):
            x = getattr(x, attr)()
    try:
        arr = np.asarray(x)
    except Exception as exc:
        raise ProtocolError(
            f"{where}: {what} is not an array ({type(x).__name__}): {exc}"
        ) from None
    if arr.dtype.kind not in "fiu":
        raise ProtocolError(
            f"{where}: {what} must be an array of real numbers, got dtype {arr.dtype} "
            f"({type(x).__name__})"
        )
    return arr


def _array_list(x: object, what: str, where: str) -> list[np.ndarray]:
    if isinstance(x, np.ndarray) or isinstance(x, str | bytes) or not isinstance(x, Sequence):
        raise ProtocolError(
            f"{where}: {what} must be a list with one array per layer, got {type(x).__name__}"
        )
    return [_array(v, f"{what}[{i}]", where) for i, v in enumerate(x)]


def read_result(res: object, where: str) -> TargetResult:
    """Read a backprop result by attribute or key; a missing required field is a ProtocolError."""
    fields = {}
    for key in ("loss", "grad_weights", "grad_biases", "deltas", "grad_input"):
        fields[key] = _field(res, key)
    missing = [k for k in ("loss", "grad_weights", "grad_biases") if not fields[k][0]]
    if missing:
        raise ProtocolError(
            f"{where}: backprop(X, Y) returned {type(res).__name__} without {missing}; it must "
            "have loss, grad_weights and grad_biases as attributes or mapping keys"
        )
    loss_arr = _array(fields["loss"][1], "loss", where)
    if loss_arr.size != 1:
        raise ProtocolError(f"{where}: loss must be one number, got shape {loss_arr.shape}")
    deltas = fields["deltas"][1]
    grad_input = fields["grad_input"][1]
    return TargetResult(
        loss=float(loss_arr.reshape(())),
        grad_weights=_array_list(fields["grad_weights"][1], "grad_weights", where),
        grad_biases=_array_list(fields["grad_biases"][1], "grad_biases", where),
        deltas=None if deltas is None else _array_list(deltas, "deltas", where),
        grad_input=None if grad_input is None else _array(grad_input, "grad_input", where),
    )


@dataclass(frozen=True)
class Target:
    """An implementation under test: its ``make``, the name reports use, what it supports."""

    make: Callable[..., Any]
    name: str
    capabilities: Capabilities

    @classmethod
    def of(
        cls,
        make: Callable[..., Any],
        name: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Target:
        """Wrap ``make`` with its declared capabilities, narrowed by ``overrides``."""
        label = name or _describe(make)
        if not callable(make):
            raise ProtocolError(f"target {label}: is a {type(make).__name__}, not callable")
        try:
            declared = getattr(make, "capabilities", None)
        except Exception as exc:  # a property of the target's that raises
            raise ProtocolError(
                f"target {label}: reading its capabilities raised {type(exc).__name__}: {exc}"
            ) from None
        caps = Capabilities()
        if declared is not None:
            caps = Capabilities.from_mapping(declared, f"{label}.capabilities")
        caps = caps.merged(overrides or {}, f"target {label}")
        return cls(make, label, caps)

    def build(self, **kwargs: Any) -> Any:
        """``make(**kwargs)``: the target's network."""
        try:
            return self.make(**kwargs)
        except SystemExit as exc:
            raise TargetExit(f"make(...) raised SystemExit({exc.code!r})") from None

    def backprop(self, net: Any, X: np.ndarray, Y: np.ndarray) -> TargetResult:
        method = getattr(net, "backprop", None)
        if not callable(method):
            raise ProtocolError(
                f"target {self.name}: make(...) returned {type(net).__name__}, which has no "
                "backprop(X, Y) method"
            )
        try:
            res = method(X, Y)
        except NotImplementedError as exc:
            raise Unsupported(str(exc)) from None
        except SystemExit as exc:
            raise TargetExit(f"backprop(X, Y) raised SystemExit({exc.code!r})") from None
        return read_result(res, f"target {self.name}: backprop(X, Y)")


def _describe(make: object) -> str:
    module = getattr(make, "__module__", None)
    qual = getattr(make, "__qualname__", None) or type(make).__name__
    return f"{module}:{qual}" if module else str(qual)


def load_target(spec: str) -> tuple[Callable[..., Any], str]:
    """``MODULE:ATTR`` imported with the current directory on ``sys.path``: (make, spec)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ProtocolError(
            f"--target must be MODULE:ATTR (e.g. examples.textbook_numpy:make), got {spec!r}"
        )
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # a script's sys.exit() at import, too
        raise ProtocolError(
            f"--target {spec}: cannot import {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ProtocolError(f"--target {spec}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    return obj, spec
