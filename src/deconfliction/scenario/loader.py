"""Scenario files: YAML or JSON, or a built-in scenario by name, validated in full.

`load_columns` is the fast path a replay takes: the reports of a file come back as a
`ReportBatch` of columns beside a `Scenario` that holds everything else. `load` gives
the whole `Scenario`, its reports as models. Both give the errors of validating the
document with the `Scenario` model (`validate_with_model`), line for line.
"""

from __future__ import annotations

import importlib.resources
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pydantic import ValidationError

from ..batch import ReportBatch, from_us
from ..model import Report, Scenario
from .columns import INT64_MAX, ReportColumns, first_party_id, no_gc, report_columns
from .errors import (
    MAX_ERRORS,
    ScenarioError,
    format_error,
    split_reference_message,
    validation_problems,
)

BUILTIN_PACKAGE = "deconfliction.scenario.builtin"

# The document's fields before `reports`, in the model's order: pydantic reports the
# errors of the fields in that order, then unknown fields.
_FIELDS = tuple(Scenario.model_fields)
_BEFORE_REPORTS = frozenset(_FIELDS[: _FIELDS.index("reports")])


@dataclass(frozen=True, slots=True)
class LoadedScenario:
    """A validated scenario whose reports are columns.

    `scenario` holds everything but the reports (its `reports` list is empty);
    `reports` holds them in file order, each with its observer (the first party where
    the file names none); `observer_given` marks the rows that named one.
    """

    source: str
    scenario: Scenario
    reports: ReportBatch
    observer_given: np.ndarray[Any, np.dtype[np.bool_]]

    @property
    def default_observer(self) -> str:
        return self.scenario.parties[0].id

    def to_scenario(self) -> Scenario:
        """The whole scenario, its reports as models (as the file gave them)."""
        batch = self.reports
        reports = [
            Report.model_construct(
                id=batch.report_id[i],
                time=from_us(int(batch.time_us[i])),
                unit=batch.unit[i],
                lon=float(batch.lon[i]),
                lat=float(batch.lat[i]),
                observer=batch.observer[i] if self.observer_given[i] else None,
                strength=None if batch.strength[i] < 0 else int(batch.strength[i]),
                equipment=None if batch.equipment is None else batch.equipment[i],
                source=batch.source[i],
                rating=batch.rating[i],
            )
            for i in range(len(batch))
        ]
        return self.scenario.model_copy(update={"reports": reports})


def list_builtin() -> list[str]:
    """The names of the built-in scenarios, sorted."""
    root = importlib.resources.files(BUILTIN_PACKAGE)
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in root.iterdir()
        if entry.name.endswith(".yaml") and entry.is_file()
    )


def load(path_or_name: str | Path) -> Scenario:
    """A scenario file (YAML or JSON) or a built-in scenario, validated."""
    return load_columns(path_or_name).to_scenario()


def load_columns(path_or_name: str | Path) -> LoadedScenario:
    """A scenario with its reports as columns: the fast path of a replay."""
    source, data, fmt = read_source(path_or_name)
    return _load(source, data, fmt)


def begin_loading(path_or_name: str | Path) -> Callable[[], LoadedScenario]:
    """`load_columns` begun; the call returned finishes it and gives what it gives
    (or raises its errors).

    A file is read on a thread of its own while the caller goes on (the command line
    imports the engine meanwhile): reading releases the GIL, so the disk and the imports
    overlap. A built-in scenario is loaded by the call.
    """
    path = Path(path_or_name)
    if not path.is_file():
        return partial(load_columns, path_or_name)
    reading = _Reading(path)

    def finish() -> LoadedScenario:
        return _load(str(path_or_name), reading.result(), _format_of(path))

    return finish


