"""The run: every property, driven by Hypothesis, against one target; the summary it leaves.

Properties, each run as its own Hypothesis test (so each shrinks its own failure):

* ``agreement``, one per loss × dtype the target supports: groups of random networks;
  every quantity against the oracle within the tolerance model, plus the per-case checks
  of :func:`oracle.engine.check.check_case` (runs, arguments untouched, shapes, dtypes);
* ``kinks``, one per activation with a kink × dtype: W = I, b = 0 networks whose z sit
  exactly on the kink, so the target's subgradient convention is seen, not guessed; and
  ``kinks/l1`` per dtype: outputs equal to their targets exactly, where l1's slope is 0;
* ``repeatable``, one per dtype: a second call on the same network returns the same bits;
* ``exact``, one per dtype (when mpmath is installed): small networks at every scale up to
  saturation against exact arithmetic, the bound from the case's exactly measured
  conditioning.

A failing property stops at its first disagreement, which Hypothesis shrinks to a minimal
network; that one is diagnosed and reported.  The other properties go on.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from oracle._checks import X64Disabled
from oracle.domains import TARGET_KINDS
from oracle.engine.cases import Case, Structure, fill, kink_case, l1_tie_case, network_groups
from oracle.engine.check import Disagreement, Outcome, check_case
from oracle.engine.exactprop import check_exact, exact_cases
from oracle.engine.expect import Expectation
from oracle.engine.profiles import Profile
from oracle.engine.protocol import ProtocolError, Target, Unsupported
from oracle.engine.reference import dispatch
from oracle.engine.report import Failure, failure_from
from oracle.engine.summary import Summary
from oracle.functions import ACTIVATION_SPECS

__all__ = ["Progress", "plan", "run_properties", "selected", "smoke"]

GROUP = 8  # networks per Hypothesis example of the agreement property
#: Shrinking a network costs a sensitivity measurement per attempt (tens of ms); Hypothesis's
#: own limit is five minutes a property.  This much finds a small network in practice.
SHRINK_SECONDS = 10.0
#: called after each property: (its label, how many are done, how many in all, failed?)
Progress = Callable[[str, int, int, bool], None]


def _fresh(kind: str, broke: Collection[tuple[str, str]]) -> bool:
    return all(k != kind for k, _ in broke)


@dataclass
class _State:
    target: Target
    expectations: Sequence[Expectation]
    progress: Progress | None
    summary: Summary
    matched: Counter[str] = field(default_factory=Counter)

    def expected(self, d: Disagreement) -> str | None:
        if not self.expectations:
            return None
        diag = d.diagnosis()
        s = d.case.structure
        about = [*s.activations, s.loss, s.dtype]
        if diag.activation:
            about.append(diag.activation)
        if d.quantity is not None:
            about.append(d.quantity.family)
        for e in self.expectations:
            if e.matches(d.prop, diag.id, about):
                self.matched[e.line] += 1
                return e.line
        return None

    def record(self, prop: str, case: Case, outcome: Outcome) -> None:
        self.summary.record(prop, case, outcome)


def _hypothesis(
    label: str,
    strategy: st.SearchStrategy[Any],
    body: Callable[[Any], None],
    profile: Profile,
    shrink: bool = True,
    key: str | None = None,
) -> Disagreement | None:
    """Run ``body`` under Hypothesis; the minimal disagreement it found, or None.

    ``shrink=False`` reports the first disagreement as found: once a property of one kind
    has been shrunk, the same mistake met again elsewhere need not cost another shrink.
    """
    seen: list[Disagreement] = []
    phases = [p for p in Phase if p is not Phase.explain and (shrink or p is not Phase.shrink)]

    @settings(
        max_examples=profile.examples(label),
        derandomize=profile.derandomize,
        database=profile.database(),
        deadline=None,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        phases=phases,
    )
    @given(strategy)
    def prop(value: Any) -> None:
        try:
            body(value)
        except Disagreement as d:
            seen.append(d)
            raise

    # one example-database key per property and target: replays stay with their property
    prop._hypothesis_internal_add_digest = (key or label).encode()  # type: ignore[attr-defined]
    try:
        with _shrink_budget(SHRINK_SECONDS), _no_local_constants():
            prop()
    except Disagreement:
        return seen[-1]
    except HypothesisException:
        if seen:  # a flaky failure is still a failure: report the last one seen
            return seen[-1]
        raise
    except BaseExceptionGroup as group:  # pragma: no cover - report_multiple_bugs=False
        if seen:
            return seen[-1]
        raise group
    return None


@contextmanager
def _no_local_constants() -> Iterator[None]:
    """Hypothesis (6.131 on) also draws literal constants of the local modules imported so
    far, so a derandomized run's examples would depend on what else the process imported
    (a worker process imports less than the command line, an editable checkout is local
    where a wheel is not).  A drawn network gains nothing from them (its numbers come from
    a seeded generator), so the engine's properties draw with that pool empty."""
    from hypothesis.internal.conjecture import providers

    get = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if get is None or cache is None:  # a Hypothesis without the pool
        yield
        return
    empty = type(providers._local_constants)()
    providers._get_local_constants = lambda: empty
    cache.cache.clear()  # values permitted under the full pool
    try:
        yield
    finally:
        providers._get_local_constants = get
        cache.cache.clear()


