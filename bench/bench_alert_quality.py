"""Alert quality: our generated alerts against Sloth- and Pyrra-style rules, on a real Prometheus.

One run per seed, one simulated helpdesk, one set of series, four rulesets:

* **ours** -- the rule file ``helpdesk-slo generate`` writes for the SLO below
  (:func:`exporter.pack.rules.plan_pack` / :func:`~exporter.pack.rules.rule_groups`):
  the ``SupportSLOErrorBudgetBurn`` tiers with their minimum-bad-events guard,
  ``SupportSLOBacklogBreached`` and the predictive ``SupportSLOBacklogImminent``,
  each with the ``for:`` the pack gives it;
* **Sloth-style** -- the shape Sloth generates for the same SLO (its 30d
  alert-window table: page at 14.4x on 1h/5m or 6x on 6h/30m, ticket at 3x on
  1d/2h or 1x on 3d/6h), with ratio-of-rates SLIs on the same
  ``helpdesk_slo_events_total`` counter and no event guard;
* **Sloth-style + guard** -- the same, each tier also needing at least
  ``--guard`` bad events in its long window;
* **Pyrra-style** -- Pyrra's multi-window table scaled from 28d to the SLO's
  window (critical 14x and 7x pages, warning 2x and 1x tickets, each with its
  ``for:``), burn-rate recordings on the same counter.

The helpdesk: urgent tickets arrive as a Poisson process (``--rate`` an hour
in business hours, ``--off-rate`` outside them); agents work the SLA's business
calendar and need a log-normal amount of staffed time for a first reply.
About one staffing incident a week, of five shapes (:data:`SHAPES`): replies
stop, slow down, sink over days, nobody is there at Monday's opening, or a
burst of extra tickets queues for the agent on duty.  Every outcome is decided
by the real engine (:func:`exporter.engine.decide`); the exporter's series are
written every minute as OpenMetrics -- the ``helpdesk_slo_events_total``
counters (through :func:`exporter.backfill.write_openmetrics`), the
``helpdesk_slo_waiting_past_threshold_tickets`` gauge and the
``helpdesk_slo_time_to_threshold_seconds`` gauge histogram -- and the gauges
are compared with a live :class:`~exporter.poller.Poller`'s snapshot at a few
dozen instants of each seed (the run stops on a difference).

Evaluation is Prometheus's own: ``promtool tsdb create-blocks-from openmetrics``
loads the series; a ``prometheus`` started on 127.0.0.1 serves them to
``promtool tsdb create-blocks-from rules``, which evaluates the recording rules
over the history group by group, at each group's interval and evaluation
offset, in as many passes as rules read other rules (Prometheus is restarted
on the grown data directory between passes).  Each alert's expression is
evaluated the same way, as a recording rule in the alert's own group; the
instants at which it returned a sample are read back with the HTTP API, and
the alert's ``for:`` is applied to them.

    python bench/bench_alert_quality.py [--weeks 26] [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import bisect
import functools
import io
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter import metrics
from exporter.backfill import SeriesKey, write_openmetrics
from exporter.calendar import BusinessCalendar
from exporter.config import Config, parse_config
from exporter.engine import Plan
from exporter.engine import decide as decide_ticket
from exporter.model import Author, EventType, Priority, Ticket, TicketEvent
from exporter.pack import names
from exporter.pack.rules import (
    PackPlan,
    RuleOptions,
    SloPlan,
    format_window,
    plan_pack,
    rule_groups,
)
from exporter.poller import Poller
from exporter.slo import Evaluator
from exporter.sources.base import PollResult
from exporter.store import Store

MINUTE = 60
HOUR = 3600
DAY = 86400
WEEK = 7 * DAY

SLO = "urgent-first-response"
SERVICE = "support"
TIMEZONE = "Europe/Paris"
JOB = "helpdesk-slo"
INSTANCE = "helpdesk-slo:9707"
CONFIG = f"""\
service: {SERVICE}
source: {{type: demo}}
calendars:
  office:
    timezone: {TIMEZONE}
    hours:
      mon-fri: ["09:00-12:30", "13:30-18:00"]
slas:
  first_response:
    calendar: office
    targets: {{urgent: 1h, high: 4h, normal: 8h, low: 24h}}
slos:
  - name: {SLO}
    sla: first_response
    match: {{priority: [urgent]}}
    threshold: 30m
    objective: 95%
    window: 30d
    labels: {{team: tier1}}
