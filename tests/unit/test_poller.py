"""The poller: scripted polls of the file source give exact metric values.

The scripted day (fixtures in ``tests/fixtures/poller``, 24x7 calendar, store
epoch 08:00 on Monday 2026-11-02):

* ``morning.jsonl`` polled at 09:00 -- A urgent answered at 08:30 (20m), B
  urgent unanswered since 08:20, C normal created 07:00 (before the epoch),
  answered 07:30, solved 08:30, rated good 08:40; D normal paused (pending)
  since 08:15 after 15 running minutes.
* ``mid-morning.jsonl`` polled at 10:00 -- B answered 09:10 (50m) and
  assigned, D open again at 09:30, E urgent new at 09:50.
* ``afternoon.jsonl`` polled at 15:00 -- everything solved: A 11:00 (rated
  bad 11:30), B and E 12:00, D 14:00.

Targets: first_response urgent 1h / normal 4h; resolution urgent 4h / normal
8h.  SLOs: ``urgent-reply`` (first response of urgent tickets within 30m,
90%), ``resolution`` (within 100% of the target, 80%), ``csat`` (90%); all
three over a rolling 24h window.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from exporter import __version__, metrics
from exporter.live import Timeline
from exporter.model import Ticket, ticket_from_json
from exporter.poller import (
    Poller,
    Readiness,
    SourceHealth,
    assess,
    backoff_delay,
    fresh_for,
    retention_seconds,
)
from exporter.slo import Evaluator
from exporter.sources.base import PollResult, SourceError
from exporter.sources.file import FileSource, read_tickets
from exporter.store import Store
from tests.unit.poller_harness import EPOCH, FIXTURES, Harness, histogram, ts, value

M = metrics
HOUR = 3600.0


@pytest.fixture
def day(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


@pytest.fixture
def morning(day: Harness) -> Harness:
    day.poll("morning.jsonl", "2026-11-02T09:00:00Z")
    return day


# --- the morning poll, metric by metric -----------------------------------------------------

MORNING = [
    # counters: facts from 08:00 (the epoch) on
    ("created A urgent email", M.TICKETS_CREATED, ("urgent", "email"), 1),
    ("created B chat is not in the breakdown", M.TICKETS_CREATED, ("urgent", "other"), 1),
    ("created D without channel", M.TICKETS_CREATED, ("normal", "none"), 1),
    ("created C before the epoch", M.TICKETS_CREATED, ("normal", "web"), 0),
    ("created initialised", M.TICKETS_CREATED, ("low", "email"), 0),
    ("solved C at 08:30", M.TICKETS_SOLVED, ("normal", "web"), 1),
    ("solved nothing urgent", M.TICKETS_SOLVED, ("urgent", "email"), 0),
    ("csat good C", M.CSAT_RATINGS, ("good",), 1),
    ("csat bad initialised", M.CSAT_RATINGS, ("bad",), 0),
    ("A replied in 20m <= 30m", M.SLO_EVENTS, ("urgent-reply", "good"), 1),
    ("B past 30m at 08:50", M.SLO_EVENTS, ("urgent-reply", "bad"), 1),
    ("C resolved in 1h30 <= 8h", M.SLO_EVENTS, ("resolution", "good"), 1),
    ("resolution bad initialised", M.SLO_EVENTS, ("resolution", "bad"), 0),
    ("C rated good", M.SLO_EVENTS, ("csat", "good"), 1),
    ("A first response met", M.SLA_OUTCOMES, ("first_response", "urgent", "met"), 1),
    ("B deadline 09:20 not passed", M.SLA_OUTCOMES, ("first_response", "urgent", "breached"), 0),
    ("C first reply 07:30 before epoch", M.SLA_OUTCOMES, ("first_response", "normal", "met"), 0),
    ("C resolution met", M.SLA_OUTCOMES, ("resolution", "normal", "met"), 1),
    ("no high target: no series", M.SLA_OUTCOMES, ("resolution", "high", "met"), None),
    ("api request of the file read", M.API_REQUESTS, ("file", "200"), 1),
    # SLO gauges
    ("objective", M.SLO_OBJECTIVE, ("urgent-reply",), 0.9),
    ("window good", M.SLO_PERIOD_EVENTS, ("urgent-reply", "good"), 1),
    ("window bad", M.SLO_PERIOD_EVENTS, ("urgent-reply", "bad"), 1),
    ("budget 1 - 0.5 / 0.1", M.SLO_BUDGET_REMAINING, ("urgent-reply",), 1 - 0.5 / (1 - 0.9)),
    ("budget untouched", M.SLO_BUDGET_REMAINING, ("resolution",), 1),
    ("B waits past 30m", M.SLO_WAITING_PAST_THRESHOLD, ("urgent-reply",), 1),
    ("nobody past resolution", M.SLO_WAITING_PAST_THRESHOLD, ("resolution",), 0),
    # SLA clocks of open tickets
    ("B running", M.SLA_OPEN_TIMERS, ("first_response", "urgent", "running"), 1),
    (
        "D first response runs while pending",
        M.SLA_OPEN_TIMERS,
        ("first_response", "normal", "running"),
        1,
    ),
    ("A and B resolution", M.SLA_OPEN_TIMERS, ("resolution", "urgent", "running"), 2),
    ("D resolution paused", M.SLA_OPEN_TIMERS, ("resolution", "normal", "paused"), 1),
    ("nothing breached", M.SLA_OPEN_TIMERS, ("first_response", "urgent", "breached"), 0),
    (
        "B breaches 09:20",
        M.SLA_NEXT_BREACH,
        ("first_response", "urgent"),
        ts("2026-11-02T09:20:00Z"),
    ),
    (
        "D breaches 12:00",
        M.SLA_NEXT_BREACH,
        ("first_response", "normal"),
        ts("2026-11-02T12:00:00Z"),
    ),
    ("A breaches 12:10", M.SLA_NEXT_BREACH, ("resolution", "urgent"), ts("2026-11-02T12:10:00Z")),
    ("paused D has no deadline", M.SLA_NEXT_BREACH, ("resolution", "normal"), None),
    (
        "top: B",
        M.SLA_TICKET_DEADLINE,
        ("first_response", "urgent", "B"),
        ts("2026-11-02T09:20:00Z"),
    ),
    (
        "top: D",
        M.SLA_TICKET_DEADLINE,
        ("first_response", "normal", "D"),
        ts("2026-11-02T12:00:00Z"),
    ),
    (
        "top: B resolution",
        M.SLA_TICKET_DEADLINE,
        ("resolution", "urgent", "B"),
        ts("2026-11-02T12:20:00Z"),
    ),
    # tickets
    ("A open", M.TICKETS_OPEN, ("urgent", "open"), 1),
    ("B new", M.TICKETS_OPEN, ("urgent", "new"), 1),
    ("D pending", M.TICKETS_OPEN, ("normal", "pending"), 1),
    ("C solved is not open", M.TICKETS_OPEN, ("normal", "open"), 0),
    ("A and B unassigned", M.TICKETS_UNASSIGNED, ("urgent",), 2),
    ("D unassigned", M.TICKETS_UNASSIGNED, ("normal",), 1),
    ("oldest unanswered urgent is B", M.OLDEST_UNANSWERED, ("urgent",), ts("2026-11-02T08:20:00Z")),
    ("oldest unanswered normal is D", M.OLDEST_UNANSWERED, ("normal",), ts("2026-11-02T08:00:00Z")),
    ("no high ticket", M.OLDEST_UNANSWERED, ("high",), None),
    # the source and the exporter
    ("up", M.UP, ("file",), 1),
    ("last poll", M.LAST_SUCCESSFUL_POLL, ("file",), ts("2026-11-02T09:00:00Z")),
    ("watermark of the file source is now", M.WATERMARK, ("file",), ts("2026-11-02T09:00:00Z")),
    ("no errors yet", M.POLL_ERRORS, ("file", "io"), None),
    ("rate limit unknown", M.API_RATE_LIMIT_REMAINING, ("file",), None),
    ("build info", M.BUILD_INFO, (__version__,), 1),
]


@pytest.mark.parametrize(
    ("spec", "labels", "expected"),
    [case[1:] for case in MORNING],
    ids=[case[0] for case in MORNING],
)
def test_morning_poll_values(
    morning: Harness, spec: M.MetricSpec, labels: tuple[str, ...], expected: float | None
) -> None:
    assert morning.value(spec.name, *labels) == (
        pytest.approx(expected) if expected is not None else None
    )


TIME_TO_BREACH = [
    # (sla, priority, seconds left of each running clock at 09:00)
    ("B 20m left", "first_response", "urgent", [1200.0]),
    ("D 3h left", "first_response", "normal", [3 * HOUR]),
    ("A 3h10 and B 3h20 left", "resolution", "urgent", [11400.0, 12000.0]),
    ("D paused", "resolution", "normal", []),
]


@pytest.mark.parametrize(
    ("sla", "priority", "left"),
    [case[1:] for case in TIME_TO_BREACH],
    ids=[case[0] for case in TIME_TO_BREACH],
)
def test_morning_time_to_breach(
    morning: Harness, sla: str, priority: str, left: list[float]
) -> None:
    series = histogram(morning.poller.snapshot, M.SLA_TIME_TO_BREACH.name, sla, priority)
    assert series is not None
    assert series.count == len(left)
    assert series.sum == sum(left)
    expected = [
        (bound, float(sum(1 for s in left if s <= bound))) for bound in M.TIME_TO_BREACH_BUCKETS
    ]
    assert list(series.buckets) == expected


ELAPSED_MORNING = [
    # stopped clocks since the epoch: (sla, priority, count, sum, le of the single bucket hit)
    ("A replied after 1200s", "first_response", "urgent", 1, 1200.0, 1800.0),
    ("C's 07:30 reply is before the epoch", "first_response", "normal", 0, 0.0, None),
    ("C resolved in 5400s", "resolution", "normal", 1, 5400.0, 7200.0),
    ("nothing resolved urgent", "resolution", "urgent", 0, 0.0, None),
]


@pytest.mark.parametrize(
    ("sla", "priority", "count", "total", "first_le"),
    [case[1:] for case in ELAPSED_MORNING],
    ids=[case[0] for case in ELAPSED_MORNING],
)
def test_morning_elapsed_histogram(
    morning: Harness, sla: str, priority: str, count: int, total: float, first_le: float | None
) -> None:
    series = histogram(morning.poller.snapshot, M.SLA_ELAPSED.name, sla, priority)
    assert series is not None
    assert (series.count, series.sum) == (count, total)
    for bound, cumulative in series.buckets:
        assert cumulative == (count if first_le is not None and bound >= first_le else 0)


def test_every_metric_is_in_the_snapshot(morning: Harness) -> None:
    snapshot = morning.poller.snapshot
    present = set(snapshot.samples) | set(snapshot.histograms)
    assert {spec.name for spec in M.ALL} <= present
    for spec in M.ALL:
        for sample in snapshot.samples.get(spec.name, ()):
            assert len(sample.labels) == len(spec.labels), spec.name
        for series in snapshot.histograms.get(spec.name, ()):
            assert len(series.labels) == len(spec.labels), spec.name


def test_window_counts_match_the_evaluator(morning: Harness) -> None:
    """The incremental window counts agree with evaluating every ticket from scratch."""
    tickets, _ = read_tickets(FIXTURES / "morning.jsonl")
    evaluator = Evaluator(morning.config)
    at = ts("2026-11-02T09:00:00Z")
    summary = evaluator.summarize([evaluator.evaluate(t, at, at) for t in tickets], at)
    for name, expected in summary.items():
        snapshot = morning.poller.snapshot
        assert value(snapshot, M.SLO_PERIOD_EVENTS.name, name, "good") == expected.good
        assert value(snapshot, M.SLO_PERIOD_EVENTS.name, name, "bad") == expected.bad
        assert value(snapshot, M.SLO_BUDGET_REMAINING.name, name) == pytest.approx(
            expected.error_budget_remaining_ratio
        )


# --- later polls --------------------------------------------------------------------------------

MID_MORNING = [
    ("E created", M.TICKETS_CREATED, ("urgent", "web"), 1),
    ("B replied at 09:10: met", M.SLA_OUTCOMES, ("first_response", "urgent", "met"), 2),
    ("B stays bad for the SLO", M.SLO_EVENTS, ("urgent-reply", "bad"), 1),
    ("E not past 10:20 yet", M.SLO_WAITING_PAST_THRESHOLD, ("urgent-reply",), 0),
    ("E running", M.SLA_OPEN_TIMERS, ("first_response", "urgent", "running"), 1),
    (
        "E breaches 10:50",
        M.SLA_NEXT_BREACH,
        ("first_response", "urgent"),
        ts("2026-11-02T10:50:00Z"),
    ),
    # D ran 15m, resumed 09:30: 7h45 left -> 17:15
    ("D resumed", M.SLA_NEXT_BREACH, ("resolution", "normal"), ts("2026-11-02T17:15:00Z")),
    ("D running again", M.SLA_OPEN_TIMERS, ("resolution", "normal", "running"), 1),
    ("D no longer paused", M.SLA_OPEN_TIMERS, ("resolution", "normal", "paused"), 0),
    ("B assigned", M.TICKETS_UNASSIGNED, ("urgent",), 2),
    ("E is the oldest unanswered", M.OLDEST_UNANSWERED, ("urgent",), ts("2026-11-02T09:50:00Z")),
    ("a second file read", M.API_REQUESTS, ("file", "200"), 2),
]


@pytest.mark.parametrize(
    ("spec", "labels", "expected"),
    [case[1:] for case in MID_MORNING],
    ids=[case[0] for case in MID_MORNING],
)
def test_mid_morning_poll_values(
    morning: Harness, spec: M.MetricSpec, labels: tuple[str, ...], expected: float
) -> None:
    morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    assert morning.value(spec.name, *labels) == pytest.approx(expected)


AFTERNOON = [
    ("created", M.TICKETS_CREATED, ("urgent", "email"), 1),
    ("solved A", M.TICKETS_SOLVED, ("urgent", "email"), 1),
    ("solved B (chat)", M.TICKETS_SOLVED, ("urgent", "other"), 1),
    ("solved E", M.TICKETS_SOLVED, ("urgent", "web"), 1),
    ("solved D", M.TICKETS_SOLVED, ("normal", "none"), 1),
    ("solved C", M.TICKETS_SOLVED, ("normal", "web"), 1),
    ("A rated bad", M.CSAT_RATINGS, ("bad",), 1),
    ("urgent-reply good: A", M.SLO_EVENTS, ("urgent-reply", "good"), 1),
    ("urgent-reply bad: B, E at 10:20", M.SLO_EVENTS, ("urgent-reply", "bad"), 2),
    ("resolution good: A B C D E", M.SLO_EVENTS, ("resolution", "good"), 5),
    ("csat bad: A", M.SLO_EVENTS, ("csat", "bad"), 1),
    ("FR met: A B", M.SLA_OUTCOMES, ("first_response", "urgent", "met"), 2),
    ("FR breached: E at 10:50", M.SLA_OUTCOMES, ("first_response", "urgent", "breached"), 1),
    ("FR breached: D at 12:00", M.SLA_OUTCOMES, ("first_response", "normal", "breached"), 1),
    ("resolution met A B E", M.SLA_OUTCOMES, ("resolution", "urgent", "met"), 3),
    ("resolution met C D", M.SLA_OUTCOMES, ("resolution", "normal", "met"), 2),
    ("nothing open", M.TICKETS_OPEN, ("urgent", "open"), 0),
    ("no running clock", M.SLA_OPEN_TIMERS, ("resolution", "urgent", "running"), 0),
    ("no next breach", M.SLA_NEXT_BREACH, ("resolution", "urgent"), None),
    ("no unanswered", M.OLDEST_UNANSWERED, ("urgent",), None),
]


@pytest.mark.parametrize(
    ("spec", "labels", "expected"),
    [case[1:] for case in AFTERNOON],
    ids=[case[0] for case in AFTERNOON],
)
def test_afternoon_poll_values(
    morning: Harness, spec: M.MetricSpec, labels: tuple[str, ...], expected: float | None
) -> None:
    morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    morning.poll("afternoon.jsonl", "2026-11-02T15:00:00Z")
    got = morning.value(spec.name, *labels)
    assert got == (pytest.approx(expected) if expected is not None else None)
    assert morning.poller.live_count == 0


def test_afternoon_elapsed_histogram(morning: Harness) -> None:
    morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    morning.poll("afternoon.jsonl", "2026-11-02T15:00:00Z")
    snapshot = morning.poller.snapshot
    expected = {
        # A 1200, B 3000, E 7800 (solved 12:00 without a reply)
        ("first_response", "urgent"): (3, 12000.0),
        # D solved at 14:00 without a reply: 6h
        ("first_response", "normal"): (1, 21600.0),
        # A 2h50, B 3h40, E 2h10
        ("resolution", "urgent"): (3, 31200.0),
        # C 1h30, D 15m + 4h30
        ("resolution", "normal"): (2, 22500.0),
    }
    for labels, (count, total) in expected.items():
        series = histogram(snapshot, M.SLA_ELAPSED.name, *labels)
        assert series is not None
        assert (series.count, series.sum) == (count, total), labels


def test_time_passing_refresh_breaches_without_a_poll(morning: Harness) -> None:
    """refresh() moves time-dependent gauges on; counters wait for the next poll."""
    morning.now = ts("2026-11-02T09:30:00Z")
    morning.poller.refresh()
    assert morning.value(M.SLA_OPEN_TIMERS.name, "first_response", "urgent", "breached") == 1
    assert morning.value(M.SLA_OPEN_TIMERS.name, "first_response", "urgent", "running") == 0
    assert morning.value(M.SLA_NEXT_BREACH.name, "first_response", "urgent") is None
    assert morning.value(M.SLA_OUTCOMES.name, "first_response", "urgent", "breached") == 0
    morning.poll("morning.jsonl", "2026-11-02T09:31:00Z")
    assert morning.value(M.SLA_OUTCOMES.name, "first_response", "urgent", "breached") == 1


def test_unchanged_tickets_are_not_reevaluated(
    morning: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = Poller._evaluate

    def counting(self: Poller, ticket, *args):  # type: ignore[no-untyped-def]
        calls.append(ticket.id)
        return original(self, ticket, *args)

    monkeypatch.setattr(Poller, "_evaluate", counting)
    morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    assert sorted(calls) == ["B", "D", "E"]


# --- watermark ----------------------------------------------------------------------------------


class ScriptedSource:
    """Returns a fixture's tickets with a chosen watermark (the source's lag)."""

    name = "scripted"

    def __init__(self) -> None:
        self.fixture = "reply-unseen.jsonl"
        self.lag = 0.0

    def poll(self, cursor: str | None, now: float) -> PollResult:
        tickets, _ = read_tickets(FIXTURES / self.fixture)
        return PollResult(tickets, self.fixture, now - self.lag, requests=1)


WATERMARK = [
    # (poll at, watermark lag, fixture, urgent-reply good, bad, waiting past threshold)
    (
        "threshold 09:30 passed, watermark 09:25: pending",
        "09:40",
        900,
        "reply-unseen.jsonl",
        0,
        0,
        1,
    ),
    ("watermark 09:29:59: still pending", "09:40", 601, "reply-unseen.jsonl", 0, 0, 1),
    ("watermark exactly 09:30: still pending", "09:40", 600, "reply-unseen.jsonl", 0, 0, 1),
    ("watermark 09:31: bad", "09:41", 600, "reply-unseen.jsonl", 0, 1, 1),
    ("the late-fetched reply at 09:28 is good", "09:50", 900, "reply-at-0928.jsonl", 1, 0, 0),
]


@pytest.mark.parametrize(
    ("at", "lag", "fixture", "good", "bad", "waiting"),
    [case[1:] for case in WATERMARK],
    ids=[case[0] for case in WATERMARK],
)
def test_watermark_holds_back_bad_outcomes(
    tmp_path: Path, at: str, lag: float, fixture: str, good: int, bad: int, waiting: int
) -> None:
    h = Harness(tmp_path)
    source = ScriptedSource()
    h.poller = Poller(h.config, source, h.store, h.clock)
    # an earlier poll saw F without a reply, watermark well before the threshold
    source.lag = 0
    h.now = ts("2026-11-02T09:10:00Z")
    h.poller.poll_once()
    source.fixture, source.lag = fixture, lag
    h.now = ts(f"2026-11-02T{at}:00Z")
    h.poller.poll_once()
    snapshot = h.poller.snapshot
    assert value(snapshot, M.SLO_EVENTS.name, "urgent-reply", "good") == good
    assert value(snapshot, M.SLO_EVENTS.name, "urgent-reply", "bad") == bad
    assert value(snapshot, M.SLO_PERIOD_EVENTS.name, "urgent-reply", "bad") == bad
    assert value(snapshot, M.SLO_WAITING_PAST_THRESHOLD.name, "urgent-reply") == waiting
    assert value(snapshot, M.WATERMARK.name, "scripted") == h.now - lag


def test_bad_outcome_decided_later_keeps_its_threshold_instant(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    source = ScriptedSource()
    h.poller = Poller(h.config, source, h.store, h.clock)
    source.lag = 1800
    h.now = ts("2026-11-02T09:45:00Z")  # watermark 09:15
    h.poller.poll_once()
    assert h.store.slo_outcomes("F") == []
    source.lag = 0
    h.now = ts("2026-11-02T09:46:00Z")
    h.poller.poll_once()
    [outcome] = h.store.slo_outcomes("F")
    assert (outcome.result, outcome.decided_at) == ("bad", ts("2026-11-02T09:30:00Z"))


# --- failures -----------------------------------------------------------------------------------


class FailingSource:
    name = "file"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def poll(self, cursor: str | None, now: float) -> PollResult:
        raise self.error


FAILURES = [
    (
        "a source error counts its reason",
        SourceError("HTTP 429 from the helpdesk", "rate_limited"),
        "rate_limited",
    ),
    ("an unexpected error counts as exception", ValueError("boom"), "exception"),
]


@pytest.mark.parametrize(
    ("error", "reason"), [c[1:] for c in FAILURES], ids=[c[0] for c in FAILURES]
)
def test_failing_source_keeps_last_good_values(
    morning: Harness, error: Exception, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = morning.totals()
    good = morning.poller.snapshot
    morning.poller.source = FailingSource(error)
    morning.now = ts("2026-11-02T09:01:00Z")
    for _ in range(2):
        with caplog.at_level(logging.WARNING):
            morning.poller.poll_once()  # never raises
    snapshot = morning.poller.snapshot
    assert value(snapshot, M.UP.name, "file") == 0
    assert value(snapshot, M.POLL_ERRORS.name, "file", reason) == 2
    assert value(snapshot, M.LAST_SUCCESSFUL_POLL.name, "file") == ts("2026-11-02T09:00:00Z")
    after = morning.totals()
    del after[(M.POLL_ERRORS.name, ("file", reason))]
    assert after == before
    for name in (M.TICKETS_OPEN.name, M.SLO_PERIOD_EVENTS.name, M.SLA_OPEN_TIMERS.name):
        assert snapshot.samples[name] == good.samples[name]
    assert morning.poller.ready
    # the source recovers
    morning.poller.source = FileSource(morning.config.source)
    morning.poll("morning.jsonl", "2026-11-02T09:02:00Z")
    assert morning.value(M.UP.name, "file") == 1
    assert morning.value(M.POLL_ERRORS.name, "file", reason) == 2


def test_missing_file_is_an_io_error(morning: Harness) -> None:
    morning.poll(None, "2026-11-02T09:05:00Z")
    assert morning.value(M.UP.name, "file") == 0
    assert morning.value(M.POLL_ERRORS.name, "file", "io") == 1


def test_store_failure_is_counted_and_loses_nothing(
    morning: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Store, "write_poll", broken)
    morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    assert morning.value(M.UP.name, "file") == 0
    assert morning.value(M.POLL_ERRORS.name, "file", "store") == 1
    assert morning.value(M.TICKETS_CREATED.name, "urgent", "web") == 0
    monkeypatch.undo()
    shutil.copyfile(FIXTURES / "mid-morning.jsonl", morning.tickets)  # a new mtime: read again
    morning.poll("mid-morning.jsonl", "2026-11-02T10:01:00Z")
    assert morning.value(M.TICKETS_CREATED.name, "urgent", "web") == 1
    assert morning.poller.counters() == morning.store.totals() == morning.store.recount()


class ApiSource:
    """A source reporting its HTTP usage in its poll result and in the error of a failed poll."""

    name = "zendesk"

    def __init__(self) -> None:
        self.fail = False

    def poll(self, cursor: str | None, now: float) -> PollResult:
        if self.fail:
            error = SourceError("rate limited", "rate_limited")
            error.api_codes = {"200": 1, "429": 2}
            raise error
        return PollResult([], "c", now, requests=3, api_codes={"200": 3}, rate_limit_remaining=697)


def test_api_request_hook_counts_codes_on_success_and_failure(day: Harness) -> None:
    source = ApiSource()
    day.poller = Poller(day.config, source, day.store, day.clock)
    snapshot = day.poller.snapshot
    day.poller.refresh()
    assert value(day.poller.snapshot, M.API_RATE_LIMIT_REMAINING.name, "zendesk") is None
    day.poller.poll_once()
    source.fail = True
    day.poller.poll_once()
    snapshot = day.poller.snapshot
    assert value(snapshot, M.API_REQUESTS.name, "zendesk", "200") == 4
    assert value(snapshot, M.API_REQUESTS.name, "zendesk", "429") == 2
    assert value(snapshot, M.POLL_ERRORS.name, "zendesk", "rate_limited") == 1
    assert value(snapshot, M.API_RATE_LIMIT_REMAINING.name, "zendesk") == 697


# --- the source's health from the start ---------------------------------------------------------


class RateLimited(SourceError):
    """A failure carrying the helpdesk's Retry-After advice, as the HTTP client raises it."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("HTTP 429, Retry-After", "rate_limited")
        self.retry_after = retry_after


