"""Alert quality: our generated alerts against Sloth-style multiwindow rules, on a real Prometheus.

One run, one simulated helpdesk, one set of series, three rulesets:

* **ours** -- the rule file ``helpdesk-slo generate`` writes for the SLO below
  (:func:`exporter.pack.rules.plan_pack` / :func:`~exporter.pack.rules.rule_groups`):
  the ``SupportSLOErrorBudgetBurn`` tiers with their minimum-bad-events guard,
  and ``SupportSLOBacklogBreached``;
* **Sloth-style** -- the shape Sloth generates for the same SLO (its 30d
  alert-window table: page at 14.4x on 1h/5m or 6x on 6h/30m, ticket at 3x on
  1d/2h or 1x on 3d/6h), with ratio-of-rates SLIs on the same
  ``helpdesk_slo_events_total`` counter and no event guard;
* **Sloth-style + guard** -- the same, each tier also needing at least
  ``--guard`` bad events in its long window.

The helpdesk: urgent tickets arrive as a Poisson process (``--rate`` an hour
in business hours, ``--off-rate`` outside them); agents work the SLA's business
calendar and need a log-normal amount of staffed time for a first reply.
Staffing incidents (about one a week, 2-4 hours, starting in office hours)
stop replies or slow them to a few percent of the usual pace.  Every
outcome is decided by the real engine (:meth:`exporter.poller.Poller.facts`);
the exporter's series are written every minute as OpenMetrics -- the
``helpdesk_slo_events_total`` counters (through
:func:`exporter.backfill.write_openmetrics`) and the
``helpdesk_slo_waiting_past_threshold_tickets`` gauge (open tickets whose
clock runs past the threshold, as the poller counts them).

Evaluation is Prometheus's own: ``promtool tsdb create-blocks-from openmetrics``
loads the series; a ``prometheus`` started on 127.0.0.1 serves them to
``promtool tsdb create-blocks-from rules``, which evaluates the recording rules
over the history group by group, at each group's interval and evaluation
offset, in as many passes as rules read other rules (Prometheus is restarted
on the grown data directory between passes).  Each alert's expression is
evaluated the same way, as a recording rule in the alert's own group; the
instants at which it returned a sample are read back with the HTTP API, and
the alert's ``for:`` is applied to them.

    python bench/bench_alert_quality.py [--weeks 26] [--seed 1]
"""

from __future__ import annotations

import argparse
import bisect
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter import metrics
from exporter.backfill import SeriesKey, write_openmetrics
from exporter.calendar import BusinessCalendar
from exporter.config import Config, parse_config
from exporter.model import Author, EventType, Priority, Ticket, TicketEvent
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


# --- the simulated helpdesk -------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """The team works at ``capacity`` (0 = no replies at all) of its pace in ``[start, end)``."""

    start: float
    end: float
    capacity: float


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


def draw_incidents(scenario: Scenario) -> list[Incident]:
    """About one staffing incident a week: a weekday, 2-4 hours, from office hours."""
    zone = ZoneInfo(TIMEZONE)
    incidents = []
    first = datetime.fromtimestamp(scenario.evaluated_from, zone).date()
    week = 0
    while True:
        monday = first + timedelta(weeks=week)
        if datetime(monday.year, monday.month, monday.day, tzinfo=zone).timestamp() >= (
            scenario.end
        ):
            break
        rng = random.Random(f"alert-quality:{scenario.seed}:incidents:{week}")
        roll = rng.random()
        count = 0 if roll < 0.2 else 2 if roll > 0.85 else 1
        for weekday in sorted(rng.sample(range(5), count)):
            day = monday + timedelta(days=weekday)
            hour = rng.choice((9, 10, 11, 13, 14, 15))
            minute = rng.choice((0, 15, 30, 45))
            start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()
            duration = rng.randint(8, 16) * 15 * MINUTE
            capacity = 0.0 if rng.random() < 0.5 else round(rng.uniform(0.05, 0.2), 2)
            if start + duration <= scenario.end:
                incidents.append(Incident(start, start + duration, capacity))
        week += 1
    return incidents


def staffed_after(
    calendar: BusinessCalendar, incidents: Sequence[Incident], start: float, work: float
) -> float:
    """The instant ``work`` staffed seconds after ``start``, slowed or stopped by incidents."""
    remaining = work
    cursor = start
    for incident in incidents:
        if incident.end <= cursor:
            continue
        if cursor < incident.start:
            available = calendar.elapsed_ts(cursor, incident.start)
            if available >= remaining:
                return calendar.add_ts(cursor, remaining)
            remaining -= available
            cursor = incident.start
        if incident.capacity > 0:
            slowed = calendar.elapsed_ts(cursor, incident.end) * incident.capacity
            if slowed >= remaining:
                return calendar.add_ts(cursor, remaining / incident.capacity)
            remaining -= slowed
        cursor = incident.end
    return calendar.add_ts(cursor, remaining)


def _at(instant: float) -> datetime:
    return datetime.fromtimestamp(instant, UTC)


def simulate(
    scenario: Scenario, calendar: BusinessCalendar, incidents: Sequence[Incident]
) -> list[Ticket]:
    """Urgent tickets over the scenario, each with its whole timeline."""
    rng = random.Random(f"alert-quality:{scenario.seed}:tickets")
    tickets: list[Ticket] = []
    minute = scenario.start
    while minute < scenario.end:
        business = calendar.elapsed_ts(minute, minute + MINUTE) / MINUTE
        per_minute = (scenario.rate * business + scenario.off_rate * (1 - business)) / 60
        # at most one arrival a minute: the rate is a few an hour, so this is a Poisson process
        if rng.random() < per_minute:
            created = math.floor(minute + rng.uniform(0, MINUTE))
            tickets.append(_ticket(rng, len(tickets), created, scenario, calendar, incidents))
        minute += MINUTE
    return tickets


def _ticket(
    rng: random.Random,
    number: int,
    created: int,
    scenario: Scenario,
    calendar: BusinessCalendar,
    incidents: Sequence[Incident],
) -> Ticket:
    channel = rng.choice(("email", "web", "chat", "phone"))
    events = []
    if channel in ("email", "web"):  # an auto-acknowledgement never stops the clock
        events.append(
            TicketEvent(_at(created + rng.randint(2, 30)), EventType.AGENT_REPLY, automated=True)
        )
    draw = math.exp(rng.gauss(0.0, scenario.reply_spread))
    work = max(60.0, scenario.reply_median * min(draw, 6.0))
    replied = math.ceil(staffed_after(calendar, incidents, created, work))
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


class _Offline:
    """The poller only decides facts here; it never polls."""

    name = "bench"

    def poll(self, cursor: str | None, now: float) -> PollResult:
        raise RuntimeError("this benchmark decides facts without polling")


@dataclass
class Outcomes:
    good: array[float] = field(default_factory=lambda: array("d"))
    bad: array[float] = field(default_factory=lambda: array("d"))
    #: per bad ticket: [threshold instant, instant its clock stopped or the ticket closed)
    waiting: list[tuple[float, float]] = field(default_factory=list)

    def decided(self, start: float, end: float) -> int:
        return _count(self.good, start, end) + _count(self.bad, start, end)


def _count(times: Sequence[float], start: float, end: float) -> int:
    return bisect.bisect_right(times, end) - bisect.bisect_right(times, start)


def decide(config: Config, tickets: Iterable[Ticket], now: float) -> Outcomes:
    poller = Poller(config, _Offline(), Store(":memory:"), clock=lambda: now)
    outcomes = Outcomes()
    for ticket in tickets:
        facts = poller.facts(ticket, now)
        stops = [row.stopped_at for row in facts.sla_stops if row.sla == "first_response"]
        solves = [row.solved_at for row in facts.solves]
        for row in facts.slo_outcomes:
            if row.slo != SLO:
                continue
            if row.result == "good":
                outcomes.good.append(row.decided_at)
                continue
            outcomes.bad.append(row.decided_at)
            # the poller's gauge: open, clock still running, threshold passed
            until = min([*stops, *solves, now + MINUTE])
            if until > row.decided_at:
                outcomes.waiting.append((row.decided_at, until))
    outcomes.good = array("d", sorted(outcomes.good))
    outcomes.bad = array("d", sorted(outcomes.bad))
    return outcomes


def write_series(path: Path, outcomes: Outcomes, start: float, end: float) -> int:
    """Counters and the waiting gauge every minute over ``[start, end]``; returns samples."""
    counters: dict[SeriesKey, array[float]] = {
        (metrics.SLO_EVENTS.name, (SLO, "good")): outcomes.good,
        (metrics.SLO_EVENTS.name, (SLO, "bad")): outcomes.bad,
    }
    buffer = io.StringIO()
    extra = {"job": JOB, "instance": INSTANCE}
    _, samples = write_openmetrics(counters, start, end, MINUTE, buffer, extra)
    text = buffer.getvalue().removesuffix("# EOF\n")
    starts = sorted(a for a, _ in outcomes.waiting)
    stops = sorted(b for _, b in outcomes.waiting)
    gauge = metrics.SLO_WAITING_PAST_THRESHOLD
    labels = f'instance="{INSTANCE}",job="{JOB}",slo="{SLO}"'
    lines = [f"# HELP {gauge.name} {gauge.help}\n", f"# TYPE {gauge.name} gauge\n"]
    instant = start
    while instant <= end:
        waiting = bisect.bisect_right(starts, instant) - bisect.bisect_right(stops, instant)
        lines.append(f"{gauge.name}{{{labels}}} {waiting} {int(instant)}\n")
        instant += MINUTE
        samples += 1
    path.write_text(text + "".join(lines) + "# EOF\n", encoding="utf-8")
    return samples


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
            if name == "SupportSLOErrorBudgetBurn":
                windows = f"{labels['long_window']}_{labels['short_window']}"
                key = f"ours_burn_{labels['severity']}_{windows}"
            elif name == "SupportSLOBacklogBreached":
                key = "ours_backlog"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=26, help="weeks evaluated (default 26)")
    parser.add_argument("--warmup-days", type=int, default=7, help="history before (default 7)")
    parser.add_argument(
        "--start", default="2026-03-02", help="first evaluated day, a Monday (local date)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=1.5, help="urgent tickets per business hour")
    parser.add_argument("--off-rate", type=float, default=0.15, help="per hour outside hours")
    parser.add_argument("--reply-median", type=float, default=9.0, help="minutes (default 9)")
    parser.add_argument("--reply-spread", type=float, default=0.6, help="log-normal sigma")
    parser.add_argument(
        "--grace", type=float, default=1.0, help="business hours after an incident (default 1)"
    )
    parser.add_argument("--guard", type=int, default=3, help="bad events for Sloth + guard")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the whole run")
    parser.add_argument("--keep", type=Path, help="keep the work directory here")
    args = parser.parse_args()
    begun = time.perf_counter()
    deadline = Deadline(args.timeout)
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not on PATH (apt-get install prometheus)")

    config = parse_config(CONFIG)
    pack = plan_pack(config, RuleOptions.for_config(config))
    plan = next(slo for slo in pack.slos if slo.name == SLO)
    calendar = Evaluator(config).sla_calendars["first_response"]
    zone = ZoneInfo(TIMEZONE)
    first_day = datetime.fromisoformat(args.start).replace(tzinfo=zone)
    evaluated_from = first_day.timestamp()
    end = (first_day + timedelta(weeks=args.weeks)).timestamp()
    scenario = Scenario(
        start=evaluated_from - args.warmup_days * DAY,
        evaluated_from=evaluated_from,
        end=end,
        seed=args.seed,
        rate=args.rate,
        off_rate=args.off_rate,
        reply_median=args.reply_median * MINUTE,
        reply_spread=args.reply_spread,
    )
    grace = args.grace * HOUR
    k = plan.backlog_tickets or 2

    started = time.perf_counter()
    incidents = draw_incidents(scenario)
    tickets = simulate(scenario, calendar, incidents)
    outcomes = decide(config, tickets, end)
    simulated = time.perf_counter() - started
    log(
        f"simulated {len(tickets)} tickets, {len(outcomes.good)} good / {len(outcomes.bad)} bad, "
        f"{len(incidents)} incidents ({simulated:.1f} s)"
    )

    ours = our_ruleset(pack)
    sloth = sloth_ruleset(str(plan.budget), args.guard)
    rulesets = [ours, sloth]
    alerts = {alert.key: alert for ruleset in rulesets for alert in ruleset.alerts}

    workdir = Path(tempfile.mkdtemp(prefix="alert-quality-"))
    data = workdir / "data"
    prometheus = Prometheus(data, workdir, deadline)
    instants: dict[str, list[float]] = {}
    try:
        started = time.perf_counter()
        om = workdir / "series.om"
        samples = write_series(om, outcomes, scenario.start, end)
        load_series(om, data, deadline)
        loaded = time.perf_counter() - started
        log(f"{samples} samples written and loaded ({loaded:.1f} s)")
        started = time.perf_counter()
        backfill_rules(prometheus, workdir, passes(rulesets), scenario.start, end, deadline)
        prometheus.start()
        for key in alerts:
            instants[key] = prometheus.instants(
                _alert_series(alerts[key]), scenario.evaluated_from, end
            )
        evaluated = time.perf_counter() - started
        log(f"rules and alerts evaluated by Prometheus ({evaluated:.1f} s)")
    finally:
        prometheus.stop()
        if args.keep is not None:
            shutil.copytree(workdir, args.keep, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)

    fired = {
        key: firing(times, alerts[key].interval, alerts[key].for_seconds)
        for key, times in instants.items()
    }
    our_burn_pages = tuple(
        a.key for a in ours.alerts if a.severity == "page" and a.key.startswith("ours_burn")
    )
    rows = [
        Row(f"ours: burn-rate page tiers (guard >= {plan.min_bad_events} bad)", our_burn_pages),
        Row(f"ours: backlog (>= {k} waiting)", ("ours_backlog",)),
        Row("ours: all pages (burn tiers or backlog)", (*our_burn_pages, "ours_backlog")),
        Row("Sloth-style page (14.4x 1h/5m or 6x 6h/30m)", ("sloth_page",)),
        Row(f"Sloth-style page + >= {args.guard} bad events", ("sloth_guard_page",)),
    ]
    ticket_rows = [
        Row(
            "ours: burn-rate ticket tiers",
            tuple(a.key for a in ours.alerts if a.severity == "ticket"),
        ),
        Row("Sloth-style ticket (3x 1d/2h or 1x 3d/6h)", ("sloth_ticket",)),
        Row(f"Sloth-style ticket + >= {args.guard} bad events", ("sloth_guard_ticket",)),
    ]
    for row in [*rows, *ticket_rows]:
        row.episodes = merge(interval for key in row.keys for interval in fired[key])

    report(
        args,
        scenario,
        plan,
        tickets,
        outcomes,
        incidents,
        rows,
        ticket_rows,
        grace,
        calendar,
        k,
        samples,
        {"simulate": simulated, "load": loaded, "evaluate": evaluated},
        time.perf_counter() - begun,
    )


def report(
    args: argparse.Namespace,
    scenario: Scenario,
    plan: SloPlan,
    tickets: Sequence[Ticket],
    outcomes: Outcomes,
    incidents: Sequence[Incident],
    rows: Sequence[Row],
    ticket_rows: Sequence[Row],
    grace: float,
    calendar: BusinessCalendar,
    k: int,
    samples: int,
    phases: dict[str, float],
    total: float,
) -> None:
    # late tickets of an incident cross the threshold up to half an hour of business time
    # after it ends (later over lunch or a night), so its window ends in business time too
    windows = [(i.start, calendar.add_ts(i.end, grace)) for i in incidents]
    floors: list[float | None] = []
    for start, stop in windows:
        first = bisect.bisect_left(outcomes.bad, start)
        inside = [t for t in outcomes.bad[first:] if t <= stop]
        floors.append(inside[k - 1] if len(inside) >= k else None)

    def detection(row: Row, index: int) -> float | None:
        start, stop = windows[index]
        return next((a for a, _ in row.episodes if start <= a <= stop), None)

    def false_pages(row: Row) -> list[float]:
        return [
            a
            for a, _ in row.episodes
            if scenario.evaluated_from <= a <= scenario.end
            and not any(start <= a <= stop for start, stop in windows)
        ]

    weeks = args.weeks
    print("## Alert quality")
    print()
    print(f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC")
    print(f"- platform: {platform.platform()}, {os.cpu_count()} CPUs ({cpu_model()})")
    print(f"- Python: {platform.python_version()}; {prometheus_version()}")
    print(
        f"- history: {weeks} weeks from {args.start} ({TIMEZONE}) after {args.warmup_days} days "
        f"of warm-up, seed {args.seed}; {len(tickets)} urgent tickets "
        f"({args.rate}/h in business hours, {args.off_rate}/h outside), first reply after "
        f"log-normal staffed time (median {args.reply_median:g} min, sigma {args.reply_spread:g})"
    )
    evaluated_bad = _count(outcomes.bad, scenario.evaluated_from, scenario.end)
    evaluated_all = outcomes.decided(scenario.evaluated_from, scenario.end)
    print(
        f"- SLO `{plan.name}`: first response within {plan.threshold_text} of the office "
        f"calendar (Mon-Fri 09:00-12:30, 13:30-18:00), objective "
        f"{float(plan.objective) * 100:g}%, window {plan.window_text}; in the evaluated weeks "
        f"{evaluated_all} outcomes, {evaluated_bad} bad "
        f"({evaluated_bad / max(1, evaluated_all) * 100:.1f}%)"
    )
    reached = [floor - i.start for floor, i in zip(floors, incidents, strict=True) if floor]
    print(
        f"- {len(incidents)} staffing incidents; an incident's window runs from its start to "
        f"{duration_text(grace)} of business time after its end; its detection floor is the "
        f"instant the {_ordinal(k)} ticket of that window crosses the threshold: {len(reached)} of "
        f"{len(incidents)} reach it, median / max {_median_max(reached)} after the start"
    )
    print(
        f"- {samples} samples at 1m; runtime {total:.0f} s (simulation and engine "
        f"{phases['simulate']:.1f} s, series {phases['load']:.1f} s, Prometheus rule passes and "
        f"reads {phases['evaluate']:.1f} s)"
    )
    print()
    print(
        "| pages | incidents paged (with a floor) | delay from start: median / max | "
        "from floor: median / max | page episodes | false pages | of which quiet |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        delays = []
        floor_delays = []
        for index, incident in enumerate(incidents):
            at = detection(row, index)
            if at is None:
                continue
            delays.append(at - incident.start)
            floor = floors[index]
            if floor is not None:
                floor_delays.append(at - floor)
        with_floor = len(floor_delays)
        false = false_pages(row)
        quiet = [a for a in false if outcomes.decided(a - HOUR, a) < QUIET_EVENTS]
        episodes = [a for a, _ in row.episodes if scenario.evaluated_from <= a <= scenario.end]
        print(
            f"| {row.title} | {len(delays)} of {len(incidents)} ({with_floor} of {len(reached)}) | "
            f"{_median_max(delays)} | {_median_max(floor_delays)} | {len(episodes)} | "
            f"{len(false)} | {len(quiet)} |"
        )
    print()
    print("Per incident (delay of the first page from the incident's start / from its floor):")
    print()
    header = " | ".join(row.title.split(" (")[0] for row in rows)
    print(f"| # | start | length | capacity | bad | floor | {header} |")
    print("|---:|---|---:|---:|---:|---:|" + "---:|" * len(rows))
    for index, incident in enumerate(incidents):
        start, stop = windows[index]
        bad = _count(outcomes.bad, start, stop)
        floor = floors[index]
        cells = []
        for row in rows:
            at = detection(row, index)
            if at is None:
                cells.append("missed")
            else:
                from_floor = duration_text(at - floor) if floor is not None else "-"
                cells.append(f"{duration_text(at - incident.start)} / {from_floor}")
        capacity = "stopped" if incident.capacity == 0 else f"{incident.capacity * 100:g}%"
        print(
            f"| {index + 1} | {local(incident.start)} | "
            f"{duration_text(incident.end - incident.start)} | {capacity} | {bad} | "
            f"{duration_text(floor - incident.start) if floor is not None else '-'} | "
            + " | ".join(cells)
            + " |"
        )
    print()
    print(
        "False pages (local time: SLO outcomes decided in the hour before, bad among them; "
        f"incident that ended less than {duration_text(AFTERMATH)} before):"
    )
    print()

    def describe(at: float) -> str:
        text = f"{local(at)} ({outcomes.decided(at - HOUR, at)}, "
        text += f"{_count(outcomes.bad, at - HOUR, at)} bad"
        before = [i for i, incident in enumerate(incidents) if incident.end <= at]
        if before and at - incidents[before[-1]].end < AFTERMATH:
            ago = duration_text(at - incidents[before[-1]].end)
            text += f"; #{before[-1] + 1} ended {ago} before"
        return text + ")"

    for row in rows:
        false = false_pages(row)
        items = ", ".join(describe(at) for at in false) if false else "none"
        print(f"- {row.title}: {items}")
    print()
    print("Ticket-severity alerts (episodes; outside incident windows):")
    print()
    for row in ticket_rows:
        episodes = [a for a, _ in row.episodes if scenario.evaluated_from <= a <= scenario.end]
        print(f"- {row.title}: {len(episodes)} episodes, {len(false_pages(row))} outside")


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10 if number % 100 not in (11, 12, 13) else 0)
    return f"{number}{suffix or 'th'}"


def _median_max(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{duration_text(statistics.median(values))} / {duration_text(max(values))}"


if __name__ == "__main__":
    main()
