"""SLO outcomes: each clock cycle of a selected ticket is one good or bad event.

An SLO selects tickets (``match``), names an SLA metric and a threshold (a
duration, or a share of each ticket's SLA target).  A cycle is ``good`` when
its clock first stopped within the threshold, ``bad`` the moment the threshold
passes, and ``pending`` until then.  The decision time is the stop or the
threshold instant; once decided an outcome never changes.  ``csat`` SLOs turn
each ticket's first satisfaction rating into one event.

:class:`Evaluator` shows a whole :class:`~exporter.config.Config` applied to tickets (the
outcomes come from :func:`exporter.engine.decide`, as for the live exporter);
:func:`error_budget_remaining` and :func:`window_start` give the budget figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from exporter.calendar import BusinessCalendar
from exporter.config import ALWAYS, Config, SlaConfig, SlaStart, SloConfig, SloKind
from exporter.model import EventType, Rating, Ticket
from exporter.sla import (
    Clock,
    ClockStatus,
    breach_instant,
    clocks_for,
    elapsed_until,
    native_status,
)

if TYPE_CHECKING:  # the engine builds on this module
    from exporter.engine import Plan


class Result(StrEnum):
    GOOD = "good"
    BAD = "bad"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One SLO event (or a pending one) for one clock cycle of one ticket."""

    slo: str
    ticket_id: str
    cycle: int
    result: Result
    decided_at: float | None
    #: instant the threshold passes (bad from then on); None when it cannot (stopped/paused)
    threshold_at: float | None = None


def matches(slo: SloConfig, ticket: Ticket) -> bool:
    """Whether an SLO counts this ticket: every given ``match`` field must agree."""
    m = slo.match
    if m.priority and ticket.priority not in m.priority:
        return False
    if m.channel and ticket.channel not in m.channel:
        return False
    if m.group and ticket.group not in m.group:
        return False
    if m.brand and ticket.brand not in m.brand:
        return False
    if m.type and ticket.type not in m.type:
        return False
    return not (m.tags and not set(m.tags).issubset(ticket.tags))


def threshold_seconds(slo: SloConfig, sla: SlaConfig, ticket: Ticket) -> float | None:
    """The SLO threshold for this ticket, or None when it has no SLA target to take a share of."""
    duration = slo.threshold_duration
    if duration is not None:
        return duration.seconds
    fraction = slo.threshold_fraction
    target = sla.targets.get(ticket.priority)
    if fraction is None or target is None:
        return None
    return float(fraction) * target.seconds


def time_outcome(
    slo: str,
    ticket_id: str,
    clock: Clock,
    calendar: BusinessCalendar,
    threshold: float,
    horizon: float,
) -> Outcome:
    """Decide one cycle: good at its first stop within the threshold, bad when it passes.

    ``horizon`` is the instant up to which the data is known complete (the
    evaluation time, or the source's watermark if earlier): a threshold instant
    after it cannot be called bad yet, because a reply may not be fetched yet.
    """
    passes = breach_instant(clock, calendar, threshold)
    first_stop = clock.first_stop
    if passes is not None and (first_stop is None or passes < first_stop):
        if passes < horizon:
            return Outcome(slo, ticket_id, clock.cycle, Result.BAD, passes, passes)
        return Outcome(slo, ticket_id, clock.cycle, Result.PENDING, None, passes)
    if first_stop is not None:
        return Outcome(slo, ticket_id, clock.cycle, Result.GOOD, first_stop)
    return Outcome(slo, ticket_id, clock.cycle, Result.PENDING, None, passes)


def native_outcome(slo: str, ticket_id: str, status: ClockStatus, horizon: float) -> Outcome:
    """An SLO whose threshold is the SLA itself, on a clock the helpdesk computed."""
    if status.breached_at is not None and status.breached_at < horizon:
        return Outcome(
            slo, ticket_id, status.cycle, Result.BAD, status.breached_at, status.breached_at
        )
    if status.stopped_at is not None:
        return Outcome(slo, ticket_id, status.cycle, Result.GOOD, status.stopped_at)
    return Outcome(slo, ticket_id, status.cycle, Result.PENDING, None, status.deadline)


def csat_outcome(slo: str, ticket: Ticket, at: float) -> Outcome | None:
    """The first satisfaction rating of a ticket, if any was given by ``at``."""
    for event in ticket.events:
        ts = event.ts
        if ts > at:
            return None
        if event.type is EventType.CSAT and event.rating is not None:
            result = Result.GOOD if event.rating is Rating.GOOD else Result.BAD
            return Outcome(slo, ticket.id, 0, result, ts)
    return None


def error_budget_remaining(good: int, bad: int, objective: float) -> float:
    """``1 - (bad / (good + bad)) / (1 - objective)``; 1 when there are no events."""
    total = good + bad
    if total == 0:
        return 1.0
    return 1.0 - (bad / total) / (1.0 - objective)