def source_series(snapshot: Any) -> dict[str, float | None]:
    return {
        "up": value(snapshot, M.UP.name, "file"),
        "last_success": value(snapshot, M.LAST_SUCCESSFUL_POLL.name, "file"),
        "watermark": value(snapshot, M.WATERMARK.name, "file"),
        "backoff": value(snapshot, M.SOURCE_BACKOFF.name, "file"),
    }


def test_source_series_exist_before_the_store_is_read_or_any_poll(day: Harness) -> None:
    snapshot = day.poller.snapshot
    assert source_series(snapshot) == {
        "up": 0.0,
        "last_success": EPOCH,
        "watermark": EPOCH,
        "backoff": 0.0,
    }
    # nothing else yet: counters at 0 before the stored totals are read would look like a reset
    assert snapshot.samples.get(M.SLO_EVENTS.name, ()) == ()
    assert not day.poller.ready


def test_restart_publishes_the_stored_watermark_and_the_start_as_last_success(
    morning: Harness,
) -> None:
    morning.now = ts("2026-11-02T11:00:00Z")
    morning.restart()
    assert source_series(morning.poller.snapshot) == {
        "up": 0.0,
        "last_success": ts("2026-11-02T11:00:00Z"),  # the stored 09:00 is older than the start
        "watermark": ts("2026-11-02T09:00:00Z"),
        "backoff": 0.0,
    }
    morning.poller.refresh()  # after loading the store: the same
    assert source_series(morning.poller.snapshot)["last_success"] == ts("2026-11-02T11:00:00Z")
    assert source_series(morning.poller.snapshot)["watermark"] == ts("2026-11-02T09:00:00Z")