@contextmanager
def _shrink_budget(seconds: float) -> Iterator[None]:
    """Hypothesis's shrinking time limit, lowered for the duration (restored after)."""
    from hypothesis.internal.conjecture import engine

    before = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if before is None:  # a Hypothesis without the knob: keep its own limit
        yield
        return
    engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = before


def _agreement(state: _State, loss: str, dtype: str) -> Callable[[list[Case]], None]:
    def body(group: list[Case]) -> None:
        pending = [dispatch(case) for case in group]  # XLA works while the target computes
        for case, p in zip(group, pending, strict=True):
            out = check_case(state.target, case, pending=p, expected=state.expected)
            state.record("agreement", case, out)

    return body


def _kinks(state: _State, activation: str, loss: str, dtype: str) -> Callable[[Any], None]:
    caps = state.target.capabilities

    def body(drawn: tuple[int, int, int]) -> None:
        width, batch, seed = drawn
        case = kink_case(caps, activation, loss, dtype, width, batch, seed)
        if case is None:
            return
        out = check_case(state.target, case, prop="kinks", expected=state.expected)
        state.record("kinks", case, out)

    return body


def _l1_ties(state: _State, dtype: str) -> Callable[[Any], None]:
    caps = state.target.capabilities

    def body(drawn: tuple[int, int, int]) -> None:
        width, batch, seed = drawn
        case = l1_tie_case(caps, dtype, width, batch, seed)
        if case is None:
            return
        out = check_case(state.target, case, prop="kinks", expected=state.expected)
        state.record("kinks", case, out)

    return body


def _repeatable(state: _State) -> Callable[[list[Case]], None]:
    def body(group: list[Case]) -> None:
        for case in group:
            out = check_case(
                state.target, case, repeat=True, prop="repeatable", expected=state.expected
            )
            state.record("repeatable", case, out)

    return body


def _exact(state: _State) -> Callable[[Case], None]:
    def body(case: Case) -> None:
        out = check_exact(state.target, case, expected=state.expected)
        state.record("exact", case, out)

    return body


def _kink_loss(target: Target) -> str | None:
    """The loss kink cases use: one on real targets if the target has one (any will do)."""
    usable = target.capabilities.losses_usable()
    real = [loss for loss in usable if TARGET_KINDS[loss] == "real"]
    pool = real or list(usable)
    return pool[0] if pool else None


def plan(target: Target, with_exact: bool) -> list[tuple[str, st.SearchStrategy[Any], Any]]:
    """(label, strategy, body-factory) of every property the target's capabilities allow."""
    caps = target.capabilities
    items: list[tuple[str, st.SearchStrategy[Any], Any]] = []
    for loss in caps.losses_usable():
        for dtype in caps.dtypes:
            items.append(
                (
                    f"agreement/{loss}/{dtype}",
                    network_groups(caps, loss, dtype, GROUP),
                    lambda s, lo=loss, dt=dtype: _agreement(s, lo, dt),
                )
            )
    kink_loss = _kink_loss(target)
    kinked = [a for a in caps.activations if ACTIVATION_SPECS[a].kinks]
    for act in kinked if kink_loss else []:
        for dtype in caps.dtypes:
            drawn = st.tuples(st.integers(1, 8), st.integers(1, 4), st.integers(0, 2**32 - 1))
            items.append(
                (
                    f"kinks/{act}/{dtype}",
                    drawn,
                    lambda s, a=act, lo=kink_loss, dt=dtype: _kinks(s, a, lo, dt),
                )
            )
    if l1_tie_case(caps, caps.dtypes[0], 1, 1, 0) is not None:  # l1's slope at a = y
        for dtype in caps.dtypes:
            drawn = st.tuples(st.integers(1, 8), st.integers(1, 4), st.integers(0, 2**32 - 1))
            items.append((f"kinks/l1/{dtype}", drawn, lambda s, dt=dtype: _l1_ties(s, dt)))
    for dtype in caps.dtypes:
        loss = caps.losses_usable()[0]
        items.append((f"repeatable/{dtype}", network_groups(caps, loss, dtype, 1), _repeatable))
    if with_exact:
        for dtype in caps.dtypes:
            items.append((f"exact/{dtype}", exact_cases(caps, dtype), _exact))
    return items


