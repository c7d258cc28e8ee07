"""The built-in scenario replayed through the service into a file: reopened, the file
gives the same alerts back, and the engine rebuilt from it holds the same alerts as one
that replayed the scenario directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from deconfliction.batch import ReportBatch
from deconfliction.engine import Engine
from deconfliction.model import Alert
from deconfliction.scenario import load
from deconfliction.service.auth import Principal
from deconfliction.service.core import Service
from deconfliction.store import AlertQuery, Reference, Role, SQLiteStore

SCENARIO = "deir-ez-zor-2018"


def stored_alerts(store: SQLiteStore) -> list[Alert]:
    found: list[Alert] = []
    for party in store.parties():
        after = None
        while True:
            page = store.alerts(AlertQuery(party=party.id, after=after, limit=50))
            found += page.alerts
            if page.next_after is None:
                break
            after = page.next_after
    return sorted(found, key=lambda a: int(a.id.removeprefix("a-")))


def essentials(alert: Alert) -> tuple[Any, ...]:
    return (
        alert.id,
        alert.rule,
        alert.party,
        alert.state,
        alert.severity,
        tuple(alert.units),
        alert.site,
        alert.line,
        alert.message,
        alert.opened,
    )


def test_replay_into_a_file_and_reopen(tmp_path: Path) -> None:
    scenario = load(SCENARIO)
    batches = list(
        ReportBatch.from_reports(
            scenario.reports, default_observer=scenario.parties[0].id
        ).by_time()
    )
    direct = Engine.from_scenario(scenario)
    for batch in batches:
        direct.ingest(batch)
    expected = [essentials(a) for a in direct.alerts(None, open_only=False)]
    assert len(expected) >= 5
    still_open = [essentials(a) for a in direct.alerts(None)]
    assert len(still_open) < len(expected)

    path = tmp_path / "replay.sqlite"
    with SQLiteStore(path) as store:
        store.put_reference(
            Reference(
                parties=scenario.parties,
                actors=scenario.actors,
                units=scenario.units,
                lines=scenario.lines,
                sites=scenario.sites,
                settings=scenario.settings,
            )
        )
        service = Service(store, live=False)
        for batch in batches:
            service.ingest_batch(batch)
        service.close()
        first = stored_alerts(store)
    assert [essentials(a) for a in first] == expected

    with SQLiteStore(path) as store:
        assert stored_alerts(store) == first
        service = Service(store, live=False)
        # The rebuilt engine holds the open alerts only: the store keeps the rest.
        rebuilt = [essentials(a) for a in service.engine.alerts(None, open_only=False)]
        # the picture's fast JSON says what its model would
        for party in scenario.parties:
            caller = Principal(party.id, Role.VIEWER, 0)
            fast = orjson.loads(service.unit_collection_json(caller))
            assert fast == service.unit_collection(caller).model_dump(mode="json")
            assert fast["features"]
        # a second replay of the same reports changes nothing
        for batch in batches[:10]:
            assert service.ingest_batch(batch).accepted == 0
        service.close()
        assert stored_alerts(store) == first
        assert store.report_count() == len(scenario.reports)
    assert rebuilt == still_open
