"""The watch: one module per rule family, each a function over one party's picture."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from .. import wording
from ..geo import LineGeometry
from ..lifecycle import AlertBook
from ..model import Settings, Site
from ..picture import Applied, Picture, Roster

__all__ = ["Context", "SiteTable", "Watch", "describe_unit", "figures", "site_horizon"]


@dataclass
class SiteTable:
    """One party's sites in theatre metres, with a k-d tree over them."""

    sites: list[Site]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    tree: cKDTree | None = None

    def __post_init__(self) -> None:
        if self.sites:
            self.tree = cKDTree(np.column_stack([self.x, self.y]))

    def __len__(self) -> int:
        return len(self.sites)

    def distances(self, x: float, y: float) -> NDArray[np.float64]:
        """Metres from one point to every site (for a single report, cheaper than the tree)."""
        out: NDArray[np.float64] = np.hypot(self.x - x, self.y - y)
        return out

    def nearest(
        self, x: NDArray[np.float64], y: NDArray[np.float64], within: float
    ) -> NDArray[np.float64]:
        """Metres from each point to the nearest site, or inf where none is `within`."""
        if self.tree is None or not x.shape[0]:
            return np.full(x.shape[0], np.inf)
        # Bounded, the tree gives up on a point as soon as no site can be close enough.
        distance, _ = self.tree.query(np.column_stack([x, y]), distance_upper_bound=within)
        return np.asarray(distance, dtype=np.float64)

    def within(
        self, x: NDArray[np.float64], y: NDArray[np.float64], radius: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(point, site) index pairs with the site within each point's radius."""
        if self.tree is None or not x.shape[0]:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        if x.shape[0] * len(self.sites) <= 4096:
            # A handful of points (the live path): one small matrix beats the tree's
            # per-query overhead.
            d = np.hypot(x[:, None] - self.x[None, :], y[:, None] - self.y[None, :])
            point, site = np.nonzero(d <= radius[:, None])
            return point.astype(np.int64), site.astype(np.int64)
        hits = self.tree.query_ball_point(np.column_stack([x, y]), r=radius)
        lengths = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        points = np.repeat(np.arange(len(hits), dtype=np.int64), lengths)
        sites = np.fromiter((s for h in hits for s in h), dtype=np.int64, count=int(lengths.sum()))
        return points, sites


@dataclass
class Watch:
    """What one party's rules remember between evaluations."""

    approach: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    violation: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    threat_keys: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    near: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    site_distance: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    """Each unit's distance to our nearest site when its flags were last refreshed; a batch
    leaves inf where that is beyond both the massing distance and the longest reach."""
    covers: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    defence_times: list[int] = field(default_factory=list)
    defence_samples: list[NDArray[np.int64]] = field(default_factory=list)
    weakened: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    outnumbered: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    defence_max: NDArray[np.int64] | None = None
    own_sum: NDArray[np.int64] | None = None
    last_figures: NDArray[np.int64] | None = None
    sample_current: bool = False
    """Whether the last defence sample holds exactly the current sums."""
    sample_folded: bool = False
    """Whether the last defence sample already holds at least the current sums."""
    next_expiry_us: int = -1
    """When the first counted unit goes stale; until then no freshness can flip."""
    other_sum: NDArray[np.int64] | None = None
    counted: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    counted_x: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    counted_y: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    counted_strength: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    massing_members: dict[tuple[object, ...], NDArray[np.int64]] = field(default_factory=dict)
    last_massing_us: int | None = None

    def fit(self, capacity: int, lines: list[str], n_sites: int) -> None:
        """Grow per-unit and per-site arrays to the current roster and agreement."""
        for name in lines:
            for table in (self.approach, self.violation):
                table[name] = _grow(table.get(name), capacity)
        self.near = _grow(self.near, capacity)
        extra = capacity - self.site_distance.shape[0]
        if extra > 0:
            self.site_distance = np.concatenate([self.site_distance, np.full(extra, np.inf)])
        self.counted = _grow(self.counted, capacity)
        extra = capacity - self.counted_x.shape[0]
        if extra > 0:
            self.counted_x = np.concatenate([self.counted_x, np.zeros(extra)])
            self.counted_y = np.concatenate([self.counted_y, np.zeros(extra)])
            self.counted_strength = np.concatenate(
                [self.counted_strength, np.zeros(extra, dtype=np.int64)]
            )
        self.covers = _grow(self.covers, capacity)
        self.weakened = _grow(self.weakened, n_sites)
        self.outnumbered = _grow(self.outnumbered, n_sites)


def _grow(array: NDArray[np.bool_] | None, size: int) -> NDArray[np.bool_]:
    if array is None:
        return np.zeros(size, dtype=bool)
    if array.shape[0] >= size:
        return array
    return np.concatenate([array, np.zeros(size - array.shape[0], dtype=bool)])


@dataclass
class Context:
    """Everything a rule needs to evaluate one party's picture once."""

    party: str
    party_index: int
    picture: Picture
    roster: Roster
    lines: list[LineGeometry]
    sites: SiteTable
    settings: Settings
    book: AlertBook
    watch: Watch
    now_us: int
    applied: Applied
    labels: dict[tuple[int, int, bytes], tuple[object, str]] = field(default_factory=dict)
    """Unit descriptions by (unit, strength, equipment), with the catalogue entry they
    were written from: a unit's figures change far less often than its alerts do."""
    holdings: dict[bytes, str] = field(default_factory=dict)
    """'10 tanks, 2 APCs' by equipment row: many units hold the same."""

    def unit_ids(self, units: NDArray[np.int64]) -> tuple[str, ...]:
        return tuple(self.roster.units[int(u)].id for u in units)


def site_horizon(settings: Settings) -> float:
    """How far from our sites a unit's distance to them matters: the massing distance,
    or the longest reach. Beyond it the rules only need to know it is farther."""
    return max(settings.massing_near_m, max(settings.weapon_ranges_m.values(), default=0.0))


def describe_unit(ctx: Context, index: int) -> str:
    """'Tank company (pro-regime, 60 personnel, 10 tanks)' as this picture holds it."""
    unit = ctx.roster.units[index]
    pic = ctx.picture
    strength = int(pic.strength[index])
    row = pic.equipment[index]
    key = (index, strength, row.tobytes())
    cached = ctx.labels.get(key)
    if cached is not None and cached[0] is unit:
        return cached[1]
    holding = ctx.holdings.get(key[2])
    if holding is None:
        held = row.tolist()
        holding = wording.equipment(
            {name: held[col] for name, col in ctx.roster.equipment_index.items() if col < len(held)}
        )
        if len(ctx.holdings) >= _LABELS:
            ctx.holdings.clear()
        ctx.holdings[key[2]] = holding
    label = wording.unit_label(unit.name, unit.actor, strength, holding)
    if len(ctx.labels) >= _LABELS:
        ctx.labels.clear()
    ctx.labels[key] = (unit, label)
    return label


_LABELS = 200_000


def figures(ctx: Context, index: int) -> tuple[object, ...]:
    """A unit's strength and equipment: what makes an alert about it worth an update."""
    pic = ctx.picture
    return (int(pic.strength[index]), tuple(pic.equipment[index].tolist()))


def bloc_label(ctx: Context, units: NDArray[np.int64]) -> str:
    """'Pro-regime forces and Russian contractors', or the party's name past three actors."""
    roster = ctx.roster
    actors = roster.actor_ids(units)
    names = [roster.actors[a].name for a in actors]
    if len(names) == 1:
        return names[0]
    if len(names) <= 3:
        # Actor names often hold an "and" of their own: join them with "with".
        return (
            names[0] + " with " + " and ".join(names[1:])
            if len(names) == 2
            else (f"{names[0]} with {names[1]}, {names[2]}")
        )
    party = roster.actors[actors[0]].party
    for p in roster.parties:
        if p.id == party:
            return f"Forces aligned with {p.name}"
    return "Unaligned groups"
