"""`deconfliction scenario ...` starts without the modules of the other commands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deconfliction.cli import COMMAND_MODULES, app

PROBE = """
import sys
from deconfliction.cli import main
sys.argv = ["deconfliction", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)))
"""


def modules_after(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    return set(done.stdout.splitlines()[-1].split())


def test_scenario_help_loads_neither_the_service_nor_the_hotline_nor_the_engine() -> None:
    loaded = modules_after("scenario", "run", "--help")
    assert "deconfliction.cli.scenario" in loaded
    for heavy in (
        "deconfliction.cli.service",
        "deconfliction.cli.hotline",
        "deconfliction.cli.cot",
        "deconfliction.hotline",
        "deconfliction.store",
        "deconfliction.engine",
        "deconfliction.scenario",
        "fastapi",
        "cryptography",
        "numba",
    ):
        assert heavy not in loaded, heavy


def test_a_command_of_another_name_loads_every_module() -> None:
    loaded = modules_after("alerts", "--help")
    assert {f"deconfliction.cli.{name}" for name in COMMAND_MODULES} <= loaded


@pytest.mark.parametrize("args", [["--help"], ["scenario", "--help"], ["hotline", "--help"]])
def test_help_is_the_same_whichever_modules_are_loaded(args: list[str]) -> None:
    from typer.testing import CliRunner

    quick = subprocess.run(
        [sys.executable, "-m", "deconfliction", *args],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "100", "TERM": "dumb", "PATH": ""},
    )
    whole = CliRunner().invoke(
        app, args, prog_name="python -m deconfliction", env={"COLUMNS": "100", "TERM": "dumb"}
    )
    assert quick.returncode == whole.exit_code == 0
    assert quick.stdout == whole.stdout
