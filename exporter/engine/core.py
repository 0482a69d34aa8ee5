"""Deciding one ticket: clocks, SLA and SLO outcomes, stops, solves, ratings, pending instants.

Pure: no store, no source, no clock read.  The caller passes ``now`` (the
instant of the evaluation) and ``horizon`` (the instant up to which the data
is known complete: ``min(now, watermark)``); a threshold passing after the
horizon stays pending, with the instant it would turn bad.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from sys import intern

from exporter.calendar import BusinessCalendar
from exporter.config import Config, SlaConfig, SlaMode, SlaStart, SloKind
from exporter.engine.facts import CsatRow, SlaOutcomeRow, SlaStopRow, SloOutcomeRow, SolveRow
from exporter.labels import channel_label, status_label
from exporter.model import (
    ASSIGNED_TO_GROUP,
    CLOSED_STATUSES,
    PRIORITIES,
    Author,
    EventType,
    Priority,
    Ticket,
    TicketEvent,
)
from exporter.sla import (
    FIRST_RESPONSE,
    Clock,
    ClockState,
    breach_instant,
    clock_status,
    elapsed_until,
    first_response_clock,
)
from exporter.slo import (
    Evaluator,
    Outcome,
    Result,
    TicketEvaluation,
    csat_outcome,
    matches,
    native_outcome,
    threshold_seconds,
    time_outcome,
)

#: ``kind`` of a pending instant: an SLA breach or an SLO turning bad
SLA = "sla"
SLO = "slo"


class Plan:
    """A config's SLA/SLO plan, prepared once: thresholds per priority, native SLOs, calendars."""

    def __init__(self, config: Config, evaluator: Evaluator | None = None) -> None:
        self.config = config
        self.evaluator = evaluator if evaluator is not None else Evaluator(config)
        self.slas: dict[str, SlaConfig] = {str(name): sla for name, sla in config.slas.items()}
        self.time_slos = [s for s in config.slos if s.kind is SloKind.TIME]
        self.csat_slos = [s for s in config.slos if s.kind is SloKind.CSAT]
        #: the ``exporter.breakdown.channel`` allowlist (None: every known channel)
        self.channels = config.exporter.breakdown.get("channel")
        first_response = self.slas.get(FIRST_RESPONSE)
        self.reply_authors: tuple[Author, ...] = (
            first_response.replies_count if first_response is not None else (Author.AGENT,)
        )
        #: SLO -> priority -> threshold seconds (None: no SLA target to take a share of)
        self.thresholds_by_priority: dict[str, dict[Priority, float | None]] = {
            slo.name: {
                priority: threshold_seconds(
                    slo,
                    self.slas[slo.sla],
                    Ticket("", datetime.fromtimestamp(0, UTC), "new", priority),
                )
                for priority in PRIORITIES
            }
            for slo in self.time_slos
            if slo.sla is not None and slo.sla in self.slas
        }
        #: SLOs whose threshold is a native SLA itself: they count the helpdesk's verdicts
        self.native_slos = frozenset(
            slo.name
            for slo in self.time_slos
            if slo.sla in self.slas
            and self.slas[slo.sla].mode is SlaMode.NATIVE
            and slo.threshold_fraction == 1
        )

    def channel(self, raw: str | None) -> str:
        """The published ``channel`` label of a ticket's (or a stored) channel."""
        return channel_label(raw, self.channels)

    def calendar(self, metric: str) -> BusinessCalendar:
        return self.evaluator.sla_calendars[metric]


@dataclass(slots=True)
class Decision:
    """Everything :func:`decide` found out about one ticket.

    The facts (``slo_outcomes`` ... ``csat``) are decided and never change;
    the rest is the ticket's live state: ``deadlines`` (SLA metric, breach
    instant) of running clocks, ``thresholds`` (SLO, instant it passes) of
    running clocks not yet good, ``paused`` (SLA metric, ``paused`` or
    ``breached``), ``pending`` (instant, ``sla``/``slo``, name, cycle) of each
    undecided outcome that turns bad at that instant, and ``settle``: the
    ticket's latest event or decision.
    """

    ticket_id: str
    priority: str
    status: str
    is_open: bool
    unassigned: bool
    unanswered: bool
    created_at: float
    settle: float
    recheck_at: float | None
    slo_outcomes: list[SloOutcomeRow] = field(default_factory=list)
    sla_outcomes: list[SlaOutcomeRow] = field(default_factory=list)
    sla_stops: list[SlaStopRow] = field(default_factory=list)
    solves: list[SolveRow] = field(default_factory=list)
    csat: list[CsatRow] = field(default_factory=list)
    deadlines: tuple[tuple[str, float], ...] = ()
    thresholds: tuple[tuple[str, float], ...] = ()
    paused: tuple[tuple[str, str], ...] = ()
    pending: list[tuple[float, str, str, int]] = field(default_factory=list)
    #: SLO -> the outcome of each cycle (pending ones too), for ``evaluate``
    slos: dict[str, list[Outcome]] = field(default_factory=dict)

    @property
    def is_live(self) -> bool:
        """Still to be watched: open, with an undecided outcome, or with future events."""
        return self.is_open or bool(self.pending) or self.recheck_at is not None


def is_solve(event: TicketEvent) -> bool:
    """A ``solved`` event or a status change to a closed status."""
    return event.type is EventType.SOLVED or (
        event.type is EventType.STATUS and event.to in CLOSED_STATUSES
    )


def decide(plan: Plan, ticket: Ticket, now: float, horizon: float) -> Decision:
    """Decide what can be decided of ``ticket`` at ``now``, with data complete up to ``horizon``."""
    evaluator = plan.evaluator
    ticket_id = ticket.id
    priority = ticket.priority.value
    channel = channel_label(ticket.channel)
    is_open = not ticket.is_closed
    created_at = ticket.created_at.timestamp()
    settle = created_at
    last_event = ticket.events[-1].ts if ticket.events else created_at
    recheck_at = last_event if last_event > now else None
    settle = max(settle, min(last_event, now))
    assigned = ticket.assignee is not None
    slo_rows: list[SloOutcomeRow] = []
    slos: dict[str, list[Outcome]] = {}
    sla_rows: list[SlaOutcomeRow] = []
    stops: list[SlaStopRow] = []
    solves: list[SolveRow] = []
    ratings: list[CsatRow] = []
    solved = rated = False
    for event in ticket.events:
        kind = event.type
        if kind is EventType.AGENT_REPLY or kind is EventType.REQUESTER_REPLY:
            continue
        at = event.ts
        if at > now:
            break
        if kind is EventType.ASSIGNED:
            # a group alone does not make someone work on it: the ticket stays unassigned
            assigned = assigned or event.to != ASSIGNED_TO_GROUP
        elif not solved and is_solve(event):
            solves.append(SolveRow(ticket_id, priority, channel, at))
            solved = True
        elif not rated and kind is EventType.CSAT and event.rating is not None:
            ratings.append(CsatRow(ticket_id, event.rating.value, at))
            rated = True

    def sla_outcome(metric: str, outcome: Outcome) -> None:
        nonlocal settle
        assert outcome.decided_at is not None
        met = outcome.result is Result.GOOD
        sla_rows.append(
            SlaOutcomeRow(
                ticket_id,
                metric,
                outcome.cycle,
                priority,
                "met" if met else "breached",
                outcome.decided_at,
            )
        )
        settle = max(settle, outcome.decided_at)

    def stop(metric: str, clock: Clock, calendar: BusinessCalendar) -> None:
        first_stop = clock.first_stop
        if first_stop is not None:
            elapsed = elapsed_until(clock, calendar, first_stop)
            stops.append(SlaStopRow(ticket_id, metric, clock.cycle, priority, elapsed, first_stop))

    deadlines: list[tuple[str, float]] = []
    thresholds: list[tuple[str, float]] = []
    paused: list[tuple[str, str]] = []
    native_running: list[tuple[str, float]] = []
    pending: list[tuple[float, str, str, int]] = []
    clocks: dict[str, list[Clock]] = {}
    # (metric, cycle, threshold) -> outcome: an SLO at 100% asks the SLA's own question
    outcomes: dict[tuple[str, int, float], Outcome] = {}
    for metric, sla in plan.slas.items():
        cycles = evaluator.clocks(ticket, metric, now)
        clocks[metric] = cycles
        target = sla.targets.get(ticket.priority)
        if target is None:
            continue
        calendar = evaluator.sla_calendars[metric]
        if sla.mode is SlaMode.NATIVE:
            statuses = evaluator.native_statuses(ticket, metric, cycles, now, horizon)
            for status in statuses:
                outcome = native_outcome(metric, ticket_id, status, horizon)
                # filed under the configured target: an SLO at 100% counts this verdict
                outcomes[(metric, status.cycle, target.seconds)] = outcome
                if outcome.result is not Result.PENDING:
                    sla_outcome(metric, outcome)
            for clock in cycles:  # elapsed business time still comes from our clocks
                stop(metric, clock, calendar)
            for status in statuses:
                if not is_open or status.stopped_at is not None:
                    continue
                if status.state is ClockState.PAUSED:
                    paused.append((metric, "paused"))
                    continue
                due = status.deadline if status.deadline is not None else status.breached_at
                if due is not None:
                    deadlines.append((metric, due))
                    # an SLO at 100% of this SLA waits past its threshold from then on
                    native_running.append((metric, due))
            continue
        for clock in cycles:
            outcome = time_outcome(metric, ticket_id, clock, calendar, target.seconds, horizon)
            outcomes[(metric, clock.cycle, target.seconds)] = outcome
            if outcome.result is Result.PENDING:
                if outcome.threshold_at is not None:
                    pending.append((outcome.threshold_at, SLA, metric, clock.cycle))
            else:
                sla_outcome(metric, outcome)
            stop(metric, clock, calendar)
            if not is_open or clock.stopped:
                continue
            breach = (
                outcome.threshold_at
                if outcome.result is not Result.GOOD
                else breach_instant(clock, calendar, target.seconds)
            )
            if clock.paused:
                late = breach is not None and breach < now
                paused.append((metric, "breached" if late else "paused"))
            elif breach is not None:
                deadlines.append((metric, breach))
    for slo in plan.time_slos:
        assert slo.sla is not None
        threshold = plan.thresholds_by_priority[slo.name].get(ticket.priority)
        if threshold is None or slo.sla not in clocks or not matches(slo, ticket):
            continue
        cycle_outcomes = slos[slo.name] = []
        if slo.name in plan.native_slos:
            # the helpdesk's verdicts; none where it has no clock
            for (metric, cycle, target_seconds), outcome in outcomes.items():
                if metric != slo.sla or target_seconds != threshold:
                    continue
                cycle_outcomes.append(_named(outcome, slo.name))
                if outcome.result is Result.PENDING:
                    if outcome.threshold_at is not None:
                        pending.append((outcome.threshold_at, SLO, slo.name, cycle))
                elif outcome.decided_at is not None:
                    slo_rows.append(
                        SloOutcomeRow(
                            ticket_id, slo.name, cycle, outcome.result.value, outcome.decided_at
                        )
                    )
                    settle = max(settle, outcome.decided_at)
            thresholds.extend(
                (slo.name, due) for metric, due in native_running if metric == slo.sla
            )
            continue
        calendar = evaluator.sla_calendars[slo.sla]
        for clock in clocks[slo.sla]:
            outcome = outcomes.get((slo.sla, clock.cycle, threshold)) or time_outcome(
                slo.name, ticket_id, clock, calendar, threshold, horizon
            )
            cycle_outcomes.append(_named(outcome, slo.name))
            if outcome.result is Result.PENDING:
                if outcome.threshold_at is not None:
                    pending.append((outcome.threshold_at, SLO, slo.name, clock.cycle))
            else:
                assert outcome.decided_at is not None
                slo_rows.append(
                    SloOutcomeRow(
                        ticket_id, slo.name, clock.cycle, outcome.result.value, outcome.decided_at
                    )
                )
                settle = max(settle, outcome.decided_at)
            if (
                is_open
                and not clock.stopped
                and not clock.paused
                and outcome.result is not Result.GOOD
                and outcome.threshold_at is not None
            ):
                thresholds.append((slo.name, outcome.threshold_at))
    for slo in plan.csat_slos:
        if not matches(slo, ticket):
            continue
        rating = csat_outcome(slo.name, ticket, now)
        if rating is not None:
            slos[slo.name] = [rating]
        if rating is not None and rating.decided_at is not None:
            slo_rows.append(
                SloOutcomeRow(ticket_id, slo.name, 0, rating.result.value, rating.decided_at)
            )
            settle = max(settle, rating.decided_at)

    if is_open:
        first = clocks.get(FIRST_RESPONSE)
        if first is None or plan.slas[FIRST_RESPONSE].start is not SlaStart.CREATED:
            # unanswered since creation, whenever the SLA's clock starts
            reply_clock = first_response_clock(ticket, now, plan.reply_authors)
            first = [reply_clock] if reply_clock is not None else []
        unanswered = bool(first) and not first[0].stopped
    else:
        unanswered = False
    return Decision(
        ticket_id,
        priority,
        intern(status_label(ticket.status)),
        is_open,
        is_open and not assigned,
        unanswered,
        created_at,
        settle,
        recheck_at,
        slo_rows,
        sla_rows,
        stops,
        solves,
        ratings,
        tuple(deadlines),
        tuple(thresholds),
        tuple(paused),
        pending,
        slos,
    )


