"""The bench plots, described as data and compared with a golden file
(``python -m tests.tools.test_bench_plots`` rewrites it on purpose; review its diff), and
the rules that keep them readable: ticks that never crowd, value labels beside their
markers and apart from each other, target lines that differ, contended points ringed."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from refbp_tools.bench import plots
from refbp_tools.bench.model import LadderRow, parse_results
from tests import figures
from tests.tools.bench_runs import synthetic_run

GOLDEN_PLOTS = Path(__file__).with_name("bench_plots_golden.json")


def _describe_with_y_ticks(ax: Any) -> dict[str, Any]:
    """tests/figures.py's description plus the y axis's ticks, labels and limits, which
    these plots choose themselves."""
    out = _plain_describe(ax)
    out["yticks"] = [float(f"{t:.6g}") for t in ax.get_yticks()]
    out["yticklabels"] = [t.get_text() for t in ax.get_yticklabels()]
    out["ylim"] = [float(f"{v:.6g}") for v in ax.get_ylim()]
    legend = ax.get_legend()
    if legend is not None:  # outside the axes, where it can hide no point
        renderer = ax.figure.canvas.get_renderer()
        box, inner = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
        out["legend_outside"] = not box.overlaps(inner)
    return out


_plain_describe = figures.describe_axes


def golden_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import warnings

    import matplotlib.pyplot as plt

    monkeypatch.setattr(figures, "describe_axes", _describe_with_y_ticks)
    saved = figures.record_saved_figures(monkeypatch)
    run = synthetic_run()
    run["benchmarks"] = [  # no JAX in float64, no PyTorch for the smallest float32 network
        b for b in run["benchmarks"]
        if not (b["extra_info"].get("impl") == "jax" and b["extra_info"]["dtype"] == "float64"
                and b["extra_info"]["kind"] == "step")
        and not (b["extra_info"].get("impl") == "torch" and b["extra_info"]["dtype"] == "float32"
                 and b["extra_info"].get("case") == "[2,3,1]B=4")
    ]  # fmt: skip
    for b in run["benchmarks"]:
        info = b["extra_info"]
        if info.get("case") == "[64,64,10]B=32" and info["impl"] == "torch":
            info["others_cpu"] = 0.4  # a contended PyTorch timing: ringed on both plots
        if info["kind"] == "ladder" and info["hidden"] == "gelu" and info["impl"] == "refbp":
            info["others_cpu"] = 0.3  # contended ladder rows: ringed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plotting call matplotlib warns about is a defect
        paths = plots.write_plots(parse_results(run), tmp_path, "bench")
    assert [p.name for p in paths] == ["bench-time.png", "bench-ratio.png", "bench-ladder.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()  # every figure closed
    return saved


def test_the_plots_are_the_golden_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    described = json.loads(json.dumps(golden_plots(tmp_path, monkeypatch)))
    assert described == json.loads(GOLDEN_PLOTS.read_text(encoding="utf-8"))


def test_the_ratio_plot_reads_at_a_glance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    saved = golden_plots(tmp_path, monkeypatch)
    for ax in saved["bench-ratio.png"]["axes"]:
        targets = [ln for ln in ax["lines"] if ln["label"].startswith("target")]
        assert len(targets) == 2
        assert len({(t["color"], t["style"][0]) for t in targets}) == 2  # colour and style differ
        assert all(t["label"] in ax["legend"]["labels"] for t in targets)
        for note in ax["annotations"]:
            assert note["offset"][0] == pytest.approx(note["at"][0] + 0.1)  # beside, not on
        assert plots.CONTENDED_LABEL in ax["legend"]["labels"]
    for name in ("bench-time.png", "bench-ratio.png", "bench-ladder.png"):
        assert all(ax["legend_outside"] for ax in saved[name]["axes"]), name
    busy = [ln for ln in saved["bench-ratio.png"]["axes"][0]["lines"]
            if ln["label"] == plots.CONTENDED_LABEL]  # fmt: skip
    assert [(ln["x"], ln["y"]) for ln in busy] == [([1.0], [0.2])]  # refbp / PyTorch at 64
    ladder = saved["bench-ladder.png"]["axes"][0]
    assert [t for t, _ in ladder["xticklabels"]] == [
        "tanh",
        "gelu",
        "sigmoid · binary_cross_entropy",
    ]


@pytest.mark.parametrize(
    "lo, hi", [(0.15, 4.5), (0.7, 1.3), (0.05, 120.0), (0.9, 1.2), (2.0, 30.0)]
)
def test_log_ticks_never_crowd(lo: float, hi: float) -> None:
    ticks = plots.log_ticks(*plots.log_limits([lo, hi]))
    span = math.log10(plots.log_limits([lo, hi])[1] / plots.log_limits([lo, hi])[0])
    assert len(ticks) >= 2
    gaps = [math.log10(b / a) for a, b in itertools.pairwise(ticks)]
    assert min(gaps) >= plots.MIN_TICK_GAP * span - 1e-12
    assert 1 in ticks or not lo / 1.35 <= 1 <= hi * 1.35  # 1 is shown whenever it is in range


def test_log_limits_and_time_ticks() -> None:
    assert plots.log_limits([1.0, 1.1]) == pytest.approx((1.1**0.5 / 2, 2 * 1.1**0.5))  # ≥ 4×
    assert plots.log_limits([0.1, 10.0]) == pytest.approx((0.1 / 1.35, 13.5))
    assert plots.time_ticks(5e-6, 2e-3) == [1e-5, 1e-4, 1e-3]
    assert plots.time_ticks(1.5e-5, 8e-5) == [2e-5, 5e-5]  # no decade inside: 2s and 5s


def test_value_labels_are_pushed_apart() -> None:
    heights = plots.spread_labels([1.0, 1.01, 3.0, 0.999], gap=0.05)
    assert heights[3] == pytest.approx(math.log10(0.999))  # the lowest stays at its value
    assert heights[0] == pytest.approx(heights[3] + 0.05)
    assert heights[1] == pytest.approx(heights[0] + 0.05)
    assert heights[2] == pytest.approx(math.log10(3.0))  # far enough already


def test_ladder_labels() -> None:
    def row(hidden: str, output: str, loss: str) -> LadderRow:
        return LadderRow(hidden=hidden, output=output, loss=loss)

    assert plots.ladder_label(row("gelu", "identity", "mse")) == "gelu"
    assert plots.ladder_label(row("tanh", "identity", "huber")) == "huber"
    assert plots.ladder_label(row("tanh", "sigmoid", "binary_cross_entropy")) == (
        "sigmoid · binary_cross_entropy"
    )


def test_no_rows_no_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    assert plots.write_plots(parse_results({}), tmp_path, "bench") == []
    assert not list(tmp_path.iterdir())


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        described = golden_plots(Path(tmp), mp)
    GOLDEN_PLOTS.write_text(json.dumps(described, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {GOLDEN_PLOTS}")
