"""The normalized ticket every source maps its API into, and its JSON form.

A :class:`Ticket` is what the SLA clocks read: when it was created, how it is
classified (priority, channel, group, brand, type, tags) and a time-ordered
list of :class:`TicketEvent` (replies, status changes, solves, ratings).
All instants are aware UTC datetimes.  The JSON form (one object per line in a
``file`` source, and what ``evaluate`` reads) is parsed by
:func:`ticket_from_json`; every problem names the field it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

_E = TypeVar("_E", bound=StrEnum)


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITIES: tuple[Priority, ...] = tuple(Priority)


class EventType(StrEnum):
    STATUS = "status"
    AGENT_REPLY = "agent_reply"
    REQUESTER_REPLY = "requester_reply"
    ASSIGNED = "assigned"
    SOLVED = "solved"
    REOPENED = "reopened"
    CSAT = "csat"


class Author(StrEnum):
    """Who wrote an agent reply: a person or an AI agent (a bot that answers)."""

    AGENT = "agent"
    AI_AGENT = "ai_agent"


class Rating(StrEnum):
    GOOD = "good"
    BAD = "bad"


#: ``to`` of an ``assigned`` event that gave the ticket to a group (no agent yet).
ASSIGNED_TO_GROUP = "group"
#: ``to`` of an ``assigned`` event that gave the ticket to an agent (``None`` means the same).
ASSIGNED_TO_AGENT = "agent"

#: Statuses after which a ticket no longer waits on the support team.
CLOSED_STATUSES = frozenset({"solved", "closed"})


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One thing that happened to a ticket.

    ``public``/``automated``/``author`` matter for agent replies only; ``to``
    for status changes (the status) and assignments (:data:`ASSIGNED_TO_GROUP`
    when only a group was assigned; ``None`` or ``agent`` for an agent);
    ``rating`` for satisfaction ratings.
    """

    at: datetime
    type: EventType
    public: bool = True
    automated: bool = False
    author: Author = Author.AGENT
    to: str | None = None
    rating: Rating | None = None
    #: ``at`` as POSIX seconds (derived, so it takes no part in equality or JSON)
    ts: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", self.at.timestamp())


@dataclass(frozen=True, slots=True)
class NativeClock:
    """An SLA clock as the helpdesk itself computed it (``mode: native``).

    ``metric`` is one of ``first_response``, ``next_response``, ``resolution``;
    ``deadline`` is the helpdesk's breach time, ``stopped_at`` when it was
    fulfilled, ``breached_at`` when the helpdesk recorded a breach.
    """

    metric: str
    cycle: int = 0
    started_at: datetime | None = None
    target_seconds: float | None = None
    deadline: datetime | None = None
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    created_at: datetime
    status: str
    priority: Priority
    channel: str | None = None
    group: str | None = None
    brand: str | None = None
    type: str | None = None
    tags: tuple[str, ...] = ()
    events: tuple[TicketEvent, ...] = field(default=())
    assignee: str | None = None
    native: tuple[NativeClock, ...] = ()

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


class TicketFormatError(ValueError):
    """A ticket record that does not have the normalized shape."""


class InstantRangeError(TicketFormatError):
    """A well-formed time outside the years a ticket can have (:data:`EARLIEST`..:data:`LATEST`)."""