"""

#: Sloth's 30d alert windows (google-30d-windows.yaml): severity, burn factor, long, short.
SLOTH_TIERS = (
    ("page", "14.4", HOUR, 5 * MINUTE),
    ("page", "6", 6 * HOUR, 30 * MINUTE),
    ("ticket", "3", DAY, 2 * HOUR),
    ("ticket", "1", 3 * DAY, 6 * HOUR),
)
SLOTH_WINDOWS = (5 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY)

#: A false page counts as "in a quiet hour" when fewer SLO events than this were decided
#: in the hour before it.
QUIET_EVENTS = 3
#: False pages this soon after an incident's end are marked as its aftermath.
AFTERMATH = 6 * HOUR
#: A false page "came true" when k tickets crossed the threshold this close to it (before or
#: after): the harm of an incident's floor, outside every incident.
CAME_TRUE = 30 * MINUTE


# --- the simulated helpdesk -------------------------------------------------------------------

#: Incident shapes: ``stop`` (no replies), ``slowdown`` (replies at 10-20% of the pace),
#: ``burst`` (extra urgent tickets within 20 minutes, normal staffing), ``drift`` (the pace
#: sinks over days), ``monday`` (nobody at Monday's opening).
SHAPES = ("stop", "slowdown", "burst", "drift", "monday")
#: Incidents of each of the rarer shapes (burst, drift, monday) per 26 weeks; the other weeks
#: have a stop or a slowdown.
RARE_PER_26_WEEKS = 3
#: A burst's extra tickets all arrive within this long.
BURST_SPREAD = 20 * MINUTE


@dataclass(frozen=True)
class Incident:
    """A staffing incident of one shape in ``[start, end)``.

    ``pieces`` are ``(from, until, capacity)``: the team works at ``capacity`` of its pace
    (0 = no replies at all) in ``[from, until)``.  A burst has no piece (normal staffing)
    but ``extra`` tickets, arriving at these instants; its ``end`` is the reply to the last.
    """

    shape: str
    start: float
    end: float
    pieces: tuple[tuple[float, float, float], ...] = ()
    extra: tuple[int, ...] = ()

    def capacity_text(self) -> str:
        if self.shape == "burst":
            return f"+{len(self.extra)} tickets"
        first, last = self.pieces[0][2], self.pieces[-1][2]
        if first == last:
            return "stopped" if first == 0 else f"{first * 100:g}%"
        return f"{first * 100:g}% to {last * 100:g}%"


@dataclass(frozen=True)
class Scenario:
    start: float  # first instant of the series (warm-up included)
    evaluated_from: float  # incidents and false pages are counted from here
    end: float
    seed: int
    rate: float  # urgent tickets per business hour
    off_rate: float  # urgent tickets per hour outside business hours
    reply_median: float  # staffed seconds to a first reply (median)
    reply_spread: float  # sigma of its logarithm


def draw_shapes(seed: int, weeks: int) -> list[str]:
    """One shape a week: each rarer shape a few times, stop and slowdown share the rest."""
    rng = random.Random(f"alert-quality:{seed}:shapes")
    rare = max(1, round(weeks * RARE_PER_26_WEEKS / 26))
    shapes = [shape for shape in ("burst", "drift", "monday") for _ in range(rare)][:weeks]
    common = weeks - len(shapes)
    shapes += ["stop"] * ((common + 1) // 2) + ["slowdown"] * (common // 2)
    rng.shuffle(shapes)
    return shapes


def draw_incidents(scenario: Scenario) -> list[Incident]:
    """About one staffing incident a week, of a seeded mix of shapes, starting in office hours."""
    zone = ZoneInfo(TIMEZONE)
    first = datetime.fromtimestamp(scenario.evaluated_from, zone).date()
    weeks = round((scenario.end - scenario.evaluated_from) / WEEK)
    incidents = []
    for week, shape in enumerate(draw_shapes(scenario.seed, weeks)):
        rng = random.Random(f"alert-quality:{scenario.seed}:incidents:{week}")
        monday = first + timedelta(weeks=week)

        def at(weekday: int, hour: int, minute: int, monday: date = monday) -> float:
            day = monday + timedelta(days=weekday)
            return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()

        if shape in ("stop", "slowdown"):
            start = at(
                rng.randrange(5), rng.choice((9, 10, 11, 13, 14, 15)), rng.choice((0, 15, 30, 45))
            )
            end = start + rng.randint(8, 16) * 15 * MINUTE
            capacity = 0.0 if shape == "stop" else round(rng.uniform(0.1, 0.2), 2)
            incidents.append(Incident(shape, start, end, ((start, end, capacity),)))
        elif shape == "monday":
            start = at(0, 9, 0)
            end = start + rng.randint(4, 10) * 15 * MINUTE
            incidents.append(Incident(shape, start, end, ((start, end, 0.0),)))
        elif shape == "burst":
            start = at(
                rng.randrange(5), rng.choice((9, 10, 11, 14, 15)), rng.choice((0, 15, 30, 45))
            )
            count = rng.randint(6, 12)
            arrivals = sorted(
                math.floor(start + rng.uniform(0, BURST_SPREAD)) for _ in range(count)
            )
            incidents.append(Incident(shape, start, start + BURST_SPREAD, (), tuple(arrivals)))
        else:  # drift: half-day steps from 70% down to 25% over 2 to 3 business days
            steps = rng.choice((4, 5, 6))
            weekday = rng.randrange(5 - (steps + 1) // 2 + 1)
            pieces = []
            for step in range(steps):
                capacity = round(0.7 - 0.45 * step / (steps - 1), 2)
                day = weekday + step // 2
                if step % 2 == 0:
                    pieces.append((at(day, 9, 0), at(day, 13, 30), capacity))
                else:
                    pieces.append((at(day, 13, 30), at(day, 18, 0), capacity))
            incidents.append(Incident(shape, pieces[0][0], pieces[-1][1], tuple(pieces)))
    return incidents


def staffed_after(
    calendar: BusinessCalendar,
    pieces: Sequence[tuple[float, float, float]],
    start: float,
    work: float,
) -> float:
    """The instant ``work`` staffed seconds after ``start``, slowed or stopped by ``pieces``
    (sorted, not overlapping)."""
    remaining = work
    cursor = start
    for piece_start, piece_end, capacity in pieces:
        if piece_end <= cursor:
            continue
        if cursor < piece_start:
            available = calendar.elapsed_ts(cursor, piece_start)
            if available >= remaining:
                return calendar.add_ts(cursor, remaining)
            remaining -= available
            cursor = piece_start
        if capacity > 0:
            slowed = calendar.elapsed_ts(cursor, piece_end) * capacity
            if slowed >= remaining:
                return calendar.add_ts(cursor, remaining / capacity)
            remaining -= slowed
        cursor = piece_end
    return calendar.add_ts(cursor, remaining)


def _at(instant: float) -> datetime:
    return datetime.fromtimestamp(instant, UTC)


def simulate(
    scenario: Scenario, calendar: BusinessCalendar, incidents: Sequence[Incident]
) -> tuple[list[Ticket], list[Incident]]:
    """Urgent tickets over the scenario, each with its whole timeline; the incidents with a
    burst's end set to the reply to its last extra ticket."""
    rng = random.Random(f"alert-quality:{scenario.seed}:tickets")
    pieces = sorted(piece for incident in incidents for piece in incident.pieces)

    def reply_after(created: int, work: float) -> float:
        return staffed_after(calendar, pieces, created, work)

    tickets: list[Ticket] = []
    minute = scenario.start
    while minute < scenario.end:
        business = calendar.elapsed_ts(minute, minute + MINUTE) / MINUTE
        per_minute = (scenario.rate * business + scenario.off_rate * (1 - business)) / 60
        # at most one arrival a minute: the rate is a few an hour, so this is a Poisson process
        if rng.random() < per_minute:
            created = math.floor(minute + rng.uniform(0, MINUTE))
            tickets.append(_ticket(rng, len(tickets), created, scenario, reply_after))
        minute += MINUTE
    drawn = []
    for number, incident in enumerate(incidents):
        if incident.shape != "burst":
            drawn.append(incident)
            continue
        # the extra tickets queue for one agent, who answers them one after another at the
        # usual pace; the regular flow is answered as usual
        burst_rng = random.Random(f"alert-quality:{scenario.seed}:burst:{number}")
        free = incident.start
        for created in incident.extra:
            queued = functools.partial(_from, reply_after, math.ceil(max(created, free)))
            ticket = _ticket(burst_rng, len(tickets), created, scenario, queued)
            tickets.append(ticket)
            free = max(e.at.timestamp() for e in ticket.events if e.type is EventType.AGENT_REPLY)
        drawn.append(replace(incident, end=max(incident.end, free)))
    return tickets, drawn


def _from(
    reply_after: Callable[[int, float], float], begins: int, created: int, work: float
) -> float:
    """``reply_after`` with the work begun at ``begins`` instead of at creation."""
    return reply_after(begins, work)


def _ticket(
    rng: random.Random,
    number: int,
    created: int,
    scenario: Scenario,
    reply_after: Callable[[int, float], float],
) -> Ticket:
    channel = rng.choice(("email", "web", "chat", "phone"))
    events = []
    if channel in ("email", "web"):  # an auto-acknowledgement never stops the clock
        events.append(
            TicketEvent(_at(created + rng.randint(2, 30)), EventType.AGENT_REPLY, automated=True)
        )
    draw = math.exp(rng.gauss(0.0, scenario.reply_spread))
    work = max(60.0, scenario.reply_median * min(draw, 6.0))
    replied = math.ceil(reply_after(created, work))
    replied = max(replied, created + 40)
    assigned = created + 35
    events.append(TicketEvent(_at(assigned), EventType.ASSIGNED))
    events.append(TicketEvent(_at(replied), EventType.AGENT_REPLY, author=Author.AGENT))
    solved = replied + rng.randint(10 * MINUTE, 4 * HOUR)
    events.append(TicketEvent(_at(solved), EventType.SOLVED))
    events.sort(key=lambda event: event.at)
    return Ticket(
        id=f"t{number}",
        created_at=_at(created),
        status="solved",
        priority=Priority.URGENT,
        channel=channel,
        group="tier1",
        events=tuple(events),
        assignee="tier1-agent",
    )


# --- outcomes, decided by the engine ----------------------------------------------------------


@dataclass
class Outcomes:
    good: array[float] = field(default_factory=lambda: array("d"))
    bad: array[float] = field(default_factory=lambda: array("d"))
    #: per ticket of the SLO: (clock start, threshold instant, instant its clock stopped or
    #: the ticket closed); it runs, open and not good, in [start, stop)
    running: list[tuple[float, float, float]] = field(default_factory=list)

    def decided(self, start: float, end: float) -> int:
        return _count(self.good, start, end) + _count(self.bad, start, end)


def _count(times: Sequence[float], start: float, end: float) -> int:
    return bisect.bisect_right(times, end) - bisect.bisect_right(times, start)


