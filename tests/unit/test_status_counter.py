"""``helpdesk_ticket_status_business_seconds_total``: business time per status group, accrued
by the poller up to the watermark, from the store's epoch, and never going down.

The poller tests' config (24x7 calendar, store epoch 08:00 on Monday 2026-11-02) keeps the
arithmetic plain; a scripted source returns chosen tickets with a chosen watermark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter import metrics
from exporter.collector import SnapshotCollector
from exporter.model import PRIORITIES, Ticket
from exporter.poller import Poller
from exporter.sources.base import PollResult
from exporter.status_time import STATUS_GROUPS
from exporter.store import Store
from tests.builders import csat, solved, status, ticket
from tests.builders import ts as utc_ts
from tests.unit.poller_harness import Harness

NAME = metrics.TICKET_STATUS_SECONDS.name
MIN = 60.0


class Script:
    """A source returning the tickets and the watermark a test sets before each poll."""

    name = "scripted"

    def __init__(self) -> None:
        self.tickets: list[Ticket] = []
        self.watermark: float | None = None

    def poll(self, cursor: str | None, now: float) -> PollResult:
        watermark = self.watermark if self.watermark is not None else now
        return PollResult(list(self.tickets), "c", watermark, requests=1)


class Run:
    """A poller on a store in ``tmp_path`` driven by :class:`Script`; restartable."""

    def __init__(self, tmp_path: Path) -> None:
        self.harness = Harness(tmp_path)
        self.source = Script()
        self.seen: list[dict[tuple[str, ...], float]] = []
        self._start()

    def _start(self) -> None:
        h = self.harness
        self.poller = Poller(h.config, self.source, h.store, h.clock)

    def restart(self) -> None:
        h = self.harness
        h.store.close()
        h.store = Store(h.store_path, clock=h.clock)
        self._start()

    def poll(self, at: str, watermark: str | None, tickets: list[Ticket]) -> None:
        self.harness.now = utc_ts(at)
        self.source.tickets = tickets
        self.source.watermark = utc_ts(watermark) if watermark is not None else None
        self.poller.poll_once()
        self.seen.append(self.counter())

    def counter(self) -> dict[tuple[str, ...], float]:
        return {
            sample.labels: sample.value for sample in self.poller.snapshot.samples.get(NAME, ())
        }


def _open(created: str, *events: dict[str, Any], **fields: Any) -> Ticket:
    return ticket(created, *events, **fields)


T1 = _open("2026-11-02 08:10", id="1")
T2 = _open("2026-11-02 08:20", id="2", priority="normal")
T2_PENDING = _open(
    "2026-11-02 08:20", status("2026-11-02 09:30", "pending"), id="2", priority="normal"
)
T1_SOLVED = _open("2026-11-02 08:10", solved("2026-11-02 09:40"), id="1", status="solved")
T1_CLOSED = _open("2026-11-02 08:10", status("2026-11-02 09:40", "closed"), id="1", status="closed")
T1_PENDING_0855 = _open("2026-11-02 08:10", status("2026-11-02 08:55", "pending"), id="1")
T1_PENDING_0900 = _open("2026-11-02 08:10", status("2026-11-02 09:00", "pending"), id="1")
T1_LOW = _open("2026-11-02 08:10", id="1", priority="low")

# (poll at, watermark (None: the poll instant), tickets the source returns; "restart")
STEPS = [
    pytest.param(
        [("2026-11-02 09:00", None, [T1, T2]), ("2026-11-02 10:00", None, [T1, T2_PENDING]),
         ("2026-11-02 11:00", None, [T1, T2_PENDING])],
        {("open", "urgent"): 170 * MIN, ("open", "normal"): 70 * MIN,
         ("pending", "normal"): 90 * MIN},
        id="unchanged-tickets-accrue-and-changed-ones-split",
    ),
    pytest.param(
        [("2026-11-02 09:00", None, [T1]), ("2026-11-02 10:00", None, [T1_SOLVED]),
         ("2026-11-02 12:00", None, [T1_SOLVED])],
        {("open", "urgent"): 90 * MIN},
        id="solved-ticket-stops-accruing",
    ),
    pytest.param(
        [("2026-11-02 09:00", None, [T1]), ("2026-11-02 10:00", "2026-11-02 09:00", [T1]),
         ("2026-11-02 11:00", "2026-11-02 08:30", [T1])],
        {("open", "urgent"): 50 * MIN},
        id="watermark-not-advancing-or-going-back-adds-nothing",
    ),
    pytest.param(
        [("2026-11-02 09:00", "2026-11-02 08:50", [T1_PENDING_0855]),
         ("2026-11-02 10:00", None, [T1_PENDING_0855])],
        {("open", "urgent"): 45 * MIN, ("pending", "urgent"): 65 * MIN},
        id="status-change-past-the-watermark-counts-once-the-watermark-passes-it",
    ),
    pytest.param(
        [("2026-11-02 10:00", None, [T1]), ("2026-11-02 11:00", None, [T1_PENDING_0900])],
        {("open", "urgent"): 110 * MIN, ("pending", "urgent"): 120 * MIN},
        id="back-dated-change-never-takes-back",
    ),
    pytest.param(
        [("2026-11-02 09:00", None, [T1]), ("2026-11-02 10:00", None, [T1_CLOSED]),
         ("2026-11-02 11:00", None, [])],
        {("open", "urgent"): 90 * MIN},
        id="deleted-or-merged-ticket-keeps-what-it-published",
    ),
    pytest.param(
        [("2026-11-02 09:00", None, [T1]), ("2026-11-02 10:00", None, [T1_LOW]),
         ("2026-11-02 11:00", None, [T1_LOW])],
        {("open", "urgent"): 50 * MIN, ("open", "low"): 120 * MIN},
        id="priority-change-moves-the-accrual-not-the-past",
    ),
    pytest.param(
        [("2026-11-02 09:00", None, [T1, T2]), "restart",
         ("2026-11-02 10:00", None, [T1, T2_PENDING]), "restart",
         ("2026-11-02 11:00", None, [T1, T2_PENDING])],
        {("open", "urgent"): 170 * MIN, ("open", "normal"): 70 * MIN,
         ("pending", "normal"): 90 * MIN},
        id="restarts-keep-and-go-on",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("steps", "expected"), STEPS)
def test_status_counter_across_polls(
    tmp_path: Path, steps: list[Any], expected: dict[tuple[str, str], float]
) -> None:
    run = Run(tmp_path)
    try:
        for step in steps:
            if step == "restart":
                run.restart()
                run.poller.refresh()
                run.seen.append(run.counter())
            else:
                run.poll(*step)
        store = run.harness.store
        assert run.poller.counters() == store.totals() == store.recount()
    finally:
        run.harness.store.close()
    assert run.seen[-1] == {
        (group, priority.value): expected.get((group, priority.value), 0.0)
        for group in STATUS_GROUPS
        for priority in PRIORITIES
    }
    for before, after in zip(run.seen, run.seen[1:], strict=False):
        assert all(after[labels] >= value for labels, value in before.items())


def test_closed_business_hours_add_nothing(tmp_path: Path) -> None:
    office = """