#: The earliest and (excluded) latest instant a ticket's times may have.  Anything
#: else is a placeholder or a typo (year 0001, 9999), and would make every business
#: calendar lay out centuries of hours to measure it.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def parse_instant(value: Any, where: str) -> datetime:
    """Parse an ISO 8601 instant with an offset (or ``Z``) into aware UTC.

    Raises :class:`InstantRangeError` for a time before :data:`EARLIEST` or
    from :data:`LATEST` on.
    """
    if not isinstance(value, str):
        raise TicketFormatError(f"{where}: expected an ISO 8601 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TicketFormatError(f"{where}: not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise TicketFormatError(
            f"{where}: time {value!r} has no offset; write it in UTC with a trailing Z"
        )
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-02:00 has no UTC equivalent
        parsed = LATEST
    if not EARLIEST <= parsed < LATEST:
        raise InstantRangeError(
            f"{where}: time {value!r} is outside the years {EARLIEST.year} to {LATEST.year - 1}"
        )
    return parsed


def format_instant(value: datetime | float) -> str:
    """ISO 8601 UTC with ``Z``, seconds precision unless there are microseconds.

    ``value`` is an aware datetime or POSIX seconds; this is the one place
    that writes an instant as text (evaluate's JSON, log lines, messages).
    """
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    if value.tzinfo is UTC and not value.microsecond:
        return value.isoformat()[:-6] + "Z"  # drops "+00:00"
    value = value.astimezone(UTC)
    timespec = "microseconds" if value.microsecond else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def _optional_str(record: Mapping[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TicketFormatError(f"{where}.{key}: expected a string or null, got {value!r}")
    return str(value)


def _bool(record: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = record.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise TicketFormatError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _choice(enum: type[_E], value: Any, where: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise TicketFormatError(f"{where}: {value!r} is not one of {allowed}") from None


_EVENT_TYPES = {member.value: member for member in EventType}
_ASSIGNED_TO = (None, ASSIGNED_TO_AGENT, ASSIGNED_TO_GROUP)
_AUTHORS = {member.value: member for member in Author}
_RATINGS = {member.value: member for member in Rating}


def _fast_instant(value: Any) -> datetime | None:
    """The common ``...Z`` spelling, parsed without building messages; None otherwise."""
    if type(value) is not str or not value.endswith("Z"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is UTC and EARLIEST <= parsed < LATEST else None


def _fast_event(record: Any) -> TicketEvent | None:
    """A well-formed event, read cheaply; None sends it through the checked path.

    Accepts exactly what :func:`_checked_event` accepts for these spellings, so
    the checked path only runs to explain a problem (or for rare spellings).
    """
    if type(record) is not dict:
        return None
    event_type = _EVENT_TYPES.get(record.get("type"))  # type: ignore[arg-type]
    at = _fast_instant(record.get("at"))
    if event_type is None or at is None:
        return None
    public = record.get("public", True)
    automated = record.get("automated", False)
    if type(public) is not bool or type(automated) is not bool:
        return None
    author = _AUTHORS.get(record.get("author") or "agent")
    to = record.get("to")
    if author is None or (to is not None and type(to) is not str):
        return None
    rating = None
    if event_type is EventType.CSAT:
        rating = _RATINGS.get(record.get("rating"))  # type: ignore[arg-type]
        if rating is None:
            return None
    elif (event_type is EventType.STATUS and to is None) or (
        event_type is EventType.ASSIGNED and to not in _ASSIGNED_TO
    ):
        return None
    return TicketEvent(at, event_type, public, automated, author, to, rating)


def event_from_json(record: Any, where: str) -> TicketEvent:
    event = _fast_event(record)
    if event is not None:
        return event
    return _checked_event(record, where)


def _checked_event(record: Any, where: str) -> TicketEvent:
    if not isinstance(record, Mapping):
        raise TicketFormatError(f"{where}: expected an object, got {record!r}")
    event_type = _choice(EventType, record.get("type"), f"{where}.type")
    rating = None
    if event_type is EventType.CSAT:
        rating = _choice(Rating, record.get("rating"), f"{where}.rating")
    to = _optional_str(record, "to", where)
    if event_type is EventType.STATUS and to is None:
        raise TicketFormatError(f"{where}.to: a status event needs the status it changes to")
    if event_type is EventType.ASSIGNED and to not in _ASSIGNED_TO:
        raise TicketFormatError(
            f"{where}.to: an assignment is to {ASSIGNED_TO_AGENT!r} (the default) or "
            f"{ASSIGNED_TO_GROUP!r}, got {to!r}"
        )
    author_value = record.get("author") or Author.AGENT.value
    return TicketEvent(
        at=parse_instant(record.get("at"), f"{where}.at"),
        type=event_type,
        public=_bool(record, "public", True, where),
        automated=_bool(record, "automated", False, where),
        author=_choice(Author, author_value, f"{where}.author"),
        to=to,
        rating=rating,
    )


_NATIVE_METRICS = ("first_response", "next_response", "resolution")


def _optional_instant(record: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = record.get(key)
    return None if value is None else parse_instant(value, f"{where}.{key}")


def native_from_json(record: Any, where: str) -> NativeClock:
    if not isinstance(record, Mapping):
        raise TicketFormatError(f"{where}: expected an object, got {record!r}")
    metric = record.get("metric")
    if metric not in _NATIVE_METRICS:
        raise TicketFormatError(
            f"{where}.metric: {metric!r} is not one of {', '.join(_NATIVE_METRICS)}"
        )
    target = record.get("target_seconds")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int | float)):
        raise TicketFormatError(f"{where}.target_seconds: expected a number, got {target!r}")
    cycle = record.get("cycle", 0)
    if isinstance(cycle, bool) or not isinstance(cycle, int):
        raise TicketFormatError(f"{where}.cycle: expected an integer, got {cycle!r}")
    return NativeClock(
        metric=str(metric),
        cycle=cycle,
        started_at=_optional_instant(record, "started_at", where),
        target_seconds=None if target is None else float(target),
        deadline=_optional_instant(record, "deadline", where),
        stopped_at=_optional_instant(record, "stopped_at", where),
        breached_at=_optional_instant(record, "breached_at", where),
        paused=_bool(record, "paused", False, where),
    )


def ticket_from_json(record: Any) -> Ticket:
    """Build a :class:`Ticket` from its JSON form; events are sorted by time."""
    if not isinstance(record, Mapping):
        raise TicketFormatError(f"expected a ticket object, got {type(record).__name__}")
    ticket_id = _optional_str(record, "id", "ticket")
    if not ticket_id:
        raise TicketFormatError("id: every ticket needs an id")
    where = f"ticket {ticket_id}"
    raw_events = record.get("events") or []
    if not isinstance(raw_events, list):
        raise TicketFormatError(f"{where}.events: expected a list")
    events = [
        _fast_event(e) or _checked_event(e, f"{where}.events[{i}]")
        for i, e in enumerate(raw_events)
    ]
    events.sort(key=lambda e: e.at)  # stable: same-instant events keep their order
    tags = record.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TicketFormatError(f"{where}.tags: expected a list of strings")
    status = _optional_str(record, "status", where) or "new"
    raw_native = record.get("native") or []
    if not isinstance(raw_native, list):
        raise TicketFormatError(f"{where}.native: expected a list")
    native = tuple(native_from_json(n, f"{where}.native[{i}]") for i, n in enumerate(raw_native))
    return Ticket(
        id=ticket_id,
        created_at=parse_instant(record.get("created_at"), f"{where}.created_at"),
        status=status,
        priority=_choice(Priority, record.get("priority") or "normal", f"{where}.priority"),
        channel=_optional_str(record, "channel", where),
        group=_optional_str(record, "group", where),
        brand=_optional_str(record, "brand", where),
        type=_optional_str(record, "type", where),
        tags=tuple(tags),
        events=tuple(events),
        assignee=_optional_str(record, "assignee", where),
        native=native,
    )


def event_to_json(event: TicketEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"at": format_instant(event.at), "type": event.type.value}
    if event.type is EventType.AGENT_REPLY:
        out["public"] = event.public
        out["automated"] = event.automated
        out["author"] = event.author.value
    if event.to is not None:
        out["to"] = event.to
    if event.rating is not None:
        out["rating"] = event.rating.value
    return out


def ticket_to_json(ticket: Ticket) -> dict[str, Any]:
    """The JSON form of a ticket; ``ticket_from_json`` reads it back unchanged."""
    out: dict[str, Any] = {
        "id": ticket.id,
        "created_at": format_instant(ticket.created_at),
        "status": ticket.status,
        "priority": ticket.priority.value,
        "channel": ticket.channel,
        "group": ticket.group,
        "brand": ticket.brand,
        "type": ticket.type,
        "tags": list(ticket.tags),
        "events": [event_to_json(e) for e in ticket.events],
    }
    if ticket.assignee is not None:
        out["assignee"] = ticket.assignee
    if ticket.native:
        out["native"] = [native_to_json(n) for n in ticket.native]
    return out


def native_to_json(clock: NativeClock) -> dict[str, Any]:
    def instant(value: datetime | None) -> str | None:
        return None if value is None else format_instant(value)

    return {
        "metric": clock.metric,
        "cycle": clock.cycle,
        "started_at": instant(clock.started_at),
        "target_seconds": clock.target_seconds,
        "deadline": instant(clock.deadline),
        "stopped_at": instant(clock.stopped_at),
        "breached_at": instant(clock.breached_at),
        "paused": clock.paused,
    }
