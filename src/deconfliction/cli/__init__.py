"""The `deconfliction` command line (typer + rich).

Each command family lives in a module of this package that either defines
`register(app: typer.Typer) -> None`, adding its commands or sub-groups to the root
application, or a `typer.Typer` named `app` with a `name`, added as that sub-group.
`COMMAND_MODULES` lists them; a module that is not there is skipped, but one that exists
and fails to import fails loudly.
"""

from __future__ import annotations

import importlib
import importlib.util

import typer

from .. import __version__
from ..runtime import tune_collector

COMMAND_MODULES: tuple[str, ...] = ("scenario", "service", "hotline", "cot")
"""Modules of this package that add commands, in the order their help lists them."""

app = typer.Typer(
    name="deconfliction",
    help="Deconfliction between armed parties sharing a theatre: lines, a watch on each "
    "party's picture, and a signed hotline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"deconfliction {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """Deconfliction between armed parties sharing a theatre."""


def _register_all() -> None:
    for name in COMMAND_MODULES:
        qualified = f"{__name__}.{name}"
        # find_spec only asks whether the module exists: an existing module that fails
        # to import raises here instead of silently dropping its commands
        if importlib.util.find_spec(qualified) is None:
            continue
        module = importlib.import_module(qualified)
        register = getattr(module, "register", None)
        group = getattr(module, "app", None)
        if callable(register):
            register(app)
        elif isinstance(group, typer.Typer) and group.info.name:
            app.add_typer(group)
        else:
            raise TypeError(f"{qualified} defines neither register(app) nor a named Typer app")


_register_all()


def main() -> None:
    """Entry point of the `deconfliction` script."""
    tune_collector()
    app()


__all__ = ["COMMAND_MODULES", "app", "main"]