def window_start(slo: SloConfig, at: float, timezone: str = "UTC") -> float:
    """Start of the SLO window containing ``at``.

    Rolling windows reach back their length; ``week`` starts on Monday 00:00
    and ``month`` on the 1st at 00:00, both in ``timezone``.
    """
    if slo.calendar_window is None:
        return at - slo.window_seconds
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(at, UTC).astimezone(zone)
    if slo.calendar_window == "week":
        day = local.date() - timedelta(days=local.weekday())
    else:
        day = local.date().replace(day=1)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.timestamp()


@dataclass
class TicketEvaluation:
    """Every clock and SLO outcome of one ticket as of one instant."""

    ticket: Ticket
    slas: dict[str, list[ClockStatus]] = field(default_factory=dict)
    slos: dict[str, list[Outcome]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SloSummary:
    good: int
    bad: int
    pending: int
    error_budget_remaining_ratio: float


class Evaluator:
    """Applies one config's calendars, SLAs and SLOs to tickets.

    Pure: it reads no clock and no source; the caller passes ``at`` (and the
    source's ``watermark``) as POSIX seconds.
    """

    def __init__(self, config: Config, calendars: Mapping[str, BusinessCalendar] | None = None):
        self.config = config
        self.calendars = dict(calendars) if calendars is not None else config.build_calendars()
        self.slas: dict[str, SlaConfig] = {str(k): v for k, v in config.slas.items()}
        self.sla_calendars: dict[str, BusinessCalendar] = {
            metric: self.calendars[config.calendar_name(sla)] for metric, sla in config.slas.items()
        }
        self.time_slos = [s for s in config.slos if s.kind is SloKind.TIME]
        self.csat_slos = [s for s in config.slos if s.kind is SloKind.CSAT]
        self.timezone = next(
            (cal.timezone for name, cal in config.calendars.items() if name != ALWAYS), "UTC"
        )
        self._plan: Plan | None = None

    def clocks(self, ticket: Ticket, metric: str, at: float) -> list[Clock]:
        sla = self.slas[metric]
        return list(
            clocks_for(
                ticket,
                metric,
                at,
                replies_count=sla.replies_count,
                pause_statuses=sla.pause_statuses,
                from_assignment=sla.start is SlaStart.ASSIGNED,
            )
        )

    def evaluate(
        self, ticket: Ticket, at: float, watermark: float | None = None
    ) -> TicketEvaluation:
        """Every clock and outcome of ``ticket`` as of ``at``, decided by the engine
        (:func:`exporter.engine.explain`), as ``evaluate`` shows them."""
        # imported here: the engine builds on this module
        from exporter.engine import Plan, explain

        if self._plan is None:
            self._plan = Plan(self.config, self)
        return explain(self._plan, ticket, at, watermark)

    def native_statuses(
        self, ticket: Ticket, metric: str, computed: list[Clock], at: float, watermark: float | None
    ) -> list[ClockStatus]:
        """The helpdesk's own clocks; elapsed business time still comes from our calendar."""
        calendar = self.sla_calendars[metric]
        elapsed = {c.cycle: elapsed_until(c, calendar, at) for c in computed}
        target = self.slas[metric].targets.get(ticket.priority)
        statuses = []
        for native in ticket.native:
            if native.metric != metric:
                continue
            status = native_status(
                native,
                at,
                watermark,
                elapsed.get(native.cycle, 0.0),
                target.seconds if target is not None else None,
            )
            if status is not None:
                statuses.append(status)
        return statuses

    def elapsed(self, clock: Clock, metric: str, until: float) -> float:
        return elapsed_until(clock, self.sla_calendars[metric], until)

    def summarize(
        self, evaluations: Iterable[TicketEvaluation], at: float
    ) -> dict[str, SloSummary]:
        """Good and bad events decided inside each SLO's current window, pending ones, budget."""
        starts = {slo.name: window_start(slo, at, self.timezone) for slo in self.config.slos}
        counts = {
            slo.name: {Result.GOOD: 0, Result.BAD: 0, Result.PENDING: 0}
            for slo in self.config.slos
            if slo.kind.counted_by_exporter
        }
        for evaluation in evaluations:
            for name, outcomes in evaluation.slos.items():
                for outcome in outcomes:
                    if outcome.result is Result.PENDING:
                        counts[name][Result.PENDING] += 1
                    elif (
                        outcome.decided_at is not None and starts[name] <= outcome.decided_at <= at
                    ):
                        counts[name][outcome.result] += 1
        summaries = {}
        for slo in self.config.slos:
            if slo.name not in counts:
                continue
            c = counts[slo.name]
            summaries[slo.name] = SloSummary(
                good=c[Result.GOOD],
                bad=c[Result.BAD],
                pending=c[Result.PENDING],
                error_budget_remaining_ratio=error_budget_remaining(
                    c[Result.GOOD], c[Result.BAD], float(slo.objective_ratio)
                ),
            )
        return summaries
