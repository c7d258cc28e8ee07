"""Cursor on Target (CoT) XML in: hardened parsing, atoms to reports (the XML written
back to TAK clients is in `deconfliction.tak.outbound`).

A CoT event is one `<event>` element. It is parsed with defusedxml, which refuses DTDs,
entity declarations and external references; a frame that declares a DOCTYPE or an
ENTITY is refused before the parser sees it, with a message that says so. Frames arrive
from the TAK listeners in batches and are parsed a group at a time, which spares the
parser's set-up per event; a group holding a bad frame is parsed again frame by frame,
so that one bad event costs only itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from defusedxml.ElementTree import fromstring as _defused_fromstring

from ..model import ID_PATTERN, UnitKind

GROUP = 64
"""Frames parsed as one document; a bad frame costs a re-parse of at most this many."""
_FORBIDDEN = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>", re.DOTALL)
_ID = re.compile(ID_PATTERN)
_NOT_ID = re.compile(r"[^a-z0-9._-]+")
_EQUIPMENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_RATING = re.compile(r"^[A-F][1-6]$")

UNKNOWN_ERROR = 9_999_999.0
"""CoT's value for an unknown `ce`, `le` or `hae`."""


class CotError(ValueError):
    """A CoT event that cannot be used; the message names the attribute and the problem."""


@dataclass(slots=True)
class CotEvent:
    """The parts of a CoT event this service reads or writes."""

    uid: str
    type: str
    time: datetime
    stale: datetime | None = None
    how: str = "m-g"
    lon: float = 0.0
    lat: float = 0.0
    ce: float = UNKNOWN_ERROR
    callsign: str | None = None
    extension: dict[str, str] | None = None
    """Attributes of a `<__deconfliction>` detail: actor, strength, equipment, kind, ..."""
    takcontrol: dict[str, str] | None = None
    """`TakControl` children by tag: `TakRequest` -> its `version` (protocol negotiation)."""


