"""The gateway's reading of CoT XML: the frames of one read parsed a group at a time, the
atoms among them read straight into rows of plain values, the other events whole.

Each group of frames is wrapped in one `<cot>` document and parsed with defusedxml's
parser (DTDs, entity declarations and external references refused, as for a single
event in `deconfliction.ingest.cot`), its element callbacks going to `_GroupHandler`.
An atom's attributes go straight into `AtomRows` without a `CotEvent` per event; only
the elements an atom is read from get more than a glance. A group whose events do not
start exactly where its frames do (a bad frame, a frame holding two events, a root that
is not `<event>`) is read again frame by frame with `parse_event`, so that one bad
event costs only itself and gets the same message it would get alone. What the two
ways read is the same; `tests/test_cot_parse.py` holds them to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from ..batch import to_us
from ..ingest.cot import (
    GROUP,
    UNKNOWN_ERROR,
    CotError,
    CotEvent,
    _detail_item,
    _event_head,
    _point,
    is_atom,
    parse_event,
    parse_time,
    read_point,
)

_READ = frozenset(("event", "point", "detail", "contact", "__deconfliction", "TakControl"))
"""The only elements read; every other one is passed over at the cost of a lookup."""
_SECONDS_PREFIX = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_seconds: dict[str, int] = {}
"""Microseconds since the epoch of a UTC time's whole second, by its first 19 characters:
the reports of a busy stream share their seconds, and the conversion costs more than
the parse. Cleared when it holds 4096."""
_fromisoformat = datetime.fromisoformat


Row = tuple[str, str, int, bool, float, float, float, str | None, dict[str, str] | None]
"""One atom: uid, type, time (µs since the epoch), whether it was stale when sent, lon,
lat, ce, callsign (or None), the attributes of its `<__deconfliction>` detail (or None).
A tuple of plain values, which the garbage collector stops tracking at its first look:
a busy connection's rows, waiting for the store, are not walked again and again."""

UID, TYPE, TIME_US, STALE, LON, LAT, CE, CALLSIGN, EXTENSION = range(9)


class AtomRows(list[Row]):
    """Atoms as read from CoT, one row per event, before they are checked as reports."""

    __slots__ = ()

    def add(self, event: CotEvent) -> None:
        """An atom parsed whole (alone, or from protobuf) as one more row."""
        stale = event.stale is not None and event.stale <= event.time
        self.append(
            (
                event.uid,
                event.type,
                to_us(event.time),
                stale,
                event.lon,
                event.lat,
                event.ce,
                event.callsign,
                event.extension,
            )
        )


