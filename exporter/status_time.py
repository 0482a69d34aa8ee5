"""Where a ticket's time goes: business seconds spent in each group of statuses.

A ticket's life, from creation until it is solved (or until a given instant),
is cut at every status change into stretches of one *status group*:

``open``
    new or open, waiting on the support team (any status that is not one of
    the others counts here, as the resolution clock does);
``pending``
    waiting on the customer;
``on_hold``
    on hold or escalated, waiting on a third party;
``reopened``
    open again after a solve (the work that a premature solve cost).

Time while a ticket is solved or closed belongs to no group.  Each stretch is
measured in business seconds of one calendar (the resolution SLA's, normally),
so the groups of a solved ticket add up to its business time to resolution,
pauses included.  The exporter publishes the sums as
``helpdesk_ticket_status_business_seconds_total{status,priority}`` and
``report`` splits resolution time into working (``open`` + ``reopened``),
waiting on the customer and on hold from them.

The calendar (:func:`status_calendar`) is the resolution SLA's; without a
resolution SLA, the first SLA's; without any SLA, 24x7.

For the counters, :func:`accrue` keeps per ticket what it has published
(:class:`StatusAccrual`) and never takes any of it back, so the counters only
go up whatever the helpdesk does to a ticket's history.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from exporter.calendar import BusinessCalendar
from exporter.config import ALWAYS, Config
from exporter.model import CLOSED_STATUSES, EventType, Ticket

OPEN = "open"
PENDING = "pending"
ON_HOLD = "on_hold"
REOPENED = "reopened"
#: every status group, in the order reports stack them
STATUS_GROUPS: tuple[str, ...] = (OPEN, PENDING, ON_HOLD, REOPENED)

#: position of each group in :attr:`StatusAccrual.seconds`
_INDEX = {group: index for index, group in enumerate(STATUS_GROUPS)}
_ZEROS = (0.0,) * len(STATUS_GROUPS)

#: normalized statuses (after ``source.status_map``) that are not "open"
_GROUP_OF: dict[str, str] = {
    "pending": PENDING,
    "on_hold": ON_HOLD,
    "hold": ON_HOLD,
    "escalated": ON_HOLD,
}


def status_stretches(ticket: Ticket, until: float) -> Iterator[tuple[str, float, float]]:
    """``(group, start, end)`` for each stretch of the ticket's life before ``until``.

    Stretches are in wall-clock POSIX seconds, in order, without overlap; an
    unsolved ticket's last stretch ends at ``until``.  A ticket whose status is
    closed without an event that closes it (a helpdesk that reports a deleted
    ticket as closed) ends at its last event.
    """
    start = ticket.created_at.timestamp()
    if ticket.is_closed:
        until = min(until, max(ticket.events[-1].ts if ticket.events else start, start))
    if start >= until:
        return
    group: str | None = OPEN
    since = start
    solved_once = False
    status, solved, reopened = EventType.STATUS, EventType.SOLVED, EventType.REOPENED
    for event in ticket.events:
        kind = event.type
        now: str | None
        if kind is status:
            to = event.to
            if to is None:
                continue
            if to in CLOSED_STATUSES:
                now = None
            else:
                now = _GROUP_OF.get(to, REOPENED if solved_once else OPEN)
        elif kind is solved:
            now = None
        elif kind is reopened:
            now = REOPENED
        else:
            continue
        ts = event.ts
        if ts < start:
            ts = start
        if ts >= until:
            break  # events are in time order: the rest is later still
        if now is None:
            solved_once = True
        if now == group:
            continue
        if group is not None and ts > since:
            yield group, since, ts
        group, since = now, ts
    if group is not None and until > since:
        yield group, since, until


def status_calendar(config: Config, calendars: Mapping[str, BusinessCalendar]) -> BusinessCalendar:
    """The calendar status time is counted on: the resolution SLA's, else the first SLA's
    (in the order of the file), else 24x7."""
    sla = config.slas.get("resolution")
    if sla is None:
        sla = next(iter(config.slas.values()), None)
    if sla is None:
        return calendars.get(ALWAYS) or BusinessCalendar.always(ALWAYS)
    return calendars[config.calendar_name(sla)]


def business_seconds_by_status(
    ticket: Ticket, calendar: BusinessCalendar, until: float
) -> dict[str, float]:
    """Business seconds of ``calendar`` the ticket spent in each status group before ``until``.

    Every group of :data:`STATUS_GROUPS` is a key (0.0 when the ticket never
    was in it).
    """
    totals = dict.fromkeys(STATUS_GROUPS, 0.0)
    for group, start, end in status_stretches(ticket, until):
        totals[group] += calendar.elapsed_ts(start, end)
    return totals


# --- counters: what a ticket has published ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusAccrual:
    """What one ticket has added to the status counters, as of the horizon ``since``.

    ``seconds`` (one per :data:`STATUS_GROUPS`) is everything it published up to
    ``since``; from then on the group ``running`` (None: solved, or not created
    yet) keeps accruing, which the poller adds for every such ticket at once.
    ``recheck_at``: a status change known to come after ``since`` (data past
    the watermark); the ticket is accrued again once the horizon passes it.
    """

    priority: str
    seconds: tuple[float, ...]
    running: str | None
    since: float
    recheck_at: float | None = None

    def published(self, calendar: BusinessCalendar, horizon: float) -> tuple[float, ...]:
        """What the ticket has published once the counters accrued up to ``horizon``."""
        if self.running is None:
            return self.seconds
        seconds = list(self.seconds)
        seconds[_INDEX[self.running]] += calendar.elapsed_ts(self.since, horizon)
        return tuple(seconds)


def _next_change(ticket: Ticket, at: float) -> float | None:
    """The first instant at or after ``at`` where the ticket's status group may change."""
    created = ticket.created_at.timestamp()
    if created >= at:
        return created
    if not ticket.events or ticket.events[-1].ts < at:  # events are in time order
        return None
    for event in ticket.events:
        if event.ts >= at and (
            event.type is EventType.SOLVED
            or event.type is EventType.REOPENED
            or (event.type is EventType.STATUS and event.to is not None)
        ):
            return event.ts
    return None


def accrue(
    ticket: Ticket,
    calendar: BusinessCalendar,
    epoch: float,
    horizon: float,
    previous: StatusAccrual | None,
    previous_horizon: float,
) -> tuple[StatusAccrual | None, dict[str, float]]:
    """The ticket's new accrual at ``horizon`` and what it adds to each group's counter.

    Business seconds count from ``epoch`` (counters start at the store's epoch)
    up to ``horizon`` (data known complete).  ``previous`` is what the ticket
    published until the counters last accrued, up to ``previous_horizon``.
    Each group's new total is the larger of what was published and what the
    ticket's history now says, so nothing published is ever taken back: a
    status change back-dated before ``previous_horizon`` can count its slice
    in two groups (the counters go up by a little too much, never down), a
    deleted ticket keeps what it published.  The additions go to the
    ticket's current ``priority``; what it published under an earlier one
    stays there.  None when the ticket has nothing to keep (entirely before
    the epoch and done).
    """
    truth = [0.0] * len(STATUS_GROUPS)
    running: str | None = None
    elapsed = calendar.elapsed_ts
    for group, start, end in status_stretches(ticket, horizon):
        if end == horizon:
            running = group
        if start < epoch:
            start = epoch
        if end > start:
            truth[_INDEX[group]] += elapsed(start, end)
    if previous is not None:
        published = previous.published(calendar, previous_horizon)
        seconds = tuple(map(max, published, truth))
    else:
        published = _ZEROS
        seconds = tuple(truth)
    added = {
        STATUS_GROUPS[i]: now - before
        for i, (now, before) in enumerate(zip(seconds, published, strict=True))
        if now > before
    }
    recheck_at = _next_change(ticket, horizon)
    if previous is None and running is None and recheck_at is None and not added:
        return None, added
    return (
        StatusAccrual(ticket.priority.value, seconds, running, horizon, recheck_at),
        added,
    )