def selected(
    target: Target,
    with_exact: bool,
    only: Sequence[str] | None = None,
    labels: Collection[str] | None = None,
) -> list[tuple[str, st.SearchStrategy[Any], Any]]:
    """The properties of :func:`plan` of the kinds in ``only`` and the labels in ``labels``."""
    return [
        p for p in plan(target, with_exact)
        if (only is None or p[0].split("/")[0] in only) and (labels is None or p[0] in labels)
    ]  # fmt: skip


def smoke(target: Target) -> None:
    """Build and call the target once on the smallest case it supports: a ProtocolError if
    it cannot be used at all (wrong signature, no backprop method, results missing)."""
    caps = target.capabilities
    losses = caps.losses_usable()
    if not losses or not caps.dtypes:
        raise ProtocolError(f"target {target.name}: its capabilities leave nothing to generate")
    loss = losses[0]
    out = caps.outputs_for(loss)[0]
    n = 2
    s = Structure((n, n), (out,), loss, caps.dtypes[0], 2)
    case = fill(s, seed=0, gain=1.0, x_scale=1.0, zero_share=0.0)
    try:
        net = target.build(
            weights=[np.array(w) for w in case.weights],
            biases=[np.array(b) for b in case.biases],
            activations=list(s.activations),
            loss=loss,
        )
    except NotImplementedError:
        return
    except TypeError as exc:
        raise ProtocolError(
            f"target {target.name}: make(*, weights, biases, activations, loss) failed: {exc}"
        ) from exc
    except Exception:  # any other failure on a valid case is the properties' to report
        return
    try:
        target.backprop(net, np.array(case.X), np.array(case.Y))
    except Unsupported:
        return
    except ProtocolError:
        raise
    except Exception:
        return


def run_properties(
    target: Target,
    profile: Profile,
    *,
    expectations: Sequence[Expectation] = (),
    progress: Progress | None = None,
    with_exact: bool = True,
    only: Sequence[str] | None = None,
    labels: Collection[str] | None = None,
    shrunk: Collection[tuple[str, str]] = (),
    smoke_first: bool = True,
) -> Summary:
    """Every property against ``target``; the summary holds counts, cells and failures.

    ``only`` keeps the properties of those kinds (``agreement``, ``kinks``, ...), ``labels``
    those exact properties.  ``shrunk`` holds (property kind, what broke) of failures
    shrunk already: a kind's later failures are not shrunk unless something else broke."""
    if smoke_first:
        smoke(target)
    start = time.perf_counter()
    summary = Summary(target.name, target.capabilities)
    state = _State(target, expectations, progress, summary)
    # a kind's first failure is shrunk; a later one only if something else broke (the
    # target raised where a value was wrong before, say): the same mistake met again
    # elsewhere need not cost another shrink
    broke: set[tuple[str, str]] = set(shrunk)
    todo = selected(target, with_exact, only, labels)
    for done, (label, strategy, factory) in enumerate(todo, 1):
        kind = label.split("/")[0]
        key = f"{target.name}/{label}"
        try:
            found = _hypothesis(
                label, strategy, factory(state), profile, shrink=_fresh(kind, broke), key=key
            )
            if found is not None and (kind, found.prop) not in broke and not _fresh(kind, broke):
                # found again and shrunk, its cases counted once (in the first run)
                scratch = _State(
                    target, expectations, None, Summary(target.name, target.capabilities)
                )
                found = _hypothesis(label, strategy, factory(scratch), profile, key=key) or found
        except X64Disabled as exc:  # the target's code switched JAX to float32
            raise ProtocolError(f"target {target.name}: the oracle cannot run: {exc}") from exc
        if found is not None:
            broke.add((kind, found.prop))
            failure: Failure = failure_from(found, target.name)
            summary.failures.append(failure)
        if progress is not None:
            progress(label, done, len(todo), found is not None)
    summary.seconds = time.perf_counter() - start
    summary.matched = dict(state.matched)
    summary.unmatched = [e.line for e in expectations if e.line not in state.matched]
    return summary
