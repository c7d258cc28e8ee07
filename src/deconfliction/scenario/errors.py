"""Scenario errors: every problem of a file as one `file: path: message` line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..model import ID_PATTERN

MAX_ERRORS = 100
"""Errors kept per file: enough to fix a file in one pass, bounded on a file of millions."""

_PATTERN_HINTS = {
    ID_PATTERN: "invalid id {input!r}: use lower case letters, digits, '.', '_' or '-', "
    "starting with a letter or digit, at most 64 characters",
    r"^[A-F][1-6]$": "invalid rating {input!r}: a source reliability A-F and a "
    "credibility 1-6, such as 'B2'",
    r"^[a-z][a-z0-9_-]{0,31}$": "invalid equipment name {input!r}: lower case letters, "
    "digits, '_' or '-', starting with a letter, at most 32 characters",
}


class ScenarioError(Exception):
    """A scenario that cannot be loaded; `lines` holds one `file: path: message` each."""

    def __init__(self, source: str, problems: Sequence[str], *, truncated: bool = False):
        self.source = source
        self.problems = list(problems)
        self.truncated = truncated
        lines = [f"{source}: {problem}" for problem in self.problems]
        if truncated:
            lines.append(f"{source}: (only the first {MAX_ERRORS} errors are shown)")
        self.lines = lines
        super().__init__("\n".join(lines))


def format_location(loc: Iterable[int | str]) -> str:
    """`('lines', 0, 'coordinates', 3, 1)` as `lines[0].coordinates[3][1]`."""
    out = ""
    parts = list(loc)
    for i, part in enumerate(parts):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            # pydantic marks a bad dict key by appending '[key]' after the key itself
            continue
        elif i + 1 < len(parts) and parts[i + 1] == "[key]":
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "document"


def format_error(error: ErrorDetails | dict[str, Any]) -> str:
    """One pydantic error as `path: message`, in the words a scenario author needs."""
    path = format_location(error["loc"])
    kind = error["type"]
    message = str(error["msg"])
    ctx = error.get("ctx") or {}
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in _PATTERN_HINTS:
        message = _PATTERN_HINTS[ctx["pattern"]].format(input=error.get("input"))
    elif kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "timezone_aware":
        message = f"time {error.get('input')!s} has no time zone: add 'Z' or an offset"
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"{path}: {message}"


def validation_problems(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[str]:
    """Every error of a pydantic validation as `path: message` lines.

    A scenario's reference check reports its findings as one root error of
    `;`-separated `path: message` parts; they become lines of their own.
    """
    problems: list[str] = []
    for detail in error.errors():
        loc = (*prefix, *detail["loc"])
        if not loc and detail["type"] == "value_error":
            problems.extend(split_reference_message(str(detail["msg"])))
        else:
            problems.append(format_error({**detail, "loc": loc}))
    return problems


def split_reference_message(message: str) -> list[str]:
    """The parts of a scenario's root reference error (ids never hold '; ')."""
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message.split("; ")
