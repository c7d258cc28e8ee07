"""The `deconfliction` command line (typer + rich).

Each command family lives in a module of this package that either defines
`register(app: typer.Typer) -> None`, adding its commands or sub-groups to the root
application, or a `typer.Typer` named `app` with a `name`, added as that sub-group.
`COMMAND_MODULES` lists them; a module that is not there is skipped, but one that exists
and fails to import fails loudly.

`app` (every command) is assembled when it is first asked for. `main()` loads only the
module a command line names when that module serves it (`deconfliction scenario run`
needs neither the HTTP service nor the hotline's keys), and every module otherwise.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from typing import Any

import typer

from .. import __version__
from ..runtime import ending_at_exit, exit_now_if_left, tune_collector

COMMAND_MODULES: tuple[str, ...] = ("scenario", "service", "hotline", "cot")
"""Modules of this package that add commands, in the order their help lists them."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"deconfliction {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """Deconfliction between armed parties sharing a theatre."""


def _application(modules: Iterable[str]) -> typer.Typer:
    """The root application with the commands of `modules`."""
    application = typer.Typer(
        name="deconfliction",
        help="Deconfliction between armed parties sharing a theatre: lines, a watch on each "
        "party's picture, and a signed hotline.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    application.callback()(_root)
    for name in modules:
        qualified = f"{__name__}.{name}"
        # find_spec only asks whether the module exists: an existing module that fails
        # to import raises here instead of silently dropping its commands
        if importlib.util.find_spec(qualified) is None:
            continue
        module = importlib.import_module(qualified)
        register = getattr(module, "register", None)
        group = getattr(module, "app", None)
        if callable(register):
            register(application)
        elif isinstance(group, typer.Typer) and group.info.name:
            application.add_typer(group)
        else:
            raise TypeError(f"{qualified} defines neither register(app) nor a named Typer app")
    return application


def _serves(application: typer.Typer, command: str) -> bool:
    """Whether the application has a top-level command or group of that name."""
    groups = (
        info.name or (info.typer_instance.info.name if info.typer_instance else None)
        for info in application.registered_groups
    )
    commands = (
        info.name or (info.callback.__name__.replace("_", "-") if info.callback else None)
        for info in application.registered_commands
    )
    return command in {*groups, *commands}


def _for_command_line(args: list[str]) -> typer.Typer:
    first = args[0] if args else ""
    if first in COMMAND_MODULES:
        application = _application((first,))
        if _serves(application, first):
            return application
    return _whole()


_WHOLE: list[typer.Typer] = []


def _whole() -> typer.Typer:
    if not _WHOLE:
        _WHOLE.append(_application(COMMAND_MODULES))
    return _WHOLE[0]


def __getattr__(name: str) -> Any:
    # `from deconfliction.cli import app`: every command, assembled on first use
    if name == "app":
        return _whole()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the `deconfliction` script."""
    tune_collector()
    ending_at_exit()
    try:
        _for_command_line(sys.argv[1:])()
    except SystemExit as done:
        exit_now_if_left(done.code)
        raise
    exit_now_if_left(0)


__all__ = ["COMMAND_MODULES", "app", "main"]
