"""Reports as columns: the form in which the engine takes them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from .model import Report

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ObjectArray = NDArray[np.object_]


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware time."""
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """The aware UTC time of a count of microseconds since the epoch."""
    seconds, micros = divmod(int(value), 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


@dataclass(frozen=True, slots=True)
class ReportBatch:
    """A batch of validated reports, one row per report.

    `strength` is -1 where a report carries none; `equipment` holds, per row, the
    equipment counts a report carries (None where it carries none), or is None when no
    row carries any.
    """

    time_us: NDArray[np.int64]
    unit: ObjectArray
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    observer: ObjectArray
    strength: NDArray[np.int64]
    equipment: tuple[dict[str, int] | None, ...] | None
    report_id: ObjectArray
    source: ObjectArray
    rating: ObjectArray

    def __len__(self) -> int:
        return int(self.time_us.shape[0])

    @classmethod
    def empty(cls) -> ReportBatch:
        return cls.from_reports([], default_observer="")

    @classmethod
    def from_reports(cls, reports: Sequence[Report], default_observer: str) -> ReportBatch:
        """Columns of validated reports; a report without an observer gets the default."""
        n = len(reports)
        equipment: list[dict[str, int] | None] = [r.equipment for r in reports]
        return cls(
            time_us=np.fromiter((to_us(r.time) for r in reports), dtype=np.int64, count=n),
            unit=_objects([r.unit for r in reports]),
            lon=np.fromiter((r.lon for r in reports), dtype=np.float64, count=n),
            lat=np.fromiter((r.lat for r in reports), dtype=np.float64, count=n),
            observer=_objects([r.observer or default_observer for r in reports]),
            strength=np.fromiter(
                (-1 if r.strength is None else r.strength for r in reports),
                dtype=np.int64,
                count=n,
            ),
            equipment=tuple(equipment) if any(e is not None for e in equipment) else None,
            report_id=_objects([r.id for r in reports]),
            source=_objects([r.source for r in reports]),
            rating=_objects([r.rating for r in reports]),
        )

    def take(self, index: NDArray[np.intp] | slice) -> ReportBatch:
        """The rows at `index`, in that order."""
        equipment = None
        if self.equipment is not None:
            if isinstance(index, slice):
                # A run of rows (a replay's batch): the columns below are views, and the
                # equipment a slice, not an index over every row to pick them.
                picked = self.equipment[index]
            else:
                picked = tuple(map(self.equipment.__getitem__, index.tolist()))
            equipment = picked if picked.count(None) != len(picked) else None
        return ReportBatch(
            time_us=self.time_us[index],
            unit=self.unit[index],
            lon=self.lon[index],
            lat=self.lat[index],
            observer=self.observer[index],
            strength=self.strength[index],
            equipment=equipment,
            report_id=self.report_id[index],
            source=self.source[index],
            rating=self.rating[index],
        )

    def sorted_by_time(self) -> ReportBatch:
        """The same rows in time order; rows of equal time keep their order."""
        order = np.argsort(self.time_us, kind="stable")
        return self.take(order)

    def by_time(self) -> Iterator[ReportBatch]:
        """One batch per distinct timestamp, in time order (the replay's batches)."""
        ordered = self.sorted_by_time()
        if not len(ordered):
            return
        cuts = np.flatnonzero(np.diff(ordered.time_us)) + 1
        bounds = [0, *cuts.tolist(), len(ordered)]
        for start, stop in itertools.pairwise(bounds):
            yield ordered.take(slice(start, stop))

    def chunks(self, size: int) -> Iterator[ReportBatch]:
        """Consecutive batches of at most `size` rows."""
        for start in range(0, len(self), size):
            yield self.take(slice(start, start + size))

    def to_reports(self) -> list[Report]:
        """The rows as Report models (for storage and display, not the hot path)."""
        out: list[Report] = []
        for i in range(len(self)):
            strength = int(self.strength[i])
            out.append(
                Report.model_construct(
                    id=self.report_id[i],
                    time=from_us(int(self.time_us[i])),
                    unit=self.unit[i],
                    lon=float(self.lon[i]),
                    lat=float(self.lat[i]),
                    observer=self.observer[i],
                    strength=None if strength < 0 else strength,
                    equipment=None if self.equipment is None else self.equipment[i],
                    source=self.source[i],
                    rating=self.rating[i],
                )
            )
        return out


def _objects(values: Sequence[object]) -> ObjectArray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def concat(batches: Sequence[ReportBatch]) -> ReportBatch:
    """One batch of the rows of several, in order."""
    if not batches:
        return ReportBatch.empty()
    equipment: tuple[dict[str, int] | None, ...] | None = None
    if any(b.equipment is not None for b in batches):
        rows: list[dict[str, int] | None] = []
        for b in batches:
            rows.extend(b.equipment if b.equipment is not None else (None,) * len(b))
        equipment = tuple(rows)
    return ReportBatch(
        time_us=np.concatenate([b.time_us for b in batches]),
        unit=np.concatenate([b.unit for b in batches]),
        lon=np.concatenate([b.lon for b in batches]),
        lat=np.concatenate([b.lat for b in batches]),
        observer=np.concatenate([b.observer for b in batches]),
        strength=np.concatenate([b.strength for b in batches]),
        equipment=equipment,
        report_id=np.concatenate([b.report_id for b in batches]),
        source=np.concatenate([b.source for b in batches]),
        rating=np.concatenate([b.rating for b in batches]),
    )
