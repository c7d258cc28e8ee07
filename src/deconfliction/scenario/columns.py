"""Report rows to columns, validated a column at a time.

Validating a million reports one pydantic model at a time runs at about 120,000 rows
a second; a scenario replay needs more. Here each column is checked with a few numpy
operations, and distinct values (times, ids) are validated once each. The checks are
conservative: a row they do not positively accept is validated by the `Report` model
itself, which either accepts it (and its values are used) or words the error. So the
columns give exactly the reports, and the errors, of the model.
"""

from __future__ import annotations

import gc
import operator
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import TypeAdapter, ValidationError

from ..batch import ReportBatch, to_us
from ..model import ID_PATTERN, MAX_COUNT, Report, UtcDatetime
from .errors import MAX_ERRORS, validation_problems

_FIELDS = tuple(Report.model_fields)
_REQUIRED = frozenset(name for name, field in Report.model_fields.items() if field.is_required())
# fullmatch, not match: Python's `$` also matches before a final newline, and the
# model's patterns (pydantic's regex engine) do not
_ID = re.compile(ID_PATTERN)
_EQUIPMENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_RATINGS = frozenset(f"{r}{c}" for r in "ABCDEF" for c in "123456")
_TIME = TypeAdapter(UtcDatetime)
INT64_MAX = 2**63 - 1

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class ReportColumns:
    """The reports of a document: a batch in file order, and which rows named an observer."""

    batch: ReportBatch
    observer_given: BoolArray
    units: frozenset[str]
    """The distinct units the reports name."""
    observers: frozenset[str]
    """The distinct observers the reports name (not counting the default)."""


@dataclass(slots=True)
class _Rows:
    """Working columns: raw values per field, and the rows still positively accepted."""

    rows: Sequence[Any]
    ok: BoolArray
    values: dict[str, list[Any]]
    declared: dict[str, set[type]] | None = None
    """The types each column can hold, when the decoder guarantees them."""
    distinct: dict[str, dict[Hashable, bool]] = field(default_factory=dict)
    """Per column checked once per value, its distinct values (of the accepted types)."""

    def kinds(self, name: str) -> set[type]:
        if self.declared is not None:
            return self.declared[name]
        return set(map(type, self.values[name]))


_NONE = type(None)
_STRUCT_KINDS: dict[str, set[type]] = {
    "time": {str},
    "unit": {str},
    "lon": {float},
    "lat": {float},
    "id": {str, _NONE},
    "observer": {str, _NONE},
    "strength": {int, _NONE},
    "equipment": {dict, _NONE},
    "source": {str, _NONE},
    "rating": {str, _NONE},
}


def report_columns(
    rows: Sequence[Any], default_observer: str, prefix: str = "reports"
) -> tuple[ReportColumns | None, list[str]]:
    """Validate report rows; the columns, or None and the problems (`path: message`)."""
    n = len(rows)
    work = _Rows(rows=rows, ok=np.ones(n, dtype=bool), values={})
    _check_shapes(work)
    time_us, lon, lat, strength = _check_columns(work)

    problems: list[str] = []
    for i in np.flatnonzero(~work.ok).tolist():
        try:
            report = Report.model_validate(rows[i])
        except ValidationError as error:
            problems.extend(validation_problems(error, (prefix, i)))
            if len(problems) > MAX_ERRORS:
                break
            continue
        if report.strength is not None and report.strength > INT64_MAX:
            # the model has no upper bound; the batch's columns hold 64 bits
            problems.append(
                f"{prefix}[{i}].strength: Input should be less than or equal to {INT64_MAX}"
            )
            continue
        # The model accepted what the fast checks did not (an int time, a numeric
        # string): take its values.
        for name in _FIELDS:
            work.values[name][i] = getattr(report, name)
        work.distinct.clear()  # the model's values may be new ones
        time_us[i] = to_us(report.time)
        lon[i] = report.lon
        lat[i] = report.lat
        strength[i] = -1 if report.strength is None else report.strength
    if problems:
        return None, problems
    return _columns(work, time_us, lon, lat, strength, default_observer), []


def struct_columns(rows: Sequence[Any], default_observer: str) -> ReportColumns | None:
    """The columns of reports decoded as typed structs (attributes named as the fields),
    or None when any row needs the model's judgement."""
    n = len(rows)
    values = {name: list(map(operator.attrgetter(name), rows)) for name in _FIELDS}
    work = _Rows(rows=rows, ok=np.ones(n, dtype=bool), values=values, declared=_STRUCT_KINDS)
    time_us, lon, lat, strength = _check_columns(work)
    if not work.ok.all():
        return None
    return _columns(work, time_us, lon, lat, strength, default_observer)


