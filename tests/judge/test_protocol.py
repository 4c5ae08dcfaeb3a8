"""The target protocol: what the engine accepts, what it refuses, and what it counts."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import refbp
from oracle.engine import (
    ProtocolError,
    Target,
    check_backprop,
    load_target,
    parse_expectations,
    verify,
)
from oracle.engine.protocol import Capabilities, read_result
from tests.judge import targets

FAST = {"losses": ["mse"], "dtypes": ["float64"], "max_depth": 2, "max_width": 4, "max_batch": 3}


def _run(make: object, only: str = "agreement", **caps: object) -> object:
    target = Target.of(make, "t:make", {**FAST, **caps})  # type: ignore[arg-type]
    return verify(target, profile_name="ci", max_examples=8, only=[only], exact=False)


def test_refbp_mlp_is_a_target() -> None:
    summary = check_backprop(
        refbp.MLP, losses=["mse"], dtypes=["float32"], max_examples=5, exact=False
    )
    assert summary.network_examples > 0 and summary.failures == []


def test_check_backprop_raises_with_the_failure_report() -> None:
    with pytest.raises(
        AssertionError, match=r"(?s)disagrees with the oracle.*not_mutated.*changed its argument X"
    ):
        check_backprop(targets.mutates_x, capabilities=FAST, max_examples=5, exact=False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "nocolon",
            "--target must be MODULE:ATTR (e.g. examples.textbook_numpy:make), got 'nocolon'",
        ),
        (
            "no_such_module_xyz:make",
            "--target no_such_module_xyz:make: cannot import 'no_such_module_xyz': ModuleNotFoundError: No module named 'no_such_module_xyz'",
        ),
        (
            "tests.judge.targets:nothing",
            "--target tests.judge.targets:nothing: module 'tests.judge.targets' has no 'nothing'",
        ),
    ],
)
def test_unusable_target_specs_are_refused_exactly(spec: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        load_target(spec)


def test_a_non_callable_target_is_refused() -> None:
    with pytest.raises(ProtocolError, match="is a int, not callable"):
        Target.of(targets.NOT_CALLABLE, "t:NOT_CALLABLE")  # type: ignore[arg-type]


def test_make_without_keyword_parameters_breaks_the_protocol() -> None:
    with pytest.raises(
        ProtocolError, match=r"make\(\*, weights, biases, activations, loss\) failed"
    ):
        _run(targets.positional)


def test_a_result_missing_a_required_field_breaks_the_protocol() -> None:
    with pytest.raises(ProtocolError, match=r"without \['grad_biases'\]"):
        _run(targets.missing_biases)


def test_results_are_read_from_attributes_or_keys() -> None:
    fields = {"loss": 1.5, "grad_weights": [np.ones((2, 2))], "grad_biases": [np.ones(2)]}
    for res in (fields, SimpleNamespace(**fields)):
        r = read_result(res, "t")
        assert r.loss == 1.5 and r.deltas is None and r.grad_input is None and r.returned() == ()


def test_what_a_target_does_not_return_is_not_checked_and_said() -> None:
    summary = _run(targets.required_only)
    assert summary.failures == [] and summary.not_returned == ["delta", "grad_X"]


def test_declined_configurations_are_counted_as_unsupported() -> None:
    summary = _run(targets.float64_only, dtypes=["float32", "float64"])
    assert summary.unsupported > 0 and summary.failures == []
    assert summary.network_examples > 0


@pytest.mark.parametrize("make", [targets.accumulates, targets.accumulates_in_place])
def test_a_second_call_must_return_the_same_bits(make: object) -> None:
    """Also when the target hands back buffers it then accumulates into: the first result
    is copied before the second call, or it would change with it and match."""
    summary = _run(make, only="repeatable")
    assert [f.property for f in summary.failures] == ["repeatable"]


def test_results_must_have_the_parameters_dtype() -> None:
    summary = _run(targets.float64_results, dtypes=["float32"])
    assert [(f.property, f.quantity) for f in summary.failures] == [("dtype", "grad_W")]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"activations": ["relu", "swish"]},
            "capabilities['activations'] has unknown names ['swish']",
        ),
        ({"max_width": 0}, "capabilities['max_width'] must be a positive int, got 0"),
        ({"square": "yes"}, "capabilities['square'] must be True or False, got 'yes'"),
        ({"widths": 3}, "unknown capabilities ['widths']"),
        ({"dtypes": "float64"}, "capabilities['dtypes'] must be a list of names, got 'float64'"),
    ],
)
def test_capabilities_are_validated_by_name(given: dict[str, object], message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        Capabilities.from_mapping(given, "t")


def test_limits_above_the_engines_mean_the_engines() -> None:
    """A target that takes any size gets what the engine generates, not 10⁶-wide layers
    (which drew a 539 GiB weight matrix before)."""
    given = {"max_width": 10**6, "max_batch": 10**6, "max_depth": 1000}
    caps = Capabilities.from_mapping(given, "t")
    default = Capabilities()
    assert (caps.max_width, caps.max_batch, caps.max_depth) == (
        default.max_width, default.max_batch, default.max_depth
    )  # fmt: skip
    assert Capabilities.from_mapping({"max_width": 5}, "t").max_width == 5


def test_capabilities_that_raise_when_read_make_the_target_unusable() -> None:
    class Make:
        @property
        def capabilities(self) -> object:
            raise RuntimeError("boom")

        def __call__(self, **kw: object) -> object:
            return refbp.MLP(**kw)  # type: ignore[arg-type]

    with pytest.raises(ProtocolError, match="reading its capabilities raised RuntimeError: boom"):
        Target.of(Make(), "t:make")


def test_capabilities_narrow_generation() -> None:
    seen: set[tuple[str, ...]] = set()

    def make(**kw: object) -> object:
        seen.add(tuple(kw["activations"]))  # type: ignore[arg-type]
        sizes = {w.shape for w in kw["weights"]}  # type: ignore[attr-defined]
        assert all(a == b for a, b in sizes), "square was asked for"
        return refbp.MLP(**kw)  # type: ignore[arg-type]

    make.capabilities = {
        "activations": ["tanh"],
        "output_activations": ["identity"],
        "square": True,
    }  # type: ignore[attr-defined]
    _run(make, max_depth=3)
    assert seen and all(set(a[:-1]) <= {"tanh"} and a[-1] == "identity" for a in seen)


def test_a_target_that_lists_its_activations_gets_only_those_at_the_output_too() -> None:
    """No output_activations declared: a one-layer network's only activation is an output
    one, and a target that lists its activations has no others to put there."""
    seen: set[str] = set()

    def make(**kw: object) -> object:
        seen.update(kw["activations"])  # type: ignore[arg-type]
        return refbp.MLP(**kw)  # type: ignore[arg-type]

    make.capabilities = {"activations": ["tanh", "relu"]}  # type: ignore[attr-defined]
    summary = _run(make, max_depth=3)
    assert summary.exit_code() == 0  # type: ignore[attr-defined]
    assert seen == {"tanh", "relu"}
    caps = Capabilities.from_mapping({"activations": ["tanh"]}, "t")
    assert caps.output_activations == ("tanh",)
    declared = Capabilities.from_mapping(
        {"activations": ["tanh"], "output_activations": ["elu"]}, "t"
    )
    assert declared.output_activations == ("elu",)


def test_expectations_parse_and_refuse_unknown_ids() -> None:
    (e,) = parse_expectations("# pinned\nkink_convention:leaky_relu  # torch's choice\n")
    assert (e.id, e.qualifier) == ("kink_convention", "leaky_relu")
    with pytest.raises(ValueError, match=r"f:2: unknown id 'kinks_convention'"):
        parse_expectations("\nkinks_convention\n", "f")
    for qualifier in ("leaky", "relu:extra", "float16"):  # a pin nothing could ever match
        with pytest.raises(ValueError, match=rf"f:1: unknown qualifier '{qualifier}' after "
                                             r"'kink_convention'; expected an activation"):  # fmt: skip
            parse_expectations(f"kink_convention:{qualifier}\n", "f")
    for qualifier in ("softplus", "l1", "float32", "grad_W"):
        (e,) = parse_expectations(f"inaccurate:{qualifier}")
        assert e.qualifier == qualifier


def test_an_expectations_file_that_is_not_text_is_a_usage_error(tmp_path: Path) -> None:
    from oracle.engine.expect import read_expectations

    (tmp_path / "pins").write_bytes(b"\xff\xfe kink")
    with pytest.raises(ValueError, match=r"^--expect-failures: .*pins is not UTF-8 text"):
        read_expectations(tmp_path / "pins")


def test_an_expected_deviation_does_not_fail_and_an_unmet_one_does() -> None:
    from examples.buggy.kink_convention import make

    caps = {"activations": ["leaky_relu"], "losses": ["mse"], "dtypes": ["float64"]}
    ok = check_backprop(
        make,
        capabilities=caps,
        max_examples=10,
        expect_failures=["kink_convention:leaky_relu"],
        exact=False,
    )
    assert ok.matched and ok.failures == []
    with pytest.raises(AssertionError, match="expected failure 'sign_flipped' did not occur"):
        check_backprop(
            refbp.MLP,
            capabilities=FAST,
            max_examples=5,
            expect_failures=["sign_flipped"],
            exact=False,
        )


_W, _B = [np.eye(2)], [np.zeros(2)]
_OK = {"weights": _W, "biases": _B, "activations": ["tanh"], "loss": "mse",
       "X": np.ones((3, 2)), "Y": np.ones((3, 2))}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"X": np.full((3, 2), np.nan)}, ValueError, "X must be finite, got nan at index (0, 0)"),
        ({"biases": [np.array([0.0, np.inf])]}, ValueError, "biases[0] must be finite"),
        (
            {"weights": [np.eye(2, dtype=np.float16)]},
            TypeError,
            "weights[0] sets the case's dtype and must be float32 or float64, got float16",
        ),
        ({"Y": np.array([["a", "b"]] * 3)}, TypeError, "Y must be a real array"),
        (
            {"loss": "binary_cross_entropy", "activations": ["sigmoid"], "Y": np.full((3, 2), 2.0)},
            ValueError,
            "binary_cross_entropy needs targets in [0, 1], got [2.0, 2.0]",
        ),
        (
            {"loss": "softmax_cross_entropy", "Y": np.full((3, 2), 0.4)},
            ValueError,
            "softmax_cross_entropy needs rows of Y that sum to 1, one is off by 0.2",
        ),
        ({"loss": "mae"}, ValueError, "loss one of"),
        ({"weights": []}, ValueError, "weights must be a list with one array per layer"),
        ({"weights": [np.ones(2)]}, ValueError, "weights must be 2-D (n_in, n_out) arrays"),
        ({"X": np.ones((3, 5))}, ValueError, "X must have shape (B, 2)"),
        (
            {"weights": [np.eye(2, dtype=np.float32)], "X": np.full((3, 2), 1e300)},
            ValueError,
            "X does not fit in float32: 1e+300 at index (0, 0)",
        ),
    ],
)
def test_a_replayed_case_that_is_not_valid_is_refused_not_blamed_on_the_target(
    change: dict[str, object], error: type[Exception], message: str
) -> None:
    """oracle.check_case replays a failure report's arrays; arrays that make no valid case
    raise in the caller instead of coming back as "the target disagrees"."""
    from oracle import check_case

    with pytest.raises(error, match=re.escape(message)):
        check_case(refbp.MLP, **{**_OK, **change})  # type: ignore[arg-type]


def test_a_valid_replayed_case_agrees() -> None:
    from oracle import check_case

    assert "agrees with the oracle" in check_case(refbp.MLP, **_OK)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (targets.exits, "the target raised TargetExit: backprop(X, Y) raised SystemExit(0)"),
        (targets.make_raises, "the target raised ValueError: this make refuses every network"),
    ],
)
def test_a_target_that_fails_on_every_case_is_a_disagreement(make: object, message: str) -> None:
    """Not a crash of the run, and not its end: sys.exit(0) inside a target once ended
    `refbp verify` with exit 0, and a make raising ValueError with a traceback."""
    summary = _run(make)
    assert summary.exit_code() == 1  # type: ignore[attr-defined]
    failure = summary.failures[0]  # type: ignore[attr-defined]
    assert failure.property == "runs" and message in failure.message


def test_a_second_call_that_raises_is_a_repeatable_disagreement() -> None:
    summary = _run(targets.second_call_raises, only="repeatable")
    [failure] = summary.failures  # type: ignore[attr-defined]
    assert failure.property == "repeatable"
    assert "a second backprop(X, Y) on the same network raised RuntimeError" in failure.message


def test_a_target_that_switches_jax_to_float32_is_still_judged_in_float64() -> None:
    """The oracle computes under its own settings (oracle._config), and leaves the
    target's: a float32 oracle would make a float64 target look wrong."""
    import jax

    try:
        summary = _run(targets.switches_x64_off)
        assert summary.exit_code() == 0 and summary.network_examples > 0  # type: ignore[attr-defined]
        assert jax.config.jax_enable_x64 is False  # as the target set it
    finally:
        jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]