class _Reading:
    """A file read on a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: bytes | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="scenario-reading", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.data = _read(self.path)
        except BaseException as error:  # raised again on the caller's thread by result()
            self.error = error

    def result(self) -> bytes:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.data is not None
        return self.data


def _load(source: str, data: bytes, fmt: str) -> LoadedScenario:
    if fmt == "json" or (fmt == "sniff" and _looks_like_json(data)):
        # msgspec is only of use for a JSON file
        from .fastjson import fast_json

        decoded = fast_json(data)
        if decoded is not None:
            rest, columns = decoded
            try:
                return validated(source, rest, columns)
            except ScenarioError:
                pass  # the general path below words the errors
    document = parse(source, data, fmt)
    return validate_document(source, document)


def _looks_like_json(data: bytes) -> bool:
    return data.lstrip()[:1] in (b"{", b"[")


def read_source(path_or_name: str | Path) -> tuple[str, bytes, str]:
    """(source name, bytes, 'json', 'yaml' or 'sniff') of a file path or a built-in name."""
    path = Path(path_or_name)
    if path.is_file():
        return str(path_or_name), _read(path), _format_of(path)
    name = str(path_or_name)
    if name in list_builtin():
        resource = importlib.resources.files(BUILTIN_PACKAGE) / f"{name}.yaml"
        return f"{name}.yaml", resource.read_bytes(), "yaml"
    if path.exists():
        raise ScenarioError(name, ["not a file"])
    known = ", ".join(list_builtin()) or "none"
    raise ScenarioError(name, [f"no such file or built-in scenario (built-in: {known})"])


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ScenarioError(str(path), [f"cannot read: {error.strerror}"]) from None


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "sniff"


def parse(source: str, data: bytes, fmt: str) -> Any:
    """The document of a file; malformed input is an error naming its line."""
    if fmt == "sniff":
        fmt = "json" if _looks_like_json(data) else "yaml"
    if fmt == "json":
        try:
            with no_gc():
                return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            detail = error.msg.split(": line ")[0]
            raise ScenarioError(
                source,
                [f"line {error.lineno}, column {error.colno}: malformed JSON: {detail}"],
            ) from None
    # PyYAML is imported only for a YAML file: a JSON replay has no use for it
    from .yamlfile import parse_yaml

    return parse_yaml(source, data)


def validate_with_model(source: str, document: Any) -> Scenario:
    """The document validated by the `Scenario` model alone: the reference behaviour."""
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as error:
        problems = validation_problems(error)
        raise ScenarioError(
            source, problems[:MAX_ERRORS], truncated=len(problems) > MAX_ERRORS
        ) from None
    # Report columns hold 64-bit strengths; the model sets no upper bound.
    problems = [
        f"reports[{i}].strength: Input should be less than or equal to {INT64_MAX}"
        for i, report in enumerate(scenario.reports)
        if report.strength is not None and report.strength > INT64_MAX
    ]
    if problems:
        raise ScenarioError(source, problems[:MAX_ERRORS], truncated=len(problems) > MAX_ERRORS)
    return scenario


def validate_document(source: str, document: Any) -> LoadedScenario:
    """A parsed document validated into a scenario and its report columns."""
    reports = document.get("reports", []) if isinstance(document, dict) else None
    if not isinstance(reports, list) or not isinstance(document.get("parties"), list):
        # Nothing to gain from columns here: let the model word what is wrong.
        whole = validate_with_model(source, document)
        return LoadedScenario(
            source=source,
            scenario=whole.model_copy(update={"reports": []}),
            reports=ReportBatch.from_reports(whole.reports, whole.parties[0].id),
            observer_given=np.array([r.observer is not None for r in whole.reports], bool),
        )

    rest = {**document, "reports": []}
    scenario, before, after, references = _validate_rest(rest)
    default_observer = first_party_id(document)
    with no_gc():
        columns, report_problems = report_columns(reports, default_observer)
    problems = before + report_problems + after
    if problems:
        raise ScenarioError(source, problems[:MAX_ERRORS], truncated=len(problems) > MAX_ERRORS)
    assert columns is not None
    return _finish(source, rest, scenario, references, columns)


def validated(source: str, rest: dict[str, Any], columns: ReportColumns) -> LoadedScenario:
    """A scenario of `rest` (a document without its reports) and valid report columns."""
    scenario, before, after, references = _validate_rest({**rest, "reports": []})
    problems = before + after
    if problems:
        raise ScenarioError(source, problems[:MAX_ERRORS], truncated=len(problems) > MAX_ERRORS)
    return _finish(source, rest, scenario, references, columns)


def _validate_rest(
    rest: dict[str, Any],
) -> tuple[Scenario | None, list[str], list[str], list[str]]:
    """The scenario without reports, or its problems: those of the fields before
    `reports`, those after, and the reference errors."""
    before: list[str] = []
    after: list[str] = []
    references: list[str] = []
    try:
        return Scenario.model_validate(rest), before, after, references
    except ValidationError as error:
        for detail in error.errors():
            if not detail["loc"] and detail["type"] == "value_error":
                references = split_reference_message(str(detail["msg"]))
            elif detail["loc"] and detail["loc"][0] in _BEFORE_REPORTS:
                before.append(format_error(detail))
            else:
                after.append(format_error(detail))
    return None, before, after, references


def _finish(
    source: str,
    rest: dict[str, Any],
    scenario: Scenario | None,
    references: list[str],
    columns: ReportColumns,
) -> LoadedScenario:
    references = _with_report_references(references, rest, columns)
    if references:
        raise ScenarioError(source, references)
    assert scenario is not None
    return LoadedScenario(
        source=source,
        scenario=scenario,
        reports=columns.batch,
        observer_given=columns.observer_given,
    )


def _with_report_references(
    references: list[str],
    rest: dict[str, Any],
    columns: ReportColumns,
) -> list[str]:
    """The scenario's reference errors with those of its reports, as the model orders them.

    The model lists reports after everything but the hotline, and stops listing them
    once it has more than 50 errors (see `model.reference_errors`).
    """
    units = {u.get("id") for u in rest.get("units") or [] if isinstance(u, dict)}
    parties = {p.get("id") for p in rest.get("parties") or [] if isinstance(p, dict)}
    batch = columns.batch
    if columns.units <= units and columns.observers <= parties:
        return references
    bad_unit = _not_in(batch.unit, units)
    bad_observer = columns.observer_given & _not_in(batch.observer, parties)
    bad_rows = np.flatnonzero(bad_unit | bad_observer).tolist()
    if not references and not bad_rows:
        return []
    errors = [r for r in references if not r.startswith("hotline[")]
    hotline = [r for r in references if r.startswith("hotline[")]
    for i in bad_rows:
        if len(errors) > 50 and i > 0:
            break  # the model stopped after an earlier report
        if bad_unit[i]:
            errors.append(f"reports[{i}].unit: unknown unit '{batch.unit[i]}'")
        if bad_observer[i]:
            errors.append(f"reports[{i}].observer: unknown party '{batch.observer[i]}'")
        if len(errors) > 50:
            break
    return errors + hotline


def _not_in(column: np.ndarray[Any, np.dtype[np.object_]], known: set[Any]) -> Any:
    """Rows whose value is not in `known` (checked once per distinct value)."""
    unknown = set(column.tolist()) - known
    if not unknown:
        return np.zeros(len(column), dtype=bool)
    return np.fromiter((v in unknown for v in column.tolist()), dtype=bool, count=len(column))