def _check_columns(
    work: _Rows,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    time_us = _check_times(work)
    _check_ids(work, "unit", required=True)
    _check_ids(work, "observer", required=False)
    lon = _check_floats(work, "lon", 180.0)
    lat = _check_floats(work, "lat", 90.0)
    strength = _check_strength(work)
    _check_equipment(work)
    _check_strings(work, "id", 1, 128)
    # few distinct sources: judged once each
    _unique_check(work, "source", (str, _NONE), lambda v: v is None or len(v) <= 200)
    _check_set(work, "rating", _RATINGS)
    return time_us, lon, lat, strength


def _columns(
    work: _Rows,
    time_us: NDArray[np.int64],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    strength: NDArray[np.int64],
    default_observer: str,
) -> ReportColumns:
    n = len(time_us)
    observers = work.values["observer"]
    observer_given = np.fromiter(map(operator.is_not, observers, repeat(None)), bool, count=n)
    named = frozenset(_distinct(work, "observer")) - {None}
    if not observer_given.all():
        observers = [default_observer if o is None else o for o in observers]
    equipment = work.values["equipment"]
    batch = ReportBatch(
        time_us=time_us,
        unit=_shared(work.values["unit"], work.distinct.get("unit")),
        lon=lon,
        lat=lat,
        observer=_shared(observers, work.distinct.get("observer")),
        strength=strength,
        equipment=tuple(equipment) if equipment.count(None) != n else None,
        report_id=_objects(work.values["id"]),
        source=_objects(work.values["source"]),
        rating=_objects(work.values["rating"]),
    )
    return ReportColumns(
        batch=batch,
        observer_given=observer_given,
        units=frozenset(_distinct(work, "unit")),
        observers=named,
    )


def _distinct(work: _Rows, name: str) -> Iterable[Any]:
    """A column's distinct values: those its check found, or else counted now."""
    found = work.distinct.get(name)
    return found.keys() if found is not None else set(work.values[name])


def _shared(values: list[Any], distinct: dict[Hashable, bool] | None) -> NDArray[np.object_]:
    """A column of few distinct values with each value held once.

    A decoder makes a new string for every row: a million reports naming ten thousand
    units hold a million strings. One object per value spares the memory, and the
    processes of a split replay the copy of every page the engine's reading of the
    column would otherwise touch.
    """
    first = {v: v for v in (distinct.keys() if distinct is not None else set(values))}
    # a value the set lacks (none should) is kept as it is
    return np.fromiter(map(first.get, values, values), dtype=object, count=len(values))


@contextmanager
def no_gc() -> Iterator[None]:
    # A million report dicts are acyclic; without this the collector keeps rescanning
    # them while they are built and the parse takes twice as long.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def first_party_id(document: dict[str, Any]) -> str:
    parties = document.get("parties")
    if isinstance(parties, list) and parties and isinstance(parties[0], dict):
        first = parties[0].get("id")
        if isinstance(first, str):
            return first
    return ""


def _objects(values: list[Any]) -> NDArray[np.object_]:
    return np.fromiter(values, dtype=object, count=len(values))


def _mask(values: Sequence[Any], accept: Callable[[Any], bool]) -> BoolArray:
    return np.fromiter(map(accept, values), dtype=bool, count=len(values))


def _check_shapes(work: _Rows) -> None:
    """Rows must be mappings of known fields holding every required one."""
    rows = work.rows
    n = len(rows)
    if set(map(type, rows)) != {dict}:
        is_dict = _mask(list(rows), lambda row: type(row) is dict)
        work.ok &= is_dict
        rows = [row if type(row) is dict else {} for row in rows]
    layouts = set(map(tuple, rows))
    bad_layouts = {
        layout
        for layout in layouts
        if not _REQUIRED.issubset(layout) or not set(layout).issubset(_FIELDS)
    }
    if bad_layouts:
        work.ok &= _mask(rows, lambda row: tuple(row) not in bad_layouts)
    present = set().union(*layouts) if layouts else set()
    for name in _FIELDS:
        if name in present:
            work.values[name] = [row.get(name) for row in rows]
        else:
            work.values[name] = [None] * n


def _unique_check(
    work: _Rows, name: str, types: tuple[type, ...], accept: Callable[[Any], bool]
) -> dict[Hashable, bool]:
    """Accept a column's values of the given types that `accept` passes, once per value."""
    values = work.values[name]
    kinds = work.kinds(name)
    if not kinds.issubset(types):
        work.ok &= _mask(values, lambda v: type(v) in types)
    distinct = set(values) if kinds.issubset(types) else {v for v in values if type(v) in types}
    verdict = {v: accept(v) for v in distinct}
    if not all(verdict.values()):
        work.ok &= _mask(values, lambda v: type(v) not in types or verdict[v])
    work.distinct[name] = verdict
    return verdict


def _check_times(work: _Rows) -> NDArray[np.int64]:
    micros: dict[Hashable, int] = {}

    def accept(value: Any) -> bool:
        try:
            micros[value] = to_us(_TIME.validate_python(value))
        except ValidationError:
            return False
        return True

    # datetime values come from YAML, which reads unquoted times itself
    types = (str, datetime)
    _unique_check(work, "time", types, accept)
    values = work.values["time"]
    if not work.kinds("time").issubset(types):
        values = [v if type(v) in types else None for v in values]
    return np.fromiter(map(micros.get, values, repeat(0)), dtype=np.int64, count=len(values))


def _check_ids(work: _Rows, name: str, *, required: bool) -> None:
    types: tuple[type, ...] = (str,) if required else (str, type(None))
    _unique_check(work, name, types, lambda v: v is None or _ID.fullmatch(v) is not None)


def _check_strings(work: _Rows, name: str, shortest: int, longest: int) -> None:
    # Report ids are all distinct: measure lengths in one pass instead of a set
    values = work.values[name]
    kinds = work.kinds(name)
    if not kinds.issubset((str, type(None))):
        work.ok &= _mask(values, lambda v: v is None or type(v) is str)
    if kinds == {type(None)}:
        return
    plain = kinds == {str} or values.count(None) == 0
    lengths = np.fromiter(
        map(len, values) if plain else map(len, (v if type(v) is str else "" for v in values)),
        dtype=np.int64,
        count=len(values),
    )
    given = np.fromiter(map(operator.is_not, values, repeat(None)), dtype=bool, count=len(values))
    work.ok &= ~given | ((lengths >= shortest) & (lengths <= longest))


def _check_set(work: _Rows, name: str, allowed: frozenset[str]) -> None:
    _unique_check(work, name, (str, type(None)), lambda v: v is None or v in allowed)


def _numbers(
    work: _Rows, name: str, types: tuple[type, ...], dtype: type, missing: int | None = None
) -> NDArray[Any]:
    """A column as numbers, `missing` for None (when None is allowed).

    Values of other types (bool included, which pydantic would take as a number) are
    left to the model.
    """
    values = work.values[name]
    kinds = set(work.kinds(name))
    if missing is not None and type(None) in kinds:
        values = [missing if v is None else v for v in values]
        kinds.discard(type(None))
        kinds.add(int)
    if not kinds.issubset(types):
        good = _mask(values, lambda v: type(v) in types)
        work.ok &= good
        values = [v if g else 0 for v, g in zip(values, good.tolist(), strict=True)]
    try:
        # every value is an int or a float now, so the conversion parses nothing
        return np.asarray(values, dtype=dtype)
    except OverflowError:
        # integers beyond 64 bits: the model words the error or keeps the value
        fits = _mask(values, lambda v: type(v) is not int or abs(v) <= INT64_MAX)
        work.ok &= fits
        return np.fromiter(
            (v if f else 0 for v, f in zip(values, fits.tolist(), strict=True)),
            dtype=dtype,
            count=len(values),
        )


def _check_floats(work: _Rows, name: str, bound: float) -> NDArray[np.float64]:
    column = _numbers(work, name, (float, int), np.float64)
    with np.errstate(invalid="ignore"):
        work.ok &= np.isfinite(column) & (column >= -bound) & (column <= bound)
    return column


def _check_strength(work: _Rows) -> NDArray[np.int64]:
    values = work.values["strength"]
    if values.count(None) == len(values):
        return np.full(len(values), -1, dtype=np.int64)
    # -1 stands for "no strength reported"; a reported -1 is refused by `>= 0` first
    given = np.fromiter(map(operator.is_not, values, repeat(None)), dtype=bool, count=len(values))
    column = _numbers(work, "strength", (int,), np.int64, missing=-1)
    # The model's bounds on a count: a row outside them goes to the model for its words.
    work.ok &= ~given | ((column >= 0) & (column <= MAX_COUNT))
    return column


def _check_equipment(work: _Rows) -> None:
    values = work.values["equipment"]
    given = np.flatnonzero(
        np.fromiter(map(operator.is_not, values, repeat(None)), bool, count=len(values))
    )
    if not given.size:
        return
    names: dict[str, bool] = {}

    def name_ok(key: Any) -> bool:
        if type(key) is not str:
            return False
        known = names.get(key)
        if known is None:
            known = names[key] = _EQUIPMENT_NAME.fullmatch(key) is not None
        return known

    def accept(value: Any) -> bool:
        if type(value) is not dict:
            return False
        return all(name_ok(k) and type(v) is int and 0 <= v <= MAX_COUNT for k, v in value.items())

    rows = given.tolist()
    bad = [
        i for i, good in zip(rows, map(accept, (values[i] for i in rows)), strict=True) if not good
    ]
    work.ok[bad] = False
