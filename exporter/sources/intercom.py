"""Intercom (REST API 2.x) as a source: conversations updated since the last poll, read whole.

Endpoints (one request when nothing changed):

* ``POST /conversations/search`` -- conversations whose ``updated_at`` is after
  the saved position, ``{"query": {"field": "updated_at", "operator": ">",
  "value": <POSIX seconds>}, "pagination": {"per_page": N, "starting_after":
  <cursor>}}``, following ``pages.next.starting_after`` to the last page
  (``per_page`` at most 150).  Intercom's search cursor is stateless and its
  order is not documented, so a *round* of pages is read to its end before the
  position moves; a round cut short (page limit, the poll's time budget)
  continues from its saved ``starting_after`` on the next poll.
* ``GET /conversations/{id}`` -- each conversation the search listed whose
  ``updated_at`` this source has not read yet, with its ``conversation_parts``
  (Intercom returns the 500 most recent parts), ``statistics``,
  ``sla_applied`` and ``conversation_rating``.  The conversation is built from
  this one answer: no merging with earlier polls is needed.

Every request sends ``Authorization: Bearer <token>`` and ``Intercom-Version:
<source.api_version>`` (2.11 by default).

**Mapping.** ``state`` through ``source.status_map`` first, then ``open`` ->
``open``, ``snoozed`` -> ``pending`` (snoozed conversations wait, so the
resolution clock pauses with the default ``pause_statuses``), ``closed`` ->
``solved``.  ``priority`` through ``source.priority_map`` first, then
``priority`` -> ``high`` and ``not_priority`` -> ``normal`` (Intercom has only
these two).  Channel is ``source.type`` (``conversation`` is the Messenger:
``chat``; ``email``, ``phone_call``, ``whatsapp``, ...).  Group is
``team_assignee_id``, assignee ``admin_assignee_id``, tags the ``tags.tags``
names.  Brand and type are not set.

**Events from parts.**

* the first message (``source``) is the request; when an admin wrote it (an
  outbound conversation) it is a public agent reply, so no first-response
  clock waits on the team for a conversation the team started;
* ``comment`` by a ``user``, ``lead`` or ``contact``: a requester reply (and a
  reopen when the conversation was closed or snoozed, as Intercom reopens it);
* ``comment`` by an ``admin`` or ``team``: a public agent reply; by an admin
  in ``ai_agent_ids``, with ``author.from_ai_agent`` true, or by a ``bot``
  (Fin, Operator, workflows): an AI-agent reply, which stops a clock only when
  the SLA's ``replies_count`` includes ``ai_agent``;
* ``note``: an internal note (never stops a clock);
* ``assignment``, ``default_assignment``, ``away_mode_assignment``,
  ``assign_and_reopen`` and ``assign_and_unsnooze``: an assignment to the
  ``assigned_to`` teammate or team (none when it is ``nobody_admin``, id
  ``0``: an unassignment); the last two also open the conversation; with a
  body, also a public reply by its author.  ``statistics.first_assignment_at``
  is an assignment too when no earlier part says so (the parts are capped at
  500);
* ``close``: status ``closed`` (mapped); ``open``, ``unsnoozed`` and
  ``timer_unsnooze``: status ``open``; ``snoozed``: status ``snoozed`` (mapped);
  a body on any of them is also a public reply by its author;
* ``conversation_rating.rating`` 4 or 5 is a good satisfaction rating, 1 to 3
  a bad one, at its ``created_at``.

**Native clocks** (``mode: native``) come from ``sla_applied``: Intercom gives
one ``sla_status`` per conversation for the whole SLA (``hit``, ``missed``,
``active``, ``cancelled``), not one per target, and no deadlines.  It is mapped
onto ``first_response`` and ``resolution`` (see :func:`native_clocks`);
``next_response`` has no native clock.

**Office hours** (``calendars: {x: {import: intercom, schedule: ID}}``):
:func:`fetch_office_hours` reads one office hours schedule and its exceptions
(API 2.16 and later) as business-calendar arguments, see :func:`office_hours`.

**Cursor** (one opaque string, JSON; POSIX seconds)::

    {"v": 1, "history_start": 1759000000, "since": 1762084700,
     "round": {"started": 1762084800, "starting_after": "WzE3NjIw..."},
     "read": {"215470013": 1762084790}}

``since`` is the ``updated_at`` the current round searches after; ``round``
is the round under way (``null`` between rounds); ``read`` maps the
conversations read at their ``updated_at`` (at or after ``since``), so the
overlap between rounds costs no second read.  A finished round moves
``since`` to its start less :data:`LAG_SECONDS` (changes Intercom may not have
indexed yet); ``since`` never goes backwards.  Nothing is kept from a poll that
fails: the next one starts again from the same cursor.

**Watermark.** ``since`` when a round is under way (everything updated before
it was read by the last finished round), the new ``since`` when the poll
finished its round.

**Stalls.** A search that answers :data:`STALL_REPEATS` times in a row with the
``starting_after`` it was asked for fails the poll with reason ``stalled``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from exporter.config import DEFAULT_URLS, Config, ConfigError, SourceConfig, SourceType, read_secret
from exporter.model import (
    ASSIGNED_TO_GROUP,
    EARLIEST,
    LATEST,
    Author,
    EventType,
    InstantRangeError,
    NativeClock,
    Priority,
    Rating,
    Ticket,
    TicketEvent,
    TicketFormatError,
)
from exporter.records import SkippedRecord, SkipReason, describe, reason_of
from exporter.sources.base import PollResult, SourceError
from exporter.sources.http import BearerAuth, HelpdeskClient, PollBudgetSpent
from exporter.sources.incremental import STALL_REPEATS, IncrementalSource, KnownTickets
from exporter.sources.progress import ReadProgress
from exporter.sources.values import id_order as _id_order
from exporter.sources.zendesk_time_zones import ScheduleError, ScheduleHours, iana_time_zone

log = logging.getLogger(__name__)

SEARCH_PATH = "/conversations/search"
CONVERSATION_PATH = "/conversations/{id}"

#: Largest ``per_page`` Intercom accepts.
MAX_PER_PAGE = 150
#: Search pages read per poll (the rest of the round is read on the next poll).
MAX_PAGES = 200
#: Changes this recent may not be searchable yet: each round overlaps the last by this much.
LAG_SECONDS = 60
#: Conversations remembered in the cursor as read (the overlap of two rounds).
READ_LIMIT = 50_000
CURSOR_VERSION = 1

#: Intercom ``state`` -> our status (``source.status_map`` comes first).
DEFAULT_STATUSES: Mapping[str, str] = {"open": "open", "snoozed": "pending", "closed": "solved"}
#: Intercom ``priority`` -> our priority (``source.priority_map`` comes first).
DEFAULT_PRIORITIES: Mapping[str, Priority] = {
    "priority": Priority.HIGH,
    "not_priority": Priority.NORMAL,
}
#: ``source.type`` values whose names our channel labels do not know.
CHANNELS: Mapping[str, str] = {
    "conversation": "chat",
    "phone_call": "phone",
    "phone_switch": "phone",
    "push": "other",
}
#: Authors who are the customer.
CONTACT_AUTHORS = frozenset({"user", "lead", "contact"})
#: Part types that assign the conversation.
ASSIGNMENTS = frozenset(
    {
        "assignment",
        "default_assignment",
        "assign_and_reopen",
        "assign_and_unsnooze",
        "away_mode_assignment",
    }
)
#: Assignment part types that also open the conversation again.
ASSIGN_AND_OPEN = frozenset({"assign_and_reopen", "assign_and_unsnooze"})
#: Part types that open the conversation again (``state`` ``open``).
OPENING = frozenset({"open", "unsnoozed", "timer_unsnooze"})
#: ``conversation_rating.rating`` from this value on is good (Intercom rates 1..5).
GOOD_RATING = 4


# --- cursor -----------------------------------------------------------------------------------


@dataclass
class CursorState:
    """Everything a poll resumes from; serialized as the poll's cursor."""

    history_start: int
    since: int
    #: the round under way: when it started, and the search cursor to continue from
    round_started: int | None = None
    starting_after: str | None = None
    #: conversation id -> the ``updated_at`` read
    read: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fresh(cls, now: float, lookback: float) -> CursorState:
        start = int(now - lookback)
        return cls(start, start)

    @classmethod
    def parse(cls, text: str | None, now: float, lookback: float) -> CursorState:
        """The state a cursor holds; a missing or unreadable cursor starts from ``lookback``."""
        if text is None:
            return cls.fresh(now, lookback)
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError(f"version {data.get('v')!r}")
            round_ = data.get("round")
            started = after = None
            if round_ is not None:
                started = int(round_["started"])
                after = round_.get("starting_after")
                after = str(after) if after else None
            return cls(
                history_start=int(data["history_start"]),
                since=int(data["since"]),
                round_started=started,
                starting_after=after,
                read={str(k): int(v) for k, v in (data.get("read") or {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "intercom: the saved cursor is not readable (%s); starting again from the lookback",
                type(exc).__name__,
            )
            return cls.fresh(now, lookback)

    def dump(self) -> str:
        round_ = None
        if self.round_started is not None:
            round_ = {"started": self.round_started, "starting_after": self.starting_after}
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "history_start": self.history_start,
                "since": self.since,
                "round": round_,
                "read": dict(sorted(self.read.items(), key=lambda item: _id_order(item[0]))),
            },
            separators=(",", ":"),
            sort_keys=True,
        )


# --- the source -------------------------------------------------------------------------------


def intercom_client(
    config: SourceConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> HelpdeskClient:
    """A client for the configured Intercom workspace: a bearer token and ``Intercom-Version``.

    ``url`` defaults to Intercom's public API (``https://api.intercom.io``; the
    EU and Australian workspaces use ``https://api.eu.intercom.io`` and
    ``https://api.au.intercom.io``).
    """
    url = config.url or DEFAULT_URLS[SourceType.INTERCOM]
    secret = read_secret(config)
    if secret is None:
        raise ConfigError(["source: an intercom source needs `token_file:` or `token_env:`"])
    read = config.timeout.seconds
    client = HelpdeskClient(
        url,
        auth=BearerAuth(secret),
        timeout=(min(10.0, read), read),
        max_retry_after=config.max_retry_after.seconds,
        sleep=sleep,
        clock=clock,
        wall_clock=wall_clock,
    )
    client.session.headers["Intercom-Version"] = config.api_version
    return client


class IntercomSource(IncrementalSource):
    """Polls one Intercom workspace; see the module documentation for what each poll reads."""

    name = "intercom"

    def __init__(
        self,
        config: SourceConfig,
        client: HelpdeskClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        sleep: Callable[[float], None] = time.sleep,
        known: KnownTickets | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        client = client or intercom_client(config, sleep=sleep, clock=clock)
        super().__init__(config, client, known)
        self.lookback = config.lookback.seconds
        self.poll_timeout = config.poll_timeout.seconds
        self.per_page = min(config.page_size, MAX_PER_PAGE)
        self.priority_map = {str(k).lower(): v for k, v in config.priority_map.items()}
        self.status_map = {str(k).lower(): v for k, v in config.status_map.items()}
        self.ai_agent_ids = frozenset(str(i) for i in config.ai_agent_ids)
        self.max_pages = max_pages

    # -- one poll --

    def read(self, cursor: str | None, now: float) -> PollResult:
        """Read what changed since ``cursor``; nothing is kept unless the whole poll succeeds."""
        state = CursorState.parse(cursor, now, self.lookback)
        run = _PollRun(self, state, now)
        with self.client.poll_budget(self.poll_timeout):
            run.search()
        return PollResult(
            tickets=sorted(run.tickets.values(), key=lambda t: _id_order(t.id)),
            cursor=run.state.dump(),
            watermark=run.watermark,
            problems=run.problems,
        )

    # -- mapping --

    def map_status(self, raw: Any) -> str:
        text = str(raw).lower() if raw is not None else "open"
        return self.status_map.get(text) or DEFAULT_STATUSES.get(text, "open")

    def map_priority(self, raw: Any) -> Priority:
        text = str(raw).lower() if raw is not None else "not_priority"
        mapped = self.priority_map.get(text)
        if mapped is not None:
            return mapped
        return DEFAULT_PRIORITIES.get(text, Priority.NORMAL)

    def conversation(self, raw: Mapping[str, Any]) -> Ticket:
        """The normalized ticket of one conversation as ``GET /conversations/{id}`` returns it.

        Raises :class:`~exporter.model.TicketFormatError` when it has no id or creation time, and
        :class:`~exporter.model.InstantRangeError` for a time outside the supported years.
        """
        conversation_id = _id(raw.get("id"))
        created = _seconds(raw.get("created_at"))
        if conversation_id is None or created is None:
            raise TicketFormatError("the conversation has no id or created_at")
        source = _mapping(raw.get("source"))
        tags = raw.get("tags")
        tag_list = tags.get("tags") if isinstance(tags, Mapping) else None
        ticket = Ticket(
            id=conversation_id,
            created_at=_at(created),
            status=self.map_status(raw.get("state")),
            priority=self.map_priority(raw.get("priority")),
            channel=_channel(source.get("type")),
            group=_id(raw.get("team_assignee_id")),
            tags=tuple(
                t["name"]
                for t in (tag_list if isinstance(tag_list, list) else [])
                if isinstance(t, Mapping) and isinstance(t.get("name"), str)
            ),
            assignee=_id(raw.get("admin_assignee_id")),
        )
        events = self._events(raw, source, created)
        ticket = replace(ticket, events=tuple(events))
        return replace(ticket, native=native_clocks(raw, ticket))

    def _events(
        self, raw: Mapping[str, Any], source: Mapping[str, Any], created: float
    ) -> list[TicketEvent]:
        events: list[TicketEvent] = []
        author = source.get("author")
        if isinstance(author, Mapping) and author.get("type") not in CONTACT_AUTHORS:
            reply = self._reply(author, _at(created))
            if reply is not None:
                events.append(reply)
        parts_holder = raw.get("conversation_parts")
        parts = parts_holder.get("conversation_parts") if isinstance(parts_holder, Mapping) else []
        state = "open"
        listed = [p for p in (parts if isinstance(parts, list) else []) if isinstance(p, Mapping)]
        listed.sort(key=lambda p: _seconds(p.get("created_at")) or 0.0)
        for part in listed:
            seconds = _seconds(part.get("created_at"))
            if seconds is None:
                continue
            at = _at(seconds)
            kind = part.get("part_type")
            author = _mapping(part.get("author"))
            has_body = isinstance(part.get("body"), str) and bool(part["body"].strip())
            if kind == "comment":
                if author.get("type") in CONTACT_AUTHORS:
                    events.append(TicketEvent(at, EventType.REQUESTER_REPLY))
                    if state != "open":
                        state = "open"
                        events.append(TicketEvent(at, EventType.STATUS, to=self.map_status("open")))
                    continue
                reply = self._reply(author, at)
                if reply is not None:
                    events.append(reply)
            elif kind == "note":
                events.append(TicketEvent(at, EventType.AGENT_REPLY, public=False))
            elif kind in ASSIGNMENTS:
                assigned = _assignment(part.get("assigned_to"), at)
                if assigned is not None:
                    events.append(assigned)
                if has_body:
                    self._append_reply(events, author, at)
                if kind in ASSIGN_AND_OPEN and state != "open":
                    state = "open"
                    events.append(TicketEvent(at, EventType.STATUS, to=self.map_status("open")))
            elif kind == "close" or kind == "snoozed" or kind in OPENING:
                if has_body:
                    self._append_reply(events, author, at)
                state = "closed" if kind == "close" else "snoozed" if kind == "snoozed" else "open"
                events.append(TicketEvent(at, EventType.STATUS, to=self.map_status(state)))
        first_assignment = _seconds(_mapping(raw.get("statistics")).get("first_assignment_at"))
        if first_assignment is not None and not any(
            e.type is EventType.ASSIGNED and e.at.timestamp() <= first_assignment for e in events
        ):
            # the parts are capped at 500: the statistics still know the first assignment
            events.append(TicketEvent(_at(max(first_assignment, created)), EventType.ASSIGNED))
        rating = raw.get("conversation_rating")
        if isinstance(rating, Mapping):
            value, rated = rating.get("rating"), _seconds(rating.get("created_at"))
            if isinstance(value, int) and not isinstance(value, bool) and rated is not None:
                good = value >= GOOD_RATING
                events.append(
                    TicketEvent(
                        _at(rated), EventType.CSAT, rating=Rating.GOOD if good else Rating.BAD
                    )
                )
        events.sort(key=lambda e: e.at)
        return list(dict.fromkeys(events))

    def _append_reply(
        self, events: list[TicketEvent], author: Mapping[str, Any], at: datetime
    ) -> None:
        reply = self._reply(author, at)
        if reply is not None:
            events.append(reply)

    def _reply(self, author: Mapping[str, Any], at: datetime) -> TicketEvent | None:
        """A public reply by a teammate, a team or a bot (``None`` for a customer)."""
        kind = author.get("type")
        if kind in CONTACT_AUTHORS:
            return None
        ai = (
            kind == "bot"
            or author.get("from_ai_agent") is True
            or _id(author.get("id")) in self.ai_agent_ids
        )
        return TicketEvent(
            at, EventType.AGENT_REPLY, author=Author.AI_AGENT if ai else Author.AGENT
        )


def _assignment(assigned_to: Any, at: datetime) -> TicketEvent | None:
    """The ``assigned`` event of an assignment part; ``None`` when it unassigns.

    ``assigned_to`` names a ``team`` (a group) or an ``admin``; ``nobody_admin``
    or id ``0`` is Intercom's "unassigned".  Without it the part still assigns
    (to a teammate, as older API versions leave it out).
    """
    if not isinstance(assigned_to, Mapping):
        return TicketEvent(at, EventType.ASSIGNED)
    if assigned_to.get("type") == "nobody_admin" or _id(assigned_to.get("id")) in (None, "0"):
        return None
    to = ASSIGNED_TO_GROUP if assigned_to.get("type") == "team" else None
    return TicketEvent(at, EventType.ASSIGNED, to=to)


class _PollRun:
    """The staging area of one poll: nothing here reaches the source until it succeeded."""

    def __init__(self, source: IntercomSource, state: CursorState, now: float) -> None:
        self.source = source
        self.client = source.client
        self.state = state
        self.now = now
        self.problems: list[str] = []
        self.tickets: dict[str, Ticket] = {}
        self.watermark = float(state.since)

    def search(self) -> None:
        """Read the round under way (or a new one) as far as the limits allow."""
        state = self.state
        if state.round_started is None:
            state.round_started = int(self.now)
            state.starting_after = None
        repeats = 0
        progress = ReadProgress(
            "intercom", SEARCH_PATH, self.client, since=state.since, until=self.now
        )
        finished = False
        for number in range(1, self.source.max_pages + 1):
            body: dict[str, Any] = {
                "query": {"field": "updated_at", "operator": ">", "value": state.since},
                "pagination": {"per_page": self.source.per_page},
            }
            if state.starting_after is not None:
                body["pagination"]["starting_after"] = state.starting_after
            where = f"{SEARCH_PATH} page {number} after {state.since}"
            try:
                page = self.client.post_json(SEARCH_PATH, body)
                listed, after = _search_page(page, where)
                progress.page(len(listed), None)
                self._read_listed(listed, where)
            except PollBudgetSpent as exc:
                log.warning("intercom: %s (the round continues on the next poll)", exc)
                break
            if after is None:
                finished = True
                break
            repeats = repeats + 1 if after == state.starting_after else 0
            if repeats >= STALL_REPEATS:
                raise SourceError(
                    f"POST {SEARCH_PATH}: the search answered the same starting_after "
                    f"{STALL_REPEATS} times in a row; it does not advance, so the poll stops "
                    "instead of reading it forever. It is asked again on the next poll",
                    "stalled",
                )
            state.starting_after = after
        progress.done()
        if finished:
            started = state.round_started or int(self.now)
            state.since = max(state.since, started - LAG_SECONDS)
            state.round_started = None
            state.starting_after = None
            state.read = {i: at for i, at in state.read.items() if at >= state.since}
            self.watermark = float(state.since)
        if len(state.read) > READ_LIMIT:
            newest = sorted(state.read.items(), key=lambda item: item[1])[-READ_LIMIT:]
            state.read = dict(newest)

    def _read_listed(self, listed: Sequence[Mapping[str, Any]], where: str) -> None:
        """``GET`` every listed conversation not read at its ``updated_at`` yet.

        The page counts as read only once all of them are: a poll cut short
        here reads the same page again next time (what was read is skipped).
        """
        read: dict[str, int] = {}
        for index, item in enumerate(listed):
            conversation_id = _id(item.get("id"))
            updated = _seconds(item.get("updated_at"))
            if conversation_id is None or updated is None:
                self.problems.append(f"{where}: conversations[{index}] has no id or updated_at")
                continue
            if self.state.read.get(conversation_id, -1) >= int(updated):
                continue
            created = _seconds(item.get("created_at"))
            if created is not None and created < self.state.history_start:
                read[conversation_id] = int(updated)  # older than the history: not tracked
                continue
            raw = self._get(conversation_id)
            read[conversation_id] = int(updated)
            if raw is None:
                continue
            try:
                self.tickets[conversation_id] = self.source.conversation(raw)
            except Exception as exc:  # one conversation must never stop the rest
                reason = reason_of(exc)
                if type(exc) is TicketFormatError:
                    reason = SkipReason.INVALID
                where = f"conversation {conversation_id}"
                self.problems.append(SkippedRecord(reason, where, describe(exc)))
        self.state.read.update(read)

    def _get(self, conversation_id: str) -> Mapping[str, Any] | None:
        path = CONVERSATION_PATH.format(id=conversation_id)
        try:
            raw = self.client.get_json(path)
        except SourceError as exc:
            if exc.status == 404:
                self.problems.append(f"{path}: gone since it was listed (HTTP 404); skipped")
                return None
            raise
        if not isinstance(raw, Mapping):
            self.problems.append(f"{path}: expected a JSON object; skipped")
            return None
        return raw


# --- native clocks ----------------------------------------------------------------------------


def native_clocks(raw: Mapping[str, Any], ticket: Ticket) -> tuple[NativeClock, ...]:
    """Intercom's one SLA verdict of a conversation as ``first_response`` and ``resolution`` clocks.

    ``sla_applied.sla_status`` is one status for the whole SLA, so it is read
    the same way for both metrics:

    * ``active``: running since the conversation was created (no deadline is
      known: the clock stays pending until Intercom says ``hit`` or ``missed``);
    * ``hit``: met when the metric stopped -- ``statistics.first_admin_reply_at``
      for ``first_response``, ``statistics.last_close_at`` for a closed
      conversation's ``resolution`` -- and running until then;
    * ``missed``: breached at that same stop, or, while it has not stopped, at
      ``statistics.last_admin_reply_at`` (Intercom marks a miss at the first
      teammate reply after the target passed);
    * ``cancelled``, null or no ``sla_applied``: no native clock (no verdict).

    Which target was missed is not known: an SLA that missed only its
    next-reply target shows as missed for both metrics.
    """
    applied = raw.get("sla_applied")
    if not isinstance(applied, Mapping):
        return ()
    status = applied.get("sla_status")
    if status not in ("active", "hit", "missed"):
        return ()
    stats = _mapping(raw.get("statistics"))
    first_reply = _seconds(stats.get("first_admin_reply_at"))
    last_reply = _seconds(stats.get("last_admin_reply_at"))
    closed = _seconds(stats.get("last_close_at")) if ticket.is_closed else None
    clocks = []
    for metric, stopped in (("first_response", first_reply), ("resolution", closed)):
        stop = _at(stopped) if stopped is not None and status != "active" else None
        breached: datetime | None = None
        if status == "missed":
            when = stopped if stopped is not None else last_reply
            breached = _at(when) if when is not None else None
            if breached is None:
                stop = None
        clocks.append(
            NativeClock(
                metric=metric,
                started_at=ticket.created_at,
                stopped_at=stop,
                breached_at=breached,
                paused=metric == "resolution" and ticket.status == "pending" and stop is None,
            )
        )
    return tuple(clocks)


# --- office hours -----------------------------------------------------------------------------

OFFICE_HOURS_PATH = "/office_hours_schedules/{id}"
OFFICE_HOURS_EXCEPTIONS_PATH = "/office_hours_schedules/{id}/office_hours_exceptions"
#: The first API version with the office hours endpoints.
OFFICE_HOURS_VERSION = "2.16"
#: A recurring (annual) closed day is a holiday in its year and this many years after.
RECURRING_YEARS = 10
_DAY_MINUTES = 1440
_WEEK_MINUTES = 7 * _DAY_MINUTES


def office_hours_client(
    config: SourceConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> HelpdeskClient:
    """:func:`intercom_client` that asks for at least API 2.16, which has office hours."""
    client = intercom_client(config, sleep=sleep, clock=clock)
    if _version(config.api_version) < _version(OFFICE_HOURS_VERSION):
        client.session.headers["Intercom-Version"] = OFFICE_HOURS_VERSION
    return client


def office_hours(
    schedule: Mapping[str, Any], exceptions: Sequence[Mapping[str, Any]]
) -> ScheduleHours:
    """An Intercom office hours schedule and its exceptions as business-calendar arguments.

    ``time_intervals`` are minutes from Monday 00:00 (0 to 10080) in the IANA
    ``time_zone_name``; the whole-week interval 0 to 10079 (or
    ``twenty_four_seven``) is round the clock.  A ``closed`` exception is a
    holiday (with ``recurring_annually``, also on that date in the next
    :data:`RECURRING_YEARS` years); a ``custom_hours`` exception cannot be
    written as a holiday and is left out (the regular hours apply that day).
    """
    zone = schedule.get("time_zone_name")
    if not isinstance(zone, str) or not zone.strip():
        raise ScheduleError(f"time_zone_name: expected a time-zone name, got {zone!r}")
    days: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    if schedule.get("twenty_four_seven") is True:
        days = {day: [(0, 86400)] for day in range(7)}
    else:
        intervals = schedule.get("time_intervals")
        if not isinstance(intervals, list):
            raise ScheduleError("time_intervals: expected a list of intervals")
        for index, interval in enumerate(intervals):
            given = _mapping(interval)
            first, last = given.get("start_minute"), given.get("end_minute")
            if (
                not isinstance(first, int)
                or not isinstance(last, int)
                or isinstance(first, bool)
                or isinstance(last, bool)
                or not 0 <= first < last <= _WEEK_MINUTES
            ):
                raise ScheduleError(
                    f"time_intervals[{index}]: expected start_minute < end_minute within the "
                    f"week (0 to {_WEEK_MINUTES}), got {first!r} and {last!r}"
                )
            start, end = first, last
            if start == 0 and end == _WEEK_MINUTES - 1:
                end = _WEEK_MINUTES  # Intercom's whole-week interval
            while start < end:
                day = start // _DAY_MINUTES
                piece = min(end, (day + 1) * _DAY_MINUTES)
                offset = day * _DAY_MINUTES
                days[day].append(((start - offset) * 60, (piece - offset) * 60))
                start = piece
    weekly = {day: _merged(pieces) for day, pieces in days.items() if pieces}
    if not weekly:
        raise ScheduleError("time_intervals: the schedule has no open hours")
    holidays: set[date] = set()
    for index, exception in enumerate(exceptions):
        if exception.get("exception_type") != "closed":
            continue
        try:
            closed = date.fromisoformat(str(exception.get("exception_date")))
        except ValueError:
            raise ScheduleError(
                f"office_hours_exceptions[{index}].exception_date: expected YYYY-MM-DD, got "
                f"{exception.get('exception_date')!r}"
            ) from None
        holidays.add(closed)
        if exception.get("recurring_annually") is True:
            for year in range(closed.year + 1, closed.year + RECURRING_YEARS + 1):
                try:
                    holidays.add(closed.replace(year=year))
                except ValueError:  # 29 February
                    continue
    name = schedule.get("name")
    return ScheduleHours(
        name=str(name) if name else f"intercom-{schedule.get('id')}",
        timezone=iana_time_zone(zone),
        weekly=weekly,
        holidays=frozenset(holidays),
    )


def fetch_office_hours(client: HelpdeskClient, schedule_id: str) -> ScheduleHours:
    """One office hours schedule and its exceptions (two requests)."""
    schedule = client.get_json(OFFICE_HOURS_PATH.format(id=schedule_id))
    listed = client.get_json(OFFICE_HOURS_EXCEPTIONS_PATH.format(id=schedule_id))
    if not isinstance(schedule, Mapping) or not isinstance(listed, Mapping):
        raise SourceError(
            f"office hours schedule {schedule_id}: expected JSON objects", "bad_response"
        )
    data = listed.get("data") or []
    if not isinstance(data, list):
        raise SourceError(
            f"GET {OFFICE_HOURS_EXCEPTIONS_PATH.format(id=schedule_id)}: data is not a list",
            "bad_response",
        )
    return office_hours(schedule, [e for e in data if isinstance(e, Mapping)])


def _merged(pieces: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pieces):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _version(text: str) -> tuple[int, ...]:
    """``"2.11"`` -> (2, 11); ``Preview`` and other names sort after every number."""
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return (1 << 30,)


# --- small readers ----------------------------------------------------------------------------


def _search_page(page: Any, where: str) -> tuple[list[Mapping[str, Any]], str | None]:
    """The conversations of one search answer and the ``starting_after`` of the next page."""
    if not isinstance(page, Mapping) or not isinstance(page.get("conversations"), list):
        raise SourceError(
            f"POST {where}: expected a conversation.list with a conversations list; the same "
            "page is asked for again on the next poll",
            "bad_response",
        )
    listed = [c for c in page["conversations"] if isinstance(c, Mapping)]
    pages = page.get("pages")
    following = pages.get("next") if isinstance(pages, Mapping) else None
    after = following.get("starting_after") if isinstance(following, Mapping) else None
    return listed, str(after) if isinstance(after, str) and after else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seconds(value: Any) -> float | None:
    """Intercom's times are POSIX seconds (integers)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _at(seconds: float) -> datetime:
    """An Intercom time as a datetime; :class:`InstantRangeError` outside the supported years."""
    if not EARLIEST.timestamp() <= seconds < LATEST.timestamp():
        raise InstantRangeError(
            f"time {seconds:.0f} is outside the years {EARLIEST.year} to {LATEST.year - 1}"
        )
    return datetime.fromtimestamp(seconds, UTC)


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _channel(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return CHANNELS.get(value, value)


def build(config: Config) -> IntercomSource:
    """The Intercom source of a config (``source.type: intercom``)."""
    return IntercomSource(config.source)
