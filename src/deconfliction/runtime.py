"""Process-wide settings each entry point (the command line, the benchmarks) applies once."""

from __future__ import annotations

import gc

COLLECTOR_GEN0 = 10_000


def tune_collector() -> None:
    """Run the cyclic collector's youngest generation less often than Python's default.

    The engine makes a few short-lived containers for every alert event; at the default
    threshold of 700 allocations the collector runs dozens of times per batch, and each
    run that reaches the oldest generation walks every alert the book holds. That was a
    tenth of a replay's time. A larger first threshold keeps the same collections, fewer
    of them; a threshold already set higher is left alone.
    """
    gen0, gen1, gen2 = gc.get_threshold()
    if 0 < gen0 < COLLECTOR_GEN0:
        gc.set_threshold(COLLECTOR_GEN0, gen1, gen2)


__all__ = ["COLLECTOR_GEN0", "tune_collector"]