def decide(config: Config, tickets: Iterable[Ticket], now: float) -> Outcomes:
    plan = Plan(config)
    slo = next(slo for slo in config.slos if slo.name == SLO)
    assert slo.sla is not None
    calendar = plan.calendar(slo.sla)
    thresholds = plan.thresholds_by_priority[SLO]
    outcomes = Outcomes()
    for ticket in tickets:
        threshold = thresholds[ticket.priority]
        assert threshold is not None
        created = ticket.created_at.timestamp()
        threshold_at = calendar.add_ts(created, threshold)
        facts = decide_ticket(plan, ticket, now, now)
        stops = [row.stopped_at for row in facts.sla_stops if row.sla == slo.sla]
        solves = [row.solved_at for row in facts.solves]
        # the poller's live set: open, clock running (until the first human reply or solve)
        outcomes.running.append((created, threshold_at, min([*stops, *solves, now + MINUTE])))
        for row in facts.slo_outcomes:
            if row.slo != SLO:
                continue
            if row.result == "good":
                outcomes.good.append(row.decided_at)
            else:
                assert row.decided_at == threshold_at, (ticket.id, row.decided_at, threshold_at)
                outcomes.bad.append(row.decided_at)
    outcomes.good = array("d", sorted(outcomes.good))
    outcomes.bad = array("d", sorted(outcomes.bad))
    return outcomes


class ThresholdSeries:
    """The SLO gauges the poller publishes, as functions of the instant, from the engine facts.

    ``waiting(t)``: ``helpdesk_slo_waiting_past_threshold_tickets`` (running, threshold
    strictly before ``t``); ``bucket(le, t)``: ``helpdesk_slo_time_to_threshold_seconds``
    (running, threshold at or before ``t + le``; ``inf`` for ``+Inf`` and ``_gcount``);
    ``seconds(t)``: its ``_gsum`` (seconds to the threshold, 0 once past).
    """

    def __init__(self, running: Sequence[tuple[float, float, float]]) -> None:
        self.running = sorted(running)
        bounds = [*metrics.TIME_TO_THRESHOLD_BUCKETS, math.inf]
        self._buckets: dict[float, tuple[list[float], list[float]]] = {}
        for bound in bounds:
            spans = [
                (max(start, threshold - bound), stop)
                for start, threshold, stop in running
                if max(start, threshold - bound) < stop
            ]
            self._buckets[bound] = (sorted(a for a, _ in spans), sorted(b for _, b in spans))
        late = [(threshold, stop) for _, threshold, stop in running if threshold < stop]
        self._late = (sorted(a for a, _ in late), sorted(b for _, b in late))
        self._starts = [start for start, _, _ in self.running]
        self._longest = max((stop - start for start, _, stop in running), default=0.0)

    def waiting(self, instant: float) -> int:
        starts, stops = self._late
        return bisect.bisect_left(starts, instant) - bisect.bisect_right(stops, instant)

    def bucket(self, bound: float, instant: float) -> int:
        starts, stops = self._buckets[bound]
        return bisect.bisect_right(starts, instant) - bisect.bisect_right(stops, instant)

    def seconds(self, instant: float) -> float:
        first = bisect.bisect_left(self._starts, instant - self._longest)
        last = bisect.bisect_right(self._starts, instant)
        return math.fsum(
            max(0.0, threshold - instant)
            for start, threshold, stop in self.running[first:last]
            if start <= instant < stop
        )


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def write_series(
    path: Path,
    outcomes: Outcomes,
    gauges: ThresholdSeries,
    buckets: Sequence[float],
    start: float,
    end: float,
    calendar: BusinessCalendar,
) -> int:
    """Counters, the waiting gauge, the time-to-threshold gauge histogram (``buckets``,
    ``+Inf``, ``_gcount``, ``_gsum``) and ``helpdesk_calendar_open`` of the SLA's calendar
    every minute over ``[start, end]``; returns samples."""
    counters: dict[SeriesKey, array[float]] = {
        (metrics.SLO_EVENTS.name, (SLO, "good")): outcomes.good,
        (metrics.SLO_EVENTS.name, (SLO, "bad")): outcomes.bad,
    }
    buffer = io.StringIO()
    extra = {"job": JOB, "instance": INSTANCE}
    _, samples = write_openmetrics(counters, start, end, MINUTE, buffer, extra)
    text = buffer.getvalue().removesuffix("# EOF\n")
    gauge = metrics.SLO_WAITING_PAST_THRESHOLD
    labels = f'instance="{INSTANCE}",job="{JOB}",slo="{SLO}"'
    lines = [f"# HELP {gauge.name} {gauge.help}\n", f"# TYPE {gauge.name} gauge\n"]
    instant = start
    while instant <= end:
        lines.append(f"{gauge.name}{{{labels}}} {gauges.waiting(instant)} {int(instant)}\n")
        instant += MINUTE
        samples += 1
    family = metrics.SLO_TIME_TO_THRESHOLD
    lines += [f"# HELP {family.name} {family.help}\n", f"# TYPE {family.name} gaugehistogram\n"]
    bounds = [*sorted(set(buckets) - {math.inf}), math.inf]
    instant = start
    while instant <= end:
        at = int(instant)
        for bound in bounds:
            count = gauges.bucket(bound, instant)
            lines.append(f'{family.name}_bucket{{{labels},le="{_le(bound)}"}} {count} {at}\n')
        lines.append(f"{family.name}_gcount{{{labels}}} {gauges.bucket(math.inf, instant)} {at}\n")
        lines.append(f"{family.name}_gsum{{{labels}}} {gauges.seconds(instant)!r} {at}\n")
        samples += len(bounds) + 2
        instant += MINUTE
    opened = metrics.CALENDAR_OPEN
    lines += [f"# HELP {opened.name} {opened.help}\n", f"# TYPE {opened.name} gauge\n"]
    calendar_labels = f'calendar="{calendar.name}",instance="{INSTANCE}",job="{JOB}"'
    instant = start
    while instant <= end:
        value = 1 if calendar.is_open_ts(instant) else 0
        lines.append(f"{opened.name}{{{calendar_labels}}} {value} {int(instant)}\n")
        samples += 1
        instant += MINUTE
    path.write_text(text + "".join(lines) + "# EOF\n", encoding="utf-8")
    return samples


class _AsOf:
    """A source that returns the tickets as they stood at one instant."""

    name = "bench"

    def __init__(self, tickets: list[Ticket]) -> None:
        self.tickets = tickets

    def poll(self, cursor: str | None, now: float) -> PollResult:
        return PollResult(self.tickets, cursor="bench", watermark=now)


def as_of(ticket: Ticket, instant: float) -> Ticket:
    """The ticket as a helpdesk would return it at ``instant``: later events not yet there."""
    events = tuple(event for event in ticket.events if event.at.timestamp() <= instant)
    solved = any(event.type is EventType.SOLVED for event in events)
    return replace(ticket, events=events, status="solved" if solved else "open")


