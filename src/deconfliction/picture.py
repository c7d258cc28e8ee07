"""One observer party's live picture: the latest state of every unit it has seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .batch import ReportBatch, from_us
from .geo import Projection
from .model import Actor, Party, Settings, Unit

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

NO_PARTY = -1
HEAVY = ("tank", "artillery", "mlrs")


class UnknownUnitError(KeyError):
    """A report names a unit the roster does not know."""

    def __init__(self, unit: str) -> None:
        super().__init__(unit)
        self.unit = unit

    def __str__(self) -> str:
        return f"unknown unit '{self.unit}'"


class Roster:
    """Parties, actors and units shared by every picture, indexed for array work."""

    def __init__(self, parties: list[Party], actors: list[Actor], settings: Settings) -> None:
        self.parties = list(parties)
        self.party_index = {p.id: i for i, p in enumerate(self.parties)}
        self.actors: dict[str, Actor] = {}
        self.blocs: dict[str, int] = {p.id: i for i, p in enumerate(self.parties)}
        self.settings = settings
        self.units: list[Unit] = []
        self.unit_index: dict[str, int] = {}
        self.equipment_names: list[str] = list(HEAVY)
        self.equipment_index = {name: i for i, name in enumerate(self.equipment_names)}
        self.unit_party = np.zeros(0, dtype=np.int64)
        self.unit_bloc = np.zeros(0, dtype=np.int64)
        self.unit_actor = np.zeros(0, dtype=np.int64)
        self.actor_order: list[str] = []
        self._actor_rank: dict[str, int] = {}
        self.kind_reach = np.zeros(0, dtype=np.float64)
        self.base_strength = np.zeros(0, dtype=np.int64)
        self.base_equipment = np.zeros((0, len(self.equipment_names)), dtype=np.int64)
        self.equipment_reach = np.zeros(len(self.equipment_names), dtype=np.float64)
        self._ids: NDArray[np.object_] | None = None
        self._rank: IntArray | None = None
        self._refresh_equipment_reach()
        for actor in actors:
            self.add_actor(actor)

    def add_actor(self, actor: Actor) -> None:
        if actor.id not in self.actors:
            self._actor_rank[actor.id] = len(self.actor_order)
            self.actor_order.append(actor.id)
        self.actors[actor.id] = actor
        if actor.party is None and f"actor:{actor.id}" not in self.blocs:
            self.blocs[f"actor:{actor.id}"] = len(self.blocs)

    def bloc_of(self, actor: Actor) -> int:
        return (
            self.blocs[actor.party] if actor.party is not None else self.blocs[f"actor:{actor.id}"]
        )

    def bloc_name(self, bloc: int) -> str:
        for name, index in self.blocs.items():
            if index == bloc:
                return name.removeprefix("actor:")
        return str(bloc)

    def equipment_column(self, name: str) -> int:
        column = self.equipment_index.get(name)
        if column is None:
            column = len(self.equipment_names)
            self.equipment_names.append(name)
            self.equipment_index[name] = column
            self.base_equipment = np.pad(self.base_equipment, ((0, 0), (0, 1)))
            self._refresh_equipment_reach()
        return column

    def _refresh_equipment_reach(self) -> None:
        ranges = self.settings.weapon_ranges_m
        self.equipment_reach = np.array(
            [ranges.get(name, 0.0) for name in self.equipment_names], dtype=np.float64
        )

    def add_unit(self, unit: Unit) -> int:
        """Register a unit (or replace its catalogue entry); returns its index."""
        index = self.unit_index.get(unit.id)
        if index is None:
            self.add_units([unit])
            return self.unit_index[unit.id]
        party, bloc, actor, reach, row = self._entry(unit)
        self.units[index] = unit
        self.unit_party[index] = party
        self.unit_bloc[index] = bloc
        self.unit_actor[index] = actor
        self.kind_reach[index] = reach
        self.base_strength[index] = unit.strength
        self.base_equipment[index] = row
        return index

    def add_units(self, units: Sequence[Unit]) -> None:
        """Register many units at once: one copy of each array, not one per unit."""
        fresh: list[Unit] = []
        entries: list[tuple[int, int, int, float, NDArray[np.int64]]] = []
        first = len(self.units)
        for unit in units:
            index = self.unit_index.get(unit.id)
            if index is None:
                self.unit_index[unit.id] = first + len(fresh)
                fresh.append(unit)
                entries.append(self._entry(unit))
            elif index >= first:
                # Listed twice in this call: the later entry stands, in the first place.
                fresh[index - first] = unit
                entries[index - first] = self._entry(unit)
            else:
                self.add_unit(unit)
        if not fresh:
            return
        self.units.extend(fresh)
        # `equipment_column` widens the catalogue as names appear: an entry made before a
        # later unit's new name is narrower than the rows are now.
        rows = np.zeros((len(fresh), len(self.equipment_names)), dtype=np.int64)
        for i, entry in enumerate(entries):
            rows[i, : entry[4].shape[0]] = entry[4]
        self.unit_party = np.concatenate([self.unit_party, [e[0] for e in entries]])
        self.unit_bloc = np.concatenate([self.unit_bloc, [e[1] for e in entries]])
        self.unit_actor = np.concatenate([self.unit_actor, [e[2] for e in entries]])
        self.kind_reach = np.concatenate([self.kind_reach, [e[3] for e in entries]])
        self.base_strength = np.concatenate([self.base_strength, [u.strength for u in fresh]])
        self.base_equipment = np.vstack([self.base_equipment, rows])

    def _entry(self, unit: Unit) -> tuple[int, int, int, float, NDArray[np.int64]]:
        """A unit's party, bloc, actor, kind reach and catalogue equipment row."""
        actor = self.actors[unit.actor]
        columns = [self.equipment_column(name) for name in unit.equipment]
        row = np.zeros(len(self.equipment_names), dtype=np.int64)
        for column, count in zip(columns, unit.equipment.values(), strict=True):
            row[column] = count
        party = NO_PARTY if actor.party is None else self.party_index[actor.party]
        reach = self.settings.weapon_ranges_m.get(unit.kind.value, 0.0)
        return party, self.bloc_of(actor), self._actor_rank[actor.id], reach, row

    def actor_ids(self, units: IntArray) -> list[str]:
        """The distinct actors of some units, sorted."""
        # A set of plain ints: groups are small, and np.unique's sort costs more here.
        return sorted(self.actor_order[i] for i in set(self.unit_actor[units].tolist()))

    @property
    def ids(self) -> NDArray[np.object_]:
        """Unit ids by roster index."""
        if self._ids is None or self._ids.shape[0] != len(self.units):
            self._ids = np.array([u.id for u in self.units] + [None], dtype=object)[:-1]
            self._rank = np.empty(len(self.units), dtype=np.int64)
            self._rank[np.argsort(self._ids.astype(str), kind="stable")] = np.arange(
                len(self.units)
            )
        return self._ids

    @property
    def rank(self) -> IntArray:
        """Each unit's place when ids are sorted: orders groups by their first id cheaply."""
        self.ids  # noqa: B018 - refreshes both arrays together
        assert self._rank is not None
        return self._rank

    def indices(self, ids: NDArray[np.object_]) -> IntArray:
        try:
            return np.fromiter(map(self.unit_index.__getitem__, ids), np.int64, len(ids))
        except KeyError as exc:
            raise UnknownUnitError(str(exc.args[0])) from None

    def __len__(self) -> int:
        return len(self.units)


