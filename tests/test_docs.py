"""The README documents every command and every setting, and starts with demo and test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from deconfliction.cli import app
from deconfliction.hotline.messages import HotlineSettings
from deconfliction.model import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path)
        return
    for name, sub in subcommands.items():
        yield from command_paths(sub, (*path, name))


def test_every_command_is_documented() -> None:
    paths = list(command_paths(typer.main.get_command(app)))
    assert "scenario run" in paths and "alerts" in paths
    missing = [p for p in paths if f"`deconfliction {p}" not in README]
    assert missing == []


def test_every_setting_is_documented() -> None:
    names = [*Settings.model_fields, *HotlineSettings.model_fields]
    missing = [name for name in names if f"| `{name}` |" not in README]
    assert missing == []


def test_the_first_two_commands_are_demo_and_test() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    assert [b.strip() for b in blocks[:2]] == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    assert re.search(r"^make test \|\| status=\$\?$", script, flags=re.MULTILINE)


def test_makefile_has_the_documented_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test", "bench", "lint", "venv", "timeline"):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
        assert f"make {target}" in README
