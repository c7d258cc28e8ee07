"""`defence.weakened` and `defence.outnumbered`: the strength around each of our sites."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from .. import wording
from ..lifecycle import Finding
from ..model import AlertEvent, Rule, Severity
from . import Context

IntArray = NDArray[np.int64]


def strengths(
    ctx: Context, touched: IntArray, distance: NDArray[np.float64] | None = None
) -> tuple[IntArray, IntArray, bool]:
    """(own, other) fresh strength within the defence radius of each of our sites, and
    whether either moved since the last evaluation.

    The sums are kept up to date incrementally: only the units a batch touched, and units
    that went stale since the last evaluation, are taken out at the place and strength
    they were counted with and put back as they are now. A live stream of single reports
    then costs a few small look-ups, not a pass over the whole picture. `distance`, when
    one unit is touched, is its distance to each of our sites, where the caller has it.
    """
    sites, pic, settings, watch = ctx.sites, ctx.picture, ctx.settings, ctx.watch
    n = len(sites)
    counted = watch.counted
    stale_us = int(settings.stale_after_s * 1_000_000)
    if watch.own_sum is None or watch.own_sum.shape[0] != n:
        watch.own_sum = np.zeros(n, dtype=np.int64)
        watch.other_sum = np.zeros(n, dtype=np.int64)
        counted[:] = False
        changed = np.flatnonzero(pic.fresh(ctx.now_us, settings.stale_after_s))
        watch.next_expiry_us = -1
    elif ctx.now_us > watch.next_expiry_us:
        # Someone counted may have gone stale: compare the whole picture.
        fresh = pic.fresh(ctx.now_us, settings.stale_after_s)
        flipped = np.flatnonzero(fresh != counted[: fresh.shape[0]])
        changed = np.union1d(flipped, touched) if touched.size else flipped
    elif touched.size == 1:
        moved_one = _touch_one(ctx, int(touched[0]), stale_us, distance)
        assert watch.other_sum is not None
        return watch.own_sum, watch.other_sum, moved_one
    else:
        changed = touched
    assert watch.other_sum is not None
    if not changed.size:
        return watch.own_sum, watch.other_sum, False
    if changed.size * 4 > pic.capacity:
        before = (watch.own_sum.copy(), watch.other_sum.copy())
        # Most of the picture moved: counting afresh is cheaper than taking each out.
        _recount(ctx)
        moved = not (
            np.array_equal(before[0], watch.own_sum) and np.array_equal(before[1], watch.other_sum)
        )
        return watch.own_sum, watch.other_sum, moved
    t = pic.t_us[changed]
    fresh_now = pic.seen[changed] & (ctx.now_us - t <= stale_us)
    mine = ctx.roster.unit_party[changed] == ctx.party_index
    was = counted[changed]
    moved = False
    if was.any():
        out = changed[was]
        moved |= _add(
            ctx, watch.counted_x[out], watch.counted_y[out], -watch.counted_strength[out], mine[was]
        )
    if fresh_now.any():
        back = changed[fresh_now]
        moved |= _add(ctx, pic.x[back], pic.y[back], pic.strength[back], mine[fresh_now])
        watch.counted_x[back] = pic.x[back]
        watch.counted_y[back] = pic.y[back]
        watch.counted_strength[back] = pic.strength[back]
    counted[changed] = fresh_now
    if watch.next_expiry_us < 0 or ctx.now_us > watch.next_expiry_us:
        live = counted[: pic.t_us.shape[0]]
        watch.next_expiry_us = (
            int(pic.t_us[live].min()) + stale_us if live.any() else np.iinfo(np.int64).max
        )
    elif fresh_now.any():
        watch.next_expiry_us = min(watch.next_expiry_us, int(t[fresh_now].min()) + stale_us)
    # A unit taken out and put back at the same sites with the same strength moved
    # nothing, but telling that apart costs more than one evaluation of the states.
    return watch.own_sum, watch.other_sum, moved


def _touch_one(
    ctx: Context, unit: int, stale_us: int, distance: NDArray[np.float64] | None
) -> bool:
    """`strengths` for one report (the live path): scalar work on the unit's own sites.

    Moved is false when the unit is counted at exactly the sites and the strength it was
    counted with before, which for a garrison drifting about its post is the usual case.
    """
    sites, pic, watch = ctx.sites, ctx.picture, ctx.watch
    assert watch.own_sum is not None and watch.other_sum is not None
    radius = ctx.settings.defence_radius_m
    t = int(pic.t_us[unit])
    fresh_now = bool(pic.seen[unit]) and ctx.now_us - t <= stale_us
    was = bool(watch.counted[unit])
    # Site indices as plain lists: a unit is within the radius of a handful of sites at
    # most, and numpy's per-call cost would dominate the arithmetic.
    before: list[int] = []
    if was:
        near = sites.distances(float(watch.counted_x[unit]), float(watch.counted_y[unit]))
        before = np.nonzero(near <= radius)[0].tolist()
    after: list[int] = []
    if fresh_now:
        if distance is None:
            distance = sites.distances(float(pic.x[unit]), float(pic.y[unit]))
        after = np.nonzero(distance <= radius)[0].tolist()
    old_strength = int(watch.counted_strength[unit])
    strength = int(pic.strength[unit])
    watch.counted[unit] = fresh_now
    if fresh_now:
        watch.counted_x[unit] = pic.x[unit]
        watch.counted_y[unit] = pic.y[unit]
        watch.counted_strength[unit] = strength
        if watch.next_expiry_us >= 0:
            watch.next_expiry_us = min(watch.next_expiry_us, t + stale_us)
    if (was and fresh_now and old_strength == strength and before == after) or not (
        before or after
    ):
        return False
    sums = watch.own_sum if ctx.roster.unit_party[unit] == ctx.party_index else watch.other_sum
    for i in before:
        sums[i] -= old_strength
    for i in after:
        sums[i] += strength
    return True


def _recount(ctx: Context) -> None:
    """Count every fresh unit around every site of ours from scratch."""
    sites, pic, settings, watch = ctx.sites, ctx.picture, ctx.settings, ctx.watch
    n = len(sites)
    fresh = np.flatnonzero(pic.fresh(ctx.now_us, settings.stale_after_s))
    own = np.zeros(n, dtype=np.int64)
    other = np.zeros(n, dtype=np.int64)
    if fresh.size and sites.tree is not None:
        tree = cKDTree(
            np.column_stack([pic.x[fresh], pic.y[fresh]]), balanced_tree=False, compact_nodes=False
        )
        # (site, unit, distance) records straight from the two trees: no list per site.
        pairs = sites.tree.sparse_distance_matrix(
            tree, settings.defence_radius_m, output_type="ndarray"
        )
        if pairs.shape[0]:
            site = pairs["i"].astype(np.int64)
            member = fresh[pairs["j"]]
            mine = ctx.roster.unit_party[member] == ctx.party_index
            strength = pic.strength[member]
            own = np.bincount(site[mine], weights=strength[mine], minlength=n).astype(np.int64)
            other = np.bincount(site[~mine], weights=strength[~mine], minlength=n).astype(np.int64)
    watch.own_sum, watch.other_sum = own, other
    watch.counted[:] = False
    watch.counted[fresh] = True
    watch.counted_x[fresh] = pic.x[fresh]
    watch.counted_y[fresh] = pic.y[fresh]
    watch.counted_strength[fresh] = pic.strength[fresh]
    stale_us = int(settings.stale_after_s * 1_000_000)
    watch.next_expiry_us = (
        int(pic.t_us[fresh].min()) + stale_us if fresh.size else np.iinfo(np.int64).max
    )


def _add(
    ctx: Context,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    strength: IntArray,
    mine: NDArray[np.bool_],
) -> bool:
    """Add strengths at these places into the sums; whether any site was within reach."""
    watch = ctx.watch
    assert watch.own_sum is not None and watch.other_sum is not None
    radius = np.full(x.shape[0], ctx.settings.defence_radius_m)
    point, site = ctx.sites.within(x, y, radius)
    if not point.size:
        return False
    n = watch.own_sum.shape[0]
    own = mine[point]
    watch.own_sum += np.bincount(site[own], weights=strength[point][own], minlength=n).astype(
        np.int64
    )
    watch.other_sum += np.bincount(site[~own], weights=strength[point][~own], minlength=n).astype(
        np.int64
    )
    return True


def _baseline(ctx: Context, own: IntArray) -> IntArray:
    """Record this evaluation's sample and return the largest in the window."""
    watch, settings = ctx.watch, ctx.settings
    window_us = int(settings.defence_window_s * 1_000_000)
    merge_us = window_us // 10_000
    times, samples = watch.defence_times, watch.defence_samples
    if samples and samples[-1].shape[0] != own.shape[0]:
        times.clear()
        samples.clear()
    if samples and np.array_equal(samples[-1], own):
        # The same figures again: the last sample now stands for this evaluation too.
        times[-1] = ctx.now_us
        watch.sample_current = True
    elif times and ctx.now_us - times[-1] < merge_us:
        watch.sample_current = bool((own >= samples[-1]).all())
        samples[-1] = np.maximum(samples[-1], own)
        times[-1] = ctx.now_us
    else:
        times.append(ctx.now_us)
        samples.append(own.copy())
        watch.sample_current = True
    watch.sample_folded = True
    cutoff = ctx.now_us - window_us
    drop = 0
    while drop < len(times) and times[drop] <= cutoff:
        drop += 1
    if drop:
        del times[:drop]
        del samples[:drop]
    # The running maximum only needs a full recount when a sample leaves the window.
    if drop or watch.defence_max is None or watch.defence_max.shape != own.shape:
        watch.defence_max = np.max(np.stack(samples), axis=0)
    else:
        watch.defence_max = np.maximum(watch.defence_max, own)
    return watch.defence_max