def test_a_helpdesk_that_never_answers_never_looks_healthy(day: Harness) -> None:
    day.poller.source = FailingSource(SourceError("connection refused", "connect"))
    for minute in range(1, 6):
        day.now = EPOCH + 60 * minute
        day.poller.poll_once()
        assert source_series(day.poller.snapshot)["up"] == 0
        assert source_series(day.poller.snapshot)["last_success"] == EPOCH
        assert source_series(day.poller.snapshot)["watermark"] == EPOCH
        assert not day.poller.ready
    errors = value(day.poller.snapshot, M.POLL_LAST_ERROR.name, "file", "connect")
    assert errors == EPOCH + 300


BACKOFF_GAUGE = [
    # (failures in a row, retry_after, expected gauge); poll interval 60s
    ("first failure waits the interval", [None], 60.0),
    ("second failure doubles", [None, None], 120.0),
    ("retry-after longer than the back-off wins", [None, 900.0], 900.0),
    ("back-off longer than an earlier retry-after", [900.0, None], 120.0),
]


@pytest.mark.parametrize(
    ("advice", "expected"), [c[1:] for c in BACKOFF_GAUGE], ids=[c[0] for c in BACKOFF_GAUGE]
)
def test_backoff_gauge_is_the_wait_before_the_next_poll(
    morning: Harness, advice: list[float | None], expected: float
) -> None:
    for retry_after in advice:
        error = RateLimited(retry_after) if retry_after is not None else SourceError("x", "timeout")
        morning.poller.source = FailingSource(error)
        morning.poller.poll_once()
    assert morning.value(M.SOURCE_BACKOFF.name, "file") == expected
    morning.poller.source = FileSource(morning.config.source)
    morning.poll("morning.jsonl", "2026-11-02T09:30:00Z")
    assert morning.value(M.SOURCE_BACKOFF.name, "file") == 0


