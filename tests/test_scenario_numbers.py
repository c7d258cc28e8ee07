"""Coordinates read by the compiled number reader are the JSON parser's doubles, bit for bit."""

from __future__ import annotations

import random

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.scenario.numbers import numbers


def read(tokens: list[bytes]) -> tuple[np.ndarray, bool]:
    # a leading space: a start of 0 means "no value"
    text = b" " + b",".join(tokens)
    sizes = np.array([len(t) for t in tokens], dtype=np.uint16)
    starts = np.cumsum([1, *(len(t) + 1 for t in tokens[:-1])]).astype(np.int64)
    return numbers(np.frombuffer(text, dtype=np.uint8), starts, sizes)


def agrees(token: bytes) -> bool:
    """Whether the reader gives the parser's double, or leaves the token to it."""
    values, done = read([token])
    if not done:
        return True
    parsed = orjson.loads(token)
    assert type(parsed) in (int, float)
    return bool(np.float64(float(parsed)).view(np.int64) == values.view(np.int64)[0])


digits = st.text(alphabet="0123456789", min_size=1, max_size=24)
tokens = st.builds(
    lambda sign, whole, fraction, exponent: (
        sign + (whole.lstrip("0") or "0") + (f".{fraction}" if fraction else "") + exponent
    ).encode(),
    st.sampled_from(["", "-"]),
    digits,
    st.one_of(st.just(""), digits),
    st.one_of(
        st.just(""), st.builds("e{}{}".format, st.sampled_from(["", "+", "-"]), st.integers(0, 40))
    ),
)


@settings(max_examples=2000)
@given(tokens)
def test_any_json_number_is_read_as_the_parser_reads_it(token: bytes) -> None:
    assert agrees(token)


@settings(max_examples=500)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_double_written_shortest_is_read_back_to_itself(value: float) -> None:
    token = orjson.dumps(value)
    values, done = read([token])
    assert not done or (values[0] == value and np.signbit(values[0]) == np.signbit(value))


def test_a_sweep_of_coordinates_and_hard_cases() -> None:
    rng = random.Random(2018)
    sweep = [repr(rng.uniform(-180.0, 180.0)).encode() for _ in range(100_000)]
    sweep += [f"{rng.uniform(-90.0, 90.0):.{rng.randint(0, 16)}f}".encode() for _ in range(50_000)]
    sweep += [b"0", b"-0", b"0.0", b"-0.0", b"-0e3", b"0.000"]
    values, done = read(sweep)
    assert done
    parsed = np.array([float(orjson.loads(t)) for t in sweep])
    assert values.view(np.int64).tolist() == parsed.view(np.int64).tolist()
    hard = [
        b"9007199254740993",  # 2**53 + 1: a tie, to even
        b"9007199254740995",
        b"179.99999999999997",
        b"0.30000000000000004",
        b"1e-22",
        b"123456789012345678",
        b"35.000000000000001776",
        b"1.5e1",
        b"15E-1",
        b"-0.5",
    ]
    for token in hard:
        assert agrees(token), token
    assert read([b"1.0000000000000002220446049250313"])[1] is False  # past 18 digits


def test_what_the_reader_leaves_to_the_parser() -> None:
    for token in (
        b"1e-23",
        b"1e3",
        b"01",
        b"1.",
        b".5",
        b"-",
        b"1e",
        b"1e+",
        b"--1",
        b"1.5.2",
        b"+1",
        b"1234567890123456789",
    ):
        assert read([token])[1] is False, token
