"""A JSON scenario's reports located byte by byte (numba), without a Python object per report.

`scan` walks the document once: it finds the top-level `reports` array and, for each
report, where the value of each field starts. It checks the shape strictly (an object
per report, known fields once each, a string, number, object or null where the field
can hold one) and refuses anything it is not sure of, so the caller falls back to
parsing the document whole. It does not decode values: the caller hands the values'
bytes, gathered into small JSON arrays (`gather`), to the same JSON parser as the
general path, once per distinct string (`intern`), so both paths read the same values.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

ByteArray = NDArray[np.uint8]
IntArray = NDArray[np.int64]
SizeArray = NDArray[np.uint16]

STRING = 0
"""A field holding a string (null allowed unless required)."""
NUMBER = 1
OBJECT = 2

_QUOTE, _BACKSLASH, _COMMA, _COLON = 34, 92, 44, 58
_OPEN_OBJECT, _CLOSE_OBJECT, _OPEN_ARRAY, _CLOSE_ARRAY = 123, 125, 91, 93
_REPORTS = np.frombuffer(b"reports", dtype=np.uint8)


@njit(cache=True, nogil=True)
def _scan(
    buf: ByteArray, names: ByteArray, offsets: IntArray, kinds: IntArray, required: int
) -> tuple[int, int, IntArray, SizeArray]:  # pragma: no cover - compiled
    """(start, end) of the top-level `reports` array, and where each report's values
    start (0: absent or null) and how long they are; start -1 if not plainly there.

    The helpers are closures, not functions of their own: numba inlines a closure, and
    a call that passes the buffer costs more than the scan of a value.
    """
    n = buf.shape[0]
    fields = kinds.shape[0]
    # a row per field, so that each field's column is contiguous
    starts = np.zeros((fields, 1 << 12), np.int64)
    sizes = np.zeros((fields, 1 << 12), np.uint16)
    refused = (-1, -1, starts[:, :0], sizes[:, :0])

    def ws(i: int) -> int:
        while i < n:
            c = buf[i]
            if c != 32 and c != 10 and c != 13 and c != 9:
                break
            i += 1
        return i

    def string_end(i: int) -> int:
        # buf[i] is the opening quote; an escape's second byte never closes the string
        i += 1
        while i < n:
            c = buf[i]
            if c == _QUOTE:
                return i + 1
            i += 2 if c == _BACKSLASH else 1
        return -1

    def value_end(i: int) -> int:
        # by brackets and strings alone: the JSON parser validates what it spans
        c = buf[i]
        if c == _QUOTE:
            return string_end(i)
        if c in (_OPEN_OBJECT, _OPEN_ARRAY):
            depth = 0
            while i < n:
                c = buf[i]
                if c == _QUOTE:
                    i = string_end(i)
                    if i < 0:
                        return -1
                    continue
                if c in (_OPEN_OBJECT, _OPEN_ARRAY):
                    depth += 1
                elif c in (_CLOSE_OBJECT, _CLOSE_ARRAY):
                    depth -= 1
                    if depth == 0:
                        return i + 1
                i += 1
            return -1
        while i < n:
            c = buf[i]
            if c in (_COMMA, _CLOSE_OBJECT, _CLOSE_ARRAY):
                break
            if c == 32 or c == 10 or c == 13 or c == 9:
                break
            i += 1
        return i

    def field(start: int, stop: int) -> int:
        for f in range(fields):
            a, b = offsets[f], offsets[f + 1]
            if b - a != stop - start:
                continue
            same = True
            for j in range(b - a):
                if buf[start + j] != names[a + j]:
                    same = False
                    break
            if same:
                return f
        return -1

    # the document: an object whose one key `reports` holds an array
    first, last, rows = -1, -1, 0
    i = ws(0)
    if i >= n or buf[i] != _OPEN_OBJECT:
        return refused
    i = ws(i + 1)
    while True:
        if i >= n or buf[i] != _QUOTE:
            return refused
        end = string_end(i)
        if end < 0:
            return refused
        for j in range(i + 1, end - 1):
            if buf[j] == _BACKSLASH:
                # an escaped key could spell `reports` in other bytes
                return refused
        is_reports = end - i - 2 == _REPORTS.shape[0]
        if is_reports:
            for j in range(_REPORTS.shape[0]):
                if buf[i + 1 + j] != _REPORTS[j]:
                    is_reports = False
                    break
        i = ws(end)
        if i >= n or buf[i] != _COLON:
            return refused
        i = ws(i + 1)
        if i >= n:
            return refused
        if not is_reports:
            i = value_end(i)
            if i < 0:
                return refused
        else:
            if first >= 0 or buf[i] != _OPEN_ARRAY:
                return refused
            first = i
            i = ws(i + 1)
            if i < n and buf[i] == _CLOSE_ARRAY:
                i += 1
            else:
                while True:
                    # one report: an object of known fields, each at most once
                    if i >= n or buf[i] != _OPEN_OBJECT:
                        return refused
                    if rows == starts.shape[1]:
                        grown = np.zeros((fields, 2 * rows), np.int64)
                        grown[:, :rows] = starts
                        starts = grown
                        grown_sizes = np.zeros((fields, 2 * rows), np.uint16)
                        grown_sizes[:, :rows] = sizes
                        sizes = grown_sizes
                    seen = 0
                    i = ws(i + 1)
                    while True:
                        if i >= n or buf[i] != _QUOTE:
                            return refused
                        end = string_end(i)
                        if end < 0:
                            return refused
                        f = field(i + 1, end - 1)
                        if f < 0 or (seen >> f) & 1:
                            return refused
                        seen |= 1 << f
                        i = ws(end)
                        if i >= n or buf[i] != _COLON:
                            return refused
                        i = ws(i + 1)
                        if i >= n:
                            return refused
                        c = buf[i]
                        kind = kinds[f]
                        start = i
                        if c == 110:
                            if (required >> f) & 1 or i + 4 > n:
                                return refused
                            if buf[i + 1] != 117 or buf[i + 2] != 108 or buf[i + 3] != 108:
                                return refused
                            i += 4
                            start = 0
                        elif c == _QUOTE and kind == STRING:
                            i = string_end(i)
                        elif (c == 45 or 48 <= c <= 57) and kind == NUMBER:
                            # digits, sign, point, exponent: the JSON parser checks the order
                            while i < n:
                                c = buf[i]
                                if not (48 <= c <= 57 or c in (43, 45, 46, 69, 101)):
                                    break
                                i += 1
                        elif c == _OPEN_OBJECT and kind == OBJECT:
                            i = value_end(i)
                        else:
                            return refused
                        if i < 0 or i - start > 65535:
                            return refused
                        if start:
                            starts[f, rows] = start
                            sizes[f, rows] = i - start
                        i = ws(i)
                        if i < n and buf[i] == _COMMA:
                            i = ws(i + 1)
                            continue
                        if i < n and buf[i] == _CLOSE_OBJECT:
                            break
                        return refused
                    if seen & required != required:
                        return refused
                    rows += 1
                    i = ws(i + 1)
                    if i < n and buf[i] == _COMMA:
                        i = ws(i + 1)
                        continue
                    if i < n and buf[i] == _CLOSE_ARRAY:
                        i += 1
                        break
                    return refused
            last = i
        i = ws(i)
        if i < n and buf[i] == _COMMA:
            i = ws(i + 1)
            continue
        if i < n and buf[i] == _CLOSE_OBJECT:
            break
        return refused
    if first < 0 or ws(i + 1) != n:
        return refused
    return first, last, starts[:, :rows], sizes[:, :rows]


@njit(cache=True, nogil=True)
def intern(
    buf: ByteArray, starts: IntArray, sizes: SizeArray
) -> tuple[IntArray, IntArray, SizeArray]:  # pragma: no cover - compiled
    """Each row's string as a code (-1 for none), and where each distinct one is.

    Strings are told apart by their bytes, compared in full, never by a hash alone.
    """
    m = starts.shape[0]
    # the table grows with the distinct strings, not the rows: a column of ten thousand
    # units over a million rows keeps to the processor's cache
    size = 1024
    mask = size - 1
    table = np.full(size, -1, np.int64)
    first = np.empty(m, np.int64)
    length = np.empty(m, np.uint16)
    hashes = np.empty(m, np.int64)
    codes = np.empty(m, np.int64)
    k = 0
    last = 0
    for r in range(m):
        s = starts[r]
        if s == 0:
            codes[r] = -1
            continue
        e = s + sizes[r]
        if k and length[last] == sizes[r]:
            # runs of one value (a sweep's time, one source) skip the hash
            same = True
            f0 = first[last]
            for j in range(e - s):
                if buf[s + j] != buf[f0 + j]:
                    same = False
                    break
            if same:
                codes[r] = last
                continue
        h = np.int64(-3750763034362895579)
        for j in range(s, e):
            h = (h ^ np.int64(buf[j])) * np.int64(1099511628211)
        h ^= h >> 29
        slot = h & mask
        while True:
            c = table[slot]
            if c < 0:
                table[slot] = k
                first[k] = s
                length[k] = sizes[r]
                hashes[k] = h
                codes[r] = k
                k += 1
                break
            if hashes[c] == h and length[c] == sizes[r]:
                same = True
                f0 = first[c]
                for j in range(e - s):
                    if buf[s + j] != buf[f0 + j]:
                        same = False
                        break
                if same:
                    codes[r] = c
                    break
            slot = (slot + 1) & mask
        last = codes[r]
        if 2 * k > size:
            size *= 4
            mask = size - 1
            table = np.full(size, -1, np.int64)
            for c in range(k):
                slot = hashes[c] & mask
                while table[slot] >= 0:
                    slot = (slot + 1) & mask
                table[slot] = c
    return codes, first[:k], length[:k]


@njit(cache=True, nogil=True)
def gather(
    buf: ByteArray, starts: IntArray, sizes: SizeArray
) -> ByteArray:  # pragma: no cover - compiled
    """The values at `starts` (none of them 0) as the bytes of one JSON array."""
    m = starts.shape[0]
    total = 2 + max(m - 1, 0)
    for r in range(m):
        total += sizes[r]
    out = np.empty(total, np.uint8)
    out[0] = _OPEN_ARRAY
    k = 1
    for r in range(m):
        if r:
            out[k] = _COMMA
            k += 1
        s = starts[r]
        e = s + sizes[r]
        out[k : k + e - s] = buf[s:e]
        k += e - s
    out[k] = _CLOSE_ARRAY
    return out


def scan(
    data: bytes, names: tuple[str, ...], kinds: tuple[int, ...], required: tuple[str, ...]
) -> tuple[int, int, IntArray, SizeArray] | None:
    """(start, end, value starts, value sizes) of the top-level `reports` array of a
    JSON document, one row per report and one column per name; None when it is not
    plainly there."""
    buf = np.frombuffer(data, dtype=np.uint8)
    encoded = [name.encode() for name in names]
    offsets = np.cumsum([0, *map(len, encoded)], dtype=np.int64)
    mask = sum(1 << names.index(name) for name in required)
    first, last, starts, sizes = _scan(
        buf,
        np.frombuffer(b"".join(encoded), dtype=np.uint8),
        offsets,
        np.array(kinds, dtype=np.int64),
        mask,
    )
    if first < 0:
        return None
    return first, last, starts, sizes