def test_last_error_time_is_kept_per_reason(morning: Harness) -> None:
    for minute, reason in ((1, "timeout"), (2, "auth"), (3, "timeout")):
        morning.now = ts("2026-11-02T09:00:00Z") + 60 * minute
        morning.poller.source = FailingSource(SourceError("x", reason))
        morning.poller.poll_once()
    assert morning.value(M.POLL_LAST_ERROR.name, "file", "timeout") == ts("2026-11-02T09:03:00Z")
    assert morning.value(M.POLL_LAST_ERROR.name, "file", "auth") == ts("2026-11-02T09:02:00Z")


START = 1_000_000.0


def health(**changes: Any) -> SourceHealth:
    base: dict[str, Any] = {
        "source": "zendesk",
        "started": START,
        "last_success": None,
        "last_failure": None,
        "last_error": None,
        "failures": 0,
        "backoff": 0.0,
        "fresh_for": 180.0,
    }
    return SourceHealth(**{**base, **changes})


READINESS = [
    # (state, seconds after the start, ready, what the reason says)
    ("first poll running", health(), 5, False, "the first poll of the helpdesk (zendesk) has not"),
    (
        "never answered",
        health(last_failure=START + 240, last_error="connect", failures=3, backoff=600.0),
        720,
        False,
        "the helpdesk (zendesk) has never answered since the exporter started 12m ago "
        "(3 failed polls, last error: connect, next attempt in 2m)",
    ),
    (
        "stopped answering",
        health(
            last_success=START + 60,
            last_failure=START + 300,
            last_error="auth",
            failures=4,
            backoff=480.0,
        ),
        360,
        False,
        "the helpdesk (zendesk) stopped answering: last successful poll 5m ago "
        "(1970-01-12T13:47:40Z); 4 failed polls, last error: auth, next attempt in 7m",
    ),
    (
        "a poll hangs",
        health(last_success=START),
        181,
        False,
        "no poll has finished since (one may hang)",
    ),
    ("fresh", health(last_success=START + 100), 280, True, "last successful poll of the"),
    (
        "one failure since a fresh success",
        health(
            last_success=START,
            last_failure=START + 60,
            last_error="timeout",
            failures=1,
            backoff=60.0,
        ),
        90,
        True,
        "since then 1 failed poll, last error: timeout, next attempt in 30s",
    ),
    ("fresh at the limit", health(last_success=START), 180, True, "3m ago"),
]