def evaluate(
    ctx: Context, touched: IntArray, distance: NDArray[np.float64] | None = None
) -> list[AlertEvent]:
    """Both defence rules for every site of ours; `touched` are the units reports moved
    (and `distance`, for a single one, its distance to each of our sites)."""
    sites, settings, watch = ctx.sites, ctx.settings, ctx.watch
    if not len(sites):
        return []
    own, other, moved = strengths(ctx, touched, distance)
    window_us = int(settings.defence_window_s * 1_000_000)
    times = watch.defence_times
    if not moved and times and times[0] > ctx.now_us - window_us:
        # Nothing counted changed and no sample leaves the window: the states stand. When
        # the last sample already holds these sums and this evaluation would merge into
        # it, the merge only moves its time.
        merge_us = window_us // 10_000
        if watch.sample_current or (watch.sample_folded and ctx.now_us - times[-1] < merge_us):
            times[-1] = ctx.now_us
        else:
            _baseline(ctx, own)
        return []
    baseline = _baseline(ctx, own)
    level = (1.0 - settings.defence_drop) * baseline
    weakened = (baseline >= settings.defence_min_baseline) & (own <= level)
    outnumbered = (other >= settings.outnumbered_ratio * np.maximum(own, 1)) & (
        other >= settings.defence_min_baseline
    )
    events: list[AlertEvent] = []
    watch = ctx.watch
    n = len(sites)
    # Only sites whose state flips, or whose figures moved while an alert is open, need words.
    shifted = np.ones(n, dtype=bool)
    if watch.last_figures is not None and watch.last_figures.shape == (3, n):
        shifted = (watch.last_figures != np.stack([own, other, baseline])).any(axis=0)
    watch.last_figures = np.stack([own, other, baseline])
    active = (weakened != watch.weakened[:n]) | (outnumbered != watch.outnumbered[:n])
    active |= (weakened | outnumbered) & shifted
    radius = wording.km(settings.defence_radius_m)
    window = wording.days(settings.defence_window_s)
    for i in np.flatnonzero(active).tolist():
        name = sites.sites[i].name
        mine, theirs, most = int(own[i]), int(other[i]), int(baseline[i])
        events += _settle(
            ctx,
            Rule.DEFENCE_WEAKENED,
            i,
            (bool(watch.weakened[i]), bool(weakened[i])),
            f"{name}: defenders within {radius} down to {mine} personnel from {most} in "
            f"the last {window} ({1.0 - mine / max(most, 1):.0%} fewer)",
            f"{name}: defenders back to {mine} personnel against {most} at most in the last "
            f"{window}",
            (mine, most),
        )
        events += _settle(
            ctx,
            Rule.DEFENCE_OUTNUMBERED,
            i,
            (bool(watch.outnumbered[i]), bool(outnumbered[i])),
            f"{name}: {theirs} personnel of other forces within {radius} against {mine} "
            f"of ours ({theirs / max(mine, 1):.1f} to 1)",
            f"{name}: {theirs} personnel of other forces within {radius} against {mine} of "
            f"ours, no longer {settings.outnumbered_ratio:g} to 1",
            (mine, theirs),
        )
    watch.weakened[: len(sites)] = weakened
    watch.outnumbered[: len(sites)] = outnumbered
    return events


def _settle(
    ctx: Context,
    rule: Rule,
    i: int,
    state: tuple[bool, bool],
    opening: str,
    closing: str,
    figures: tuple[object, ...],
) -> list[AlertEvent]:
    """One site's alert of one rule, from its (before, now) state."""
    was, now = state
    key = (rule, ctx.party, ctx.sites.sites[i].id)
    event = None
    if now:
        event = ctx.book.raise_(_finding(ctx, key, rule, i, opening, figures), ctx.now_us)
    elif was:
        event = ctx.book.resolve(key, ctx.now_us, closing)
    return [] if event is None else [event]


def _finding(
    ctx: Context,
    key: tuple[object, ...],
    rule: Rule,
    i: int,
    message: str,
    figures: tuple[object, ...],
) -> Finding:
    site = ctx.sites.sites[i]
    return Finding(
        rule=rule,
        party=ctx.party,
        key=key,
        severity=Severity(site.priority.value),
        message=message,
        site=site.id,
        lon=site.lon,
        lat=site.lat,
        figures=figures,
    )