def test_the_exact_property_judges_a_target_that_switches_jax_to_float32() -> None:
    """The exact arbiter computes in mpmath, but validated its cases with the oracle's
    checks, which refuse to run with x64 off: such a target got exit 2, "cannot be used"."""
    import jax

    pytest.importorskip("mpmath")
    target = Target.of(targets.switches_x64_off, "t:make", FAST)  # type: ignore[arg-type]
    try:
        summary = verify(target, profile_name="ci", max_examples=5, only=["exact"], exact=True)
        assert summary.exit_code() == 0 and summary.by_property["exact"]
    finally:
        jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("make", "name", "extra"),
    [(targets.deltas_short, "deltas", -1), (targets.biases_long, "grad_biases", 1)],
    ids=["deltas short", "biases long"],
)
def test_a_list_of_the_wrong_length_is_a_shapes_disagreement(
    make: object, name: str, extra: int
) -> None:
    summary = _run(make)
    [failure] = summary.failures  # type: ignore[attr-defined]
    assert failure.property == "shapes"
    found = re.search(rf"{name} has (\d+) arrays? for a network of (\d+) layers?", failure.message)
    assert found is not None, failure.message
    assert int(found.group(1)) == int(found.group(2)) + extra


def test_a_target_that_refuses_broadcasting_in_jax_is_judged() -> None:
    import jax

    try:
        summary = _run(targets.refuses_rank_promotion)
        assert summary.exit_code() == 0 and summary.network_examples > 0  # type: ignore[attr-defined]
    finally:
        jax.config.update("jax_numpy_rank_promotion", "allow")  # type: ignore[no-untyped-call]