@pytest.mark.parametrize(
    ("state", "after", "ready", "reason"),
    [c[1:] for c in READINESS],
    ids=[c[0] for c in READINESS],
)
def test_readiness_says_why(state: SourceHealth, after: float, ready: bool, reason: str) -> None:
    verdict = assess(state, START + after)
    assert verdict.ready is ready
    assert reason in verdict.reason
    assert "\n" not in verdict.reason


@pytest.mark.parametrize(
    ("interval", "expected"),
    [(1.0, 60.0), (60.0, 180.0), (300.0, 900.0)],
    ids=["short-interval-has-a-floor", "three-intervals", "long-interval"],
)
def test_fresh_for_is_three_poll_intervals_and_at_least_a_minute(
    interval: float, expected: float
) -> None:
    assert fresh_for(interval) == expected


def test_poller_readiness_follows_its_polls(morning: Harness) -> None:
    assert morning.poller.readiness().ready  # polled at 09:00, clock at 09:00
    morning.poller.source = FailingSource(SourceError("x", "timeout"))
    morning.now = ts("2026-11-02T09:02:00Z")
    morning.poller.poll_once()
    assert morning.poller.readiness().ready  # still fresh
    morning.now = ts("2026-11-02T09:04:00Z")
    morning.poller.poll_once()
    readiness = morning.poller.readiness()
    assert readiness == Readiness(False, readiness.reason)
    assert "stopped answering" in readiness.reason and "timeout" in readiness.reason