def _named(outcome: Outcome, slo: str) -> Outcome:
    """``outcome`` filed under ``slo`` (an SLO at 100% shares its SLA's outcome)."""
    return outcome if outcome.slo == slo else replace(outcome, slo=slo)


def explain(plan: Plan, ticket: Ticket, at: float, watermark: float | None) -> TicketEvaluation:
    """What ``evaluate`` shows of a ticket: each SLA clock's state and each SLO's outcomes.

    The outcomes are :func:`decide`'s, with the horizon ``min(at, watermark)``;
    the SLA states add the clocks' deadlines and elapsed business time as of ``at``.
    """
    horizon = at if watermark is None else min(at, watermark)
    decision = decide(plan, ticket, at, horizon)
    evaluator = plan.evaluator
    result = TicketEvaluation(ticket, slos=decision.slos)
    for metric, sla in plan.slas.items():
        target = sla.targets.get(ticket.priority)
        if target is None:
            continue
        cycles = evaluator.clocks(ticket, metric, at)
        if sla.mode is SlaMode.NATIVE:
            result.slas[metric] = evaluator.native_statuses(ticket, metric, cycles, at, watermark)
            continue
        calendar = evaluator.sla_calendars[metric]
        result.slas[metric] = [
            clock_status(c, calendar, target.seconds, at, watermark) for c in cycles
        ]
    return result