@dataclass(slots=True)
class CotRead:
    """What the frames of one read hold: atoms as rows, other events whole, and one
    message per frame that could not be read."""

    atoms: AtomRows = field(default_factory=AtomRows)
    events: list[CotEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reread: int = field(default=0, compare=False)
    """Frames read again one by one, their group's document having failed."""

    def add(self, event: CotEvent) -> None:
        if is_atom(event.type):
            self.atoms.add(event)
        else:
            self.events.append(event)

    def __len__(self) -> int:
        return len(self.atoms) + len(self.events) + len(self.errors)


def read_frames(frames: Sequence[bytes], declarations: bool = True) -> CotRead:
    """The events of several frames, each frame one event or one error message.

    `declarations`: whether frames may start with an XML declaration (a framer that
    drops them spares this a pass over the frames).
    """
    read = CotRead()
    atoms, events, errors = read.atoms, read.events, read.errors
    for start in range(0, len(frames), GROUP):
        group = frames[start : start + GROUP]
        bodies = (
            [
                frame[frame.find(b"?>") + 2 :].lstrip() if frame.startswith(b"<?xml") else frame
                for frame in group
            ]
            if declarations
            else group
        )
        marks = (len(atoms), len(events), len(errors))
        # A DOCTYPE or ENTITY declaration anywhere in the document is refused by the
        # parser (and past the document's start, is not even XML): its group is read
        # again frame by frame, where the frame's own check names it.
        handler = _GroupHandler(read)
        if (
            handler.parse(b"".join([b"<cot>", *bodies, b"</cot>"]))
            and len(read) - sum(marks) == len(group)
            # Each event must begin exactly where its frame does: frames that only
            # make events together (one cut short, the next holding two) do not pass.
            and handler.starts == list(accumulate(map(len, bodies[:-1]), initial=5))
        ):
            continue
        # A frame that is not exactly one well-formed event spoils its group's document;
        # read one by one, it costs only itself.
        del atoms[marks[0] :]
        del events[marks[1] :]
        del errors[marks[2] :]
        read.reread += len(group)
        for frame in group:
            try:
                read.add(parse_event(frame))
            except CotError as exc:
                errors.append(str(exc))
    return read


class _GroupHandler:
    """expat's element callbacks for a group of events wrapped in one document.

    Depth is what was opened less what was closed; the end callback is the `append` of
    `closed`, so that it costs no Python call. An element is a direct child of the one
    opened at `(opened, closed)` counts when every element opened since has closed and
    that one has not: how `<contact>` is known to belong to the event's `<detail>`
    without tracking the elements passed over. An atom's values are gathered in the
    handler and become its row when the next event starts, or the document ends.
    """

    __slots__ = (
        "atom",
        "atoms",
        "callsign",
        "ce",
        "closed",
        "control",
        "current",
        "detail",
        "errors",
        "events",
        "expat",
        "extension",
        "lat",
        "lon",
        "opened",
        "parser",
        "stale",
        "starts",
        "time_us",
        "type",
        "uid",
    )

    def __init__(self, read: CotRead) -> None:
        self.atoms = read.atoms
        self.events = read.events
        self.errors = read.errors
        self.opened = 0
        self.closed: list[str] = []
        self.starts: list[int] = []
        self.atom = False
        """The event being read is an atom: its values are the attributes below."""
        self.uid = self.type = ""
        self.time_us = 0
        self.stale = False
        self.lon = self.lat = 0.0
        self.ce = UNKNOWN_ERROR
        self.callsign: str | None = None
        self.extension: dict[str, str] | None = None
        self.current: CotEvent | None = None
        """The event being read, when it is not an atom."""
        self.detail = (-1, -1)
        """Counts of elements opened and closed when the last `<detail>` opened."""
        self.control = (-1, -1)
        self.parser = DefusedXMLParser(target=self, forbid_dtd=True)
        self.expat = self.parser.parser

    def parse(self, document: bytes) -> bool:
        """Whether `document` is well-formed XML (its events read into the read)."""
        expat = self.expat
        # defusedxml's refusals of DTDs, entity declarations and external references stay
        # in place; only the element callbacks are this handler's.
        expat.ordered_attributes = False
        expat.StartElementHandler = self.start
        expat.EndElementHandler = self.closed.append
        try:
            self.parser.feed(document)
            self.parser.close()
        except (ParseError, DefusedXmlException):
            return False
        return True

    def close(self) -> None:
        """The end of the document: the last atom's row."""
        if self.atom:
            self._row()
            self.atom = False

    def _row(self) -> None:
        self.atoms.append(
            (
                self.uid,
                self.type,
                self.time_us,
                self.stale,
                self.lon,
                self.lat,
                self.ce,
                self.callsign,
                self.extension,
            )
        )

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        # Called for every element: most are passed over at once.
        opened = self.opened = self.opened + 1
        if tag not in _READ:
            return
        if tag == "point":
            if opened - len(self.closed) == 3:
                self._point(attrib)
        elif tag == "contact" or tag == "__deconfliction" or tag == "TakControl":
            detail_opened, detail_closed = self.detail
            if opened - detail_opened - 1 == len(self.closed) - detail_closed:
                self._detail(tag, attrib)
        elif tag == "detail":
            if opened - len(self.closed) == 3:
                self.detail = (opened, len(self.closed))
        elif opened - len(self.closed) == 2:
            self._head(attrib)

    def _head(self, attrib: dict[str, str]) -> None:
        self.starts.append(self.expat.CurrentByteIndex)
        if self.atom:
            self._row()
            self.atom = False
        self.current = None
        get = attrib.get
        cot_type = get("type")
        uid = get("uid")
        text = get("time")
        if (
            cot_type is not None
            and len(cot_type) > 2
            and cot_type[1] == "-"
            and cot_type[0] == "a"
            and uid
            and text is not None
        ):
            # An atom, the common case; anything unusual takes the way that names it.
            try:
                time = _fromisoformat(text)
            except ValueError:
                time = None
            if time is not None and time.tzinfo is UTC:
                second = _seconds.get(text[:19])
                if second is None:
                    second = _second(text, time)
                stale_text = get("stale")
                stale = False
                if stale_text is not None:
                    try:
                        # A time in Z is UTC whatever else it says; any other is checked
                        # and converted the way that names what is wrong with it.
                        stale_time = _fromisoformat(stale_text) if stale_text[-1:] == "Z" else None
                    except ValueError:
                        stale_time = None
                    if stale_time is None:
                        try:
                            stale_time = parse_time(stale_text, "stale")
                        except CotError as exc:
                            self.errors.append(str(exc))
                            return
                    stale = stale_time <= time
                # _begin, inline: this runs for every atom
                self.atom = True
                self.uid = uid
                self.type = cot_type
                self.time_us = second + time.microsecond
                self.stale = stale
                self.lon = self.lat = 0.0
                self.ce = UNKNOWN_ERROR
                self.callsign = self.extension = None
                return
        try:
            event = _event_head("event", attrib)
        except CotError as exc:
            self.errors.append(str(exc))
            return
        if is_atom(event.type):
            stale = event.stale is not None and event.stale <= event.time
            self._begin(event.uid, event.type, to_us(event.time), stale)
        else:
            self.current = event
            self.events.append(event)

    def _begin(self, uid: str, cot_type: str, time_us: int, stale: bool) -> None:
        self.atom = True
        self.uid = uid
        self.type = cot_type
        self.time_us = time_us
        self.stale = stale
        self.lon = self.lat = 0.0
        self.ce = UNKNOWN_ERROR
        self.callsign = self.extension = None

    def _point(self, attrib: dict[str, str]) -> None:
        if self.atom:
            try:
                self.lat, self.lon, self.ce = read_point(attrib)
            except CotError as exc:
                self.atom = False
                self.errors.append(str(exc))
        elif self.current is not None:
            try:
                _point(self.current, attrib)
            except CotError as exc:
                self.events.pop()
                self.current = None
                self.errors.append(str(exc))

    def _detail(self, tag: str, attrib: dict[str, str]) -> None:
        if self.atom:
            _detail_item(self, tag, attrib)
        elif self.current is not None:
            if tag in ("contact", "__deconfliction"):
                _detail_item(self.current, tag, attrib)
            else:
                # The protocol negotiation's children are read from here on: rare enough
                # for every element after it to take the longer way.
                self.control = (self.opened, len(self.closed))
                self.expat.StartElementHandler = self._start_in_control

    def _start_in_control(self, tag: str, attrib: dict[str, str]) -> None:
        control_opened, control_closed = self.control
        event = self.current
        if event is not None and self.opened - control_opened == len(self.closed) - control_closed:
            event.takcontrol = {**(event.takcontrol or {}), tag: attrib.get("version", "")}
        self.start(tag, attrib)


def _second(text: str, time: datetime) -> int:
    """The microseconds since the epoch of the whole second of `time`, parsed from `text`;
    remembered when the first 19 characters of `text` hold that second."""
    second = to_us(time) - time.microsecond
    key = text[:19]
    # The rest of such a text is the second's fraction (truncated to microseconds, never
    # rounded up) or its zone.
    if _SECONDS_PREFIX.fullmatch(key) and text[19:20] in (".", ",", "Z", "+", "-"):
        if len(_seconds) >= 4096:
            _seconds.clear()
        _seconds[key] = second
    return second
