"""Failure reports a person can act on, and the copy-paste reproduction of a case.

A :class:`Failure` is a disagreement made plain: the minimal network, the property and the
first quantity and layer that disagree, the measured and the allowed error, the diagnosis,
a table of the worst entries, and a Python snippet that rebuilds the exact arrays and runs
the same check (``oracle.check_case``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oracle.engine.cases import Case
from oracle.engine.check import Disagreement

__all__ = ["Failure", "failure_from", "reproduction"]

WORST_ROWS = 5
#: longer reproductions (unshrunk cases) stay in the JSON report, out of the text
SNIPPET_CHARS = 6000


def _literal(a: np.ndarray) -> str:
    # float64 repr round-trips exactly, and every float32 is a float64: the arrays come back
    # bit for bit.
    return f"np.array({np.asarray(a, np.float64).tolist()!r}, dtype=np.{np.asarray(a).dtype.name})"


def reproduction(case: Case, target: str) -> str:
    """A self-contained snippet that rebuilds ``case`` and checks ``target`` on it."""
    module, colon, attr = target.partition(":")
    s = case.structure
    importable = colon and module and attr and "<" not in attr
    lines = [
        "import numpy as np",
        "import oracle",
        *(
            [f"from {module} import {attr.split('.')[0]}"]
            + ([] if attr == "make" else [f"make = {attr}"])
            if importable
            else [f"make = ...  # the target under test ({target})"]
        ),
        "weights = [" + ", ".join(_literal(w) for w in case.weights) + "]",
        "biases = [" + ", ".join(_literal(b) for b in case.biases) + "]",
        f"X = {_literal(case.X)}",
        f"Y = {_literal(case.Y)}",
        f"print(oracle.check_case(make, weights=weights, biases=biases, "
        f"activations={list(s.activations)!r}, loss={s.loss!r}, X=X, Y=Y, name={target!r}"
        + (f", seed={case.seed}" if case.seed else "")
        + "))",
    ]
    return "\n".join(lines)


def _worst(got: np.ndarray, expected: np.ndarray) -> list[dict[str, Any]]:
    g = np.asarray(got, np.float64)
    o = np.asarray(expected, np.float64)
    d = np.abs(g - o)
    if d.size == 0:
        return []
    flat = np.argsort(np.where(np.isnan(d), np.inf, d), axis=None)[::-1][:WORST_ROWS]
    rows = []
    for k in flat:
        idx = tuple(int(i) for i in np.unravel_index(int(k), d.shape)) if d.ndim else ()
        rows.append(
            {
                "index": list(idx),
                "target": float(g[idx]),
                "oracle": float(o[idx]),
                "difference": float(g[idx] - o[idx]),
            }
        )
    return rows


@dataclass
class Failure:
    """One disagreement, everything about it as plain data (the JSON report's entries)."""

    target: str
    property: str
    quantity: str | None
    layer: int | None
    dtype: str
    activations: list[str]
    loss: str
    sizes: list[int]
    batch: int
    error: float | None
    allowed: float | None
    relative: float | None
    diagnosis: str | None
    scale: float | None
    detail: str
    message: str
    reproduce: str
    worst: list[dict[str, Any]] = field(default_factory=list)
    arbitration: str | None = None
    expected_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("error", "allowed", "relative", "scale"):
            v = out[key]
            if v is not None and not math.isfinite(v):
                out[key] = str(v)  # JSON has no inf or nan
        return out

    def text(self) -> str:
        s = [
            f"{self.target} disagrees with the oracle: property {self.property!r}",
            f"  network: sizes {self.sizes}, activations {self.activations}, loss {self.loss!r}, "
            f"{self.dtype}, batch {self.batch}",
            f"  {self.message}"
            + (f" ({self.relative:.2e} of the quantity's scale)" if self.relative else ""),
        ]
        s.append(f"  diagnosis: {self.diagnosis or 'none'} — {self.detail}")
        if self.scale is not None:
            s.append(f"  factor: {self.scale:.6g}")
        if self.arbitration:
            s.append(f"  {self.arbitration}")
        if self.worst:
            s.append("  worst entries (index: target | oracle | difference):")
            for row in self.worst:
                s.append(
                    f"    {row['index']}: {row['target']:.17g} | {row['oracle']:.17g} | "
                    f"{row['difference']:.3e}"
                )
        if len(self.reproduce) <= SNIPPET_CHARS:
            s.append("  reproduce:")
            s += ["    " + line for line in self.reproduce.splitlines()]
        else:
            s.append(
                f"  reproduce: a {len(self.reproduce):,}-character snippet (the arrays of this "
                "unshrunk case), in the JSON report's 'reproduce' field"
            )
        return "\n".join(s)


def failure_from(d: Disagreement, target: str) -> Failure:
    """The report of a disagreement (its diagnosis computed now, on the case as it is)."""
    diag = d.diagnosis()
    s = d.case.structure
    m = d.measurement
    q = d.quantity
    return Failure(
        target=target,
        property=d.prop,
        quantity=None if q is None else q.family,
        layer=None if q is None else q.layer,
        dtype=s.dtype,
        activations=list(s.activations),
        loss=s.loss,
        sizes=list(s.sizes),
        batch=s.batch,
        error=None if m is None else m.error,
        allowed=None if m is None else m.bound,
        relative=None if m is None else m.relative,
        diagnosis=diag.id,
        scale=diag.scale,
        detail=diag.detail,
        message=d.message,
        reproduce=reproduction(d.case, target),
        worst=[] if m is None else _worst(m.got, m.expected),
        arbitration=d.arbitration,
    )
