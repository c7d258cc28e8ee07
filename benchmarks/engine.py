"""Engine benchmark of issue 2: one `name value unit target` line per figure.

    engine.batch.throughput     the whole workload (10,000 units in 4 blocs, a 200-vertex
                                line, 200 sites, 1,000,000 reports in batches of 10,000),
                                every rule after every batch, in a child process
    engine.peak_rss             that child's peak resident memory
    engine.clustering.ceiling   the same reports over the CPU time of the force.massing
                                clustering alone in that run (scipy's k-d tree pairs and
                                connected components for each party after every batch):
                                what the engine could reach were every other rule free
    engine.subset.throughput    the engine on the first batches only (best of three runs)
    engine.baseline.throughput  the scalar reference (benchmarks/scalar.py: report by
                                report, scalar shapely and pyproj calls) on the same batches
                                (best of three runs)
    engine.speedup              the two above, divided
    engine.live.throughput      batches of one report, massing on its 1 s interval
    scenario.replay.*           benchmarks/replay.py: the command line on a 1M-report file

Run with `python benchmarks/engine.py [--reports N] [--no-replay]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deconfliction.batch import ReportBatch
from deconfliction.engine import Engine
from deconfliction.runtime import tune_collector
from workload import WorkloadSpec, generate

TARGETS = {
    "engine.batch.throughput": ">=1000000",
    "engine.speedup": ">=20",
    "engine.live.throughput": ">=20000",
    "engine.peak_rss": "<1500",
}


def figure(name: str, value: float, unit: str) -> None:
    target = TARGETS.get(name)
    suffix = f" target{target}" if target else ""
    print(f"{name} {value:.{1 if unit == 'x' else 0}f} {unit}{suffix}", flush=True)


def batch_run(reports: int) -> dict[str, float]:
    """The whole workload through one engine (run in a child for a clean peak RSS)."""
    workload = generate(WorkloadSpec(reports=reports))
    w = workload
    engine = Engine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings)
    clustering = _timed_clustering()
    events = 0
    cpu = time.process_time()
    started = time.perf_counter()
    for batch in w.batches:
        events += len(engine.ingest(batch))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "reports": w.reports,
        "wall": wall,
        "cpu": cpu,
        "events": events,
        "rss": rss_mb,
        "clustering": clustering[0],
    }


def _timed_clustering() -> list[float]:
    """Time every call of the massing rule's clustering from now on: [CPU seconds]."""
    from deconfliction.rules import massing

    spent = [0.0]
    clusters = massing.clusters

    def timed(*args: Any) -> Any:
        started = time.process_time()
        try:
            return clusters(*args)
        finally:
            spent[0] += time.process_time() - started

    massing.clusters = timed  # type: ignore[assignment]
    return spent


def subset_and_baseline(warm: int, timed: int, repeats: int) -> tuple[float, float, int]:
    """(engine, reference) reports/s on the same batches of the workload, each the best
    of `repeats` runs from a fresh start.

    Both first take `warm` batches untimed, so that the pictures hold the whole force as
    they do for most of the full run (an empty picture flatters the reference). The
    engine's timed part is a tenth of a second, so one run of it moves with whatever
    else the machine does: the best of several is the steadier figure, for both sides.
    """
    from scalar import ScalarEngine

    spec = WorkloadSpec(reports=(warm + timed) * WorkloadSpec().batch_size)
    w = generate(spec)
    measured = w.batches[warm:]
    n = sum(len(b) for b in measured)

    def best(make: Callable[[], Any]) -> float:
        rates = []
        for _ in range(repeats):
            engine = make()
            for batch in w.batches[:warm]:
                engine.ingest(batch)
            started = time.process_time()
            for batch in measured:
                engine.ingest(batch)
            rates.append(n / (time.process_time() - started))
        return max(rates)

    fast = best(lambda: Engine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings))
    slow = best(lambda: ScalarEngine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings))
    return fast, slow, n


def live(warm_batches: int, singles: int) -> float:
    """Reports/s fed one at a time into a picture already holding the whole force."""
    spec = WorkloadSpec(reports=(warm_batches + 3) * WorkloadSpec().batch_size)
    w = generate(spec)
    engine = Engine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings, live=True)
    for batch in w.batches[:warm_batches]:
        engine.ingest(batch)
    rows: list[ReportBatch] = []
    for batch in w.batches[warm_batches:]:
        ordered = batch.sorted_by_time()
        rows += [ordered.take(slice(i, i + 1)) for i in range(len(ordered))]
    rows = rows[:singles]
    started = time.process_time()
    for one in rows:
        engine.ingest(one)
    return len(rows) / (time.process_time() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--warm-batches", type=int, default=3)
    parser.add_argument("--subset-batches", type=int, default=2)
    parser.add_argument("--subset-repeats", type=int, default=3)
    parser.add_argument("--singles", type=int, default=20_000)
    parser.add_argument("--no-replay", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tune_collector()  # as the command line does
    if args.child:
        print(json.dumps(batch_run(args.reports)))
        return 0

    child = subprocess.run(
        [sys.executable, __file__, "--child", "--reports", str(args.reports)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"# {result['reports']:,} reports, {result['events']:,} alert events, "
        f"{result['wall']:.1f} s wall, {result['cpu']:.1f} s CPU",
        file=sys.stderr,
    )
    figure("engine.batch.throughput", result["reports"] / result["cpu"], "reports/s")
    figure("engine.peak_rss", result["rss"], "MB")
    figure("engine.clustering.ceiling", result["reports"] / result["clustering"], "reports/s")
    fast, slow, n = subset_and_baseline(args.warm_batches, args.subset_batches, args.subset_repeats)
    print(
        f"# subset: {n:,} reports after {args.warm_batches} batches of the same workload, "
        f"best of {args.subset_repeats} runs each",
        file=sys.stderr,
    )
    figure("engine.subset.throughput", fast, "reports/s")
    figure("engine.baseline.throughput", slow, "reports/s")
    figure("engine.speedup", fast / slow, "x")
    figure("engine.live.throughput", live(10, args.singles), "reports/s")
    if not args.no_replay:
        from replay import main as replay

        return replay([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
