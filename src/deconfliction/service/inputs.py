"""Request bodies of reports: one report, a JSON array, NDJSON, or GeoJSON Points."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
)

from ..batch import ReportBatch, to_us
from ..model import Count, Equipment, Id, Lat, Lon, Rating, ReportId, Strict, UnitKind, format_time
from ..scenario.columns import report_columns
from .errors import Invalid, TooLarge, UnsupportedMedia

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


TIME_RANGE = "must be between 1900-01-01 and 2200-01-01"
EARLIEST_US = to_us(EARLIEST)
LATEST_US = to_us(LATEST)


def _bounded(value: datetime) -> datetime:
    # Checked before converting: an offset on a time near the calendar's ends would
    # overflow, and years before 1000 do not survive a round trip through RFC 3339.
    if not 1900 <= value.year < 2200:
        raise ValueError(TIME_RANGE)
    return value.astimezone(UTC)


ServiceTime = Annotated[
    AwareDatetime,
    AfterValidator(_bounded),
    PlainSerializer(format_time, return_type=str, when_used="json"),
]
"""A timezone-aware time in the years the service takes, normalised to UTC."""


class ReportIn(Strict):
    """A report as a client sends it; `actor` (with `name`, `kind`) registers a new unit."""

    id: ReportId | None = None
    time: ServiceTime
    unit: Id
    lon: Lon
    lat: Lat
    observer: Id | None = None
    strength: Count | None = None
    equipment: Equipment | None = None
    source: str | None = Field(default=None, max_length=200)
    rating: Rating | None = None
    actor: Id | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: UnitKind | None = None


_REPORTS = TypeAdapter(list[ReportIn])


def _loads(text: bytes | str, where: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        error = exc
    # NaN and Infinity are not JSON, but a client that sends them should hear which
    # field they are in: the lenient parser lets validation name it.
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise Invalid.field(where, f"invalid JSON: {error}") from None


def _feature(feature: Any, where: str) -> dict[str, Any]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise Invalid.field(where, "expected a GeoJSON Feature")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise Invalid.field(f"{where}.geometry", "expected a Point geometry")
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
        raise Invalid.field(f"{where}.geometry.coordinates", "expected [lon, lat]")
    if len(coordinates) == 3 and not _altitude(coordinates[2]):
        raise Invalid.field(
            f"{where}.geometry.coordinates[2]",
            f"an altitude is a number of metres from {MIN_ALTITUDE_M:g} to {MAX_ALTITUDE_M:g}",
        )
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise Invalid.field(f"{where}.properties", "expected an object")
    for i, name in enumerate(("lon", "lat")):
        # a report is where its geometry says: a property saying otherwise is an error
        if name in properties and not _same_number(properties[name], coordinates[i]):
            raise Invalid.field(
                f"{where}.properties.{name}", f"disagrees with geometry.coordinates[{i}]"
            )
    report = {**properties, "lon": coordinates[0], "lat": coordinates[1]}
    if "id" in feature and "id" not in report:
        report["id"] = feature["id"]
    return report


MIN_ALTITUDE_M = -12_000.0
MAX_ALTITUDE_M = 100_000.0


def _number(value: Any) -> bool:
    # JSON true is not 1, and "40.3" is not a number: the models would coerce both
    return isinstance(value, int | float) and not isinstance(value, bool)


def _altitude(value: Any) -> bool:
    return _number(value) and MIN_ALTITUDE_M <= value <= MAX_ALTITUDE_M


def _same_number(a: Any, b: Any) -> bool:
    return _number(a) and _number(b) and a == b


def _strict_types(rows: list[Any], prefix: str) -> None:
    """Refuse the JSON types the report models would coerce: a boolean or a string
    for a coordinate or a strength, a number for a time."""
    errors: list[dict[str, str]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        for name in ("lon", "lat", "strength"):
            if name in row and not _number(row[name]):
                if name == "strength" and row[name] is None:
                    continue
                errors.append({"field": row_label(prefix, i, name), "message": "expected a number"})
        if "time" in row and not isinstance(row["time"], str):
            errors.append(
                {"field": row_label(prefix, i, "time"), "message": "expected an RFC 3339 string"}
            )
        if len(errors) >= 20:
            break
    if errors:
        raise Invalid(f"{errors[0]['field']}: {errors[0]['message']}", errors[:20])


JSON_MEDIA = frozenset({"application/json", "application/geo+json"})
NDJSON_MEDIA = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonlines"})


@dataclass(frozen=True, slots=True)
class ParsedReports:
    """Validated reports of a body, and how to name item `i` in an error."""

    items: list[ReportIn]
    prefix: str

    def label(self, index: int, field: str) -> str:
        if self.prefix == "line":
            return f"line {index + 1}: {field}"
        return f"{self.prefix}[{index}].{field}"


REGISTRATION = frozenset({"actor", "name", "kind"})
"""Fields that register a unit; rows without them take the columnar path."""


@dataclass(frozen=True, slots=True)
class RawReports:
    """The decoded rows of a body, before validation."""

    rows: list[Any]
    prefix: str

    @property
    def registers(self) -> bool:
        return any(not isinstance(r, dict) or not REGISTRATION.isdisjoint(r) for r in self.rows)


def read_rows(body: bytes, content_type: str, max_reports: int) -> RawReports:
    """The report objects of a body in any of the four formats, not yet validated."""
    media = content_type.split(";")[0].strip().lower()
    if media not in JSON_MEDIA and media not in NDJSON_MEDIA:
        raise UnsupportedMedia(
            f"Content-Type '{media[:60]}': send reports as "
            + ", ".join(sorted(JSON_MEDIA | NDJSON_MEDIA))
        )
    prefix = "body"
    items: Any
    if media in NDJSON_MEDIA:
        lines = [line for line in body.splitlines() if line.strip()]
        if len(lines) > max_reports:
            raise TooLarge(f"{len(lines)} reports in one request; the limit is {max_reports}")
        items = [_loads(line, f"line {n + 1}") for n, line in enumerate(lines)]
        prefix = "line"
    else:
        items = _loads(body, "body")
        if isinstance(items, dict) and items.get("type") == "FeatureCollection":
            features = items.get("features")
            if not isinstance(features, list):
                raise Invalid.field("body.features", "expected an array of Features")
            if len(features) > max_reports:
                raise TooLarge(
                    f"{len(features)} reports in one request; the limit is {max_reports}"
                )
            items = [_feature(f, f"body.features[{i}]") for i, f in enumerate(features)]
            prefix = "body.features"
        elif isinstance(items, dict) and items.get("type") == "Feature":
            items = [_feature(items, "body")]
        elif isinstance(items, dict):
            items = [items]
        elif not isinstance(items, list):
            raise Invalid.field(
                "body", "expected a report, an array of reports or a GeoJSON FeatureCollection"
            )
    if len(items) > max_reports:
        raise TooLarge(f"{len(items)} reports in one request; the limit is {max_reports}")
    _strict_types(items, prefix)
    return RawReports(items, prefix)


def validate_rows(raw: RawReports) -> ParsedReports:
    """Reports as models, registration fields included."""
    try:
        return ParsedReports(_REPORTS.validate_python(raw.rows), raw.prefix)
    except ValidationError as exc:
        raise _invalid(exc, raw.prefix) from None


def parse_reports(body: bytes, content_type: str, max_reports: int) -> ParsedReports:
    """Validated reports of a request body; errors name the item and the field."""
    return validate_rows(read_rows(body, content_type, max_reports))


_PATH = re.compile(r"^(body|body\.features|line)\[(\d+)\]\.?(.*)$")


def column_rows(raw: RawReports, party: str) -> ReportBatch | None:
    """The rows as a batch, validated a column at a time; None when a row needs the
    model's judgement of a time (offsets at the calendar's ends)."""
    try:
        columns, problems = report_columns(raw.rows, party, prefix=raw.prefix)
    except OverflowError:
        return None
    if problems:
        errors = [_problem(p, raw.prefix) for p in problems[:20]]
        raise Invalid(f"{errors[0]['field']}: {errors[0]['message']}", errors)
    assert columns is not None
    batch = columns.batch
    times = batch.time_us
    bad = np.flatnonzero((times < EARLIEST_US) | (times >= LATEST_US))
    if bad.size:
        raise Invalid.field(row_label(raw.prefix, int(bad[0]), "time"), TIME_RANGE)
    return batch


def row_label(prefix: str, index: int, field: str) -> str:
    if prefix == "line":
        return f"line {index + 1}: {field}"
    return f"{prefix}[{index}].{field}"


def _problem(problem: str, prefix: str) -> dict[str, str]:
    path, _, message = problem.partition(": ")
    match = _PATH.match(path)
    if match is not None:
        path = row_label(prefix, int(match.group(2)), match.group(3))
    return {"field": path, "message": message}


def _invalid(exc: ValidationError, prefix: str) -> Invalid:
    errors: list[dict[str, Any]] = []
    for error in exc.errors(include_url=False, include_input=False)[:20]:
        loc = list(error["loc"])
        index = loc.pop(0) if loc and isinstance(loc[0], int) else None
        path = ".".join(str(part) for part in loc)
        if prefix == "line":
            field = f"line {int(index or 0) + 1}" + (f": {path}" if path else "")
        else:
            field = f"{prefix}[{index}]" + (f".{path}" if path else "")
        errors.append({"field": field, "message": error["msg"]})
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Invalid(f"{first['field']}: {first['message']}{more}", errors)


def validation_errors(exc: ValidationError, prefix: str = "body") -> Invalid:
    """An `Invalid` naming each field of a pydantic error under `prefix`."""
    errors = [
        {
            "field": ".".join([prefix, *(str(p) for p in e["loc"])]),
            "message": e["msg"],
        }
        for e in exc.errors(include_url=False, include_input=False)[:20]
    ]
    return Invalid(f"{errors[0]['field']}: {errors[0]['message']}", errors)
