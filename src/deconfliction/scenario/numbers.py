"""JSON numbers read exactly by compiled code, without a Python float per number."""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from .scan import ByteArray, IntArray, SizeArray

_POWERS_OF_FIVE = np.array([5**k for k in range(23)], dtype=np.int64)
_ROOM = np.array([63 - (5**k).bit_length() for k in range(23)], dtype=np.int64)
"""Bits a remainder below 5**k can be shifted left by within 63."""


@njit(cache=True, nogil=True)
def numbers(
    buf: ByteArray, starts: IntArray, sizes: SizeArray
) -> tuple[NDArray[np.float64], bool]:  # pragma: no cover - compiled
    """The JSON numbers at `starts` as doubles, and whether every one was read.

    Each is read exactly: a number of at most 18 significant digits is w / 10**k, and
    that is (w / 5**k) * 2**-k; the quotient's bits come from integer long division and
    are rounded to nearest, ties to even, once, so the double is the correctly rounded
    value, as a JSON parser's. Anything else (a power of ten outside 10**-22..1, a
    malformed number) answers False, and the caller reads the column with the JSON
    parser.
    """
    m = starts.shape[0]
    out = np.empty(m, np.float64)
    for r in range(m):
        i = starts[r]
        end = i + np.int64(sizes[r])
        negative = buf[i] == 45
        if negative:
            i += 1
        if i >= end or not 48 <= buf[i] <= 57:
            return out, False
        if buf[i] == 48 and i + 1 < end and 48 <= buf[i + 1] <= 57:
            return out, False  # a leading zero
        w = np.int64(0)
        digits = 0
        k = 0
        fraction = False
        while i < end and 48 <= buf[i] <= 57:
            d = np.int64(buf[i] - 48)
            if w or d:
                digits += 1
            if digits > 18:
                return out, False
            w = w * 10 + d
            i += 1
        if i < end and buf[i] == 46:
            fraction = True
            i += 1
            if i >= end or not 48 <= buf[i] <= 57:
                return out, False
            while i < end and 48 <= buf[i] <= 57:
                d = np.int64(buf[i] - 48)
                if w or d:
                    digits += 1
                if digits > 18:
                    return out, False
                w = w * 10 + d
                k += 1
                i += 1
        if i < end and (buf[i] == 101 or buf[i] == 69):
            fraction = True
            i += 1
            sign = 1
            if i < end and (buf[i] == 43 or buf[i] == 45):
                sign = -1 if buf[i] == 45 else 1
                i += 1
            if i >= end or not 48 <= buf[i] <= 57:
                return out, False
            exponent = 0
            while i < end and 48 <= buf[i] <= 57:
                exponent = exponent * 10 + (buf[i] - 48)
                if exponent > 1000:
                    return out, False
                i += 1
            k -= sign * exponent
        if i != end:
            return out, False
        if w == 0:
            # the parser reads "-0" as the integer 0, "-0.0" as the double -0.0
            out[r] = -0.0 if negative and fraction else 0.0
            continue
        if k < 0 or k > 22:
            return out, False
        divisor = _POWERS_OF_FIVE[k]
        mantissa = w // divisor
        rest = w - mantissa * divisor
        shift = 0
        sticky = False
        # 54 bits: the double's 53 and one to round by
        while mantissa >= np.int64(1) << 54:
            sticky = sticky or (mantissa & 1) == 1
            mantissa >>= 1
            shift += 1
        while mantissa < np.int64(1) << 53:
            # as many bits as are missing, and as rest < 5**k can take without overflow
            step = min(54 - math.frexp(float(mantissa))[1], _ROOM[k])
            bits = rest << step
            quotient = bits // divisor
            mantissa = (mantissa << step) | quotient
            rest = bits - quotient * divisor
            shift -= step
        sticky = sticky or rest != 0
        half = (mantissa & 1) == 1
        mantissa >>= 1
        shift += 1
        if half and (sticky or (mantissa & 1) == 1):
            mantissa += 1
        value = math.ldexp(float(mantissa), shift - k)
        out[r] = -value if negative else value
    return out, True