def check_against_poller(
    config: Config, tickets: Sequence[Ticket], gauges: ThresholdSeries, instants: Iterable[float]
) -> int:
    """Compare the written gauges with a live :class:`Poller`'s snapshot at ``instants``.

    At each instant a fresh poller polls the tickets of the week before as they stood then;
    its ``helpdesk_slo_waiting_past_threshold_tickets`` and every bucket, ``_gcount`` and
    ``_gsum`` of ``helpdesk_slo_time_to_threshold_seconds`` must equal the benchmark's.
    Returns how many instants were checked; raises on the first difference.
    """
    ordered = sorted(tickets, key=lambda ticket: ticket.created_at)
    created = [ticket.created_at.timestamp() for ticket in ordered]
    checked = 0
    for instant in sorted(set(instants)):
        first = bisect.bisect_left(created, instant - WEEK)
        last = bisect.bisect_right(created, instant)
        visible = [as_of(ticket, instant) for ticket in ordered[first:last]]
        clock = functools.partial(float, instant)
        poller = Poller(config, _AsOf(visible), Store(":memory:"), clock=clock)
        poller.poll_once()
        snapshot = poller.snapshot
        waiting = {
            s.labels: s.value for s in snapshot.samples[metrics.SLO_WAITING_PAST_THRESHOLD.name]
        }
        (histogram,) = [
            h for h in snapshot.histograms[metrics.SLO_TIME_TO_THRESHOLD.name] if h.labels == (SLO,)
        ]
        ours = {
            "waiting": float(gauges.waiting(instant)),
            **{_le(b): float(gauges.bucket(b, instant)) for b in metrics.TIME_TO_THRESHOLD_BUCKETS},
            "_gcount": float(gauges.bucket(math.inf, instant)),
            "_gsum": gauges.seconds(instant),
        }
        live = {
            "waiting": waiting[(SLO,)],
            **{_le(bound): count for bound, count in histogram.buckets},
            "_gcount": histogram.count,
            "_gsum": histogram.sum,
        }
        differs = [
            key
            for key in ours
            if key not in live or not math.isclose(ours[key], live[key], abs_tol=1e-6)
        ]
        if differs:
            raise AssertionError(
                f"series differ from a live Poller at {local(instant)} ({instant:.0f}): "
                + ", ".join(f"{key}: ours {ours[key]:g}, poller {live.get(key)}" for key in differs)
            )
        checked += 1
    return checked


# --- rulesets ---------------------------------------------------------------------------------


@dataclass
class Recording:
    group: str
    interval: int
    record: str
    expr: str
    labels: dict[str, str]


@dataclass
class Alert:
    key: str  # names the series its evaluations are recorded as
    severity: str
    group: str
    interval: int
    expr: str
    for_seconds: int


@dataclass
class Ruleset:
    name: str
    recordings: list[Recording]
    alerts: list[Alert]


def _seconds(text: str | None) -> int:
    if not text:
        return 0
    units = {"s": 1, "m": MINUTE, "h": HOUR, "d": DAY}
    return sum(
        int(amount) * units[unit] for amount, unit in re.findall(r"(\d+)([smhd])", str(text))
    )


def our_ruleset(pack: PackPlan) -> Ruleset:
    """The generated rules of the SLO: its burn tiers and backlog alert, with what they read."""
    recordings: list[Recording] = []
    alerts: list[Alert] = []
    for group in rule_groups(pack):
        if group["name"] not in (f"helpdesk-slo-{SLO}-fast", f"helpdesk-slo-{SLO}-slow"):
            continue
        interval = _seconds(group.get("interval")) or MINUTE
        for rule in group["rules"]:
            if "record" in rule:
                recordings.append(
                    Recording(group["name"], interval, rule["record"], rule["expr"], rule["labels"])
                )
                continue
            name = rule["alert"]
            labels = rule["labels"]
            if name == names.BURN:
                windows = f"{labels['long_window']}_{labels['short_window']}"
                key = f"ours_burn_{labels['severity']}_{windows}"
            elif name == names.BACKLOG:
                key = "ours_backlog"
            elif name == names.BACKLOG_IMMINENT:
                key = "ours_imminent"
            else:
                continue
            alerts.append(
                Alert(
                    key,
                    labels["severity"],
                    group["name"],
                    interval,
                    rule["expr"],
                    _seconds(rule.get("for")),
                )
            )
    return Ruleset("ours", recordings, alerts)


def _selector(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key}={json.dumps(value)}" for key, value in labels.items()) + "}"


def sloth_ruleset(budget: str, guard: int) -> Ruleset:
    """Sloth's generated shape for the same SLO, written on ``helpdesk_slo_events_total``."""
    sloth_id = f"{SERVICE}-{SLO}"
    ids = {"sloth_id": sloth_id, "sloth_service": SERVICE, "sloth_slo": SLO}
    counter = metrics.SLO_EVENTS.name
    bad = _selector({"slo": SLO, "result": "bad"})
    total = _selector({"slo": SLO})
    recordings = []
    for window in SLOTH_WINDOWS:
        text = format_window(window)
        expr = f"(sum(rate({counter}{bad}[{text}])))\n/\n(sum(rate({counter}{total}[{text}])))\n"
        recordings.append(
            Recording(
                f"sloth-slo-sli-recordings-{sloth_id}",
                MINUTE,
                f"slo:sli_error:ratio_rate{text}",
                expr,
                {**ids, "sloth_window": text},
            )
        )
    alerts = []
    for guarded in (False, True):
        prefix = "sloth_guard" if guarded else "sloth"
        for severity in ("page", "ticket"):
            pairs = []
            for tier_severity, factor, long, short in SLOTH_TIERS:
                if tier_severity != severity:
                    continue
                lines = []
                for window in (short, long):
                    ratio = f"slo:sli_error:ratio_rate{format_window(window)}{_selector(ids)}"
                    lines.append(f"    max({ratio} > ({factor} * {budget})) without (sloth_window)")
                pair = "(\n" + "\n    and\n".join(lines)
                if guarded:
                    pair += (
                        f"\n    and on ()\n    sum(increase({counter}{bad}"
                        f"[{format_window(long)}])) >= {guard}"
                    )
                pairs.append(pair + "\n)")
            alerts.append(
                Alert(
                    f"{prefix}_{severity}",
                    severity,
                    f"sloth-slo-alerts-{sloth_id}" + ("-guarded" if guarded else ""),
                    MINUTE,
                    "\nor\n".join(pairs) + "\n",
                    0,
                )
            )
    return Ruleset("sloth", recordings, alerts)


#: Pyrra's multi-window table (slo/rules.go ``Windows``), as divisors of the SLO window:
#: severity, factor, long, short, for (28d: 1h/5m for 2m, 6h/30m for 15m, 1d/2h for 1h,
#: 4d/6h for 3h).
PYRRA_WINDOWS = (
    ("critical", 14, 672, 8064, 20160),
    ("critical", 7, 112, 1344, 2688),
    ("warning", 2, 28, 336, 672),
    ("warning", 1, 7, 112, 168),
)


def prometheus_duration(seconds: int) -> str:
    """A whole number of minutes as Prometheus prints a duration: ``1d1h43m``, ``5m``."""
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes = rest // MINUTE
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "")
    return text + (f"{minutes}m" if minutes or not text else "")


def pyrra_windows(window: int) -> list[tuple[str, int, int, int, int]]:
    """Pyrra's windows for an SLO window of ``window`` seconds, rounded to the minute:
    severity, factor, long, short, for."""

    def scaled(divisor: int) -> int:
        return math.floor(window / divisor / MINUTE + 0.5) * MINUTE

    return [
        (severity, factor, scaled(long), scaled(short), scaled(for_))
        for severity, factor, long, short, for_ in PYRRA_WINDOWS
    ]


def pyrra_ruleset(plan: SloPlan) -> Ruleset:
    """Pyrra's generated shape for the same SLO, on ``helpdesk_slo_events_total``: burn-rate
    recordings per window, one alert per window pair with its ``for:``."""
    counter = metrics.SLO_EVENTS.name
    burnrate = counter.removesuffix("_total") + ":burnrate"
    group = f"pyrra-{SLO}"
    windows = pyrra_windows(plan.period.seconds)
    recordings = []
    for length in sorted({w for _, _, long, short, _ in windows for w in (long, short)}):
        text = prometheus_duration(length)
        bad = _selector({"result": "bad", "slo": SLO})
        total = _selector({"slo": SLO})
        recordings.append(
            Recording(
                group,
                MINUTE,
                f"{burnrate}{text}",
                f"sum(rate({counter}{bad}[{text}])) / sum(rate({counter}{total}[{text}]))",
                {"slo": SLO},
            )
        )
    alerts = []
    budget = f"(1 - {plan.objective})"
    for severity, factor, long, short, for_ in windows:
        short_text, long_text = prometheus_duration(short), prometheus_duration(long)
        expr = (
            f"{burnrate}{short_text}{_selector({'slo': SLO})} > ({factor} * {budget})\n"
            f"and\n{burnrate}{long_text}{_selector({'slo': SLO})} > ({factor} * {budget})\n"
        )
        row = "page" if severity == "critical" else "ticket"
        alerts.append(
            Alert(f"pyrra_{row}_{long_text}_{short_text}", row, group, MINUTE, expr, for_)
        )
    return Ruleset("pyrra", recordings, alerts)