calendars:
  office:
    timezone: UTC
    hours: {mon-fri: ["09:00-17:00"]}
"""
    run = Run(tmp_path)
    h = run.harness
    h.store.close()
    run.harness = Harness(tmp_path / "office", extra_config=office)
    run._start()
    try:
        # an SLA without a calendar takes the first one: the resolution SLA runs on office
        t = _open("2026-11-02 16:00")
        run.poll("2026-11-02 17:00", None, [t])
        run.poll("2026-11-03 08:59", None, [t])
        run.poll("2026-11-03 09:30", None, [t])
    finally:
        run.harness.store.close()
    assert [seen[("open", "urgent")] for seen in run.seen] == [60 * MIN, 60 * MIN, 90 * MIN]


def test_a_pruned_ticket_that_comes_back_is_not_counted_again(tmp_path: Path) -> None:
    run = Run(tmp_path)
    rated = _open(
        "2026-11-02 08:10",
        solved("2026-11-02 09:00"),
        csat("2026-11-04 10:30", "good"),
        id="1",
        status="solved",
    )
    try:
        run.poll("2026-11-02 09:30", None, [T1_SOLVED_0900])
        run.poll("2026-11-04 10:00", None, [])  # settled more than 25h ago: pruned
        assert run.harness.store.pruned_count() == 1
        run.poll("2026-11-04 11:00", None, [rated])  # back with a rating: restored, not new
    finally:
        run.harness.store.close()
    assert [seen[("open", "urgent")] for seen in run.seen] == [50 * MIN] * 3


T1_SOLVED_0900 = _open("2026-11-02 08:10", solved("2026-11-02 09:00"), id="1", status="solved")


def test_every_status_and_priority_is_served_from_the_start(tmp_path: Path) -> None:
    run = Run(tmp_path)
    try:
        run.poll("2026-11-02 09:00", None, [])
        collector = SnapshotCollector(run.poller)
        families = {family.name: family for family in collector.collect()}
    finally:
        run.harness.store.close()
    family = families[NAME.removesuffix("_total")]
    assert family.type == "counter"
    got = {
        (sample.labels["status"], sample.labels["priority"]): sample.value
        for sample in family.samples
        if sample.name == NAME
    }
    assert got == {
        (group, priority.value): 0.0 for group in STATUS_GROUPS for priority in PRIORITIES
    }
    assert all(set(sample.labels) == {"status", "priority"} for sample in family.samples)


def test_a_store_from_before_status_time_accrues_its_open_tickets_from_the_epoch(
    tmp_path: Path,
) -> None:
    run = Run(tmp_path)
    try:
        run.poll("2026-11-02 09:00", None, [T1])
        db = run.harness.store._db
        db.execute("DELETE FROM status_time")  # what an older exporter left: no status time
        db.execute("DELETE FROM meta WHERE key = 'status_horizon'")
        db.execute("DELETE FROM counter_bases WHERE metric = ?", (NAME,))
        db.execute("DELETE FROM counter_totals WHERE metric = ?", (NAME,))
        run.restart()
        run.poll("2026-11-02 10:00", None, [T1])  # T1 unchanged, still open
        store = run.harness.store
        assert run.poller.counters() == store.totals() == store.recount()
    finally:
        run.harness.store.close()
    assert run.seen[-1][("open", "urgent")] == 110 * MIN
