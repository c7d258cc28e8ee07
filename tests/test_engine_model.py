"""Boundary validation in the domain model (the core never sees what it refuses)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from deconfliction.model import Line, Report, Site, Unit, format_time


def _line(coords: list[tuple[float, float]], **extra: object) -> Line:
    return Line(id="l", name="L", left="a", right="b", coordinates=coords, **extra)  # type: ignore[arg-type]


def test_a_line_over_the_antimeridian_is_refused_with_the_vertex_named() -> None:
    with pytest.raises(ValidationError, match=r"coordinates\[1\].*antimeridian"):
        _line([(179.9, 0.0), (-179.9, 0.0)])


def test_a_line_too_wide_for_one_theatre_is_refused() -> None:
    with pytest.raises(ValidationError, match="60 degrees"):
        _line([(0.0, 0.0), (30.0, 0.0), (61.0, 0.0)])


def test_buffer_and_counts_are_bounded() -> None:
    with pytest.raises(ValidationError, match="buffer_m"):
        _line([(3.0, 0.0), (3.0, 1.0)], buffer_m=1e12)
    with pytest.raises(ValidationError, match="personnel"):
        Site(id="s", name="S", party="a", lon=3.0, lat=0.0, personnel=10**20)
    with pytest.raises(ValidationError, match="strength"):
        Unit(id="u", name="U", actor="x", strength=10**20)
    with pytest.raises(ValidationError, match="equipment"):
        Unit(id="u", name="U", actor="x", equipment={"tank": 10**19})


def test_times_are_aware_and_in_range() -> None:
    with pytest.raises(ValidationError, match="time"):
        Report(unit="u", lon=0.0, lat=0.0, time=datetime(2018, 2, 7, 20, 0))  # naive
    late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(ValidationError, match="outside the years"):
        Report(unit="u", lon=0.0, lat=0.0, time=late)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2018, 2, 7, 20, 0, tzinfo=UTC), "2018-02-07T20:00:00Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05Z"),
        (
            datetime(2018, 2, 7, 23, 0, 0, 250000, tzinfo=timezone(timedelta(hours=3))),
            "2018-02-07T20:00:00.250000Z",
        ),
    ],
)
def test_times_print_as_rfc3339_utc(value: datetime, text: str) -> None:
    assert format_time(value) == text
    assert Report(unit="u", lon=0, lat=0, time=value).model_dump(mode="json")["time"] == text


def test_a_roster_registered_at_once_matches_one_registered_unit_by_unit() -> None:
    """Registering a whole catalogue in one call (the engine's start) gives the same roster
    as one unit at a time: a unit listed twice keeps its last entry, and an equipment name
    first seen late widens every row."""
    import numpy as np

    from deconfliction.model import Actor, Party, Settings
    from deconfliction.picture import Roster

    parties = [Party(id="blue", name="Blue"), Party(id="red", name="Red")]
    actors = [
        Actor(id="blue-army", name="Blue army", party="blue"),
        Actor(id="militia", name="Militia", party=None),
    ]
    units = [
        Unit(
            id="u1", name="One", actor="blue-army", kind="armor", strength=40, equipment={"tank": 4}
        ),
        Unit(id="u2", name="Two", actor="militia", kind="infantry", strength=25),
        Unit(id="u1", name="One again", actor="militia", kind="mortar", strength=30),
        Unit(id="u3", name="Three", actor="blue-army", strength=10, equipment={"technical": 6}),
    ]
    one_by_one = Roster(parties, actors, Settings())
    for unit in units:
        one_by_one.add_unit(unit)
    at_once = Roster(parties, actors, Settings())
    at_once.add_units(units)
    assert at_once.unit_index == one_by_one.unit_index == {"u1": 0, "u2": 1, "u3": 2}
    assert [u.name for u in at_once.units] == ["One again", "Two", "Three"]
    assert at_once.equipment_names == one_by_one.equipment_names
    for name in ("unit_party", "unit_bloc", "unit_actor", "kind_reach", "base_strength"):
        np.testing.assert_array_equal(getattr(at_once, name), getattr(one_by_one, name))
    np.testing.assert_array_equal(at_once.base_equipment, one_by_one.base_equipment)
    assert at_once.base_equipment[2, at_once.equipment_index["technical"]] == 6


def test_a_run_of_rows_and_the_same_rows_by_index_are_the_same_batch() -> None:
    from deconfliction.batch import ReportBatch

    t = datetime(2018, 2, 7, tzinfo=UTC)
    reports = [
        Report(time=t, unit=f"u-{i}", lon=40.0, lat=35.0, equipment={"tank": i} if i % 3 else None)
        for i in range(7)
    ]
    batch = ReportBatch.from_reports(reports, default_observer="blue")
    for start, stop in ((0, 7), (1, 3), (3, 4), (5, 5)):
        by_slice = batch.take(slice(start, stop))
        by_index = batch.take(np.arange(start, stop))
        assert by_slice.equipment == by_index.equipment
        assert by_slice.unit.tolist() == by_index.unit.tolist()
    # A run with no equipment at all carries none.
    assert batch.take(slice(3, 4)).equipment is None