def _references(expr: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_:]){re.escape(name)}(?![A-Za-z0-9_:])", expr) is not None


def needed(ruleset: Ruleset) -> list[Recording]:
    """The recordings the ruleset's alerts read, directly or through other recordings."""
    wanted: list[Recording] = []
    names: set[str] = set()
    frontier = [alert.expr for alert in ruleset.alerts]
    while frontier:
        expr = frontier.pop()
        for recording in ruleset.recordings:
            if recording.record not in names and _references(expr, recording.record):
                names.add(recording.record)
        added = [r for r in ruleset.recordings if r.record in names and r not in wanted]
        wanted += added
        frontier += [r.expr for r in added]
    return [r for r in ruleset.recordings if r in wanted]


def _depth(recordings: Sequence[Recording], index: int, level: dict[int, int]) -> int:
    """1 + the depth of the deepest recording that recording ``index`` reads (1: raw only)."""
    if index not in level:
        level[index] = 1  # a rule that read itself would stop here
        expr = recordings[index].expr
        reads = [
            _depth(recordings, other, level)
            for other, recording in enumerate(recordings)
            if other != index and _references(expr, recording.record)
        ]
        level[index] = 1 + max(reads, default=0)
    return level[index]


def passes(rulesets: Sequence[Ruleset]) -> list[list[Recording]]:
    """Rules grouped into backfill passes: a rule runs after every rule it reads.

    Alerts come as recordings of their expression (named by :func:`_alert_series`)
    in their own group, one pass after what they read.
    """
    levels: dict[int, list[Recording]] = {}
    for ruleset in rulesets:
        recordings = needed(ruleset)
        level: dict[int, int] = {}
        for index, recording in enumerate(recordings):
            levels.setdefault(_depth(recordings, index, level), []).append(recording)
        for alert in ruleset.alerts:
            reads = [
                level[i] for i, r in enumerate(recordings) if _references(alert.expr, r.record)
            ]
            levels.setdefault(1 + max(reads, default=0), []).append(
                Recording(alert.group, alert.interval, _alert_series(alert), alert.expr, {})
            )
    return [levels[key] for key in sorted(levels)]


def _alert_series(alert: Alert) -> str:
    return f"bench_alert:{alert.key}"


def rule_file(recordings: Sequence[Recording]) -> str:
    groups: dict[str, dict[str, Any]] = {}
    for recording in recordings:
        group = groups.setdefault(
            recording.group,
            {"name": recording.group, "interval": format_window(recording.interval), "rules": []},
        )
        rule: dict[str, Any] = {"record": recording.record, "expr": recording.expr}
        if recording.labels:
            rule["labels"] = recording.labels
        group["rules"].append(rule)
    return json.dumps({"groups": list(groups.values())}, indent=1)


