"""The one human sentence each alert carries, with its figures."""

from __future__ import annotations

from collections.abc import Mapping

_PLURALS = {
    "tank": ("tank", "tanks"),
    "artillery": ("artillery piece", "artillery pieces"),
    "mlrs": ("rocket launcher", "rocket launchers"),
    "mortar": ("mortar", "mortars"),
    "apc": ("APC", "APCs"),
    "ifv": ("IFV", "IFVs"),
    "technical": ("technical", "technicals"),
}


def count(n: int, name: str) -> str:
    singular, plural = _PLURALS.get(name, (name, name + "s"))
    return f"{n} {singular if n == 1 else plural}"


def equipment(counts: Mapping[str, int]) -> str:
    """'10 tanks, 4 artillery pieces' for the kinds held, in a stable order."""
    return ", ".join(count(n, name) for name, n in sorted(counts.items()) if n > 0)


def unit_label(name: str, actor: str, strength: int, held: str) -> str:
    """'Tank company (pro-regime, 60 personnel, 10 tanks)', `held` being what
    `equipment` says of its counts."""
    if held:
        return f"{name} ({actor}, {strength} personnel, {held})"
    return f"{name} ({actor}, {strength} personnel)"


def km(metres: float) -> str:
    value = metres / 1000.0
    if value < 10:
        return f"{value:.1f} km"
    return f"{value:.0f} km"


def days(seconds: float) -> str:
    value = seconds / 86400.0
    if value == int(value):
        n = int(value)
        return f"{n} day" if n == 1 else f"{n} days"
    hours = seconds / 3600.0
    return f"{hours:.0f} hours"
