"""The report document: every figure of ``helpdesk-slo report``, as one JSON-ready dict.

The history is replayed once by the decision core (:func:`exporter.engine.decide`,
as ``suggest`` and ``backfill`` do), as of ``until``; the HTML and Markdown
pages and their charts are drawn from this document only, so the three formats
always agree.  docs/report.md documents the shape (``schema`` names its version).

Definitions (all times in business seconds of the SLA's calendar):

* *time to first reply / resolution*: the business time of each clock cycle at
  its first stop; percentiles interpolate linearly between the closest ranks
  (``p90`` of ``[10, 20]`` is 19).
* *weeks*: ISO weeks in the config's time zone, of the instant an outcome was
  decided (a breach counts when its deadline passes).
* *error budget*: per SLO window (rolling windows laid back from ``until``,
  calendar weeks and months as they fall), ``(1 - objective) x events`` of that
  window; the burn-down is the share left after the bad events so far.  The
  forecast of the last window extends the pace of bad events of its last
  :data:`FORECAST_DAYS` days.
* *staffing gaps*: stretches in which at least ``alerting.backlog_tickets``
  tickets of an SLO were waiting (clock running, not paused) past its threshold
  at once: the facts of the backlog alert.  ``alerted`` says whether the
  stretch lasted ``alerting.backlog_for``, so that the alert fired.
* *time split*: each solved ticket's life in business seconds of the resolution
  SLA's calendar, split into working (open and reopened), waiting on the
  customer (pending) and on hold (on hold, escalated).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from exporter import __version__
from exporter.config import Config, SloConfig, SloKind
from exporter.engine import Plan, decide
from exporter.model import PRIORITIES, Ticket, format_instant
from exporter.records import SkippedRecord, evaluate_ticket
from exporter.slo import Result, window_start
from exporter.status_time import ON_HOLD, OPEN, PENDING, REOPENED, business_seconds_by_status
from exporter.suggest import iso_weeks, whole_weeks

from .links import ticket_linker

#: the version of the document's shape; a change that breaks a reader bumps it
SCHEMA = "helpdesk-slo-report/1"
#: the percentiles of business time reported per SLA metric and priority
PERCENTILES: tuple[int, ...] = (50, 90, 95)
#: the forecast extends the pace of bad events of this many last days
FORECAST_DAYS = 7
#: bins of the time-to-first-reply distribution, up to twice the SLA target
DISTRIBUTION_BINS = 24
#: the worst days and hours listed
WORST = 5
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
DAY = 86400.0


def number(value: float | None) -> float | int | None:
    """A JSON number: whole numbers without ``.0``, others to nine decimals."""
    if value is None:
        return None
    rounded = round(float(value), 9)
    return int(rounded) if rounded.is_integer() else rounded


def percentile(values: list[float], p: float) -> float | None:
    """The ``p``-th percentile (0..100) of sorted ``values``, linear between closest ranks."""
    if not values:
        return None
    rank = (len(values) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


@dataclass
class _Slo:
    """What the replay collected for one SLO."""

    config: SloConfig
    #: (decided_at, good) of every decided outcome
    events: list[tuple[float, bool]] = field(default_factory=list)
    #: (start, end, ticket id) stretches of waiting past the threshold
    waits: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass
class _Tally:
    met: int = 0
    breached: int = 0
    elapsed: list[float] = field(default_factory=list)


@dataclass
class _History:
    """Everything collected in one pass over the tickets."""

    tickets: int = 0
    skipped: list[str] = field(default_factory=list)
    by_priority: Counter[str] = field(default_factory=Counter)
    #: (sla, priority) -> tally; (sla, priority, week) -> [met, breached]
    slas: dict[tuple[str, str], _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    sla_weeks: dict[tuple[str, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    #: (dimension, value, sla) -> tally
    breakdown: dict[tuple[str, str, str], _Tally] = field(
        default_factory=lambda: defaultdict(_Tally)
    )
    breakdown_tickets: Counter[tuple[str, str]] = field(default_factory=Counter)
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in WEEKDAYS])
    days: Counter[date] = field(default_factory=Counter)
    breaches: list[dict[str, Any]] = field(default_factory=list)
    #: priority -> [solved tickets, working, waiting on customer, on hold]
    split: dict[str, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0] * 4))


def _week(ts: float, zone: ZoneInfo) -> str:
    """The ISO week (``2026-W45``) of ``ts`` in ``zone``."""
    # every UTC offset is a multiple of 15 minutes: a local date never changes inside a
    # quarter hour of UTC, so the week is looked up once per quarter hour
    return _week_of_quarter(int(ts // 900), zone)


@functools.lru_cache(maxsize=65536)
def _week_of_quarter(quarter: int, zone: ZoneInfo) -> str:
    local = datetime.fromtimestamp(quarter * 900, UTC).astimezone(zone)
    year, week, _ = local.date().isocalendar()
    return f"{year}-W{week:02d}"


def _waits(
    plan: Plan, ticket: Ticket, slo: SloConfig, outcomes: list[Any], until: float
) -> list[tuple[float, float]]:
    """Stretches in which the ticket's clocks of ``slo`` ran past their threshold."""
    late = {
        o.cycle: o.threshold_at
        for o in outcomes
        if o.result is Result.BAD and o.threshold_at is not None and o.threshold_at < until
    }
    if not late or slo.sla is None:
        return []
    stretches = []
    for clock in plan.evaluator.clocks(ticket, slo.sla, until):
        passed = late.get(clock.cycle)
        if passed is None:
            continue
        last = clock.first_stop if clock.first_stop is not None else until
        for seg_start, seg_end in clock.segments:
            begin = max(seg_start, passed)
            end = min(seg_end if seg_end is not None else until, last, until)
            if end > begin:
                stretches.append((begin, end))
    return stretches


def _collect(
    config: Config,
    plan: Plan,
    tickets: Iterable[Ticket],
    start: float,
    until: float,
    progress: Callable[[int], None] | None,
) -> tuple[_History, dict[str, _Slo]]:
    zone = ZoneInfo(plan.evaluator.timezone)
    link = ticket_linker(config.source)
    history = _History()
    slos = {s.name: _Slo(s) for s in config.slos if s.kind.counted_by_exporter}
    time_slos = {s.name: s for s in plan.time_slos if s.sla in plan.slas}
    dimensions = [d for d in ("channel", "group") if d in config.exporter.breakdown]
    resolution_calendar = plan.calendar(RESOLUTION) if RESOLUTION in plan.slas else None
    read = 0
    for ticket in tickets:
        read += 1
        if progress is not None and read % 5000 == 0:
            progress(read)
        created = ticket.created_at.timestamp()
        if not start <= created <= until:
            continue
        decision = evaluate_ticket(ticket, lambda t: decide(plan, t, until, until))
        if isinstance(decision, SkippedRecord):
            history.skipped.append(decision)
            continue
        history.tickets += 1
        priority = ticket.priority.value
        history.by_priority[priority] += 1
        values = {
            "channel": plan.channel(ticket.channel),
            "group": ticket.group or "none",
        }
        for dimension in dimensions:
            history.breakdown_tickets[(dimension, values[dimension])] += 1
        channel = values["channel"]
        for stop in decision.sla_stops:
            history.slas[(stop.sla, priority)].elapsed.append(stop.elapsed)
            for dimension in dimensions:
                history.breakdown[(dimension, values[dimension], stop.sla)].elapsed.append(
                    stop.elapsed
                )
        for row in decision.sla_outcomes:
            met = row.outcome == "met"
            tally = history.slas[(row.sla, priority)]
            week = history.sla_weeks[(row.sla, priority, _week(row.decided_at, zone))]
            if met:
                tally.met += 1
                week[0] += 1
            else:
                tally.breached += 1
                week[1] += 1
            for dimension in dimensions:
                cell = history.breakdown[(dimension, values[dimension], row.sla)]
                if met:
                    cell.met += 1
                else:
                    cell.breached += 1
            if met:
                continue
            local = datetime.fromtimestamp(row.decided_at, UTC).astimezone(zone)
            history.heatmap[local.weekday()][local.hour] += 1
            history.days[local.date()] += 1
            history.breaches.append(
                {
                    "id": ticket.id,
                    "url": link(ticket.id),
                    "priority": priority,
                    "channel": channel,
                    "sla": row.sla,
                    "cycle": row.cycle,
                    "breached_at": format_instant(row.decided_at),
                    "target_seconds": number(plan.slas[row.sla].targets[ticket.priority].seconds),
                }
            )
        for slo_row in decision.slo_outcomes:
            collected = slos.get(slo_row.slo)
            if collected is not None:
                collected.events.append((slo_row.decided_at, slo_row.result == Result.GOOD.value))
        for name, outcomes in decision.slos.items():
            slo = time_slos.get(name)
            if slo is None:
                continue
            for begin, end in _waits(plan, ticket, slo, outcomes, until):
                slos[name].waits.append((begin, end, ticket.id))
        if resolution_calendar is not None and decision.solves:
            seconds = business_seconds_by_status(ticket, resolution_calendar, until)
            split = history.split[priority]
            split[0] += 1
            split[1] += seconds[OPEN] + seconds[REOPENED]
            split[2] += seconds[PENDING]
            split[3] += seconds[ON_HOLD]
    return history, slos


def _percentiles(elapsed: list[float]) -> dict[str, float | int | None]:
    elapsed.sort()
    return {f"p{p}_seconds": number(percentile(elapsed, p)) for p in PERCENTILES}


def _windows(
    slo: SloConfig, start: float, until: float, timezone: str
) -> list[tuple[float, float]]:
    """The SLO's windows covering ``[start, until]``, oldest first, clipped to it: rolling
    windows laid back from ``until``, calendar weeks and months as they fall."""
    windows = []
    end = until
    while end > start:
        if slo.calendar_window is None:
            begin = end - slo.window_seconds
        else:
            # the window holding the last instant before `end`
            begin = window_start(slo, end - 0.001, timezone)
        windows.append((max(begin, start), end))
        end = begin
    windows.reverse()
    return windows


def _window_end(slo: SloConfig, begin: float, timezone: str) -> float:
    """Where the window holding ``begin`` ends (rolling: one length after ``begin``)."""
    if slo.calendar_window is None:
        return begin + slo.window_seconds
    zone = ZoneInfo(timezone)
    first = datetime.fromtimestamp(window_start(slo, begin, timezone), UTC).astimezone(zone).date()
    if slo.calendar_window == "week":
        after = first + timedelta(days=7)
    else:
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return datetime(after.year, after.month, after.day, tzinfo=zone).timestamp()


def _exhausted_at(bad_times: list[float], allowed: float) -> float | None:
    """The bad event that left no budget (bad events >= allowed), if any."""
    needed = max(1, math.ceil(allowed))
    return bad_times[needed - 1] if len(bad_times) >= needed else None


def _remaining(bad_times: list[float], allowed: float, total: int, at: float) -> float | None:
    """The share of the budget left after the bad events up to ``at``."""
    if total == 0:
        return None
    bad = bisect.bisect_right(bad_times, at)
    if allowed <= 0:
        return 1.0 if bad == 0 else 0.0
    return 1 - bad / allowed


def _budget(
    slo: SloConfig, events: list[tuple[float, bool]], start: float, until: float, timezone: str
) -> list[dict[str, Any]]:
    """Burn-down of each window; the last one with its exhaustion forecast."""
    budget_share = float(slo.error_budget)
    windows = _windows(slo, start, until, timezone)
    result = []
    for index, (begin, end) in enumerate(windows):
        last = index == len(windows) - 1
        inside = [(at, good) for at, good in events if begin <= at < end or (last and at == end)]
        total = len(inside)
        bad_times = sorted(at for at, good in inside if not good)
        allowed = budget_share * total
        exhausted_at = _exhausted_at(bad_times, allowed)
        points = []
        at = begin
        while at < end:
            left = _remaining(bad_times, allowed, total, at)
            points.append({"at": format_instant(at), "remaining_ratio": number(left)})
            at += DAY
        left = _remaining(bad_times, allowed, total, end)
        points.append({"at": format_instant(end), "remaining_ratio": number(left)})
        if slo.calendar_window is None:
            partial = end - begin < slo.window_seconds - 1
        else:
            partial = begin > window_start(slo, begin, timezone) or end < _window_end(
                slo, begin, timezone
            )
        window: dict[str, Any] = {
            "from": format_instant(begin),
            "to": format_instant(end),
            "partial": partial,
            "events": total,
            "bad": len(bad_times),
            "allowed_bad": number(allowed),
            "remaining_ratio": number(left),
            "exhausted_at": None if exhausted_at is None else format_instant(exhausted_at),
            "burn_down": points,
            "forecast": None,
        }
        if last:
            ends = (
                until + slo.window_seconds
                if slo.calendar_window is None
                else _window_end(slo, begin, timezone)
            )
            window["forecast"] = _forecast(begin, until, ends, bad_times, allowed, exhausted_at)
        result.append(window)
    return result


def _forecast(
    begin: float,
    until: float,
    window_end: float,
    bad_times: list[float],
    allowed: float,
    exhausted_at: float | None,
) -> dict[str, Any]:
    """When the budget of the last window runs out at the pace of its last days."""
    span = min(FORECAST_DAYS * DAY, until - begin)
    recent = sum(1 for at in bad_times if at > until - span)
    pace_per_day = recent / span * DAY if span > 0 else 0.0
    forecast: dict[str, Any] = {
        "pace_days": number(span / DAY),
        "bad_per_day": number(pace_per_day),
        "window_end": format_instant(window_end),
        "exhausted": exhausted_at is not None,
        "exhaustion_at": None,
        "before_window_end": exhausted_at is not None,
    }
    if exhausted_at is not None:
        forecast["exhaustion_at"] = format_instant(exhausted_at)
    elif pace_per_day > 0:
        at = until + (allowed - len(bad_times)) / pace_per_day * DAY
        forecast["exhaustion_at"] = format_instant(at)
        forecast["before_window_end"] = at <= window_end
    return forecast


def _gaps(waits: list[tuple[float, float, str]], tickets: int, hold: float) -> list[dict[str, Any]]:
    """Maximal stretches with at least ``tickets`` waits at once."""
    changes: list[tuple[float, int, str]] = []
    for begin, end, ticket_id in waits:
        changes.append((begin, 1, ticket_id))
        changes.append((end, -1, ticket_id))
    changes.sort(key=lambda c: (c[0], c[1]))  # ends before starts at the same instant
    gaps = []
    waiting: Counter[str] = Counter()
    gap_start: float | None = None
    involved: set[str] = set()
    peak = 0
    for at, delta, ticket_id in changes:
        waiting[ticket_id] += delta
        if waiting[ticket_id] == 0:
            del waiting[ticket_id]
        count = len(waiting)
        if gap_start is None and count >= tickets:
            gap_start, involved, peak = at, set(waiting), count
        elif gap_start is not None:
            if count >= tickets:
                involved.update(waiting)
                peak = max(peak, count)
            else:
                if at > gap_start:
                    gaps.append(
                        {
                            "from": format_instant(gap_start),
                            "to": format_instant(at),
                            "duration_seconds": number(at - gap_start),
                            "peak_tickets": peak,
                            "alerted": at - gap_start >= hold,
                            "tickets": sorted(involved),
                        }
                    )
                gap_start = None
    return gaps


def _distribution(elapsed: list[float], target: float) -> list[dict[str, Any]]:
    """Counts of first-reply times in :data:`DISTRIBUTION_BINS` bins up to twice ``target``
    (each bin holds the times up to and including its ``le_seconds``), and one bin for the
    rest (``le_seconds`` null)."""
    width = 2 * target / DISTRIBUTION_BINS
    counts = [0] * (DISTRIBUTION_BINS + 1)
    for value in elapsed:
        index = max(0, math.ceil(value / width) - 1) if width > 0 else DISTRIBUTION_BINS
        counts[min(index, DISTRIBUTION_BINS)] += 1
    bins: list[dict[str, Any]] = [
        {"le_seconds": number(width * (i + 1)), "count": counts[i]}
        for i in range(DISTRIBUTION_BINS)
    ]
    bins.append({"le_seconds": None, "count": counts[-1]})
    return bins


def build(
    config: Config,
    tickets: Iterable[Ticket],
    start: float,
    until: float,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The report of the tickets created in ``[start, until]``, decided as of ``until``, and
    the records skipped (one line each)."""
    plan = Plan(config)
    timezone = plan.evaluator.timezone
    history, slos = _collect(config, plan, tickets, start, until, progress)
    weeks = iso_weeks(start, until, timezone)
    whole = set(whole_weeks(start, until, timezone))

    sla_rows = []
    for metric, sla in plan.slas.items():
        for priority in PRIORITIES:
            target = sla.targets.get(priority)
            if target is None:
                continue
            tally = history.slas.get((metric, priority.value), _Tally())
            decided = tally.met + tally.breached
            sla_rows.append(
                {
                    "sla": metric,
                    "priority": priority.value,
                    "target_seconds": number(target.seconds),
                    "tickets": history.by_priority[priority.value],
                    "stopped": len(tally.elapsed),
                    "met": tally.met,
                    "breached": tally.breached,
                    "met_ratio": number(tally.met / decided if decided else None),
                    **_percentiles(tally.elapsed),
                    "weeks": [
                        {
                            "week": week,
                            "whole": week in whole,
                            "met": history.sla_weeks.get((metric, priority.value, week), [0, 0])[0],
                            "breached": history.sla_weeks.get(
                                (metric, priority.value, week), [0, 0]
                            )[1],
                        }
                        for week in weeks
                    ],
                }
            )

    breakdown = []
    for (dimension, value, metric), tally in sorted(history.breakdown.items()):
        decided = tally.met + tally.breached
        breakdown.append(
            {
                "by": dimension,
                "value": value,
                "sla": metric,
                "tickets": history.breakdown_tickets[(dimension, value)],
                "met": tally.met,
                "breached": tally.breached,
                "met_ratio": number(tally.met / decided if decided else None),
                **_percentiles(tally.elapsed),
            }
        )

    slo_rows = []
    for name, collected in slos.items():
        slo = collected.config
        events = collected.events
        by_week: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        zone = ZoneInfo(timezone)
        for at, good in events:
            by_week[_week(at, zone)][0 if good else 1] += 1
        good_total = sum(1 for _, good in events if good)
        objective = float(slo.objective_ratio)
        row: dict[str, Any] = {
            "name": name,
            "kind": slo.kind.value,
            "sla": slo.sla,
            "description": slo.description,
            "objective_ratio": number(objective),
            "window": slo.window,
            "thresholds_seconds": {
                p.value: number(s)
                for p, s in plan.thresholds_by_priority.get(name, {}).items()
                if s is not None
            },
            "good": good_total,
            "bad": len(events) - good_total,
            "compliance_ratio": number(good_total / len(events) if events else None),
            "weeks": [],
            "budget_windows": _budget(slo, events, start, until, timezone),
        }
        for week in weeks:
            week_good, week_bad = by_week.get(week, [0, 0])
            decided = week_good + week_bad
            compliance = week_good / decided if decided else None
            row["weeks"].append(
                {
                    "week": week,
                    "whole": week in whole,
                    "good": week_good,
                    "bad": week_bad,
                    "compliance_ratio": number(compliance),
                    "meets_objective": None if compliance is None else compliance >= objective,
                }
            )
        if slo.kind is SloKind.TIME:
            row["backlog_tickets"] = slo.alerting.backlog_tickets
            row["backlog_for_seconds"] = number(slo.alerting.backlog_for.seconds)
            row["staffing_gaps"] = _gaps(
                collected.waits, slo.alerting.backlog_tickets, slo.alerting.backlog_for.seconds
            )
        slo_rows.append(row)

    first_reply = []
    if FIRST_RESPONSE in plan.slas:
        for priority in PRIORITIES:
            target = plan.slas[FIRST_RESPONSE].targets.get(priority)
            if target is None:
                continue
            elapsed = history.slas.get((FIRST_RESPONSE, priority.value), _Tally()).elapsed
            first_reply.append(
                {
                    "priority": priority.value,
                    "sla_target_seconds": number(target.seconds),
                    "slo_thresholds": [
                        {"slo": slo.name, "seconds": number(seconds)}
                        for slo in plan.time_slos
                        if slo.sla == FIRST_RESPONSE
                        and (seconds := plan.thresholds_by_priority[slo.name].get(priority))
                        is not None
                        and (not slo.match.priority or priority in slo.match.priority)
                    ],
                    "replies": len(elapsed),
                    "bins": _distribution(elapsed, target.seconds),
                }
            )

    time_split = []
    for priority in PRIORITIES:
        solved, working, waiting, on_hold = history.split.get(priority.value, [0.0] * 4)
        if not solved:
            continue
        time_split.append(
            {
                "priority": priority.value,
                "solved": int(solved),
                "working_seconds": number(working / solved),
                "waiting_on_customer_seconds": number(waiting / solved),
                "on_hold_seconds": number(on_hold / solved),
            }
        )

    worst_days = sorted(history.days.items(), key=lambda item: (-item[1], item[0]))[:WORST]
    cells = [
        (count, day, hour)
        for day, row_counts in enumerate(history.heatmap)
        for hour, count in enumerate(row_counts)
        if count
    ]
    worst_hours = sorted(cells, key=lambda c: (-c[0], c[1], c[2]))[:WORST]
    history.breaches.sort(key=lambda b: (b["breached_at"], b["id"]), reverse=True)
    document = {
        "schema": SCHEMA,
        "generator": f"helpdesk-slo {__version__}",
        "service": config.service,
        "source": source,
        "source_type": str(config.source.type),
        "from": format_instant(start),
        "to": format_instant(until),
        "timezone": timezone,
        "tickets": history.tickets,
        "skipped": len(history.skipped),
        "weeks": weeks,
        "slas": sla_rows,
        "breakdown": breakdown,
        "slos": slo_rows,
        "computed_by_prometheus": [
            {"name": s.name, "kind": s.kind.value}
            for s in config.slos
            if not s.kind.counted_by_exporter
        ],
        "first_reply": first_reply,
        "time_split": time_split,
        "heatmap": {
            "weekdays": list(WEEKDAYS),
            "breaches": history.heatmap,
            "worst_days": [{"date": d.isoformat(), "breaches": n} for d, n in worst_days],
            "worst_hours": [
                {"weekday": WEEKDAYS[day], "hour": hour, "breaches": n}
                for n, day, hour in worst_hours
            ],
        },
        "breached_tickets": history.breaches,
    }
    return document, history.skipped
