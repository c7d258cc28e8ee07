"""The live path (batches of one report) gives the same alerts as the scalar reference."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from deconfliction.batch import ReportBatch
from deconfliction.engine import Engine
from deconfliction.model import Settings
from oracle_support import Journal, assert_same, tangle
from scalar import ScalarEngine
from workload import Workload, small


def _singles(batch: ReportBatch) -> list[ReportBatch]:
    ordered = batch.sorted_by_time()
    return [ordered.take(slice(i, i + 1)) for i in range(len(ordered))]


def _one_at_a_time(w: Workload) -> tuple[Journal, Journal]:
    """The engine's and the reference's events, each fed the workload one report at a time."""
    engine = Engine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings)
    reference = ScalarEngine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings)
    got, want = Journal(), Journal()
    for chunk in w.batches:
        for one in _singles(chunk):
            got.record(engine.ingest(one))
            want.record(reference.ingest(one))
    return got, want


def test_single_reports_match_the_reference_on_a_workload() -> None:
    w = small(seed=3, reports=1500, units=150, sites=10, batch_size=100, spread=True)
    got, want = _one_at_a_time(w)
    assert len(want.entries) > 50
    assert_same(got, want)


def test_single_reports_match_the_reference_on_garrisons_that_come_and_go() -> None:
    """Defence sums kept one report at a time: garrisons drifting about their posts,
    leaving, going stale and coming back, against the reference's full recount."""
    settings = Settings(
        defence_min_baseline=20, defence_drop=0.2, stale_after_s=1800, defence_window_s=3600
    )
    w = small(
        seed=7,
        reports=1500,
        units=120,
        sites=10,
        batch_size=100,
        redeployments=6,
        settings=settings,
    )
    got, want = _one_at_a_time(w)
    defence = {(e[2], e[1]) for e in want.entries if e[2].startswith("defence.")}
    assert {("defence.weakened", "open"), ("defence.weakened", "resolved")} <= defence
    assert {("defence.outnumbered", "updated"), ("defence.outnumbered", "resolved")} <= defence
    assert_same(got, want)


@pytest.mark.parametrize("seed", [2, 5])
def test_single_reports_match_the_reference_on_tangles(seed: int) -> None:
    parties, actors, lines, sites, units, steps = tangle(seed, n_steps=25)
    settings = Settings(
        stale_after_s=3600, massing_min_strength=200, defence_window_s=7200, defence_min_baseline=50
    )
    engine = Engine(parties, actors, lines, sites, units, settings)
    reference = ScalarEngine(parties, actors, lines, sites, units, settings)
    got, want = Journal(), Journal()
    for step in steps:
        if isinstance(step, datetime):
            got.record(engine.advance(step))
            want.record(reference.advance(step))
            continue
        for one in _singles(step):
            got.record(engine.ingest(one))
            want.record(reference.ingest(one))
    assert len(want.entries) > 20
    assert_same(got, want)


def test_live_engine_runs_massing_on_an_interval_but_catches_up_on_advance() -> None:
    w = small(seed=7, reports=600, units=100, sites=8, batch_size=600)
    clock_engine = Engine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings, live=True)
    exact = Engine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings)
    singles = _singles(w.batches[0])
    for one in singles:
        clock_engine.ingest(one)
        exact.ingest(one)
    last = singles[-1].time_us[0]
    assert int(np.int64(last)) == clock_engine.now_us
    clock_engine.advance(clock_engine.now)
    exact.advance(exact.now)

    def massing(e: Engine) -> list[tuple[str, ...]]:
        return sorted(tuple(a.units) for a in e.alerts() if a.rule == "force.massing")

    assert massing(clock_engine) == massing(exact)
