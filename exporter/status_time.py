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
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter.calendar import BusinessCalendar
from exporter.model import CLOSED_STATUSES, EventType, Ticket

OPEN = "open"
PENDING = "pending"
ON_HOLD = "on_hold"
REOPENED = "reopened"
#: every status group, in the order reports stack them
STATUS_GROUPS: tuple[str, ...] = (OPEN, PENDING, ON_HOLD, REOPENED)

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
    unsolved ticket's last stretch ends at ``until``.
    """
    start = ticket.created_at.timestamp()
    if start >= until:
        return
    group: str | None = OPEN
    since = start
    solved_once = False
    for event in ticket.events:
        ts = max(event.ts, start)
        if ts >= until:
            break
        if event.type is EventType.SOLVED or (
            event.type is EventType.STATUS and event.to in CLOSED_STATUSES
        ):
            now: str | None = None
            solved_once = True
        elif event.type is EventType.STATUS and event.to is not None:
            now = _GROUP_OF.get(event.to, REOPENED if solved_once else OPEN)
        elif event.type is EventType.REOPENED:
            now = REOPENED
        else:
            continue
        if group is None and now is None:
            continue
        if now == group:
            continue
        if group is not None and ts > since:
            yield group, since, ts
        group, since = now, ts
    if group is not None and until > since:
        yield group, since, until


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
