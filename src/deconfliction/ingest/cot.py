"""Cursor on Target (CoT) XML in: hardened parsing and the CoT vocabulary of atoms (the
columns of reports they make are in `deconfliction.tak.atoms`, the XML written back to
TAK clients in `deconfliction.tak.outbound`).

A CoT event is one `<event>` element. It is parsed with defusedxml's parser, which
refuses DTDs, entity declarations and external references; a frame that declares a
DOCTYPE or an ENTITY is refused before the parser sees it, with a message that says so.
The few attributes read are taken in expat's element callbacks, once, without building
an element tree. The TAK gateway reads the frames of a connection a group at a time
(`deconfliction.tak.reader`), with the same parser and the same vocabulary.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import XMLParserType

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from defusedxml.ElementTree import fromstring as _defused_fromstring

from ..model import ID_PATTERN, UnitKind

GROUP = 64
"""Frames the gateway parses as one document; a bad frame costs a re-parse of at most
this many."""
_FORBIDDEN = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>", re.DOTALL)
_ID = re.compile(ID_PATTERN)
_NOT_ID = re.compile(r"[^a-z0-9._-]+")
_EQUIPMENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

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


def parse_time(value: str, name: str) -> datetime:
    """A CoT time (`2018-02-07T20:00:00Z`, fractions of any length) as aware UTC."""
    try:
        parsed = _fromisoformat(value)
    except ValueError:
        try:
            parsed = _fromisoformat(value.strip())
        except ValueError:
            raise CotError(f"{name}: '{value[:40]}' is not an ISO 8601 time") from None
    zone = parsed.tzinfo
    if zone is UTC:
        return parsed
    if zone is None:
        raise CotError(f"{name}: '{value[:40]}' has no time zone")
    return parsed.astimezone(UTC)


_fromisoformat = datetime.fromisoformat


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


class _EventHandler:
    """Builds events straight from expat's element callbacks, without an element tree.

    `base` is the depth of the `<event>` elements: 1 for a lone event, 2 for the events
    of a group wrapped in one document. Each event becomes a CotEvent or, when one of
    its attributes is wrong, the CotError that says which; `starts` holds the byte
    offset of each event's start tag in the document.
    """

    __slots__ = (
        "base",
        "closed",
        "current",
        "expat",
        "item",
        "opened",
        "results",
        "section",
        "starts",
    )

    def __init__(self, base: int) -> None:
        self.base = base
        self.opened = 0
        self.closed: list[str] = []
        """Tags of the elements ended so far. Its `append` is expat's end callback: the
        depth is what was opened less what was closed, without a Python call per end."""
        self.results: list[CotEvent | CotError] = []
        self.starts: list[int] = []
        self.current: CotEvent | None = None
        self.section = ""
        self.item = ""
        self.expat: XMLParserType | None = None

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        # Called for every element of every event: the common cases come first.
        opened = self.opened = self.opened + 1
        level = opened - len(self.closed) - self.base
        if level == 0:
            if self.expat is not None:
                self.starts.append(self.expat.CurrentByteIndex)
            try:
                self.current = _event_head(tag, attrib)
                self.results.append(self.current)
            except CotError as exc:
                self.current = None
                self.results.append(exc)
            return
        event = self.current
        if event is None:
            return
        if level == 2:
            if self.section == "detail":
                self.item = tag
                if tag == "contact" or tag == "__deconfliction":
                    _detail_item(event, tag, attrib)
        elif level == 1:
            self.section = tag
            if tag == "point":
                try:
                    _point(event, attrib)
                except CotError as exc:
                    self.results[-1] = exc
                    self.current = None
        elif level == 3 and self.item == "TakControl" and self.section == "detail":
            event.takcontrol = {**(event.takcontrol or {}), tag: attrib.get("version", "")}

    def close(self) -> list[CotEvent | CotError]:
        return self.results


def _stream(data: bytes, base: int) -> _EventHandler:
    handler = _EventHandler(base)
    # defusedxml's parser, with its refusal of DTDs, entity declarations and external
    # references left in place; only the element callbacks go straight to the handler,
    # sparing the per-element attribute dict and name fix-ups an element tree needs.
    parser = DefusedXMLParser(target=handler, forbid_dtd=True)
    expat = handler.expat = parser.parser
    expat.ordered_attributes = False
    expat.StartElementHandler = handler.start
    expat.EndElementHandler = handler.closed.append
    try:
        parser.feed(data)
        parser.close()
    except (ParseError, DefusedXmlException) as exc:
        raise _refused(exc) from None
    return handler


def parse_event(frame: bytes) -> CotEvent:
    """One CoT event from the bytes of one frame."""
    results = _stream(strip_frame(frame), 1).results
    if not results:
        raise CotError("event: no element")
    result = results[0]
    if isinstance(result, CotError):
        raise result
    return result


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
        uid,
        cot_type,
        parse_time(time_text, "time"),
        None if stale is None else parse_time(stale, "stale"),
        get("how") or "m-g",
    )


def read_point(attrib: dict[str, str]) -> tuple[float, float, float]:
    """A `<point>`'s (lat, lon, ce), all finite; a CotError names the attribute that is not."""
    try:
        lat = float(attrib["lat"])
        lon = float(attrib["lon"])
        ce = float(attrib.get("ce", UNKNOWN_ERROR))
    except (KeyError, ValueError):
        pass
    else:
        # inf - inf and nan - nan are nan, which equals nothing: all three are finite.
        if lat - lat == 0.0 and lon - lon == 0.0 and ce - ce == 0.0:
            return lat, lon, ce
    # The slow path names what is wrong.
    return (
        _float(attrib.get("lat"), "point/@lat"),
        _float(attrib.get("lon"), "point/@lon"),
        _float(attrib.get("ce"), "point/@ce", UNKNOWN_ERROR),
    )


def _point(event: CotEvent, attrib: dict[str, str]) -> None:
    event.lat, event.lon, event.ce = read_point(attrib)


class _Details(Protocol):
    """What a detail item sets: an event's, or a reader's for the atom it is reading."""

    callsign: str | None
    extension: dict[str, str] | None


def _detail_item(event: _Details, tag: str, attrib: dict[str, str]) -> None:
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


__all__ = [
    "AFFILIATIONS",
    "KIND_FUNCTIONS",
    "UNKNOWN_ERROR",
    "CotError",
    "CotEvent",
    "affiliation",
    "format_equipment",
    "is_atom",
    "parse_equipment",
    "parse_event",
    "parse_time",
    "parse_xml",
    "strip_frame",
    "unit_id",
    "unit_kind",
]
