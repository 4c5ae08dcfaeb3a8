"""What a saved matplotlib figure shows, as plain data a test can compare.

``record_saved_figures(monkeypatch)`` wraps ``Figure.savefig``: every figure the code under
test saves is described (size, savefig options, and per axes: title, labels, scales, ticks,
every line's points, style, colour and label, annotations, legend, formatters) and then
saved as usual.  Tests compare the description, not pixels, which change with matplotlib's
version and fonts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def describe_axes(ax: Any) -> dict[str, Any]:
    def num(v: Any) -> Any:
        return [float(f"{float(x):.6g}") for x in v]

    legend = ax.get_legend()
    return {
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "yscale": ax.get_yscale(),
        "xticks": num(ax.get_xticks()),
        "xticklabels": [(t.get_text(), t.get_fontsize()) for t in ax.get_xticklabels()],
        "lines": [
            {"label": ln.get_label(), "style": [ln.get_linestyle(), ln.get_marker()],
             "color": ln.get_color(), "width": ln.get_linewidth(),
             "x": num(ln.get_xdata()), "y": num(ln.get_ydata())}
            for ln in ax.get_lines()
        ],
        "annotations": [
            {"text": t.get_text(), "at": num(t.xy), "offset": num(t.get_position()),
             "coords": t.anncoords, "size": t.get_fontsize(), "color": t.get_color(),
             "ha": t.get_ha()}
            for t in ax.texts
        ],
        "legend": None if legend is None else {
            "labels": [t.get_text() for t in legend.get_texts()],
            "size": legend.get_texts()[0].get_fontsize(),
        },
        "formatters": [getattr(f, "fmt", type(f).__name__)
                       for f in (ax.yaxis.get_major_formatter(), ax.yaxis.get_minor_formatter())],
        "major_ticks": dict(sorted(ax.yaxis._major_tick_kw.items())),
        "minor_ticks": dict(sorted(ax.yaxis._minor_tick_kw.items())),
    }  # fmt: skip


def record_saved_figures(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """{file name: description} of every figure saved from now on (filled in as they are)."""
    from matplotlib.figure import Figure

    saved: dict[str, Any] = {}
    original = Figure.savefig

    def savefig(fig: Any, path: Any, **kw: Any) -> None:
        saved[Path(path).name] = {
            "size": [float(v) for v in fig.get_size_inches()],
            "savefig": kw,
            "axes": [describe_axes(ax) for ax in fig.axes],
        }
        original(fig, path, **kw)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved
