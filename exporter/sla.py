"""SLA clocks: when each clock of a ticket runs, pauses and stops, and its state.

A clock is first reduced to the business-agnostic facts of a ticket's history
(:class:`Clock`: the intervals in which it ran, the instants it stopped), then
read against a calendar and a target (:func:`clock_status`).  Keeping the two
apart lets SLOs ask the same clock a different question ("did it stop within
half of the target?") without walking the history again.

Rules (see docs/design.md, "Clocks"):

* ``first_response`` starts at creation and stops at the first public,
  non-automated agent reply whose author the SLA counts (``replies_count``),
  or when the ticket is solved without such a reply.
* ``next_response`` has one cycle per requester reply that follows a counted
  agent reply; a cycle stops at the next counted agent reply or at a solve.
* ``resolution`` starts at creation, pauses while the status is one of the
  SLA's ``pause_statuses``, stops when solved; a reopen resumes it.
* With ``start: assigned`` (``from_assignment``) a clock starts when the ticket
  is taken in hand (:func:`taken_at`): its first assignment to an agent or a
  group, or an earlier counted agent reply (an implicit assignment) or solve.
  A ticket not taken yet has no clock.  ``next_response`` is unchanged: its
  cycles follow a counted agent reply, which has already taken the ticket.

All instants here are POSIX seconds (floats); events after ``at`` are ignored.
A clock that stops exactly at its deadline has met it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from exporter.calendar import BusinessCalendar
from exporter.model import Author, EventType, NativeClock, Ticket, TicketEvent

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"
SLA_METRICS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)

_SOLVED_STATUSES = frozenset({"solved", "closed"})


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


@dataclass(frozen=True, slots=True)
class Clock:
    """When one clock cycle ran, before any calendar or target is applied.

    ``segments`` are the running intervals in time order; the last one's end
    is ``None`` while the clock runs at ``at``.  ``stops`` are the instants it
    stopped (a resolution clock stops again after a reopen); the first stop
    decides SLO outcomes.  ``stopped`` and ``paused`` describe it at ``at``.
    """

    metric: str
    cycle: int
    started_at: float
    segments: tuple[tuple[float, float | None], ...]
    stops: tuple[float, ...]
    stopped: bool
    paused: bool

    @property
    def first_stop(self) -> float | None:
        return self.stops[0] if self.stops else None

    @property
    def last_stop(self) -> float | None:
        return self.stops[-1] if self.stops else None


@dataclass(frozen=True, slots=True)
class ClockStatus:
    """One clock read against its calendar and target, as of ``at``."""

    metric: str
    cycle: int
    state: ClockState
    target_seconds: float
    started_at: float
    deadline: float | None
    stopped_at: float | None
    breached_at: float | None
    elapsed_business_seconds: float


def _counts(event: TicketEvent, replies_count: Collection[Author]) -> bool:
    """A public, human-meaningful agent reply by an author the SLA counts."""
    return (
        event.type is EventType.AGENT_REPLY
        and event.public
        and not event.automated
        and event.author in replies_count
    )


def _is_solve(event: TicketEvent) -> bool:
    return event.type is EventType.SOLVED or (
        event.type is EventType.STATUS and event.to in _SOLVED_STATUSES
    )


def _is_reopen(event: TicketEvent, solved: bool) -> bool:
    """A solved ticket becoming active again (a ``reopened`` event or a status change)."""
    if not solved:
        return False
    return event.type is EventType.REOPENED or (
        event.type is EventType.STATUS and event.to not in _SOLVED_STATUSES
    )


def _events_until(ticket: Ticket, at: float) -> Iterable[tuple[float, TicketEvent]]:
    for event in ticket.events:
        ts = event.ts
        if ts > at:
            break
        yield ts, event


def taken_at(ticket: Ticket, at: float, replies_count: Collection[Author]) -> float | None:
    """When the ticket was taken in hand, as of ``at``; ``None`` while it waits in no one's queue.

    That is the first ``assigned`` event (to an agent or a group), unless a
    counted agent reply or a solve came first: an agent who answers an
    unassigned ticket has taken it, and a solved ticket waits on no one.
    """
    created = ticket.created_at.timestamp()
    if created > at:
        return None
    for ts, event in _events_until(ticket, at):
        if event.type is EventType.ASSIGNED or _counts(event, replies_count) or _is_solve(event):
            return max(ts, created)
    return None


def _clock_start(
    ticket: Ticket, at: float, replies_count: Collection[Author], from_assignment: bool
) -> float | None:
    if from_assignment:
        return taken_at(ticket, at, replies_count)
    created = ticket.created_at.timestamp()
    return None if created > at else created


def first_response_clock(
    ticket: Ticket, at: float, replies_count: Collection[Author], from_assignment: bool = False
) -> Clock | None:
    start = _clock_start(ticket, at, replies_count, from_assignment)
    if start is None:
        return None
    for ts, event in _events_until(ticket, at):
        if _counts(event, replies_count) or _is_solve(event):
            stop = max(ts, start)
            return Clock(FIRST_RESPONSE, 0, start, ((start, stop),), (stop,), True, False)
    return Clock(FIRST_RESPONSE, 0, start, ((start, None),), (), False, False)


def next_response_clocks(
    ticket: Ticket, at: float, replies_count: Collection[Author]
) -> list[Clock]:
    clocks: list[Clock] = []
    agent_replied = False
    open_since: float | None = None
    for ts, event in _events_until(ticket, at):
        if event.type is EventType.REQUESTER_REPLY:
            if agent_replied and open_since is None:
                open_since = ts
            agent_replied = False
        elif _counts(event, replies_count) or _is_solve(event):
            if open_since is not None:
                clocks.append(
                    Clock(
                        NEXT_RESPONSE,
                        len(clocks),
                        open_since,
                        ((open_since, ts),),
                        (ts,),
                        True,
                        False,
                    )
                )
                open_since = None
            if _counts(event, replies_count):
                agent_replied = True
    if open_since is not None:
        clocks.append(
            Clock(NEXT_RESPONSE, len(clocks), open_since, ((open_since, None),), (), False, False)
        )
    return clocks


def resolution_clock(
    ticket: Ticket, at: float, pause_statuses: Collection[str], from_assignment: bool = False
) -> Clock | None:
    start = ticket.created_at.timestamp()
    if start > at:
        return None
    if from_assignment:
        taken = taken_at(ticket, at, (Author.AGENT,))
        if taken is None:
            return None
        clock = resolution_clock(ticket, at, pause_statuses)
        assert clock is not None
        return _from(clock, taken)
    segments: list[tuple[float, float | None]] = []
    stops: list[float] = []
    running_since: float | None = start
    solved = False
    paused = False
    for ts, event in _events_until(ticket, at):
        ts = max(ts, start)
        if _is_solve(event):
            if not solved:
                if running_since is not None:
                    segments.append((running_since, ts))
                running_since = None
                stops.append(ts)
                solved = True
                paused = False
            continue
        if _is_reopen(event, solved):
            solved = False
            status = event.to if event.type is EventType.STATUS else "open"
            paused = status in pause_statuses
            running_since = None if paused else ts
            continue
        if solved:
            continue
        if event.type is EventType.REOPENED:
            now_paused = False  # a reopen of an unsolved ticket just makes it active
        elif event.type is EventType.STATUS:
            now_paused = event.to in pause_statuses
        else:
            continue
        if now_paused and not paused:
            if running_since is not None:
                segments.append((running_since, ts))
            running_since = None
        elif paused and not now_paused:
            running_since = ts
        paused = now_paused
    if running_since is not None:
        segments.append((running_since, None))
    return Clock(RESOLUTION, 0, start, tuple(segments), tuple(stops), solved, paused)


def _from(clock: Clock, start: float) -> Clock:
    """``clock`` as if it had started at ``start``: the time it ran before is dropped.

    The pauses before ``start`` still count: a ticket put on hold before it was
    assigned starts paused.
    """
    segments = tuple(
        (max(begin, start), end) for begin, end in clock.segments if end is None or end >= start
    )
    return Clock(
        clock.metric, clock.cycle, start, segments, clock.stops, clock.stopped, clock.paused
    )


def elapsed_until(clock: Clock, calendar: BusinessCalendar, until: float) -> float:
    """Business seconds the clock ran before ``until`` (open segments run to ``until``)."""
    total = 0.0
    for start, end in clock.segments:
        if start >= until:
            break
        stop = until if end is None else min(end, until)
        total += calendar.elapsed_ts(start, stop)
    return total


def instant_reaching(
    clock: Clock, calendar: BusinessCalendar, seconds: float, project: bool = False
) -> float | None:
    """The earliest instant at which the clock has run ``seconds`` business seconds.

    This is the deadline (or an SLO's threshold instant).  ``None`` when the
    clock stopped or paused before getting there, unless ``project`` is set:
    then a stopped clock reports the instant it would have reached had its
    last run gone on (the deadline it met).  An open last segment always gets
    there eventually.
    """
    spent = 0.0
    for start, end in clock.segments:
        if end is None:
            return calendar.add_ts(start, seconds - spent)
        run = calendar.elapsed_ts(start, end)
        if spent + run >= seconds:
            return calendar.add_ts(start, seconds - spent)
        spent += run
    if project and clock.stopped and clock.segments:
        last_start, last_end = clock.segments[-1]
        assert last_end is not None
        return calendar.add_ts(
            last_start, seconds - spent + calendar.elapsed_ts(last_start, last_end)
        )
    return None


def breach_instant(clock: Clock, calendar: BusinessCalendar, seconds: float) -> float | None:
    """The instant after which the clock is past ``seconds``, or ``None`` if it never is.

    Usually the deadline itself.  A clock that stops exactly at its deadline
    has met it, and one that pauses exactly there is not late yet: either
    breaches only when it runs again (a reopen or a resume).
    """
    spent = 0.0
    segments = clock.segments
    for index, (start, end) in enumerate(segments):
        if end is None:
            return calendar.add_ts(start, seconds - spent)
        run = calendar.elapsed_ts(start, end)
        if spent + run >= seconds:
            reach = calendar.add_ts(start, seconds - spent)
            if reach < end:
                return reach
            return segments[index + 1][0] if index + 1 < len(segments) else None
        spent += run
    return None


def clock_status(
    clock: Clock,
    calendar: BusinessCalendar,
    target_seconds: float,
    at: float,
    watermark: float | None = None,
) -> ClockStatus:
    """Read a clock against its target as of ``at``.

    A clock is breached once its deadline has passed and the data is known
    complete past it (``watermark``, default ``at``): a reply that was not
    fetched yet must not count as a breach.  It stays breached when it later
    stops or pauses.  The deadline of a paused clock is unknown (``None``).
    """
    horizon = at if watermark is None else min(at, watermark)
    elapsed = elapsed_until(clock, calendar, at)
    deadline = instant_reaching(clock, calendar, target_seconds, project=True)
    breach = breach_instant(clock, calendar, target_seconds)
    breached = breach is not None and breach < horizon
    if breached:
        state = ClockState.BREACHED
    elif clock.stopped:
        state = ClockState.MET
    elif clock.paused:
        state = ClockState.PAUSED
        deadline = None
    else:
        state = ClockState.RUNNING
    return ClockStatus(
        metric=clock.metric,
        cycle=clock.cycle,
        state=state,
        target_seconds=target_seconds,
        started_at=clock.started_at,
        deadline=deadline,
        stopped_at=clock.last_stop if clock.stopped else None,
        breached_at=breach if breached else None,
        elapsed_business_seconds=elapsed,
    )


def clocks_for(
    ticket: Ticket,
    metric: str,
    at: float,
    replies_count: Collection[Author] = (Author.AGENT,),
    pause_statuses: Collection[str] = ("pending", "on_hold"),
    from_assignment: bool = False,
) -> Sequence[Clock]:
    """Every cycle of one SLA metric for a ticket, as of ``at``.

    ``from_assignment`` (``start: assigned``) starts the clock when the ticket
    is taken in hand (:func:`taken_at`) instead of at its creation.
    """
    if metric == FIRST_RESPONSE:
        clock = first_response_clock(ticket, at, replies_count, from_assignment)
        return [clock] if clock is not None else []
    if metric == NEXT_RESPONSE:
        # its cycles begin after a counted agent reply, which has taken the ticket already
        return next_response_clocks(ticket, at, replies_count)
    if metric == RESOLUTION:
        clock = resolution_clock(ticket, at, pause_statuses, from_assignment)
        return [clock] if clock is not None else []
    raise ValueError(f"unknown SLA metric {metric!r}")


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def native_status(
    clock: NativeClock,
    at: float,
    watermark: float | None = None,
    elapsed_business_seconds: float = 0.0,
    fallback_target: float | None = None,
) -> ClockStatus | None:
    """Read a clock the helpdesk computed itself (``mode: native``) as of ``at``.

    The helpdesk's deadline and breach are taken as they are; what happened
    after ``at`` is ignored.  ``None`` when the clock had not started by ``at``.
    """
    horizon = at if watermark is None else min(at, watermark)

    started = _ts(clock.started_at)
    if started is not None and started > at:
        return None
    deadline = _ts(clock.deadline)
    stopped = _ts(clock.stopped_at)
    if stopped is not None and stopped > at:
        stopped = None
    breached_at = _ts(clock.breached_at)
    if breached_at is not None and breached_at > horizon:
        breached_at = None
    missed = deadline is not None and deadline < horizon and (stopped is None or stopped > deadline)
    if breached_at is None and missed and not clock.paused:
        breached_at = deadline
    if breached_at is not None:
        state = ClockState.BREACHED
    elif stopped is not None:
        state = ClockState.MET
    elif clock.paused:
        state = ClockState.PAUSED
    else:
        state = ClockState.RUNNING
    target = clock.target_seconds if clock.target_seconds is not None else fallback_target
    return ClockStatus(
        metric=clock.metric,
        cycle=clock.cycle,
        state=state,
        target_seconds=target if target is not None else 0.0,
        started_at=started if started is not None else at,
        deadline=deadline,
        stopped_at=stopped,
        breached_at=breached_at,
        elapsed_business_seconds=elapsed_business_seconds,
    )
