"""Behaviour the engine's performance changes must keep, found in review."""

from __future__ import annotations

from deconfliction.batch import ReportBatch
from deconfliction.engine import Engine
from deconfliction.model import AlertEvent, Report, Settings, Site
from engine_helpers import ACTORS, PARTIES, T0, meridian_line, unit


def _posts_in_pairs() -> list[Site]:
    """West's posts two at each place (a headquarters and its depot), more of them than
    the site tree keeps in one leaf."""
    sites = []
    for i in range(10):
        lat = 0.05 + 0.09 * i
        for kind, priority in (("hq", "high"), ("depot", "low")):
            sites.append(
                Site(
                    id=f"{kind}{i}",
                    name=f"{kind.title()} {i}",
                    party="west",
                    lon=2.6,
                    lat=lat,
                    priority=priority,
                )
            )
    return sites


def test_a_massing_alert_names_the_same_site_in_a_batch_and_one_report_at_a_time() -> None:
    sites = _posts_in_pairs()
    units = [unit(f"e{j}", "e-army", strength=120) for j in range(3)]
    reports = [
        Report(time=T0, unit=f"e{j}", lon=2.7 + 0.01 * j, lat=0.05, observer="west")
        for j in range(3)
    ]

    def massing_sites(events: list[AlertEvent]) -> list[str | None]:
        return [e.site for e in events if e.rule.value == "force.massing"]

    batched = Engine(PARTIES, ACTORS, [meridian_line()], sites, units, Settings())
    in_batch = massing_sites(batched.ingest(ReportBatch.from_reports(reports, "west")))
    single = Engine(PARTIES, ACTORS, [meridian_line()], sites, units, Settings())
    one_by_one: list[str | None] = []
    for report in reports:
        one_by_one += massing_sites(single.ingest(ReportBatch.from_reports([report], "west")))
    assert len(in_batch) == 1 and len(one_by_one) == 1
    # Two posts at one place are equally near: the first listed is named, as before,
    # whichever path the reports took.
    assert in_batch == one_by_one == ["hq0"]
