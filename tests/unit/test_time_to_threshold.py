"""``helpdesk_slo_time_to_threshold_seconds``: open tickets by wall-clock time until they pass the
SLO threshold, counted on the SLO's business calendar.

The calendar opens 09:00-18:00 UTC on weekdays, so a ticket with business minutes left at closing
time passes its threshold the next morning and is not "about to" pass it tonight.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter import metrics
from exporter.config import parse_config
from exporter.poller import Poller
from exporter.sources.file import FileSource
from exporter.store import Store
from tests.unit.poller_harness import histogram, ts

CONFIG = """\
service: support
source: {type: file, path: tickets.jsonl}
store: state.db
calendars:
  office:
    timezone: UTC
    hours: {mon-fri: ["09:00-18:00"]}
slas:
  first_response:
    calendar: office
    targets: {urgent: 1h, normal: 4h}
slos:
  - name: urgent-reply
    sla: first_response
    match: {priority: [urgent]}
    threshold: 30m
    objective: 95%
    window: 7d
"""


def _ticket(ticket_id: str, created: str, replied: str | None = None, status: str = "open") -> str:
    events = []
    if replied is not None:
        events.append({"at": replied, "type": "agent_reply", "public": True, "automated": False})
    return json.dumps(
        {
            "id": ticket_id,
            "created_at": created,
            "status": status,
            "priority": "urgent",
            "channel": "email",
            "events": events,
        }
    )


#: Monday 2026-11-02; every ticket urgent, threshold 30 business minutes.
TICKETS = [
    # crossed at 17:45: already past, in every bucket
    _ticket("past", "2026-11-02T17:15:00Z"),
    # 10 minutes left, crosses at 18:00 exactly: 600 s
    _ticket("closing", "2026-11-02T17:30:00Z"),
    # 20 minutes left but 10 until closing: crosses Tuesday 09:10, 15h20m away
    _ticket("overnight", "2026-11-02T17:40:00Z"),
    # answered in time: its clock stopped, not counted
    _ticket("answered", "2026-11-02T17:35:00Z", replied="2026-11-02T17:40:00Z"),
    # solved without a reply: the ticket is closed, not counted
    _ticket("solved", "2026-11-02T17:36:00Z", status="solved"),
]

CASES = [
    # (id, now, seconds until the threshold of each counted ticket; _gsum counts passed ones as 0)
    ("monday 17:50", "2026-11-02T17:50:00Z", [-300.0, 600.0, 55200.0]),
    ("tuesday 09:05", "2026-11-03T09:05:00Z", [-55200.0, -54300.0, 300.0]),
]


@pytest.mark.parametrize(("now", "left"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_time_to_threshold_counts_open_running_clocks_on_the_business_calendar(
    tmp_path: Path, now: str, left: list[float]
) -> None:
    config = parse_config(CONFIG, base_dir=tmp_path)
    (tmp_path / "tickets.jsonl").write_text("\n".join(TICKETS) + "\n", encoding="utf-8")
    clock = ts(now)
    store = Store(config.store, clock=lambda: clock)
    poller = Poller(config, FileSource(config.source), store, lambda: clock)
    try:
        poller.poll_once()
        series = histogram(poller.snapshot, metrics.SLO_TIME_TO_THRESHOLD.name, "urgent-reply")
    finally:
        store.close()
    assert series is not None
    assert (series.count, series.sum) == (len(left), pytest.approx(sum(max(s, 0.0) for s in left)))
    expected = [
        (bound, float(sum(1 for s in left if s <= bound)))
        for bound in metrics.TIME_TO_THRESHOLD_BUCKETS
    ]
    assert list(series.buckets) == expected


def test_the_lowest_bucket_is_the_waiting_past_threshold_gauge(tmp_path: Path) -> None:
    config = parse_config(CONFIG, base_dir=tmp_path)
    (tmp_path / "tickets.jsonl").write_text("\n".join(TICKETS) + "\n", encoding="utf-8")
    clock = ts("2026-11-03T09:05:00Z")
    store = Store(config.store, clock=lambda: clock)
    poller = Poller(config, FileSource(config.source), store, lambda: clock)
    try:
        poller.poll_once()
        snapshot = poller.snapshot
    finally:
        store.close()
    series = histogram(snapshot, metrics.SLO_TIME_TO_THRESHOLD.name, "urgent-reply")
    assert series is not None
    waiting = [
        s.value
        for s in snapshot.samples[metrics.SLO_WAITING_PAST_THRESHOLD.name]
        if s.labels == ("urgent-reply",)
    ]
    assert series.buckets[0] == (0.0, waiting[0]) == (0.0, 2.0)


OPEN_CASES = [
    # (id, now, helpdesk_calendar_open of office, of 24x7)
    ("monday afternoon", "2026-11-02T17:50:00Z", 1.0, 1.0),
    ("monday closing time", "2026-11-02T18:00:00Z", 0.0, 1.0),
    ("saturday", "2026-11-07T11:00:00Z", 0.0, 1.0),
    ("tuesday opening time", "2026-11-03T09:00:00Z", 1.0, 1.0),
]


@pytest.mark.parametrize(
    ("now", "office", "always"), [c[1:] for c in OPEN_CASES], ids=[c[0] for c in OPEN_CASES]
)
def test_calendar_open_says_whether_the_clocks_run_now(
    tmp_path: Path, now: str, office: float, always: float
) -> None:
    config = parse_config(CONFIG, base_dir=tmp_path)
    (tmp_path / "tickets.jsonl").write_text("", encoding="utf-8")
    clock = ts(now)
    store = Store(config.store, clock=lambda: clock)
    poller = Poller(config, FileSource(config.source), store, lambda: clock)
    try:
        poller.poll_once()
        samples = {s.labels: s.value for s in poller.snapshot.samples[metrics.CALENDAR_OPEN.name]}
    finally:
        store.close()
    assert samples == {("office",): office, ("24x7",): always}
