"""Zammad as a source: tickets changed since the saved position, each with its articles and history.

Endpoints (REST API v1, ``Authorization: Token token=...``):

* ``GET /api/v1/tickets/search?query=updated_at:>=T&sort_by=updated_at&order_by=asc
  &per_page=N&page=P&expand=true`` -- the tickets changed at or after ``T``,
  oldest change first, as a JSON list of expanded tickets (state, priority and
  group by name).  It is read *by key*, not by page number: each next request
  asks again from the ``updated_at`` of the last ticket read (page 1), so a
  ticket that changes while the listing is read moves to its end instead of
  shifting the others past a page boundary (numbered pages would then skip
  one).  One ticket of overlap comes back on each next page and is skipped;
  the source asks for ``page_size + 1`` tickets per page so that each page
  still brings ``page_size`` new ones.  Page 2, 3, ... of the same ``T`` are
  read only when a whole page shares one ``updated_at``.
  The listing is answered from Zammad's search index (Elasticsearch), which
  Zammad fills a few seconds after each change: the position never passes
  ``now -`` :data:`INDEX_LAG_SECONDS`, so tickets changed in that last stretch
  are asked for again on the next poll (those already read, with the same
  ``updated_at``, are skipped without further requests).
* ``GET /api/v1/ticket_articles/by_ticket/{id}?expand=true`` -- every article
  of each changed ticket (one request per changed ticket).
* ``GET /api/v1/ticket_history/{id}`` -- its history, for state changes (one
  request per changed ticket).

When nothing changed a poll costs one request.  Each changed ticket is
rebuilt whole from its articles and history, so nothing needs merging across
polls (the previous state is read only for the native clocks' deadlines).

**Mapping.** Status is the ticket's ``state`` name through
``source.status_map`` first, then ``new`` -> new, ``open`` -> open,
``pending reminder`` and ``pending close`` -> pending, ``closed`` and
``merged`` -> closed; an unmapped custom state counts as ``open`` (logged
once).  Priority is the ``priority`` name through ``source.priority_map``,
then ``1 low``, ``2 normal``, ``3 high`` (and a name holding ``urgent`` or
``low``/``high``); others are ``normal``.  Channel is
``create_article_type`` (``email``, ``phone``, ``web``, ...), group the
``group`` name, type the ``type`` field, assignee ``owner_id`` (``1``, the
placeholder user "-", is nobody).  Tags are not read (they take one more
request per ticket).

**Articles -> events.**  The first article opened the ticket: it is the
request, never a reply.  After it:

* ``sender`` ``Customer`` and not ``internal``: a requester reply;
* ``sender`` ``Agent``, not ``internal`` and of a communication ``type``
  (anything but ``note``): a public agent reply, by an AI agent when its
  ``created_by_id`` is one of ``ai_agent_ids``;
* ``sender`` ``Agent`` otherwise (internal articles, notes): an internal
  note, which never stops a clock;
* ``sender`` ``System`` (auto-replies, trigger mails): an automated reply,
  which never stops a clock.

``sender`` is read by name; without it ``sender_id`` 1, 2, 3 stand for
Agent, Customer, System (Zammad's fixed ids).

**History -> status events.**  Each ``updated`` entry of the ``state``
attribute is a ``status`` event to its mapped ``value_to`` at its
``created_at``.  Each one of the ``owner`` or ``group`` attribute whose
``id_to`` names someone (owner ``1`` is nobody) is an assignment, to an agent
or to a group.  The history records changes only: the owner and the group a
ticket had when it was created (the ``id_from`` of the first change, or the
ticket's own ``owner_id``/``group_id`` when none changed) are assignments at
its creation.  Zammad gives every ticket a group, so there ``start:
assigned`` starts at creation; this source reads no more for it.

**Native clocks** (``mode: native``), from the ticket's escalation fields:

* ``first_response``: starts at creation, deadline
  ``first_response_escalation_at``, stopped at ``first_response_at``;
* ``next_response``: the latest cycle of our own events (a requester reply
  after an agent reply), deadline ``update_escalation_at``;
* ``resolution``: starts at creation, deadline ``close_escalation_at``,
  stopped at ``close_at`` while the ticket is closed.

Zammad clears a deadline once the clock stopped and stores the verdict as
``*_in_min`` (business minutes taken) and ``*_diff_in_min`` (target minus
taken; negative when late).  A stopped clock keeps the deadline the exporter
saw while it ran; its target is ``in_min + diff_in_min`` minutes; a negative
``diff_in_min`` is a breach, dated at the deadline when known, else at the
stop.  In pending states Zammad suspends escalation (the deadlines are
cleared): the clocks are paused and keep their last deadline.  A ticket
without deadlines and without a verdict has no SLA in Zammad: no native
clock.

**Cursor** (one opaque string, JSON; POSIX seconds with milliseconds)::

    {"v": 1, "history_start": 1759060800, "since": 1762084680.123,
     "seen": {"101": 1762084690.5}}

``seen`` holds the tickets read at or after ``since`` with their
``updated_at``.  The position never goes back: a ticket listed with an
``updated_at`` before it is read, but does not move it (a warning is
logged).  Nothing is kept from a poll that fails.

**Watermark.** A listing read to its last page is complete up to
``now -`` :data:`INDEX_LAG_SECONDS`; one cut short (``max_pages`` or the
poll's time budget ``source.poll_timeout``) up to just before the
``updated_at`` it stopped at.  A poll that runs out of time keeps what it
read, so a large first sync progresses over several polls.

**Stalls.** A listing that answers :data:`STALL_REPEATS` full pages in a row
with the same tickets fails the poll with reason ``stalled``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import requests
from requests.auth import AuthBase

from exporter.config import Config, ConfigError, SourceConfig, read_secret
from exporter.model import (
    ASSIGNED_TO_GROUP,
    Author,
    EventType,
    NativeClock,
    Priority,
    Ticket,
    TicketEvent,
)
from exporter.sla import next_response_clocks
from exporter.sources.base import PollResult, SourceError
from exporter.sources.http import HelpdeskClient, PollBudgetSpent
from exporter.sources.incremental import STALL_REPEATS, IncrementalSource, KnownTickets, SinceCursor
from exporter.sources.progress import ReadProgress
from exporter.sources.values import id_order as _id_order
from exporter.sources.values import instant as _instant
from exporter.sources.zendesk_time_zones import ScheduleError, ScheduleHours

log = logging.getLogger(__name__)

SEARCH_PATH = "/api/v1/tickets/search"
ARTICLES_PATH = "/api/v1/ticket_articles/by_ticket/{id}"
HISTORY_PATH = "/api/v1/ticket_history/{id}"
CALENDARS_PATH = "/api/v1/calendars"
SLAS_PATH = "/api/v1/slas"

#: Largest ``per_page`` Zammad's search serves.
MAX_PER_PAGE = 200
#: Listing pages read per poll (the rest is read on the next poll).
MAX_PAGES = 500
#: Zammad indexes a change for search a few seconds after it; the position stays this far back.
INDEX_LAG_SECONDS = 120

#: Zammad's default state names -> ours.
DEFAULT_STATUSES: Mapping[str, str] = {
    "new": "new",
    "open": "open",
    "pending reminder": "pending",
    "pending close": "pending",
    "closed": "closed",
    "merged": "closed",
}
#: Zammad's default priority names -> ours.
DEFAULT_PRIORITIES: Mapping[str, Priority] = {
    "1 low": Priority.LOW,
    "2 normal": Priority.NORMAL,
    "3 high": Priority.HIGH,
}
#: Zammad's fixed ids of the article senders.
SENDERS: Mapping[int, str] = {1: "Agent", 2: "Customer", 3: "System"}
#: The article type that is not a communication (Zammad's SLAs ignore it too).
NOTE_TYPE = "note"
#: ``owner_id`` of Zammad's placeholder user "-": the ticket has no owner.
NOBODY = "1"
#: History attributes that assign a ticket -> ``to`` of the ``assigned`` event.
ASSIGNING = {"owner": None, "group": ASSIGNED_TO_GROUP}
#: Statuses in which Zammad suspends escalation (its default pending states).
NATIVE_PAUSED = frozenset({"pending", "on_hold"})


# --- cursor -----------------------------------------------------------------------------------


class CursorState(SinceCursor):
    """Where a poll resumes: the ``updated_at`` position and the tickets read at or after it."""

    vendor = "zammad"


# --- the client -------------------------------------------------------------------------------


class TokenAuth(AuthBase):
    """``Authorization: Token token=<token>`` (a Zammad access token)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Token token={self._token}"
        return request

    def __repr__(self) -> str:  # never show the token
        return "TokenAuth(<hidden>)"