# --- Prometheus -------------------------------------------------------------------------------


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the benchmark ran out of time (--timeout)")
        return left


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Prometheus:
    """A ``prometheus`` process on 127.0.0.1 over one data directory; started and stopped here."""

    def __init__(self, data: Path, workdir: Path, deadline: Deadline) -> None:
        self.data = data
        self.workdir = workdir
        self.deadline = deadline
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.config = workdir / "prometheus.yml"
        self.config.write_text("global:\n  evaluation_interval: 1m\n", encoding="utf-8")
        self.log = workdir / "prometheus.log"

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.data}",
                    "--storage.tsdb.retention.time=10y",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            self.deadline.left()  # raises once the run is out of time
            time.sleep(0.2)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        params = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
        timeout = min(120.0, self.deadline.left())
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{params}", timeout=timeout) as answer:
            body = json.load(answer)
        if body.get("status") != "success":
            raise RuntimeError(f"query failed: {expr}: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def instants(self, series: str, start: float, end: float) -> list[float]:
        """Timestamps of every raw sample of ``series`` in ``[start, end]``, a week at a time."""
        found: set[float] = set()
        cursor = start
        while cursor < end:
            upper = min(cursor + WEEK, end)
            span = math.ceil(upper - cursor)
            for item in self.query(f"{series}[{span}s]", upper):
                found.update(float(t) for t, _ in item["values"] if float(t) >= cursor)
            cursor = upper
        return sorted(t for t in found if start <= t <= end)


def promtool(args: Sequence[str], deadline: Deadline, cwd: Path | None = None) -> None:
    done = subprocess.run(
        ["promtool", *args],
        capture_output=True,
        text=True,
        timeout=deadline.left(),
        check=False,
        cwd=cwd,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool {' '.join(args[:3])} failed:\n{done.stderr[-3000:]}")


def load_series(om: Path, data: Path, deadline: Deadline) -> None:
    # the hidden --max-block-duration keeps months of history in a few blocks instead of
    # one block per 2 hours (thousands of blocks to open and compact)
    try:
        promtool(
            [
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--max-block-duration=2400h",
                "-q",
                str(om),
                str(data),
            ],
            deadline,
        )
    except RuntimeError:
        shutil.rmtree(data, ignore_errors=True)
        promtool(["tsdb", "create-blocks-from", "openmetrics", "-q", str(om), str(data)], deadline)


def backfill_rules(
    prometheus: Prometheus,
    workdir: Path,
    groups: Sequence[Sequence[Recording]],
    start: float,
    end: float,
    deadline: Deadline,
) -> None:
    """One ``create-blocks-from rules`` pass per level, restarting Prometheus in between.

    Every pass reads the same relative rule file name, so a group keeps its
    evaluation offset from one pass to the next and from one run to the next
    (Prometheus derives it from the group's name and file): rules of one group
    see each other's results at the same instant, as in a live Prometheus.
    """
    rules = workdir / "rules.yml"
    for number, recordings in enumerate(groups, start=1):
        rules.write_text(rule_file(recordings), encoding="utf-8")
        out = workdir / f"pass{number}"
        prometheus.start()
        try:
            promtool(
                [
                    "tsdb",
                    "create-blocks-from",
                    "rules",
                    # blocks of 162h: a 1m group then queries 9,721 points a block, under
                    # Prometheus's 11,000-point limit (longer blocks fail the query)
                    "--max-block-duration=162h",
                    "-q",
                    f"--url={prometheus.url}",
                    f"--start={int(start)}",
                    f"--end={int(end)}",
                    f"--output-dir={out}",
                    rules.name,
                ],
                deadline,
                cwd=workdir,
            )
        finally:
            prometheus.stop()
        for block in out.iterdir():
            if block.is_dir():
                block.rename(prometheus.data / block.name)
        log(f"pass {number}: {len(recordings)} rules evaluated over the history")


# --- scoring ----------------------------------------------------------------------------------


def runs(instants: Sequence[float], interval: int) -> list[list[float]]:
    """Consecutive evaluations that returned a sample: one list per run of an active alert."""
    found: list[list[float]] = []
    for at in instants:
        if found and at - found[-1][-1] <= 1.5 * interval:
            found[-1].append(at)
        else:
            found.append([at])
    return found


def firing(instants: Sequence[float], interval: int, for_seconds: int) -> list[tuple[float, float]]:
    """Firing intervals ``[fired, resolved)`` of an alert, from the evaluations that returned a
    sample: pending from the first of a run, firing once it has been pending for ``for:``,
    resolved at the first evaluation without a sample."""
    intervals = []
    for run in runs(instants, interval):
        fired = next((at for at in run if at - run[0] >= for_seconds), None)
        if fired is not None:
            intervals.append((fired, run[-1] + interval))
    return intervals


def merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Episodes: overlapping or touching firing intervals become one."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass
class Row:
    """One line of the comparison: a set of alerts that notify together at one severity."""

    title: str
    keys: tuple[str, ...]
    episodes: list[tuple[float, float]] = field(default_factory=list)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    minutes = round(abs(seconds) / MINUTE)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}h{minutes:02d}m" if hours else f"{sign}{minutes}m"


def local(instant: float) -> str:
    return datetime.fromtimestamp(instant, ZoneInfo(TIMEZONE)).strftime("%a %Y-%m-%d %H:%M")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def prometheus_version() -> str:
    done = subprocess.run(
        ["prometheus", "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    first = (done.stdout or done.stderr).splitlines()
    return first[0] if first else "unknown"


# --- the run ----------------------------------------------------------------------------------


@dataclass
class SeedRun:
    """One seed's history, incidents and the page episodes of every row."""

    seed: int
    scenario: Scenario
    tickets: int
    outcomes: Outcomes
    incidents: list[Incident]
    #: per incident: [start, one business hour of grace after its end]
    windows: list[tuple[float, float]]
    #: per incident: the instant its k-th ticket crosses the threshold (None: fewer late)
    floors: list[float | None]
    rows: list[Row]
    ticket_rows: list[Row]
    samples: int
    checked: int
    phases: dict[str, float]
    total: float
    #: late tickets of a detection floor
    k: int

    def detection(self, row: Row, index: int) -> float | None:
        start, stop = self.windows[index]
        return next((a for a, _ in row.episodes if start <= a <= stop), None)

    def false_pages(self, row: Row) -> list[float]:
        return [
            a
            for a, _ in row.episodes
            if self.scenario.evaluated_from <= a <= self.scenario.end
            and not any(start <= a <= stop for start, stop in self.windows)
        ]

    def quiet(self, at: float) -> bool:
        return self.outcomes.decided(at - HOUR, at) < QUIET_EVENTS

    def came_true(self, at: float) -> bool:
        """At least k tickets crossed the threshold within ``CAME_TRUE`` of ``at``."""
        return _count(self.outcomes.bad, at - CAME_TRUE, at + CAME_TRUE) >= self.k

    def episodes(self, row: Row) -> list[float]:
        return [
            a for a, _ in row.episodes if self.scenario.evaluated_from <= a <= self.scenario.end
        ]


def monday_opening(at: float) -> bool:
    """Monday between 09:00 and 11:00 local time: the weekend's queue meets the staff."""
    moment = datetime.fromtimestamp(at, ZoneInfo(TIMEZONE))
    return moment.weekday() == 0 and 9 <= moment.hour < 11


def check_instants(
    run_incidents: Sequence[Incident], floors: Sequence[float | None], scenario: Scenario
) -> list[float]:
    """Instants at which the written gauges are compared with a live poller: around each
    incident's start and floor, and at the first Mondays' opening."""
    instants: list[float] = []
    for incident, floor in zip(run_incidents, floors, strict=True):
        instants += [incident.start + 30 * MINUTE, incident.start + 90 * MINUTE]
        if floor is not None:
            instants += [floor - 10 * MINUTE, floor - 5 * MINUTE, floor + MINUTE]
    zone = ZoneInfo(TIMEZONE)
    first = datetime.fromtimestamp(scenario.evaluated_from, zone).date()
    for week in range(min(2, round((scenario.end - scenario.evaluated_from) / WEEK))):
        day = first + timedelta(weeks=week)
        for hour, minute in ((9, 20), (9, 30), (9, 31), (9, 50)):
            moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            instants.append(moment.timestamp())
    # on the written grid: whole minutes from the series' start
    return sorted(
        {scenario.start + round((t - scenario.start) / MINUTE) * MINUTE for t in instants}
    )


def run_seed(
    args: argparse.Namespace, seed: int, config: Config, pack: PackPlan, plan: SloPlan
) -> SeedRun:
    begun = time.perf_counter()
    deadline = Deadline(args.timeout)
    calendar = Evaluator(config).sla_calendars["first_response"]
    zone = ZoneInfo(TIMEZONE)
    first_day = datetime.fromisoformat(args.start).replace(tzinfo=zone)
    evaluated_from = first_day.timestamp()
    end = (first_day + timedelta(weeks=args.weeks)).timestamp()
    scenario = Scenario(
        start=evaluated_from - args.warmup_days * DAY,
        evaluated_from=evaluated_from,
        end=end,
        seed=seed,
        rate=args.rate,
        off_rate=args.off_rate,
        reply_median=args.reply_median * MINUTE,
        reply_spread=args.reply_spread,
    )
    k = plan.backlog_tickets or 2

    started = time.perf_counter()
    tickets, incidents = simulate(scenario, calendar, draw_incidents(scenario))
    outcomes = decide(config, tickets, end)
    gauges = ThresholdSeries(outcomes.running)
    # late tickets of an incident cross the threshold up to half an hour of business time
    # after it ends (later over lunch or a night), so its window ends in business time too
    windows = [(i.start, calendar.add_ts(i.end, args.grace * HOUR)) for i in incidents]
    floors: list[float | None] = []
    for start, stop in windows:
        first = bisect.bisect_left(outcomes.bad, start)
        inside = [t for t in outcomes.bad[first:] if t <= stop]
        floors.append(inside[k - 1] if len(inside) >= k else None)
    checked = check_against_poller(
        config, tickets, gauges, check_instants(incidents, floors, scenario)
    )
    simulated = time.perf_counter() - started
    log(
        f"seed {seed}: simulated {len(tickets)} tickets, {len(outcomes.good)} good / "
        f"{len(outcomes.bad)} bad, {len(incidents)} incidents; series equal a live poller's "
        f"at {checked} instants ({simulated:.1f} s)"
    )

    ours = our_ruleset(pack)
    sloth = sloth_ruleset(str(plan.budget), args.guard)
    pyrra = pyrra_ruleset(plan)
    rulesets = [ours, sloth, pyrra]
    alerts = {alert.key: alert for ruleset in rulesets for alert in ruleset.alerts}
    assert plan.backlog_lead is not None
    buckets = (0.0, plan.backlog_lead)

    workdir = Path(tempfile.mkdtemp(prefix="alert-quality-"))
    data = workdir / "data"
    prometheus = Prometheus(data, workdir, deadline)
    instants: dict[str, list[float]] = {}
    try:
        started = time.perf_counter()
        om = workdir / "series.om"
        samples = write_series(om, outcomes, gauges, buckets, scenario.start, end, calendar)
        load_series(om, data, deadline)
        om.unlink()
        loaded = time.perf_counter() - started
        log(f"seed {seed}: {samples} samples written and loaded ({loaded:.1f} s)")
        started = time.perf_counter()
        backfill_rules(prometheus, workdir, passes(rulesets), scenario.start, end, deadline)
        prometheus.start()
        for key in alerts:
            instants[key] = prometheus.instants(
                _alert_series(alerts[key]), scenario.evaluated_from, end
            )
        evaluated = time.perf_counter() - started
        log(f"seed {seed}: rules and alerts evaluated by Prometheus ({evaluated:.1f} s)")
    finally:
        prometheus.stop()
        if args.keep is not None:
            shutil.copytree(workdir, args.keep / f"seed{seed}", dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)

    fired = {
        key: firing(times, alerts[key].interval, alerts[key].for_seconds)
        for key, times in instants.items()
    }
    rows, ticket_rows = make_rows(args, plan, ours, pyrra)
    for row in [*rows, *ticket_rows]:
        row.episodes = merge(interval for key in row.keys for interval in fired[key])
    return SeedRun(
        seed,
        scenario,
        len(tickets),
        outcomes,
        incidents,
        windows,
        floors,
        rows,
        ticket_rows,
        samples,
        checked,
        {"simulate": simulated, "load": loaded, "evaluate": evaluated},
        time.perf_counter() - begun,
        k,
    )


def _for_text(alerts: Sequence[Alert]) -> str:
    fors = sorted({alert.for_seconds for alert in alerts})
    if fors == [0]:
        return ""
    return ", for " + " / ".join(prometheus_duration(f) for f in fors)


def make_rows(
    args: argparse.Namespace, plan: SloPlan, ours: Ruleset, pyrra: Ruleset
) -> tuple[list[Row], list[Row]]:
    k = plan.backlog_tickets or 2
    by_key = {alert.key: alert for alert in [*ours.alerts, *pyrra.alerts]}
    burn_pages = tuple(
        a.key for a in ours.alerts if a.severity == "page" and a.key.startswith("ours_burn")
    )
    ours_pages = tuple(a.key for a in ours.alerts if a.severity == "page")
    lead = prometheus_duration(round(plan.backlog_lead or 0))
    pyrra_pages = [a for a in pyrra.alerts if a.severity == "page"]
    pyrra_tickets = [a for a in pyrra.alerts if a.severity == "ticket"]

    def pyrra_text(alerts: Sequence[Alert]) -> str:
        parts = []
        for alert in alerts:
            _, _, long, short = alert.key.split("_")
            factor = alert.expr.split("> (", 1)[1].split(" ", 1)[0]
            parts.append(f"{factor}x {long}/{short} for {prometheus_duration(alert.for_seconds)}")
        return " or ".join(parts)

    rows = [
        Row(f"ours: burn-rate page tiers (guard >= {plan.min_bad_events} bad)", burn_pages),
        Row(
            f"ours: backlog (>= {k} waiting{_for_text([by_key['ours_backlog']])})",
            ("ours_backlog",),
        ),
        Row(
            f"ours: predictive (imminent, >= {plan.backlog_imminent_tickets} within {lead} and "
            f"more than answered in time in {prometheus_duration(plan.backlog_pace or 0)}"
            f"{_for_text([by_key['ours_imminent']])})",
            ("ours_imminent",),
        ),
        Row("ours: all pages (burn tiers, backlog, predictive)", ours_pages),
        Row("Sloth-style page (14.4x 1h/5m or 6x 6h/30m)", ("sloth_page",)),
        Row(f"Sloth-style page + >= {args.guard} bad events", ("sloth_guard_page",)),
        Row(f"Pyrra-style page ({pyrra_text(pyrra_pages)})", tuple(a.key for a in pyrra_pages)),
    ]
    ticket_rows = [
        Row(
            "ours: burn-rate ticket tiers",
            tuple(a.key for a in ours.alerts if a.severity == "ticket"),
        ),
        Row("Sloth-style ticket (3x 1d/2h or 1x 3d/6h)", ("sloth_ticket",)),
        Row(f"Sloth-style ticket + >= {args.guard} bad events", ("sloth_guard_ticket",)),
        Row(
            f"Pyrra-style ticket ({pyrra_text(pyrra_tickets)})",
            tuple(a.key for a in pyrra_tickets),
        ),
    ]
    return rows, ticket_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=26, help="weeks evaluated (default 26)")
    parser.add_argument("--warmup-days", type=int, default=7, help="history before (default 7)")
    parser.add_argument(
        "--start", default="2026-03-02", help="first evaluated day, a Monday (local date)"
    )
    parser.add_argument(
        "--seeds", default="1,2,3", help="comma-separated seeds, one history each (default 1,2,3)"
    )
    parser.add_argument("--rate", type=float, default=1.5, help="urgent tickets per business hour")
    parser.add_argument("--off-rate", type=float, default=0.15, help="per hour outside hours")
    parser.add_argument("--reply-median", type=float, default=9.0, help="minutes (default 9)")
    parser.add_argument("--reply-spread", type=float, default=0.6, help="log-normal sigma")
    parser.add_argument(
        "--grace", type=float, default=1.0, help="business hours after an incident (default 1)"
    )
    parser.add_argument("--guard", type=int, default=3, help="bad events for Sloth + guard")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds for each seed's run (default 1800)"
    )
    parser.add_argument("--keep", type=Path, help="keep each seed's work directory under this")
    args = parser.parse_args()
    try:
        seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    except ValueError:
        parser.error(f"--seeds: comma-separated integers expected (got {args.seeds!r})")
    if not seeds:
        parser.error("--seeds: at least one seed")
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not on PATH (apt-get install prometheus)")

    config = parse_config(CONFIG)
    pack = plan_pack(config, RuleOptions.for_config(config))
    plan = next(slo for slo in pack.slos if slo.name == SLO)
    begun = time.perf_counter()
    done = []
    for seed in seeds:
        done.append(run_seed(args, seed, config, pack, plan))
    total = time.perf_counter() - begun

    print_header(args, plan, done, total)
    print_combined(args, done)
    for run in done:
        print_seed(args, plan, run)


def print_header(
    args: argparse.Namespace, plan: SloPlan, done: Sequence[SeedRun], total: float
) -> None:
    k = plan.backlog_tickets or 2
    print("## Alert quality")
    print()
    print(f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC")
    print(f"- platform: {platform.platform()}, {os.cpu_count()} CPUs ({cpu_model()})")
    print(f"- Python: {platform.python_version()}; {prometheus_version()}")
    print(
        f"- history per seed: {args.weeks} weeks from {args.start} ({TIMEZONE}) after "
        f"{args.warmup_days} days of warm-up; seeds {', '.join(str(r.seed) for r in done)}; "
        f"urgent tickets {args.rate}/h in business hours, {args.off_rate}/h outside, first "
        f"reply after log-normal staffed time (median {args.reply_median:g} min, sigma "
        f"{args.reply_spread:g})"
    )
    print(
        f"- SLO `{plan.name}`: first response within {plan.threshold_text} of the office "
        f"calendar (Mon-Fri 09:00-12:30, 13:30-18:00), objective "
        f"{float(plan.objective) * 100:g}%, window {plan.window_text}; an incident's detection "
        f"floor is the instant the {_ordinal(k)} ticket of its window crosses the threshold"
    )
    print(
        f"- runtime {total:.0f} s for {len(done)} seeds ("
        + "; ".join(
            f"seed {r.seed}: {r.total:.0f} s, of which Prometheus {r.phases['evaluate']:.0f} s"
            for r in done
        )
        + f"); --timeout {args.timeout:g} s bounds each seed's run"
    )
    print()


def _shape_cell(run_pairs: Sequence[tuple[SeedRun, int]], row_index: int) -> str:
    """``paged of n / paged of those with a floor, median delay from the floor``."""
    paged = 0
    floored = 0
    floored_paged = 0
    delays = []
    for run, index in run_pairs:
        at = run.detection(run.rows[row_index], index)
        floor = run.floors[index]
        paged += at is not None
        if floor is not None:
            floored += 1
            if at is not None:
                floored_paged += 1
                delays.append(at - floor)
    median = duration_text(statistics.median(delays)) if delays else "-"
    return f"{paged}/{len(run_pairs)} · {floored_paged}/{floored} · {median}"


def print_shapes(done: Sequence[SeedRun]) -> None:
    pairs = {
        shape: [
            (run, i) for run in done for i, inc in enumerate(run.incidents) if inc.shape == shape
        ]
        for shape in SHAPES
    }
    print("| pages | " + " | ".join(f"{shape} ({len(pairs[shape])})" for shape in SHAPES) + " |")
    print("|---|" + "---:|" * len(SHAPES))
    for index, row in enumerate(done[0].rows):
        cells = [_shape_cell(pairs[shape], index) if pairs[shape] else "-" for shape in SHAPES]
        print(f"| {row.title.split(' (')[0]} | " + " | ".join(cells) + " |")


def print_combined(args: argparse.Namespace, done: Sequence[SeedRun]) -> None:
    weeks = args.weeks * len(done)
    per26 = 26 / weeks
    incidents = sum(len(run.incidents) for run in done)
    floored = sum(f is not None for run in done for f in run.floors)
    shapes = {
        shape: sum(i.shape == shape for run in done for i in run.incidents) for shape in SHAPES
    }
    print(
        f"All seeds together ({len(done)} x {args.weeks} weeks; {incidents} incidents: "
        + ", ".join(f"{count} {shape}" for shape, count in shapes.items())
        + f"; {floored} reach their floor). False pages are scaled to 26 weeks:"
    )
    print()
    print(
        "| pages | incidents paged (with a floor) | delay from start: median | "
        "from floor: median / max | false pages / 26 weeks | of which quiet | "
        f"of which Monday 09-11 | of which came true ({done[0].k} late within "
        f"{duration_text(CAME_TRUE)}) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for index, row in enumerate(done[0].rows):
        delays = []
        floor_delays = []
        false = quiet = monday = came_true = 0
        for run in done:
            mine = run.rows[index]
            for i, incident in enumerate(run.incidents):
                at = run.detection(mine, i)
                if at is None:
                    continue
                delays.append(at - incident.start)
                floor = run.floors[i]
                if floor is not None:
                    floor_delays.append(at - floor)
            pages = run.false_pages(mine)
            false += len(pages)
            quiet += sum(run.quiet(a) for a in pages)
            monday += sum(monday_opening(a) for a in pages)
            came_true += sum(run.came_true(a) for a in pages)
        print(
            f"| {row.title} | {len(delays)} of {incidents} ({len(floor_delays)} of {floored}) | "
            f"{duration_text(statistics.median(delays)) if delays else '-'} | "
            f"{_median_max(floor_delays)} | {false * per26:.1f} | {quiet * per26:.1f} | "
            f"{monday * per26:.1f} | {came_true * per26:.1f} |"
        )
    print()
    print(
        "Per shape, all seeds (cell: incidents paged of the shape's · paged of those with a "
        "floor · median delay of the page from the floor; negative = before it):"
    )
    print()
    print_shapes(done)
    print()


def print_seed(args: argparse.Namespace, plan: SloPlan, run: SeedRun) -> None:
    scenario = run.scenario
    outcomes = run.outcomes
    incidents = run.incidents
    k = plan.backlog_tickets or 2
    print(f"### Seed {run.seed}")
    print()
    evaluated_bad = _count(outcomes.bad, scenario.evaluated_from, scenario.end)
    evaluated_all = outcomes.decided(scenario.evaluated_from, scenario.end)
    reached = [f - i.start for f, i in zip(run.floors, incidents, strict=True) if f is not None]
    print(
        f"- {run.tickets} urgent tickets; in the evaluated weeks {evaluated_all} outcomes, "
        f"{evaluated_bad} bad ({evaluated_bad / max(1, evaluated_all) * 100:.1f}%)"
    )
    print(
        f"- {len(incidents)} incidents; {len(reached)} reach their floor ({_ordinal(k)} late "
        f"ticket), median / max {_median_max(reached)} after the start"
    )
    print(
        f"- {run.samples} samples at 1m, equal to a live poller's snapshot at {run.checked} "
        f"instants; runtime {run.total:.0f} s (simulation, engine and check "
        f"{run.phases['simulate']:.1f} s, series {run.phases['load']:.1f} s, Prometheus rule "
        f"passes and reads {run.phases['evaluate']:.1f} s)"
    )
    print()
    print(
        "| pages | incidents paged (with a floor) | delay from start: median / max | "
        "from floor: median / max | page episodes | false pages | of which quiet | "
        "of which Monday 09-11 | of which came true |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in run.rows:
        delays = []
        floor_delays = []
        for index, incident in enumerate(incidents):
            at = run.detection(row, index)
            if at is None:
                continue
            delays.append(at - incident.start)
            floor = run.floors[index]
            if floor is not None:
                floor_delays.append(at - floor)
        false = run.false_pages(row)
        quiet = [a for a in false if run.quiet(a)]
        monday = [a for a in false if monday_opening(a)]
        came_true = [a for a in false if run.came_true(a)]
        print(
            f"| {row.title.split(' (')[0]} | {len(delays)} of {len(incidents)} "
            f"({len(floor_delays)} of {len(reached)}) | {_median_max(delays)} | "
            f"{_median_max(floor_delays)} | {len(run.episodes(row))} | {len(false)} | "
            f"{len(quiet)} | {len(monday)} | {len(came_true)} |"
        )
    print()
    print("Per shape:")
    print()
    print_shapes([run])
    print()
    print("Per incident (delay of the first page from the incident's start / from its floor):")
    print()
    header = " | ".join(row.title.split(" (")[0].removeprefix("ours: ") for row in run.rows)
    print(f"| # | shape | start | length | capacity | bad | floor | {header} |")
    print("|---:|---|---|---:|---:|---:|---:|" + "---:|" * len(run.rows))
    for index, incident in enumerate(incidents):
        start, stop = run.windows[index]
        bad = _count(outcomes.bad, start, stop)
        floor = run.floors[index]
        cells = []
        for row in run.rows:
            at = run.detection(row, index)
            if at is None:
                cells.append("missed")
            else:
                from_floor = duration_text(at - floor) if floor is not None else "-"
                cells.append(f"{duration_text(at - incident.start)} / {from_floor}")
        print(
            f"| {index + 1} | {incident.shape} | {local(incident.start)} | "
            f"{duration_text(incident.end - incident.start)} | {incident.capacity_text()} | "
            f"{bad} | {duration_text(floor - incident.start) if floor is not None else '-'} | "
            + " | ".join(cells)
            + " |"
        )
    print()
    print(
        "False pages (local time: SLO outcomes decided in the hour before, bad among them; "
        f"tickets that crossed the threshold within {duration_text(CAME_TRUE)} before or after "
        f"the page; incident that ended less than {duration_text(AFTERMATH)} before):"
    )
    print()

    def describe(at: float) -> str:
        text = f"{local(at)} ({outcomes.decided(at - HOUR, at)}, "
        text += f"{_count(outcomes.bad, at - HOUR, at)} bad; "
        text += f"{_count(outcomes.bad, at - CAME_TRUE, at + CAME_TRUE)} late within "
        text += duration_text(CAME_TRUE)
        before = [i for i, incident in enumerate(incidents) if incident.end <= at]
        if before and at - incidents[before[-1]].end < AFTERMATH:
            ago = duration_text(at - incidents[before[-1]].end)
            text += f"; #{before[-1] + 1} ended {ago} before"
        return text + ")"

    for row in run.rows:
        false = run.false_pages(row)
        items = ", ".join(describe(at) for at in false) if false else "none"
        print(f"- {row.title.split(' (')[0]}: {items}")
    print()
    print("Ticket-severity alerts (episodes; outside incident windows):")
    print()
    for row in run.ticket_rows:
        print(
            f"- {row.title}: {len(run.episodes(row))} episodes, {len(run.false_pages(row))} outside"
        )
    print()


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10 if number % 100 not in (11, 12, 13) else 0)
    return f"{number}{suffix or 'th'}"


def _median_max(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{duration_text(statistics.median(values))} / {duration_text(max(values))}"


if __name__ == "__main__":
    main()