# --- restarts -----------------------------------------------------------------------------------


def test_restart_on_the_same_store_keeps_every_counter(morning: Harness) -> None:
    morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    before = morning.totals()
    live_gauges = {
        name: morning.poller.snapshot.samples[name]
        for name in (M.TICKETS_OPEN.name, M.SLA_OPEN_TIMERS.name, M.SLA_NEXT_BREACH.name)
    }
    morning.restart()
    morning.poller.refresh()  # before any poll: state from the store alone
    assert morning.totals() == before
    for name, samples in live_gauges.items():
        assert morning.poller.snapshot.samples[name] == samples
    morning.poll("mid-morning.jsonl", "2026-11-02T10:01:00Z")  # nothing new happened
    status = M.TICKET_STATUS_SECONDS.name
    assert morning.totals() == {
        **before,
        (M.API_REQUESTS.name, ("file", "200")): before[(M.API_REQUESTS.name, ("file", "200"))] + 1,
        # but a minute went by: A, B and E (urgent) and D (normal) are open
        (status, ("open", "urgent")): before[(status, ("open", "urgent"))] + 3 * 60,
        (status, ("open", "normal")): before[(status, ("open", "normal"))] + 60,
    }
    morning.poll("afternoon.jsonl", "2026-11-02T15:00:00Z")
    after = morning.totals()
    assert all(after[key] >= count for key, count in before.items())
    assert morning.poller.counters() == morning.store.totals() == morning.store.recount()