@dataclass(frozen=True)
class UnitState:
    """A unit as one party's picture holds it now."""

    id: str
    name: str
    actor: str
    party: str | None
    kind: str
    lon: float
    lat: float
    time_us: int
    strength: int
    equipment: dict[str, int]
    fresh: bool

    @property
    def time(self) -> object:
        return from_us(self.time_us)


@dataclass(frozen=True)
class Applied:
    """What a batch changed in a picture."""

    units: IntArray
    """Units whose latest state changed, ascending."""
    prev_seen: BoolArray
    prev_x: FloatArray
    prev_y: FloatArray
    prev_t: IntArray
    figures_changed: BoolArray
    """Per entry of `units`: strength or equipment changed."""
    rows: IntArray
    """Accepted batch rows (in path order: unit, then time), for crossings."""
    row_units: IntArray
    row_x: FloatArray
    row_y: FloatArray
    row_t: IntArray


@dataclass(frozen=True, slots=True)
class AppliedOne:
    """What a single report changed in a picture (the live path)."""

    unit: int
    prev_seen: bool
    prev_x: float
    prev_y: float
    prev_t: int
    figures_changed: bool


class Picture:
    """The latest state per unit, as numpy arrays indexed like the roster."""

    def __init__(self, party: str, roster: Roster, projection: Projection) -> None:
        self.party = party
        self.party_index = roster.party_index[party]
        self.roster = roster
        self.projection = projection
        self.capacity = 0
        self.seen = np.zeros(0, dtype=bool)
        self.t_us = np.zeros(0, dtype=np.int64)
        self.lon = np.zeros(0, dtype=np.float64)
        self.lat = np.zeros(0, dtype=np.float64)
        self.x = np.zeros(0, dtype=np.float64)
        self.y = np.zeros(0, dtype=np.float64)
        self.strength = np.zeros(0, dtype=np.int64)
        self.equipment = np.zeros((0, len(roster.equipment_names)), dtype=np.int64)
        self.grow()

    def grow(self) -> None:
        """Make room for units and equipment kinds registered since the last call."""
        n = len(self.roster)
        cols = len(self.roster.equipment_names)
        if self.equipment.shape[1] < cols:
            self.equipment = np.pad(self.equipment, ((0, 0), (0, cols - self.equipment.shape[1])))
        if n <= self.capacity:
            return
        old = self.capacity
        extra = n - old

        def pad(a: NDArray[np.generic]) -> NDArray[np.generic]:
            return np.concatenate([a, np.zeros(extra, dtype=a.dtype)])

        self.seen = pad(self.seen).astype(bool)
        self.t_us = pad(self.t_us).astype(np.int64)
        self.lon = pad(self.lon).astype(np.float64)
        self.lat = pad(self.lat).astype(np.float64)
        self.x = pad(self.x).astype(np.float64)
        self.y = pad(self.y).astype(np.float64)
        self.strength = np.concatenate([self.strength, self.roster.base_strength[old:n]])
        self.equipment = np.vstack([self.equipment, self.roster.base_equipment[old:n]])
        self.capacity = n

    def reset_catalogue(self, index: int) -> None:
        """A unit's catalogue entry changed: an unseen unit takes its new figures."""
        if not self.seen[index]:
            self.strength[index] = self.roster.base_strength[index]
            self.equipment[index] = self.roster.base_equipment[index]

    # Derived figures -------------------------------------------------------------------

    def reach(self, units: IntArray | None = None) -> FloatArray:
        """Each unit's reach in metres: its kind's range or its longest-range equipment."""
        eq = self.equipment if units is None else self.equipment[units]
        kind = self.roster.kind_reach if units is None else self.roster.kind_reach[units]
        reach_eq = self.roster.equipment_reach[: eq.shape[1]]
        held = np.where(eq > 0, reach_eq[None, :], 0.0)
        best = held.max(axis=1) if held.shape[1] else np.zeros(eq.shape[0])
        out: FloatArray = np.maximum(kind, best)
        return out

    def heavy(self, units: IntArray | None = None) -> IntArray:
        eq = self.equipment if units is None else self.equipment[units]
        out: IntArray = eq[:, : len(HEAVY)].sum(axis=1)
        return out

    def fresh(self, now_us: int, stale_after_s: float) -> BoolArray:
        out: BoolArray = self.seen & ((now_us - self.t_us) <= int(stale_after_s * 1_000_000))
        return out

    # Updates ---------------------------------------------------------------------------

    def apply(self, batch: ReportBatch, units: IntArray, rows: IntArray | None = None) -> Applied:
        """Fold this party's reports into the picture: the batch's rows at `rows` (all
        of them by default), aligned with `units`.

        Rows are taken by index rather than as a batch of their own, so that a batch
        shared by several parties is not copied column by column for each.
        """
        self.grow()
        time_us = batch.time_us if rows is None else batch.time_us[rows]
        # lexsort is stable: a unit's reports of equal time keep their batch order.
        order = np.lexsort((time_us, units))
        u_sorted = units[order]
        t_sorted = time_us[order]
        # A report older than the unit's state changes nothing.
        accepted = t_sorted >= np.where(
            self.seen[u_sorted], self.t_us[u_sorted], np.iinfo(np.int64).min
        )
        picked = order[accepted]
        rows = picked if rows is None else rows[picked]
        ru = u_sorted[accepted]
        if not rows.size:
            empty_i = np.zeros(0, dtype=np.int64)
            empty_f = np.zeros(0, dtype=np.float64)
            empty_b = np.zeros(0, dtype=bool)
            return Applied(
                empty_i,
                empty_b,
                empty_f,
                empty_f,
                empty_i,
                empty_b,
                empty_i,
                empty_i,
                empty_f,
                empty_f,
                empty_i,
            )
        rx, ry = self.projection.forward(batch.lon[rows], batch.lat[rows])
        rt = batch.time_us[rows]
        last = np.flatnonzero(np.append(ru[1:] != ru[:-1], True))
        touched = ru[last]
        prev_seen = self.seen[touched].copy()
        prev_x = self.x[touched].copy()
        prev_y = self.y[touched].copy()
        prev_t = self.t_us[touched].copy()
        old_strength = self.strength[touched].copy()
        old_equipment = self.equipment[touched].copy()

        self.seen[touched] = True
        self.t_us[touched] = rt[last]
        self.x[touched] = rx[last]
        self.y[touched] = ry[last]
        self.lon[touched] = batch.lon[rows[last]]
        self.lat[touched] = batch.lat[rows[last]]

        strength = batch.strength[rows]
        has = strength >= 0
        if has.any():
            # Rows are in time order per unit, so the last assignment is the latest report's.
            self.strength[ru[has]] = strength[has]
        if batch.equipment is not None:
            # Few reports carry equipment: find them in one pass, then visit only those,
            # still in path order so that a unit's latest counts are written last.
            carries = np.fromiter(map(bool, batch.equipment), dtype=bool, count=len(batch))
            for i in np.flatnonzero(carries[rows]).tolist():
                counts = batch.equipment[int(rows[i])]
                assert counts is not None
                unit = int(ru[i])
                for name, count in counts.items():
                    column = self.roster.equipment_column(name)
                    if column >= self.equipment.shape[1]:
                        self.grow()
                    self.equipment[unit, column] = count
        if self.equipment.shape[1] > old_equipment.shape[1]:
            old_equipment = np.pad(
                old_equipment, ((0, 0), (0, self.equipment.shape[1] - old_equipment.shape[1]))
            )
        changed = (self.strength[touched] != old_strength) | (
            self.equipment[touched] != old_equipment
        ).any(axis=1)
        return Applied(
            units=touched,
            prev_seen=prev_seen,
            prev_x=prev_x,
            prev_y=prev_y,
            prev_t=prev_t,
            figures_changed=changed & prev_seen,
            rows=rows,
            row_units=ru,
            row_x=rx,
            row_y=ry,
            row_t=rt,
        )

    def apply_one(self, batch: ReportBatch, unit: int) -> AppliedOne | None:
        """Fold one report (batch row 0) in with scalar work only; None if it is older."""
        self.grow()
        t = int(batch.time_us[0])
        seen = bool(self.seen[unit])
        if seen and t < int(self.t_us[unit]):
            return None
        lon = float(batch.lon[0])
        lat = float(batch.lat[0])
        x, y = self.projection.point(lon, lat)
        applied = AppliedOne(
            unit=unit,
            prev_seen=seen,
            prev_x=float(self.x[unit]),
            prev_y=float(self.y[unit]),
            prev_t=int(self.t_us[unit]),
            figures_changed=False,
        )
        self.seen[unit] = True
        self.t_us[unit] = t
        self.x[unit] = x
        self.y[unit] = y
        self.lon[unit] = lon
        self.lat[unit] = lat
        changed = False
        strength = int(batch.strength[0])
        if strength >= 0 and strength != int(self.strength[unit]):
            self.strength[unit] = strength
            changed = True
        counts = batch.equipment[0] if batch.equipment is not None else None
        if counts:
            for name, count in counts.items():
                column = self.roster.equipment_column(name)
                if column >= self.equipment.shape[1]:
                    self.grow()
                if int(self.equipment[unit, column]) != count:
                    self.equipment[unit, column] = count
                    changed = True
        if changed and seen:
            return AppliedOne(unit, seen, applied.prev_x, applied.prev_y, applied.prev_t, True)
        return applied

    def reach_of(self, unit: int) -> float:
        """One unit's reach (the scalar form of `reach`)."""
        # Plain floats: for a row of a dozen counts, numpy's per-call cost dominates.
        best = float(self.roster.kind_reach[unit])
        for count, reach in zip(
            self.equipment[unit].tolist(), self.roster.equipment_reach.tolist(), strict=False
        ):
            if count > 0 and reach > best:
                best = reach
        return best

    # Reading ---------------------------------------------------------------------------

    def state(self, index: int, now_us: int) -> UnitState:
        unit = self.roster.units[index]
        actor = self.roster.actors[unit.actor]
        eq = {
            name: int(self.equipment[index, col])
            for name, col in self.roster.equipment_index.items()
            if col < self.equipment.shape[1] and self.equipment[index, col] > 0
        }
        return UnitState(
            id=unit.id,
            name=unit.name,
            actor=unit.actor,
            party=actor.party,
            kind=unit.kind.value,
            lon=float(self.lon[index]),
            lat=float(self.lat[index]),
            time_us=int(self.t_us[index]),
            strength=int(self.strength[index]),
            equipment=eq,
            fresh=bool(now_us - int(self.t_us[index]) <= self.roster.settings.stale_after_s * 1e6),
        )

    def units(self, now_us: int) -> list[UnitState]:
        """Every unit this party has seen, in roster order."""
        return [self.state(int(i), now_us) for i in np.flatnonzero(self.seen)]