def zammad_client(
    config: SourceConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> HelpdeskClient:
    """A client for the configured Zammad, signed in with an access token.

    The token comes from ``token_file`` or ``token_env``; it needs the
    ``ticket.agent`` permission (and ``admin.calendar``/``admin.sla`` for
    imports).
    """
    if config.url is None:
        raise ConfigError(["source.url: a zammad source needs `url:`"])
    secret = read_secret(config)
    if secret is None:
        raise ConfigError(["source: a zammad source needs `token_file:` or `token_env:`"])
    read = config.timeout.seconds
    return HelpdeskClient(
        config.url,
        auth=TokenAuth(secret),
        timeout=(min(10.0, read), read),
        max_retry_after=config.max_retry_after.seconds,
        sleep=sleep,
        clock=clock,
    )


# --- the source -------------------------------------------------------------------------------


class ZammadSource(IncrementalSource):
    """Polls one Zammad; see the module documentation for what each poll reads."""

    name = "zammad"

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
        client = client or zammad_client(config, sleep=sleep, clock=clock)
        super().__init__(config, client, known)
        self.lookback = config.lookback.seconds
        self.poll_timeout = config.poll_timeout.seconds
        #: new tickets per page; one more is asked for (the overlap with the page before)
        self.page_size = min(config.page_size, MAX_PER_PAGE - 1)
        self.priority_map = {str(k).lower(): v for k, v in config.priority_map.items()}
        self.status_map = {str(k).lower(): v for k, v in config.status_map.items()}
        self.ai_agent_ids = frozenset(str(i) for i in config.ai_agent_ids)
        self.max_pages = max_pages
        self._unmapped_logged: set[str] = set()

    # -- one poll --

    def read(self, cursor: str | None, now: float) -> PollResult:
        """Read what changed since ``cursor``; nothing is kept unless the whole poll succeeds."""
        state = CursorState.parse(cursor, now, self.lookback)
        run = _PollRun(self, state, now)
        with self.client.poll_budget(self.poll_timeout):
            run.read_tickets()
        tickets = run.finish()
        self.remember(tickets)
        return PollResult(
            tickets=tickets,
            cursor=run.state.dump(),
            watermark=run.watermark,
            problems=run.problems,
        )

    # -- mapping --

    def map_status(self, raw: Any) -> str:
        text = str(raw).strip().lower() if raw is not None else ""
        mapped = self.status_map.get(text) or DEFAULT_STATUSES.get(text)
        if mapped is not None:
            return mapped
        if text not in self._unmapped_logged:
            self._unmapped_logged.add(text)
            log.warning(
                "zammad: state %r is not mapped; it counts as open. Map custom states in "
                "source.status_map (e.g. {%r: on_hold} for one that stops the SLA clock)",
                raw,
                text or "waiting",
            )
        return "open"

    def map_priority(self, raw: Any) -> Priority:
        return map_priority(raw, self.priority_map)

    def article_event(self, record: Mapping[str, Any]) -> TicketEvent | None:
        """One article as an event (see the module documentation); None for one that is ignored."""
        created = _instant(record.get("created_at"))
        if created is None:
            return None
        at = datetime.fromtimestamp(created, UTC)
        sender = record.get("sender")
        if not isinstance(sender, str):
            sender = SENDERS.get(_int(record.get("sender_id")) or 0, "")
        internal = record.get("internal") is True
        if sender == "Customer":
            return None if internal else TicketEvent(at, EventType.REQUESTER_REPLY)
        if sender == "System":
            if internal:
                return None
            return TicketEvent(at, EventType.AGENT_REPLY, automated=True)
        if sender != "Agent":
            return None
        public = not internal and record.get("type") != NOTE_TYPE
        author = _id(record.get("created_by_id"))
        who = Author.AI_AGENT if author in self.ai_agent_ids else Author.AGENT
        return TicketEvent(at, EventType.AGENT_REPLY, public=public, author=who)


def map_priority(raw: Any, priority_map: Mapping[str, Priority]) -> Priority:
    """A Zammad priority name through ``priority_map`` (lower-case keys), then the defaults."""
    if raw is None:
        return Priority.NORMAL
    text = str(raw).strip().lower()
    mapped = priority_map.get(text) or DEFAULT_PRIORITIES.get(text)
    if mapped is not None:
        return mapped
    for priority in (Priority.URGENT, Priority.HIGH, Priority.LOW):
        if priority.value in text:
            return priority
    return Priority.NORMAL


class _PollRun:
    """The staging area of one poll: nothing here reaches the source until it succeeded."""

    def __init__(self, source: ZammadSource, state: CursorState, now: float) -> None:
        self.source = source
        self.client = source.client
        self.state = state
        self.now = now
        self.problems: list[str] = []
        self.built: dict[str, Ticket] = {}
        self.raw: dict[str, Mapping[str, Any]] = {}
        self.watermark = now - INDEX_LAG_SECONDS

    def page(self, since: float, page_number: int) -> list[Mapping[str, Any]]:
        """One page of the listing: the tickets changed at or after ``since``."""
        params: dict[str, str | int] = {
            "query": f"updated_at:>={_query_time(since)}",
            "sort_by": "updated_at",
            "order_by": "asc",
            "per_page": self.source.page_size + 1,
            "page": page_number,
            "expand": "true",
        }
        body = self.client.get_json(SEARCH_PATH, params)
        if not isinstance(body, list):
            raise SourceError(
                f"GET {SEARCH_PATH}: expected a JSON list of tickets (expand=true), got "
                f"{type(body).__name__}; the same page is asked for again on the next poll",
                "bad_response",
            )
        records = [item for item in body if isinstance(item, Mapping)]
        if len(records) != len(body):
            self.problems.append(
                f"{SEARCH_PATH} since {_query_time(since)} page {page_number}: "
                f"{len(body) - len(records)} entries are not objects"
            )
        return records

    def read_tickets(self) -> None:
        """Read the listing by key to its end, each changed ticket with its articles and history."""
        source, state = self.source, self.state
        since, page_number = state.since, 1
        done_at = state.since  # every ticket changed before this instant was read
        exhausted = False
        repeats, previous = 0, None
        backwards = 0
        progress = ReadProgress("zammad", SEARCH_PATH, self.client, since=since, until=self.now)
        try:
            for _ in range(source.max_pages):
                records = self.page(since, page_number)
                last = _instant(records[-1].get("updated_at")) if records else None
                progress.page(len(records), last)
                full = len(records) > source.page_size
                content = [(r.get("id"), r.get("updated_at")) for r in records]
                repeats = repeats + 1 if full and content == previous else 0
                previous = content
                if repeats >= STALL_REPEATS - 1:
                    raise SourceError(
                        f"GET {SEARCH_PATH}: the listing answered the same tickets "
                        f"{STALL_REPEATS} times in a row from {_query_time(since)}; it does not "
                        "advance, so the poll stops instead of reading it forever. It is asked "
                        "again on the next poll; if this persists, check Zammad's search index",
                        "stalled",
                    )
                for index, raw in enumerate(records):
                    ticket_id = _id(raw.get("id"))
                    updated = _instant(raw.get("updated_at"))
                    where = f"{SEARCH_PATH} since {_query_time(since)} page {page_number} [{index}]"
                    if ticket_id is None or updated is None:
                        self.problems.append(f"{where}: has no id or updated_at")
                        continue
                    if updated < state.since:
                        backwards += 1  # before the asked position: read, position kept
                    else:
                        done_at = max(done_at, updated)
                    if state.seen.get(ticket_id, -1.0) >= updated:
                        continue  # read before, unchanged since
                    self.read_ticket(ticket_id, raw, where)
                    state.seen[ticket_id] = updated
                if not full:
                    exhausted = True
                    break
                if last is not None and last > since:
                    since, page_number = last, 1
                else:
                    page_number += 1
        except PollBudgetSpent as exc:
            log.warning("zammad: %s", exc)
        progress.done()
        if backwards:
            log.warning(
                "zammad: %s returned %d tickets updated before the asked %s (going back in "
                "time); keeping the saved position",
                SEARCH_PATH,
                backwards,
                _query_time(state.since).replace("\\", ""),
            )
        if exhausted:
            position = self.now - INDEX_LAG_SECONDS  # everything before it was read
        else:  # cut short: complete up to the ticket it stopped at, and never past the lag
            position = min(done_at, self.now - INDEX_LAG_SECONDS)
            self.watermark = min(self.watermark, done_at - 0.001)
        state.since = max(state.since, position)
        state.seen = {k: v for k, v in state.seen.items() if v >= state.since}

    def read_ticket(self, ticket_id: str, raw: Mapping[str, Any], where: str) -> None:
        """Articles and history of one changed ticket, then the ticket itself."""
        created = _instant(raw.get("created_at"))
        if created is None:
            self.problems.append(f"{where}: ticket {ticket_id} has no created_at")
            return
        if created < self.state.history_start:
            return  # older than the history read: its clocks are unknown
        try:
            articles = self._list(ARTICLES_PATH.format(id=ticket_id), {"expand": "true"})
            history = self.client.get_json(HISTORY_PATH.format(id=ticket_id))
        except SourceError as exc:
            if exc.status != 404:
                raise
            self.problems.append(f"ticket {ticket_id}: gone while it was read ({exc})")
            return
        entries = history.get("history") if isinstance(history, Mapping) else None
        if not isinstance(entries, list):
            raise SourceError(
                f"GET {HISTORY_PATH.format(id=ticket_id)}: expected an object with a `history` "
                "list; the ticket is read again on the next poll",
                "bad_response",
            )
        try:
            ticket = self._build(ticket_id, raw, created, articles, entries)
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            self.problems.append(f"ticket {ticket_id}: cannot be read ({exc})")
            return
        self.built[ticket_id] = ticket
        self.raw[ticket_id] = raw

    def _list(self, path: str, params: Mapping[str, str | int]) -> list[Mapping[str, Any]]:
        body = self.client.get_json(path, params)
        if not isinstance(body, list):
            raise SourceError(
                f"GET {path}: expected a JSON list; the ticket is read again on the next poll",
                "bad_response",
            )
        return [item for item in body if isinstance(item, Mapping)]

    def _build(
        self,
        ticket_id: str,
        raw: Mapping[str, Any],
        created: float,
        articles: Sequence[Mapping[str, Any]],
        history: Sequence[Any],
    ) -> Ticket:
        source = self.source
        events: list[TicketEvent] = []
        ordered = sorted(
            articles, key=lambda a: (_instant(a.get("created_at")) or 0.0, _int(a.get("id")) or 0)
        )
        for article in ordered[1:]:  # the first article is the request itself
            event = source.article_event(article)
            if event is not None:
                events.append(event)
        #: owner/group -> whether its first change found one already set at creation
        set_before: dict[str, bool] = {}
        for entry in sorted(
            (e for e in history if isinstance(e, Mapping)),
            key=lambda e: (_instant(e.get("created_at")) or 0.0, _int(e.get("id")) or 0),
        ):
            attribute = entry.get("attribute")
            if attribute not in ("state", *ASSIGNING):
                continue
            if entry.get("type") != "updated" or entry.get("object") != "Ticket":
                continue
            at = _instant(entry.get("created_at"))
            if at is None:
                continue
            when = datetime.fromtimestamp(at, UTC)
            if attribute == "state":
                to = source.map_status(entry.get("value_to"))
                events.append(TicketEvent(when, EventType.STATUS, to=to))
                continue
            assert isinstance(attribute, str)
            set_before.setdefault(attribute, _assigns(attribute, entry.get("id_from")))
            if _assigns(attribute, entry.get("id_to")):
                events.append(TicketEvent(when, EventType.ASSIGNED, to=ASSIGNING[attribute]))
        owner = _id(raw.get("owner_id"))
        for attribute, now_set in (
            ("group", _assigns("group", raw.get("group_id")) or bool(_text(raw.get("group")))),
            ("owner", _assigns("owner", owner)),
        ):
            # the history records changes only: what the ticket had when it was created
            if set_before.get(attribute, now_set):
                at_creation = datetime.fromtimestamp(created, UTC)
                events.append(TicketEvent(at_creation, EventType.ASSIGNED, to=ASSIGNING[attribute]))
        events.sort(key=lambda e: e.at)
        kind = raw.get("type")
        group = raw.get("group")
        return Ticket(
            id=ticket_id,
            created_at=datetime.fromtimestamp(created, UTC),
            status=source.map_status(raw.get("state")),
            priority=source.map_priority(raw.get("priority")),
            channel=_text(raw.get("create_article_type")),
            group=_text(group) or _id(raw.get("group_id")),
            type=_text(kind),
            events=tuple(dict.fromkeys(events)),
            assignee=None if owner in (None, NOBODY) else owner,
        )

    def finish(self) -> list[Ticket]:
        """The built tickets in id order, each with its native clocks."""
        ids = sorted(self.built, key=_id_order)
        previous = self.source.previous(ids)
        tickets = []
        for ticket_id in ids:
            ticket = self.built[ticket_id]
            native = native_clocks(self.raw[ticket_id], ticket, previous.get(ticket_id))
            tickets.append(replace(ticket, native=native))
        return tickets


def _assigns(attribute: str, value: Any) -> bool:
    """Whether an ``owner``/``group`` id names someone (owner ``1`` is nobody)."""
    if attribute == "owner":
        return _id(value) not in (None, NOBODY)
    return _id(value) is not None


# --- native clocks ----------------------------------------------------------------------------


def native_clocks(
    raw: Mapping[str, Any], ticket: Ticket, prior: Ticket | None
) -> tuple[NativeClock, ...]:
    """Zammad's own SLA state of a ticket, from its escalation fields (module documentation)."""
    clocks = {(c.metric, c.cycle): c for c in (prior.native if prior is not None else ())}
    paused = ticket.status in NATIVE_PAUSED
    created = ticket.created_at

    def put(
        metric: str,
        cycle: int,
        started: datetime | None,
        due: Any,
        stopped: datetime | None,
        taken: Any = None,
        diff: Any = None,
    ) -> None:
        deadline = _datetime(due)
        before = clocks.get((metric, cycle))
        if deadline is None and before is not None:
            deadline = before.deadline
        minutes_taken, minutes_left = _number(taken), _number(diff)
        verdict = stopped is not None and minutes_left is not None
        if deadline is None and before is None and not verdict:
            return  # Zammad applies no SLA to this metric
        target = before.target_seconds if before is not None else None
        if minutes_taken is not None and minutes_left is not None:
            target = (minutes_taken + minutes_left) * 60.0
        breached: datetime | None = None
        if stopped is not None and minutes_left is not None and minutes_left < 0:
            breached = deadline if deadline is not None and deadline < stopped else stopped
        elif stopped is not None and deadline is not None and stopped > deadline:
            breached = deadline
        clocks[(metric, cycle)] = NativeClock(
            metric=metric,
            cycle=cycle,
            started_at=started,
            target_seconds=target,
            deadline=deadline,
            stopped_at=stopped,
            breached_at=breached,
            paused=paused and stopped is None,
        )

    put(
        "first_response",
        0,
        created,
        raw.get("first_response_escalation_at"),
        _datetime(raw.get("first_response_at")),
        raw.get("first_response_in_min"),
        raw.get("first_response_diff_in_min"),
    )
    closed_at = _datetime(raw.get("close_at")) if ticket.is_closed else None
    put(
        "resolution",
        0,
        created,
        raw.get("close_escalation_at"),
        closed_at,
        raw.get("close_in_min") if closed_at is not None else None,
        raw.get("close_diff_in_min") if closed_at is not None else None,
    )
    cycles = next_response_clocks(ticket, float("inf"), (Author.AGENT,))
    for cycle in cycles[:-1]:  # earlier cycles that our events show answered
        before = clocks.get(("next_response", cycle.cycle))
        if before is not None and before.stopped_at is None and cycle.first_stop is not None:
            stop = datetime.fromtimestamp(cycle.first_stop, UTC)
            late = before.deadline is not None and stop > before.deadline
            clocks[("next_response", cycle.cycle)] = replace(
                before,
                stopped_at=stop,
                paused=False,
                breached_at=before.deadline if late else before.breached_at,
            )
    if cycles:
        latest = cycles[-1]
        answered = latest.first_stop
        put(
            "next_response",
            latest.cycle,
            datetime.fromtimestamp(latest.started_at, UTC),
            raw.get("update_escalation_at") if answered is None else None,
            None if answered is None else datetime.fromtimestamp(answered, UTC),
        )
    return tuple(clocks[k] for k in sorted(clocks))


# --- calendars and SLAs (imports) -------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITIES_PATH = "/api/v1/ticket_priorities"


def calendar_hours(record: Mapping[str, Any]) -> ScheduleHours:
    """A Zammad calendar as business-calendar arguments.

    ``timezone`` is an IANA name; ``business_hours`` holds, per weekday
    (``mon`` .. ``sun``), ``active`` and ``timeframes`` (``[["09:00",
    "17:00"], ...]``); an inactive or missing day is closed, an end of
    ``00:00``, ``23:59`` or ``24:00`` is midnight.  ``public_holidays`` maps
    dates to ``{"active": true, "summary": ...}``; inactive ones are left out.
    """
    zone = record.get("timezone")
    if not isinstance(zone, str) or not zone:
        raise ScheduleError(f"timezone: expected an IANA time-zone name, got {zone!r}")
    days = record.get("business_hours")
    if not isinstance(days, Mapping):
        raise ScheduleError("business_hours: expected an object of weekdays (mon .. sun)")
    weekly: dict[int, tuple[tuple[int, int], ...]] = {}
    for weekday, name in enumerate(_DAYS):
        day = days.get(name)
        if not isinstance(day, Mapping) or day.get("active") is not True:
            continue
        frames = day.get("timeframes")
        if not isinstance(frames, list):
            raise ScheduleError(f"business_hours.{name}.timeframes: expected a list of [from, to]")
        intervals: list[tuple[int, int]] = []
        for index, frame in enumerate(frames):
            where = f"business_hours.{name}.timeframes[{index}]"
            if not isinstance(frame, list) or len(frame) != 2:
                raise ScheduleError(f"{where}: expected [from, to], got {frame!r}")
            start = _clock(frame[0], where)
            end = _clock(frame[1], where)
            if end in (0, 23 * 3600 + 59 * 60):
                end = 86400
            if end <= start:
                raise ScheduleError(f"{where}: ends before it starts ({frame[0]}-{frame[1]})")
            intervals.append((start, end))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        if merged:
            weekly[weekday] = tuple(merged)
    if not weekly:
        raise ScheduleError("business_hours: the calendar has no active business hours")
    holidays: set[date] = set()
    listed = record.get("public_holidays") or {}
    if not isinstance(listed, Mapping):
        raise ScheduleError("public_holidays: expected an object of dates")
    for day_text, holiday in listed.items():
        if isinstance(holiday, Mapping) and holiday.get("active") is False:
            continue
        try:
            holidays.add(date.fromisoformat(str(day_text)))
        except ValueError:
            raise ScheduleError(f"public_holidays: {day_text!r} is not a date") from None
    title = record.get("name")
    return ScheduleHours(
        name=str(title) if title else f"zammad-{record.get('id')}",
        timezone=zone,
        weekly=weekly,
        holidays=frozenset(holidays),
    )


def fetch_calendar(client: HelpdeskClient, calendar: str | None = None) -> ScheduleHours:
    """One calendar, by id or name (the ``default`` one without): one request."""
    listed = client.get_json(CALENDARS_PATH)
    if not isinstance(listed, list):
        raise SourceError(f"GET {CALENDARS_PATH}: expected a list of calendars", "bad_response")
    calendars = [c for c in listed if isinstance(c, Mapping)]
    if calendar is None:
        chosen = next((c for c in calendars if c.get("default") is True), None)
        wanted = "marked default"
    else:
        chosen = next((c for c in calendars if calendar in (str(c.get("id")), c.get("name"))), None)
        wanted = f"with id or name {calendar!r}"
    if chosen is None:
        names = ", ".join(f"{c.get('id')} {c.get('name')!r}" for c in calendars) or "none"
        raise ScheduleError(f"no calendar {wanted} (there are: {names})")
    return calendar_hours(chosen)


#: Zammad SLA fields -> our metrics (``response_time``, where set, is Zammad's reply clock)
_SLA_TIMES = (
    ("first_response", ("first_response_time",)),
    ("next_response", ("response_time", "update_time")),
    ("resolution", ("solution_time",)),
)


def sla_targets(
    slas: Any,
    priorities: Any,
    map_priority: Callable[[Any], Priority],
    policy: str | None = None,
) -> dict[str, dict[Priority, float]]:
    """Targets (seconds, business time of the SLA's calendar) per metric and priority.

    A Zammad SLA has one time per metric (minutes) and a ``condition`` that
    picks its tickets.  With ``policy`` (an SLA's name or id) that SLA's
    times apply to the priorities its ``ticket.priority_id`` condition names
    (every priority without one).  Without it, each priority takes the first
    SLA by name whose condition is empty or only about the priority, as
    Zammad tries them; SLAs with other conditions are left out (logged).
    ``priorities`` is the answer of ``GET /api/v1/ticket_priorities``, whose
    names go through ``map_priority``.
    """
    if not isinstance(slas, list) or not slas:
        raise ScheduleError("expected a non-empty list of SLAs")
    listed = sorted(
        (s for s in slas if isinstance(s, Mapping)),
        key=lambda s: (str(s.get("name") or ""), str(s.get("created_at") or "")),
    )
    by_id = {
        str(p.get("id")): map_priority(p.get("name"))
        for p in (priorities if isinstance(priorities, list) else [])
        if isinstance(p, Mapping)
    }
    if policy is not None:
        chosen = [s for s in listed if policy in (str(s.get("id")), s.get("name"))]
        if not chosen:
            names = ", ".join(repr(s.get("name")) for s in listed)
            raise ScheduleError(f"no SLA named or numbered {policy!r} (there are: {names})")
        listed = chosen
    targets: dict[str, dict[Priority, float]] = {}
    covered: set[Priority] = set()
    for sla in listed:
        applies = _sla_priorities(sla, by_id, strict=policy is None)
        if applies is None:
            log.warning(
                "zammad: SLA %r has conditions other than the priority; it is not imported "
                "(name it with slas.policy to use it for the priorities it names)",
                sla.get("name"),
            )
            continue
        for priority in sorted(applies - covered):
            for metric, keys in _SLA_TIMES:
                minutes = next((_number(sla.get(k)) for k in keys if _number(sla.get(k))), None)
                if minutes is not None and minutes > 0:
                    targets.setdefault(metric, {})[priority] = minutes * 60.0
        covered |= applies
    if not targets:
        raise ScheduleError("no SLA applies to any priority with a time set")
    return targets


def _sla_priorities(
    sla: Mapping[str, Any], by_id: Mapping[str, Priority], *, strict: bool
) -> set[Priority] | None:
    """The priorities an SLA's condition selects; None when it also selects by anything else."""
    condition = sla.get("condition") or {}
    if not isinstance(condition, Mapping):
        return None
    every = set(Priority)
    other = [k for k in condition if k != "ticket.priority_id"]
    if other and strict:
        return None
    rule = condition.get("ticket.priority_id")
    if not isinstance(rule, Mapping):
        return every
    values = rule.get("value")
    ids = [str(v) for v in values] if isinstance(values, list) else [str(values)]
    named = {by_id[i] for i in ids if i in by_id}
    if rule.get("operator") == "is not":
        return every - named
    return named


def fetch_sla_targets(
    client: HelpdeskClient, map_priority: Callable[[Any], Priority], policy: str | None = None
) -> dict[str, dict[Priority, float]]:
    """The SLA targets (two requests: the SLAs and the priority names)."""
    slas = client.get_json(SLAS_PATH)
    priorities = client.get_json(PRIORITIES_PATH)
    return sla_targets(slas, priorities, map_priority, policy)


# --- small readers ----------------------------------------------------------------------------


def _clock(value: Any, where: str) -> int:
    """``"09:30"`` -> seconds since midnight."""
    text = value.strip() if isinstance(value, str) else ""
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit()):
        raise ScheduleError(f"{where}: expected a time like 09:00, got {value!r}")
    seconds = int(hours) * 3600 + int(minutes) * 60
    if int(minutes) > 59 or seconds > 86400:
        raise ScheduleError(f"{where}: expected a time like 09:00, got {value!r}")
    return seconds


def _query_time(seconds: float) -> str:
    """An instant as Zammad's search query takes it: ISO 8601 UTC, milliseconds, colons escaped."""
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"
    return text.replace(":", "\\:")


def _datetime(value: Any) -> datetime | None:
    seconds = _instant(value)
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def build(config: Config) -> ZammadSource:
    """The Zammad source of a config (``source.type: zammad``)."""
    return ZammadSource(config.source)