def test_restart_decides_what_came_due_while_down(morning: Harness) -> None:
    """E's bad outcome (10:20) and breach (10:50) are decided by the first poll after a restart."""
    morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    morning.restart()
    morning.poll("mid-morning.jsonl", "2026-11-02T11:00:00Z")
    assert morning.value(M.SLO_EVENTS.name, "urgent-reply", "bad") == 2
    assert morning.value(M.SLA_OUTCOMES.name, "first_response", "urgent", "breached") == 1


def test_a_new_store_starts_at_zero(morning: Harness, tmp_path: Path) -> None:
    """Losing the store is a reset: a new epoch, history loaded but not counted."""
    morning.poll("afternoon.jsonl", "2026-11-02T15:00:00Z")
    assert any(morning.totals().values())
    fresh = Harness(
        tmp_path, store_path=tmp_path / "new-volume.db", epoch=ts("2026-11-02T15:00:00Z")
    )
    fresh.poller.refresh()
    assert set(fresh.totals().values()) == {0}
    fresh.poll("afternoon.jsonl", "2026-11-02T15:01:00Z")
    counted = {k: v for k, v in fresh.totals().items() if v}
    assert counted == {(M.API_REQUESTS.name, ("file", "200")): 1}
    # the window gauges still see the history
    assert fresh.value(M.SLO_PERIOD_EVENTS.name, "resolution", "good") == 5


def test_config_change_reevaluates_live_tickets(morning: Harness, tmp_path: Path) -> None:
    morning.store.close()
    changed = Harness(tmp_path, extra_config="")
    changed.config = changed.config.model_copy(
        update={"slos": [s for s in changed.config.slos if s.name != "urgent-reply"]}
    )
    changed.poller = Poller(
        changed.config, FileSource(changed.config.source), changed.store, changed.clock
    )
    changed.poll("morning.jsonl", "2026-11-02T09:05:00Z")
    assert changed.value(M.SLO_WAITING_PAST_THRESHOLD.name, "urgent-reply") is None
    assert changed.value(M.SLA_OPEN_TIMERS.name, "resolution", "urgent", "running") == 2
    assert changed.poller.counters() == changed.store.totals() == changed.store.recount()


# --- kill -9 in the middle of a poll ------------------------------------------------------------

