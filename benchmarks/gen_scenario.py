"""Write the large JSON scenario the replay benchmark feeds to `deconfliction scenario run`.

The forces and reports are issue 2's benchmark workload (`workload.py`): one wandering
line of 200 vertices, 200 sites on both sides, 10,000 units in four blocs moving in
formations, reported by both parties. Each batch of 10,000 reports is one sensor sweep
at one time, so a replay (one batch per distinct time) takes them as the engine
benchmark does.

    python benchmarks/gen_scenario.py --reports 1000000 [--out FILE] [--force]

An existing file is kept unless `--force` is given (`make clean` removes them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import WorkloadSpec, generate

DEFAULT_OUT = Path("var/bench/replay-{reports}.json")


def write(path: Path, reports: int = 1_000_000, seed: int = 2018) -> Path:
    """Generate the workload and write it as one JSON scenario file at `path`."""
    spec = WorkloadSpec(reports=reports, seed=seed, spread=False)
    workload = generate(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    workload.write_scenario_json(partial)
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--force", action="store_true", help="Write it even if it exists.")
    args = parser.parse_args(argv)
    out = args.out or Path(str(DEFAULT_OUT).format(reports=args.reports))
    if out.exists() and not args.force:
        print(f"{out}: exists (--force writes it again)", file=sys.stderr)
        return 0
    started = time.perf_counter()
    write(out, args.reports, args.seed)
    size = out.stat().st_size / 1e6
    elapsed = time.perf_counter() - started
    print(f"{out}: {args.reports:,} reports, {size:.0f} MB in {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
