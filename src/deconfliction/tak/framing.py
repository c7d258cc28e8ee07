"""Splitting a TCP stream into CoT events: XML ends at `</event>`, TAK protocol v1 is
`0xbf`, a varint length, then that many bytes of protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field

END = b"</event>"
PROTO_MAGIC = 0xBF
_WHITESPACE = frozenset(b" \t\r\n\x00")


@dataclass(slots=True)
class Frames:
    """What one read completed: XML events, protobuf payloads, and oversized ones dropped."""

    xml: list[bytes] = field(default_factory=list)
    proto: list[bytes] = field(default_factory=list)
    oversized: int = 0


class Framer:
    """Incremental framing of one connection's bytes; robust to any split of the stream.

    Memory is bounded by `max_bytes`: an event that grows past it is dropped (counted in
    `Frames.oversized`) and its remaining bytes skipped up to the next `</event>`.
    """

    def __init__(self, max_bytes: int, declarations: bool = True) -> None:
        self.max_bytes = max_bytes
        self.declarations = declarations
        """Whether an XML frame keeps its `<?xml ...?>` declaration; the gateway's reader
        has no use for it, and parses the frames of a read as one document."""
        self._buffer = bytearray()
        self._scanned = 0
        self._discarding = False
        self._skip = 0

    @property
    def pending(self) -> int:
        """Bytes of an event started but not finished (0 between events)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> Frames:
        out = Frames()
        # Between events (the common case of large reads) the read is framed where it
        # lies, and only its unfinished tail is kept.
        buf: bytes | bytearray = data
        if self._buffer:
            buf = self._buffer
            buf += data
        size = len(buf)
        # One copy per frame, straight from the buffer; the view is let go before the
        # buffer is trimmed.
        view = memoryview(buf)
        try:
            pos = self._frames(buf, view, size, out)
        finally:
            view.release()
        if buf is self._buffer:
            del self._buffer[:pos]
        elif pos < size:
            self._buffer = bytearray(memoryview(data)[pos:])
        self._scanned = max(0, self._scanned - pos)
        return out

    def _frames(self, buf: bytes | bytearray, view: memoryview, size: int, out: Frames) -> int:
        pos = 0
        while pos < size:
            if self._skip:
                taken = min(self._skip, size - pos)
                pos += taken
                self._skip -= taken
                continue
            if self._discarding:
                end = buf.find(END, pos)
                if end == -1:
                    pos = max(pos, size - len(END) + 1)
                    break
                pos = end + len(END)
                self._discarding = False
                continue
            first = buf[pos]
            if first in _WHITESPACE:
                pos += 1
                continue
            if first == PROTO_MAGIC:
                step = self._proto(buf, pos, out)
                if step == pos:
                    break
                pos = step
                continue
            end = buf.find(END, max(pos, self._scanned))
            if end == -1:
                if size - pos > self.max_bytes:
                    out.oversized += 1
                    self._discarding = True
                    pos = max(pos, size - len(END) + 1)
                else:
                    self._scanned = max(pos, size - len(END) + 1)
                break
            pos = self._xml_run(buf, view, size, pos, end, out)
        return pos

    def _xml_run(
        self,
        buf: bytes | bytearray,
        view: memoryview,
        size: int,
        pos: int,
        end: int,
        out: Frames,
    ) -> int:
        """Take the XML frame at `pos` (ending at `end`) and those right after it; returns
        where the run stops: the end of the buffer, an unfinished frame or a protobuf one."""
        # A large read holds frame after frame: they are taken here, without going back
        # through the checks of the rarer states.
        max_bytes = self.max_bytes
        strip = not self.declarations
        find = buf.find
        xml = out.xml
        while True:
            stop = end + len(END)
            if stop - pos > max_bytes:
                out.oversized += 1
            else:
                start = pos
                if strip and buf.startswith(b"<?xml", pos):
                    close = find(b"?>", pos, end)
                    if close != -1:
                        start = close + 2
                        while start < end and buf[start] in _WHITESPACE:
                            start += 1
                xml.append(view[start:stop].tobytes())
            pos = stop
            while pos < size and buf[pos] in _WHITESPACE:
                pos += 1
            if pos >= size or buf[pos] == PROTO_MAGIC:
                return pos
            end = find(END, pos)
            if end == -1:
                return pos
        return pos

    def _proto(self, buf: bytes | bytearray, pos: int, out: Frames) -> int:
        """Consume one protobuf message at `pos`; the same `pos` when it is incomplete."""
        length = 0
        shift = 0
        cursor = pos + 1
        while True:
            if cursor >= len(buf):
                return pos
            byte = buf[cursor]
            cursor += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 35:
                # A length that does not fit in 5 varint bytes is garbage, not a message.
                out.oversized += 1
                self._discarding = True
                return cursor
        if length > self.max_bytes:
            out.oversized += 1
            self._skip = length
            return cursor
        if cursor + length > len(buf):
            return pos
        out.proto.append(bytes(buf[cursor : cursor + length]))
        return cursor + length