@lru_cache(maxsize=4096)
def parse_time(value: str, name: str) -> datetime:
    """A CoT time (`2018-02-07T20:00:00Z`, fractions of any length) as aware UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CotError(f"{name}: '{value[:40]}' is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise CotError(f"{name}: '{value[:40]}' has no time zone")
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def _float(value: str | None, name: str, default: float | None = None) -> float:
    if value is None:
        if default is None:
            raise CotError(f"{name}: missing")
        return default
    try:
        number = float(value)
    except ValueError:
        raise CotError(f"{name}: '{value[:40]}' is not a number") from None
    if not math.isfinite(number):
        raise CotError(f"{name}: must be a finite number")
    return number


def strip_frame(frame: bytes) -> bytes:
    """The frame from its `<event` on, refusing DTDs and entity declarations."""
    if _FORBIDDEN.search(frame):
        raise CotError("event: DOCTYPE and ENTITY declarations are refused")
    match = _DECLARATION.match(frame)
    if match:
        frame = frame[match.end() :]
    return frame.strip()


def _without_declaration(frame: bytes) -> bytes:
    # The framer starts frames at their first '<': an XML declaration, if any, is there.
    if frame.startswith(b"<?xml"):
        return frame[frame.find(b"?>") + 2 :]
    return frame


def _refused(exc: Exception) -> CotError:
    if isinstance(exc, ParseError):
        return CotError(f"event: malformed XML ({exc})")
    return CotError(
        f"event: refused ({type(exc).__name__}: DOCTYPE and ENTITY declarations are refused)"
    )


def parse_xml(data: bytes) -> Element:
    """An XML document parsed with DTDs, entities and external references refused."""
    try:
        root: Element = _defused_fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise _refused(exc) from None
    return root


class _EventTarget:
    """Builds events straight from the parser's callbacks, without an element tree.

    `base` is the depth of the `<event>` elements: 1 for a lone event, 2 for the events
    of a group wrapped in one document. Each event becomes a CotEvent or, when one of
    its attributes is wrong, the CotError that says which.
    """

    def __init__(self, base: int) -> None:
        self.base = base
        self.depth = 0
        self.results: list[CotEvent | CotError] = []
        self.current: CotEvent | None = None
        self.section = ""
        self.item = ""

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        level = self.depth - self.base
        if level == 0:
            try:
                self.current = _event_head(tag, attrib)
                self.results.append(self.current)
            except CotError as exc:
                self.current = None
                self.results.append(exc)
            return
        event = self.current
        if event is None or level < 0:
            return
        if level == 1:
            self.section = tag
            if tag == "point":
                try:
                    _point(event, attrib)
                except CotError as exc:
                    self.results[-1] = exc
                    self.current = None
        elif self.section == "detail":
            if level == 2:
                self.item = tag
                _detail_item(event, tag, attrib)
            elif level == 3 and self.item == "TakControl":
                event.takcontrol = {**(event.takcontrol or {}), tag: attrib.get("version", "")}

    def end(self, tag: str) -> None:
        self.depth -= 1

    def close(self) -> list[CotEvent | CotError]:
        return self.results


def _stream(data: bytes, base: int) -> list[CotEvent | CotError]:
    parser = DefusedXMLParser(target=_EventTarget(base), forbid_dtd=True)
    try:
        parser.feed(data)
        results: list[CotEvent | CotError] = parser.close()
    except (ParseError, DefusedXmlException) as exc:
        raise _refused(exc) from None
    return results


def parse_event(frame: bytes) -> CotEvent:
    """One CoT event from the bytes of one frame."""
    results = _stream(strip_frame(frame), 1)
    if not results:
        raise CotError("event: no element")
    result = results[0]
    if isinstance(result, CotError):
        raise result
    return result


def parse_frames(frames: Sequence[bytes]) -> tuple[list[CotEvent], list[str]]:
    """The events of several frames, and one error message per frame that failed."""
    events: list[CotEvent] = []
    errors: list[str] = []
    for start in range(0, len(frames), GROUP):
        group = frames[start : start + GROUP]
        document = b"<cot>" + b"".join(map(_without_declaration, group)) + b"</cot>"
        results: list[CotEvent | CotError] | None = None
        if not _FORBIDDEN.search(document):
            with contextlib.suppress(CotError):
                results = _stream(document, 2)
        if results is None or len(results) != len(group):
            # A frame that is not exactly one well-formed event spoils its group's
            # document; parsed one by one, it costs only itself.
            more, failed = _parse_each(group)
            events += more
            errors += failed
            continue
        for result in results:
            if isinstance(result, CotError):
                errors.append(str(result))
            else:
                events.append(result)
    return events, errors


def _parse_each(frames: Iterable[bytes]) -> tuple[list[CotEvent], list[str]]:
    events: list[CotEvent] = []
    errors: list[str] = []
    for frame in frames:
        try:
            events.append(parse_event(frame))
        except CotError as exc:
            errors.append(str(exc))
    return events, errors


def _event_head(tag: str, attrib: dict[str, str]) -> CotEvent:
    if tag != "event":
        raise CotError(f"event: root element is <{tag[:40]}>, not <event>")
    get = attrib.get
    uid = get("uid")
    if not uid:
        raise CotError("event/@uid: missing")
    cot_type = get("type")
    if not cot_type:
        raise CotError("event/@type: missing")
    time_text = get("time")
    if time_text is None:
        raise CotError("event/@time: missing")
    stale = get("stale")
    return CotEvent(
        uid=uid,
        type=cot_type,
        time=parse_time(time_text, "time"),
        stale=None if stale is None else parse_time(stale, "stale"),
        how=get("how") or "m-g",
    )


def _point(event: CotEvent, attrib: dict[str, str]) -> None:
    event.lat = _float(attrib.get("lat"), "point/@lat")
    event.lon = _float(attrib.get("lon"), "point/@lon")
    ce = attrib.get("ce")
    if ce is not None:
        event.ce = _float(ce, "point/@ce")


def _detail_item(event: CotEvent, tag: str, attrib: dict[str, str]) -> None:
    if tag == "contact":
        callsign = attrib.get("callsign")
        if callsign:
            event.callsign = callsign
    elif tag == "__deconfliction":
        event.extension = dict(attrib)


def _read_detail(detail: Element, event: CotEvent) -> None:
    for item in detail:
        _detail_item(event, item.tag, item.attrib)
        if item.tag == "TakControl":
            for control in item:
                event.takcontrol = {
                    **(event.takcontrol or {}),
                    control.tag: control.get("version", ""),
                }


def parse_detail_xml(text: str, event: CotEvent) -> None:
    """Read a protobuf event's `xmlDetail` (the detail's unknown children) into `event`."""
    if not text:
        return
    if _FORBIDDEN.search(text.encode()):
        raise CotError("detail: DOCTYPE and ENTITY declarations are refused")
    _read_detail(parse_xml(b"<detail>" + text.encode() + b"</detail>"), event)


# -- atoms -----------------------------------------------------------------------------

AFFILIATIONS = frozenset("pufanshjk")
"""The affiliation letters of a CoT atom type (`a-<affiliation>-...`)."""

_FUNCTIONS: tuple[tuple[str, UnitKind], ...] = (
    ("G-U-C-F-R", UnitKind.MLRS),
    ("G-E-W-R-R", UnitKind.MLRS),
    ("G-U-C-F-M", UnitKind.MORTAR),
    ("G-E-W-O", UnitKind.MORTAR),
    ("G-U-C-F", UnitKind.ARTILLERY),
    ("G-E-W-H", UnitKind.ARTILLERY),
    ("G-U-C-D", UnitKind.AIR_DEFENCE),
    ("G-E-W-M-A", UnitKind.AIR_DEFENCE),
    ("G-U-C-A", UnitKind.ARMOR),
    ("G-E-V-A", UnitKind.ARMOR),
    ("G-U-C-I", UnitKind.INFANTRY),
    ("G-U-H", UnitKind.HQ),
    ("A", UnitKind.AIRCRAFT),
)
"""MIL-STD-2525 function prefixes (the type after `a-x-`), longest first."""

KIND_FUNCTIONS: dict[UnitKind, str] = {
    UnitKind.INFANTRY: "G-U-C-I",
    UnitKind.ARMOR: "G-U-C-A",
    UnitKind.ARTILLERY: "G-U-C-F",
    UnitKind.MLRS: "G-U-C-F-R",
    UnitKind.MORTAR: "G-U-C-F-M",
    UnitKind.AIR_DEFENCE: "G-U-C-D",
    UnitKind.AIRCRAFT: "A",
    UnitKind.HQ: "G-U-H",
    UnitKind.OTHER: "G-U-C",
}
"""The CoT function written for each unit kind on the way out."""


def is_atom(cot_type: str) -> bool:
    return len(cot_type) >= 3 and cot_type[0] == "a" and cot_type[1] == "-"


def affiliation(cot_type: str) -> str:
    """The affiliation letter of an atom type, `u` when it is not one CoT defines."""
    letter = cot_type[2:3]
    return letter if letter in AFFILIATIONS else "u"


@lru_cache(maxsize=1024)
def unit_kind(cot_type: str) -> UnitKind:
    """The unit kind of an atom type from its 2525 function (`a-h-G-U-C-A` -> armor)."""
    function = cot_type[4:]
    for prefix, kind in _FUNCTIONS:
        if function == prefix or function.startswith(prefix + "-"):
            return kind
    return UnitKind.OTHER


@lru_cache(maxsize=65536)
def unit_id(uid: str) -> str:
    """A unit id from a CoT uid: the uid itself when it is a valid id, else a stable slug."""
    if _ID.match(uid):
        return uid
    slug = _NOT_ID.sub("-", uid.lower()).strip("-._")[:48] or "cot"
    digest = hashlib.sha256(uid.encode()).hexdigest()[:12]
    return f"{slug}-{digest}"


def parse_equipment(text: str) -> dict[str, int]:
    """`tank:10,artillery:4` as equipment counts."""
    counts: dict[str, int] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, count = part.partition(":")
        name = name.strip()
        if not sep or not _EQUIPMENT_NAME.match(name):
            raise CotError(f"__deconfliction/@equipment: '{part[:40]}' is not name:count")
        try:
            value = int(count)
        except ValueError:
            raise CotError(
                f"__deconfliction/@equipment: '{part[:40]}' count is not an integer"
            ) from None
        if value < 0:
            raise CotError(f"__deconfliction/@equipment: '{part[:40]}' count is negative")
        counts[name] = value
    return counts


def format_equipment(equipment: dict[str, int]) -> str:
    return ",".join(f"{name}:{count}" for name, count in sorted(equipment.items()))


class AtomFields(NamedTuple):
    """What an atom says about a unit, validated; the gateway turns rows of these into a batch."""

    unit: str
    time_us: int
    lon: float
    lat: float
    actor: str | None
    kind: UnitKind
    name: str
    strength: int
    """-1 when the event carries none."""
    equipment: dict[str, int] | None
    source: str
    rating: str | None
    report_id: str


def atom_fields(event: CotEvent, observer: str, actors: dict[str, str | None]) -> AtomFields:
    """The report an atom makes in `observer`'s picture.

    `actors` maps an affiliation letter to the actor it stands for in this party's
    picture (None: such atoms are not taken); a `<__deconfliction actor=...>` detail
    overrides it.
    """
    if not -180.0 <= event.lon <= 180.0:
        raise CotError(f"point/@lon: {event.lon} is outside -180..180")
    if not -90.0 <= event.lat <= 90.0:
        raise CotError(f"point/@lat: {event.lat} is outside -90..90")
    if event.stale is not None and event.stale <= event.time:
        raise CotError("event/@stale: the event is stale when sent")
    kind = unit_kind(event.type)
    extension = event.extension
    if extension is None:
        actor = actors.get(affiliation(event.type))
        strength = -1
        equipment = None
        rating = None
        extension = {}
    else:
        actor, kind, strength, equipment, rating = _extension(extension, actors, event.type, kind)
    source = extension.get("source") or "tak"
    if event.ce < UNKNOWN_ERROR:
        source = f"{source} ce={event.ce:g}m"
    name = (event.callsign or event.uid)[:200]
    unit = unit_id(event.uid)
    time_us = _micros(event.time)
    report_id = extension.get("id") or f"cot:{observer}:{unit}:{time_us}"
    return AtomFields(
        unit=unit,
        time_us=time_us,
        lon=event.lon,
        lat=event.lat,
        actor=actor,
        kind=kind,
        name=name,
        strength=strength,
        equipment=equipment,
        source=source[:200],
        rating=rating,
        report_id=report_id[:128],
    )


def _extension(
    extension: dict[str, str], actors: dict[str, str | None], cot_type: str, kind: UnitKind
) -> tuple[str | None, UnitKind, int, dict[str, int] | None, str | None]:
    actor = extension.get("actor") or actors.get(affiliation(cot_type))
    if actor is not None and not _ID.match(actor):
        raise CotError(f"__deconfliction/@actor: '{actor[:40]}' is not a valid id")
    if "kind" in extension:
        try:
            kind = UnitKind(extension["kind"])
        except ValueError:
            raise CotError(
                f"__deconfliction/@kind: '{extension['kind'][:40]}' is not a unit kind"
            ) from None
    strength = -1
    if "strength" in extension:
        try:
            strength = int(extension["strength"])
        except ValueError:
            raise CotError("__deconfliction/@strength: not an integer") from None
        if strength < 0:
            raise CotError("__deconfliction/@strength: must not be negative")
    equipment = parse_equipment(extension["equipment"]) if "equipment" in extension else None
    rating = extension.get("rating")
    if rating is not None and not _RATING.match(rating):
        raise CotError(f"__deconfliction/@rating: '{rating[:10]}' is not A-F then 1-6")
    return actor, kind, strength, equipment, rating


def _micros(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000 + value.microsecond


__all__ = [
    "AFFILIATIONS",
    "KIND_FUNCTIONS",
    "UNKNOWN_ERROR",
    "AtomFields",
    "CotError",
    "CotEvent",
    "affiliation",
    "atom_fields",
    "format_equipment",
    "is_atom",
    "parse_equipment",
    "parse_event",
    "parse_frames",
    "parse_time",
    "parse_xml",
    "strip_frame",
    "unit_id",
    "unit_kind",
]