_KILLED_POLL = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from exporter.config import parse_config
    from exporter.poller import Poller
    from exporter.sources.file import FileSource
    from exporter.store import Store

    config_text, base, marker = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    now = float(sys.argv[4])
    original = Store._write_facts

    def facts_then_hang(self, batch, deltas):
        original(self, batch, deltas)  # rows written, transaction still open
        marker.write_text("inside the transaction")
        time.sleep(60)

    Store._write_facts = facts_then_hang
    config = parse_config(config_text, base_dir=base)
    store = Store(config.store, clock=lambda: now)
    Poller(config, FileSource(config.source), store, clock=lambda: now).poll_once()
    """
)


def test_kill_9_inside_the_poll_transaction_loses_nothing(tmp_path: Path) -> None:
    killed_dir, reference_dir = tmp_path / "killed", tmp_path / "reference"
    for directory in (killed_dir, reference_dir):
        directory.mkdir()
        h = Harness(directory)
        h.poll("morning.jsonl", "2026-11-02T09:00:00Z")
        h.store.close()
    killed = Harness(killed_dir)
    before = killed.store.totals()
    killed.store.close()

    shutil.copyfile(FIXTURES / "mid-morning.jsonl", killed_dir / "tickets.jsonl")
    marker = killed_dir / "marker"
    config_text = (FIXTURES / "helpdesk-slo.yml").read_text()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILLED_POLL,
            config_text,
            str(killed_dir),
            str(marker),
            str(ts("2026-11-02T10:00:00Z")),
        ],
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert process.poll() is None, "the poll ended before it was killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()

    reopened = Harness(killed_dir)
    assert reopened.store.integrity_check() == "ok"
    assert reopened.store.totals() == before  # the half-written poll is gone
    assert reopened.store.source_state("file").watermark == ts("2026-11-02T09:00:00Z")
    reopened.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")

    reference = Harness(reference_dir)
    reference.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    assert reopened.store.totals() == reference.store.totals() == reopened.store.recount()
    assert reopened.totals() == reference.totals()
    assert reopened.poller.snapshot.samples == reference.poller.snapshot.samples


# --- retention ----------------------------------------------------------------------------------


def test_retention_prunes_without_lowering_counters(morning: Harness) -> None:
    morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
    morning.poll("afternoon.jsonl", "2026-11-02T15:00:00Z")
    before = morning.totals()
    assert retention_seconds(morning.config) == 25 * HOUR  # 24h windows + 1h margin
    assert morning.store.ticket_count() == 5
    # D settled last (solved 14:00): everything is older than 25h two days later
    morning.poll("afternoon.jsonl", "2026-11-04T15:00:00Z")
    assert morning.store.ticket_count() == 0
    assert morning.store.pruned_count() == 5
    assert morning.totals() == {
        **before,
        (M.API_REQUESTS.name, ("file", "200")): before[(M.API_REQUESTS.name, ("file", "200"))] + 1,
    }
    assert morning.poller.counters() == morning.store.totals() == morning.store.recount()
    # the same tickets delivered again (a new file): nothing is counted twice
    shutil.copyfile(FIXTURES / "afternoon.jsonl", morning.tickets)
    morning.poll("afternoon.jsonl", "2026-11-04T15:01:00Z")
    assert morning.store.ticket_count() == 0
    morning.restart()
    morning.poller.refresh()
    assert morning.totals()[(M.SLO_EVENTS.name, ("resolution", "good"))] == 5


def test_a_pruned_ticket_that_changes_is_not_counted_twice(morning: Harness) -> None:
    morning.poll("afternoon.jsonl", "2026-11-02T15:00:00Z")
    morning.poll("afternoon.jsonl", "2026-11-04T15:00:00Z")
    before = morning.totals()
    lines = (FIXTURES / "afternoon.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    for record in records:
        if record["id"] == "B":  # B gets a late rating
            record["events"].append(
                {"at": "2026-11-04T16:00:00Z", "type": "csat", "rating": "good"}
            )
    morning.tickets.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    morning.now = ts("2026-11-04T16:30:00Z")
    morning.poller.poll_once()
    after = morning.totals()
    assert after[(M.CSAT_RATINGS.name, ("good",))] == before[(M.CSAT_RATINGS.name, ("good",))] + 1
    assert after[(M.TICKETS_CREATED.name, ("urgent", "other"))] == 1
    assert after[(M.TICKETS_SOLVED.name, ("urgent", "other"))] == 1
    assert after[(M.SLO_EVENTS.name, ("resolution", "good"))] == 5
    assert morning.poller.counters() == morning.store.totals() == morning.store.recount()
    assert ticket_from_json(records[1]).id == "B"


# --- the loop -----------------------------------------------------------------------------------


def test_run_polls_until_stopped(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    shutil.copyfile(FIXTURES / "morning.jsonl", h.tickets)
    h.now = ts("2026-11-02T09:00:00Z")
    stop = threading.Event()
    thread = threading.Thread(target=h.poller.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 10
    while not h.poller.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert h.poller.snapshot.ready
    assert h.value(M.UP.name, "file") == 1


BACKOFF = [
    # (interval, consecutive failures, retry_after, expected wait)
    ("after a success: the interval", 60, 0, None, 60),
    ("first failure: the interval", 60, 1, None, 60),
    ("then doubling", 60, 3, None, 240),
    ("capped at 10 minutes", 60, 8, None, 600),
    ("never below the interval", 900, 5, None, 900),
    ("Retry-After is honoured", 60, 1, 300, 300),
    ("a short Retry-After does not shorten the back-off", 60, 4, 5, 480),
]


@pytest.mark.parametrize(
    ("interval", "failures", "retry_after", "expected"),
    [c[1:] for c in BACKOFF],
    ids=[c[0] for c in BACKOFF],
)
def test_backoff_delay(
    interval: float, failures: int, retry_after: float | None, expected: float
) -> None:
    assert backoff_delay(interval, failures, retry_after) == expected


def test_timeline_counts_and_sums() -> None:
    timeline = Timeline()
    for ticket_id, instant in [("a", 10.0), ("b", 20.0), ("c", 20.0), ("d", 40.0)]:
        timeline.add(ticket_id, instant)
    assert timeline.count_before(20.0) == 1
    assert timeline.count_until(20.0) == 3
    assert timeline.sum_from(15.0) == (3, 5.0 + 5.0 + 25.0)
    timeline.discard("b")
    timeline.add("a", 50.0)
    assert timeline.first() == 20.0
    assert timeline.nearest_from(0.0, 2) == [(20.0, "c"), (40.0, "d")]
    assert len(timeline) == 3


def test_timeline_keeps_many_equal_instants_in_order() -> None:
    """Deadlines often coincide (the next opening hour): in-place updates stay exact."""
    timeline = Timeline()
    for number in range(200):
        timeline.add(f"t{number:03}", 100.0)
    assert timeline.count_until(100.0) == 200
    timeline.add("t050", 50.0)
    timeline.discard("t120")
    timeline.add("new", 100.0)
    assert timeline.count_before(100.0) == 1
    assert timeline.count_until(100.0) == 200
    assert timeline.nearest_from(0.0, 2) == [(50.0, "t050"), (100.0, "new")]


class _MergingSource:
    """A source that, like the API sources, asks for earlier ticket states."""

    name = "merging"

    def __init__(self) -> None:
        self.known: Any = None

    def use_known_tickets(self, known: Any) -> None:
        self.known = known

    def poll(self, cursor: str | None, now: float) -> Any:
        raise NotImplementedError


def test_a_restarted_poller_offers_stored_tickets_to_merging_sources(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.poll("morning.jsonl", "2026-11-02T10:00:00Z")
    stored = {t.id for t in read_tickets(harness.tickets)[0]}
    source = _MergingSource()
    Poller(harness.config, source, harness.store, harness.clock)
    assert source.known is not None
    found = source.known([*sorted(stored), "no-such-ticket"])
    assert set(found) == stored
    assert all(isinstance(t, Ticket) for t in found.values())
