"""The properties of one run spread over worker processes, one property at a time.

A verified network's time is spent on the main thread (drawing it, running the target,
judging it), ~2.8 ms a network against ~0.8 ms of XLA's on the other core, so one process
leaves a core half idle.  Worker processes each run whole properties, in the order of the
plan, the next handed out as one finishes; the parent merges their summaries in plan order,
so a run's tables do not depend on which worker ran what.  Each property is a Hypothesis
test of its own already (its own examples, database key and shrinking), so nothing is shared
but the example database, whose directory Hypothesis writes safely from several processes.

Workers are spawned, not forked (JAX's threads do not survive a fork), so the target must be
importable by its name, ``MODULE:ATTR``; :func:`reloadable` says whether it is.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from oracle.engine.expect import Expectation
from oracle.engine.profiles import Profile, cache_dir
from oracle.engine.protocol import Capabilities, ProtocolError, Target, load_target
from oracle.engine.run import Progress, run_properties, selected, smoke
from oracle.engine.summary import Summary

__all__ = ["reloadable", "run_in_processes"]

_TARGETS: dict[str, Target] = {}


def reloadable(target: Target) -> bool:
    """Can a spawned process import ``target.make`` again by its name?"""
    try:
        make, _ = load_target(target.name)
    except ProtocolError:
        return False
    return make is target.make


def _start(jax_cache: str) -> None:
    from oracle.fast import enable_persistent_cache

    enable_persistent_cache(Path(jax_cache))


def _run_one(
    name: str,
    caps: Capabilities,
    profile: Profile,
    expectations: tuple[Expectation, ...],
    with_exact: bool,
    label: str,
    shrunk: frozenset[tuple[str, str]],
) -> Summary:
    target = _TARGETS.get(name)
    if target is None:
        target = _TARGETS[name] = Target(load_target(name)[0], name, caps)
    return run_properties(
        target, profile, expectations=expectations, with_exact=with_exact, labels=[label],
        shrunk=shrunk, smoke_first=False,
    )  # fmt: skip


def run_in_processes(
    target: Target,
    profile: Profile,
    jobs: int,
    *,
    expectations: Sequence[Expectation] = (),
    progress: Progress | None = None,
    with_exact: bool = True,
    only: Sequence[str] | None = None,
) -> Summary:
    """:func:`oracle.engine.run.run_properties` with ``jobs`` worker processes."""
    smoke(target)
    start = time.perf_counter()
    labels = [label for label, _, _ in selected(target, with_exact, only)]
    parts: dict[str, Summary] = {}
    shrunk: set[tuple[str, str]] = set()  # (kind, what broke) of the failures so far
    context = multiprocessing.get_context("spawn")
    jax_cache = str(cache_dir() / "jax")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start,
                             initargs=(jax_cache,)) as pool:  # fmt: skip
        queue = list(labels)
        running: dict[Future[Summary], str] = {}
        while queue or running:
            while queue and len(running) < jobs:
                label = queue.pop(0)
                job = pool.submit(
                    _run_one, target.name, target.capabilities, profile, tuple(expectations),
                    with_exact, label, frozenset(shrunk),
                )  # fmt: skip
                running[job] = label
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for job in finished:
                label = running.pop(job)
                parts[label] = part = job.result()  # a worker's ProtocolError raises here
                shrunk.update((label.split("/")[0], f.property) for f in part.failures)
                if progress is not None:
                    progress(label, len(parts), len(labels), bool(part.failures))
    summary = Summary(target.name, target.capabilities)
    for label in labels:
        summary.merge(parts[label])
    summary.seconds = time.perf_counter() - start
    summary.unmatched = [e.line for e in expectations if e.line not in summary.matched]
    return summary
