"""Freshdesk as a source: tickets by ``updated_since`` with their stats, replies only where needed.

Endpoints (one request each when nothing changed):

* ``GET /api/v2/tickets?updated_since=...&order_by=updated_at&order_type=asc&include=stats``
  -- every ticket changed since the saved position, oldest change first,
  ``per_page`` up to 100, following the ``Link: <...page=N>; rel="next"``
  header to the last page.  Freshdesk serves at most 300 pages of one
  listing: before the cap, the listing starts again with ``updated_since``
  rolled forward to the last ``updated_at`` read (the tickets of that second
  come again and are de-duplicated).
* ``GET /api/v2/surveys/satisfaction_ratings?created_since=...`` -- ratings
  since the saved position, for ``kind: csat`` SLOs.
* ``GET /api/v2/tickets/{id}/conversations`` -- only for the few tickets whose
  stats cannot tell when a next-response cycle started (below), at most
  ``conversations_per_poll`` of them and only while the rate budget allows.

**Mapping.** Status through ``source.status_map`` first (keys are Freshdesk's
numbers: ``{6: on_hold}`` for a custom status whose SLA timer is off), then
2 ``open``, 3 ``pending``, 4 ``solved``, 5 ``closed``; an unmapped custom
status counts as ``open`` (its clocks keep running) and is logged once.
Priority through ``source.priority_map`` (numbers or Freshdesk's names), then
1 ``low``, 2 (medium) ``normal``, 3 ``high``, 4 ``urgent``.  Channel is the
ticket's ``source`` (``email``, ``portal``, ``phone``, ``chat``,
``feedback_widget``, ``outbound_email``, ...); group is ``group_id``, brand
is ``product_id``, assignee is ``responder_id``, all as text.

**Events from stats.** ``include=stats`` gives, per ticket, when it was first
answered (``first_responded_at``), the latest agent and requester replies,
the latest status change (``status_updated_at``, ``pending_since``) and when
it was resolved, closed and reopened.  Those instants become events:
``first_responded_at`` and ``agent_responded_at`` are public agent replies
(Freshdesk's auto-acknowledgements are notification e-mails, not replies, so
they never set them), ``requester_responded_at`` a requester reply, the
current status a ``status`` event at ``status_updated_at``, ``resolved_at`` a
solve and ``reopened_at`` a reopen.  Stats hold only the *latest* value of
each, so each changed ticket is rebuilt from its previous full state (see
*Merging*) plus what this poll saw: history builds up poll by poll, and a
status that came and went between two polls is not seen (a resolution clock
then runs through a short pause: it errs towards a late, never an early,
resolution).

**Conversations, and what they cost.** A next-response cycle starts at the
first requester reply after an agent reply; stats only show the latest
requester reply.  When the ticket waits on an agent and the requester may
have written earlier than that (the gap since the last agent reply, or since
the position the previous poll read to, is longer than ``reply_tolerance``),
the conversations are read for that ticket; otherwise the cycle starts at
most ``reply_tolerance`` late.  With a poll every minute that almost never
happens after the first poll; on the first poll it is capped per poll
(``conversations_per_poll``) and skipped while fewer than
``conversation_reserve`` requests are left in the rate-limit window; the rest
waits in the cursor for the next polls (oldest first).  Until then the cycle
starts at the latest requester reply: a next-response outcome may be called
good that a full read would call bad, never the reverse.  Tickets solved
before the exporter first saw them keep only the latest cycle.  A
conversation is a requester reply when ``incoming`` is true or its author is
the requester (private ones are ignored), otherwise an agent reply: public
for a reply (``source`` 0 and other outbound channels), internal for a note
(``source`` 2), by an AI agent when its ``user_id`` is one of
``ai_agent_ids``.

**Native clocks** (``mode: native``): ``fr_due_by``/``fr_escalated`` give
``first_response`` (stopped at ``first_responded_at``), ``due_by``/
``is_escalated`` give ``resolution`` (stopped when resolved, paused while the
status is ``pending`` or ``on_hold``), ``nr_due_by``/``nr_escalated`` give the
latest ``next_response`` cycle.  A null due date means Freshdesk applies no
SLA to that metric: no native clock.  Targets are left to the config (or to
:func:`sla_targets` from the SLA policies).

**Merging across polls.** The previous state of a ticket comes from ``known``
(a batch lookup, e.g. into the store, see
:meth:`FreshdeskSource.use_known_tickets`) or from the tickets this source
returned before (in memory, bounded).  Equal events collapse, so a poll
repeated from the same cursor after a failure neither loses nor
double-counts anything.

**Cursor** (one opaque string, JSON; POSIX seconds)::

    {"v": 1, "history_start": 1759000000,
     "tickets": {"updated_since": 1762084700, "seen": ["101"]},
     "ratings": {"created_since": 1762084680, "seen": [5001]},
     "conversations": [{"ticket": "105", "since": 1762084790}],
     "ratings_waiting": [{"ticket": "107", "at": 1762084790, "id": 5002, "rating": "good"}]}

``seen`` are the records read at exactly the position (Freshdesk's
``updated_since`` and ``created_since`` include that second).  Positions
never go backwards: an answer dated before the asked position is read but
does not move it (a warning is logged).  Nothing is kept from a poll that
fails: the next poll starts again from the same cursor.

**Watermark.** A listing read to its last page is complete up to ``now``
minus :data:`LAG_SECONDS` (changes still being written); one cut short by
``max_pages`` or by the poll's time budget (``source.poll_timeout``) up to the
largest ``updated_at`` it read, less a second.  A poll that runs out of time
keeps what it read, so a large first sync progresses over several polls.

**Stalls.** A listing that answers :data:`STALL_REPEATS` times in a row
without moving (the same page again, or a ``Link`` to a page that is not
after the current one) fails the poll with reason ``stalled`` instead of
being read up to the page limits.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.utils import parse_header_links

from exporter.config import Config, ConfigError, SourceConfig, read_secret
from exporter.model import (
    CLOSED_STATUSES,
    Author,
    EventType,
    NativeClock,
    Priority,
    Rating,
    Ticket,
    TicketEvent,
)
from exporter.sla import next_response_clocks
from exporter.sources.base import PollResult, SourceError
from exporter.sources.http import BasicAuth, HelpdeskClient, PollBudgetSpent
from exporter.sources.incremental import STALL_REPEATS as STALL_REPEATS  # also importable here
from exporter.sources.incremental import IncrementalSource, KnownTickets
from exporter.sources.progress import ReadProgress
from exporter.sources.values import id_order as _id_order
from exporter.sources.values import instant as _instant
from exporter.sources.values import iso as _iso
from exporter.sources.zendesk_time_zones import ScheduleError, ScheduleHours, iana_time_zone

log = logging.getLogger(__name__)

TICKETS_PATH = "/api/v2/tickets"
CONVERSATIONS_PATH = "/api/v2/tickets/{id}/conversations"
RATINGS_PATH = "/api/v2/surveys/satisfaction_ratings"
BUSINESS_HOURS_PATH = "/api/v2/business_hours"
SLA_POLICIES_PATH = "/api/v2/sla_policies"

#: Freshdesk serves at most this many pages of one listing.
PAGE_CAP = 300
#: Largest ``per_page`` Freshdesk accepts.
MAX_PER_PAGE = 100
#: Ticket pages read per poll (the rest is read on the next poll).
MAX_PAGES = 600
#: Rating pages read per poll.
MAX_RATING_PAGES = 50
#: Conversation pages read per ticket.
MAX_CONVERSATION_PAGES = 10
#: Changes this recent may still be being written: the watermark stays this far behind ``now``.
LAG_SECONDS = 30
#: Tickets whose conversations are read per poll, at most.
CONVERSATIONS_PER_POLL = 50
#: No conversations are read while fewer requests than this are left in the rate window.
CONVERSATION_RESERVE = 20
#: A next-response cycle may start this much later than the earliest requester reply.
REPLY_TOLERANCE_SECONDS = 120.0
#: Tickets waiting in the cursor for their conversations, at most.
CONVERSATION_BACKLOG_LIMIT = 5000
#: A ticket waiting for its conversations longer than this is given up on.
CONVERSATION_MAX_AGE_SECONDS = 86400.0
#: Ratings waiting in the cursor for a ticket not seen yet, at most, and for how long.
RATINGS_WAITING_LIMIT = 5000
RATINGS_WAITING_MAX_AGE_SECONDS = 7 * 86400.0
#: Tickets remembered in memory when no ``known`` lookup is given.
CACHE_LIMIT = 200_000
CURSOR_VERSION = 1

#: Freshdesk status numbers -> ours (custom statuses are numbered from 6 on).
DEFAULT_STATUSES: Mapping[int, str] = {2: "open", 3: "pending", 4: "solved", 5: "closed"}
#: Freshdesk priority numbers and names -> ours.
DEFAULT_PRIORITIES: Mapping[str, Priority] = {
    "1": Priority.LOW,
    "2": Priority.NORMAL,
    "3": Priority.HIGH,
    "4": Priority.URGENT,
    "low": Priority.LOW,
    "medium": Priority.NORMAL,
    "high": Priority.HIGH,
    "urgent": Priority.URGENT,
}
#: Freshdesk's names of its priority numbers (``priority_map`` accepts either).
PRIORITY_NAMES: Mapping[str, str] = {"1": "low", "2": "medium", "3": "high", "4": "urgent"}
#: Freshdesk ticket ``source`` numbers -> channel names.
CHANNELS: Mapping[int, str] = {
    1: "email",
    2: "portal",
    3: "phone",
    4: "forum",
    5: "twitter",
    6: "facebook",
    7: "chat",
    8: "mobihelp",
    9: "feedback_widget",
    10: "outbound_email",
    11: "ecommerce",
    12: "bot",
    13: "whatsapp",
}
#: Conversation ``source`` of a note and of survey feedback.
NOTE_SOURCE = 2
SURVEY_FEEDBACK_SOURCE = 6
#: Event types a conversation is read into.
_REPLIES = frozenset({EventType.AGENT_REPLY, EventType.REQUESTER_REPLY})
#: Statuses in which Freshdesk's own clocks are taken as paused.
NATIVE_PAUSED = frozenset({"pending", "on_hold"})
#: ``ratings.default_question`` of a neutral answer (103..101 happy, -101..-103 unhappy).
NEUTRAL_RATING = 100


# --- cursor -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """Where a listing resumes: its ``*_since`` instant and the records already read at it."""

    since: int
    seen: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class WaitingRating:
    """A rating of a ticket this source has not built yet."""

    ticket: str
    at: float
    id: int
    rating: Rating

    def to_json(self) -> dict[str, Any]:
        return {"ticket": self.ticket, "at": self.at, "id": self.id, "rating": self.rating.value}


@dataclass
class CursorState:
    """Everything a poll resumes from; serialized as the poll's cursor."""

    history_start: int
    tickets: Position
    ratings: Position
    #: ticket id -> when its conversations were first wanted (POSIX seconds)
    conversations: dict[str, float] = field(default_factory=dict)
    ratings_waiting: list[WaitingRating] = field(default_factory=list)

    @classmethod
    def fresh(cls, now: float, lookback: float) -> CursorState:
        start = int(now - lookback)
        return cls(start, Position(start), Position(start))

    @classmethod
    def parse(cls, text: str | None, now: float, lookback: float) -> CursorState:
        """The state a cursor holds; a missing or unreadable cursor starts from ``lookback``."""
        if text is None:
            return cls.fresh(now, lookback)
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError(f"version {data.get('v')!r}")
            return cls(
                history_start=int(data["history_start"]),
                tickets=_position(data["tickets"], "updated_since"),
                ratings=_position(data["ratings"], "created_since"),
                conversations={
                    str(item["ticket"]): float(item["since"])
                    for item in data.get("conversations") or []
                },
                ratings_waiting=[
                    WaitingRating(
                        str(item["ticket"]),
                        float(item["at"]),
                        int(item["id"]),
                        Rating(item["rating"]),
                    )
                    for item in data.get("ratings_waiting") or []
                ],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "freshdesk: the saved cursor is not readable (%s); starting again from the "
                "lookback",
                type(exc).__name__,
            )
            return cls.fresh(now, lookback)

    def dump(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "history_start": self.history_start,
                "tickets": {
                    "updated_since": self.tickets.since,
                    "seen": sorted(self.tickets.seen, key=_id_order),
                },
                "ratings": {
                    "created_since": self.ratings.since,
                    "seen": sorted(int(i) for i in self.ratings.seen),
                },
                "conversations": [
                    {"ticket": ticket, "since": since}
                    for ticket, since in sorted(
                        self.conversations.items(), key=lambda item: (item[1], item[0])
                    )
                ],
                "ratings_waiting": [w.to_json() for w in self.ratings_waiting],
            },
            separators=(",", ":"),
            sort_keys=True,
        )


def _position(record: Mapping[str, Any], key: str) -> Position:
    return Position(int(record[key]), frozenset(str(i) for i in record.get("seen") or []))


# --- the source -------------------------------------------------------------------------------


def freshdesk_client(
    config: SourceConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> HelpdeskClient:
    """A client for the configured Freshdesk account.

    Freshdesk signs in with the API key as the basic-auth user name and ``X``
    as the password; the key comes from ``token_file`` or ``token_env``.
    """
    if config.url is None:
        raise ConfigError(["source.url: a freshdesk source needs `url:`"])
    secret = read_secret(config)
    if secret is None:
        raise ConfigError(["source: a freshdesk source needs `token_file:` or `token_env:`"])
    read = config.timeout.seconds
    return HelpdeskClient(
        config.url,
        auth=BasicAuth(secret, "X"),
        timeout=(min(10.0, read), read),
        max_retry_after=config.max_retry_after.seconds,
        sleep=sleep,
        clock=clock,
    )


class FreshdeskSource(IncrementalSource):
    """Polls one Freshdesk account; see the module documentation for what each poll reads.

    ``client`` defaults to :func:`freshdesk_client` built with ``clock`` and
    ``sleep`` (injectable so tests never wait).  The limits default to the
    module constants; tests shrink ``page_cap`` to see the roll-over.
    """

    name = "freshdesk"

    def __init__(
        self,
        config: SourceConfig,
        client: HelpdeskClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        sleep: Callable[[float], None] = time.sleep,
        known: KnownTickets | None = None,
        page_cap: int = PAGE_CAP,
        max_pages: int = MAX_PAGES,
        conversations_per_poll: int = CONVERSATIONS_PER_POLL,
        conversation_reserve: int = CONVERSATION_RESERVE,
        reply_tolerance: float = REPLY_TOLERANCE_SECONDS,
    ) -> None:
        client = client or freshdesk_client(config, sleep=sleep, clock=clock)
        super().__init__(config, client, known)
        self.lookback = config.lookback.seconds
        self.poll_timeout = config.poll_timeout.seconds
        self.per_page = min(config.page_size, MAX_PER_PAGE)
        self.priority_map = {str(k).lower(): v for k, v in config.priority_map.items()}
        self.status_map = {str(k).lower(): v for k, v in config.status_map.items()}
        self.ai_agent_ids = frozenset(str(i) for i in config.ai_agent_ids)
        self.page_cap = page_cap
        self.max_pages = max_pages
        self.conversations_per_poll = conversations_per_poll
        self.conversation_reserve = conversation_reserve
        self.reply_tolerance = reply_tolerance
        self._requesters: dict[str, str] = {}
        self._ignored: set[str] = set()
        self._unmapped_logged: set[str] = set()

    # -- one poll --

    def read(self, cursor: str | None, now: float) -> PollResult:
        """Read what changed since ``cursor``; nothing is kept unless the whole poll succeeds.

        Within ``source.poll_timeout``: a listing the budget cuts short keeps
        what it read, and the watermark stays where its data is complete.
        """
        state = CursorState.parse(cursor, now, self.lookback)
        run = _PollRun(self, state, now)
        with self.client.poll_budget(self.poll_timeout):
            run.read_tickets()
            run.read_ratings()
            tickets = run.build()
        self._commit(run, tickets)
        return PollResult(
            tickets=tickets,
            cursor=run.state.dump(),
            watermark=run.watermark,
            problems=run.problems,
        )

    def _commit(self, run: _PollRun, tickets: list[Ticket]) -> None:
        self._requesters.update(run.requesters)
        self._ignored |= run.ignored
        self.remember(tickets)
        for key in list(self._requesters)[: max(0, len(self._requesters) - CACHE_LIMIT)]:
            del self._requesters[key]

    # -- mapping --

    def map_status(self, raw: Any) -> str:
        text = str(raw).lower() if raw is not None else ""
        mapped = self.status_map.get(text)
        if mapped is not None:
            return mapped
        number = _int(raw)
        if number is not None and number in DEFAULT_STATUSES:
            return DEFAULT_STATUSES[number]
        if text not in self._unmapped_logged:
            self._unmapped_logged.add(text)
            log.warning(
                "freshdesk: status %r is not mapped; it counts as open. Map custom statuses in "
                "source.status_map (e.g. {%s: on_hold} for one that stops the SLA timer)",
                raw,
                text or "6",
            )
        return "open"

    def map_priority(self, raw: Any) -> Priority:
        if raw is None:
            return Priority.NORMAL
        text = str(raw).lower()
        for key in (text, PRIORITY_NAMES.get(text)):
            mapped = self.priority_map.get(key) if key is not None else None
            if mapped is not None:
                return mapped
        return DEFAULT_PRIORITIES.get(text, Priority.NORMAL)


class _PollRun:
    """The staging area of one poll: nothing here reaches the source until it succeeded."""

    def __init__(self, source: FreshdeskSource, state: CursorState, now: float) -> None:
        self.source = source
        self.client = source.client
        self.state = state
        self.now = now
        self.start = state.tickets.since
        self.problems: list[str] = []
        self.raw: dict[str, Mapping[str, Any]] = {}
        self.ratings: list[WaitingRating] = list(state.ratings_waiting)
        self.requesters: dict[str, str] = {}
        self.ignored: set[str] = set()
        self.watermark = now - LAG_SECONDS

    # -- reading --

    def page(
        self, path: str, params: Mapping[str, str | int], where: str
    ) -> tuple[list[Mapping[str, Any]], int | None]:
        """One page of a list endpoint: its records and the next page number, if any."""
        body, headers = self.client.get_json_with_headers(path, params)
        if not isinstance(body, list):
            raise SourceError(
                f"GET {where}: expected a JSON list, got {type(body).__name__}; the same page "
                "is asked for again on the next poll",
                "bad_response",
            )
        records = [item for item in body if isinstance(item, Mapping)]
        if len(records) != len(body):
            self.problems.append(f"{where}: {len(body) - len(records)} entries are not objects")
        current = int(params.get("page", 1))
        return records, _next_page(headers, current)

    def read_tickets(self) -> None:
        """Page the listing to its end, rolling ``updated_since`` forward before the page cap."""
        source = self.source
        position = self.state.tickets
        query_since = position.since
        page_number = 1
        newest, at_newest = position.since, set(position.seen)
        exhausted = False
        backwards = 0
        stall = _Stall(TICKETS_PATH)
        progress = ReadProgress(
            "freshdesk", TICKETS_PATH, self.client, since=newest, until=self.now
        )
        for _ in range(source.max_pages):
            params: dict[str, str | int] = {
                "updated_since": _iso(query_since),
                "order_by": "updated_at",
                "order_type": "asc",
                "per_page": source.per_page,
                "page": page_number,
                "include": "stats",
            }
            where = f"{TICKETS_PATH} page {page_number} since {_iso(query_since)}"
            try:
                records, next_page = self.page(TICKETS_PATH, params, where)
            except PollBudgetSpent as exc:
                log.warning("freshdesk: %s", exc)
                break
            stall.check(records, page_number, next_page)
            progress.page(
                len(records), _instant(records[-1].get("updated_at")) if records else None
            )
            for index, raw in enumerate(records):
                ticket_id = _id(raw.get("id"))
                updated = _instant(raw.get("updated_at"))
                if ticket_id is None or updated is None:
                    self.problems.append(f"{where}: [{index}] has no id or updated_at")
                    continue
                if updated < position.since:
                    backwards += 1
                elif updated == position.since and ticket_id in position.seen:
                    continue  # read by an earlier poll in this very state
                earlier = self.raw.get(ticket_id)
                if earlier is not None and (_instant(earlier.get("updated_at")) or 0) > updated:
                    continue
                self.raw[ticket_id] = raw
                second = int(updated)
                if second > newest:
                    newest, at_newest = second, {ticket_id}
                elif second == newest:
                    at_newest.add(ticket_id)
            if next_page is None:
                exhausted = True
                break
            if next_page > source.page_cap:
                if newest <= query_since:
                    self.problems.append(
                        f"{TICKETS_PATH}: more than {source.page_cap} pages of tickets updated "
                        f"at {_iso(query_since)}; the rest of that second cannot be listed"
                    )
                    newest += 1  # move past the second that cannot be listed whole
                    at_newest = set()
                    break
                query_since, page_number = newest, 1
                stall = _Stall(TICKETS_PATH)
                continue
            page_number = max(page_number, next_page)
        progress.done()
        if backwards:
            log.warning(
                "freshdesk: %s returned %d tickets updated before the asked updated_since %s "
                "(going back in time); keeping the saved position",
                TICKETS_PATH,
                backwards,
                _iso(position.since),
            )
        self.state.tickets = Position(newest, frozenset(at_newest))
        if not exhausted:
            self.watermark = min(self.watermark, float(newest) - 1.0)

    def read_ratings(self) -> None:
        position = self.state.ratings
        newest, at_newest = position.since, set(position.seen)
        page_number = 1
        stall = _Stall(RATINGS_PATH)
        progress = ReadProgress(
            "freshdesk", RATINGS_PATH, self.client, since=newest, until=self.now
        )
        for _ in range(MAX_RATING_PAGES):
            params: dict[str, str | int] = {
                "created_since": _iso(position.since),
                "per_page": MAX_PER_PAGE,
                "page": page_number,
            }
            where = f"{RATINGS_PATH} page {page_number}"
            try:
                records, next_page = self.page(RATINGS_PATH, params, where)
            except PollBudgetSpent as exc:
                log.warning("freshdesk: %s", exc)
                break
            stall.check(records, page_number, next_page)
            progress.page(
                len(records), _instant(records[-1].get("created_at")) if records else None
            )
            for index, record in enumerate(records):
                rating_id = _int(record.get("id"))
                ticket = _id(record.get("ticket_id"))
                at = _instant(record.get("created_at"))
                if rating_id is None or ticket is None or at is None:
                    self.problems.append(f"{where}: [{index}] has no id, ticket_id or created_at")
                    continue
                if str(rating_id) in position.seen:
                    continue
                second = int(at)
                if second > newest:
                    newest, at_newest = second, {str(rating_id)}
                elif second == newest:
                    at_newest.add(str(rating_id))
                rating = _rating(record.get("ratings"))
                if rating is not None:
                    self.ratings.append(WaitingRating(ticket, at, rating_id, rating))
            if next_page is None:
                break
            page_number = max(page_number, next_page)
        progress.done()
        self.state.ratings = Position(newest, frozenset(at_newest))

    # -- building tickets --

    def build(self) -> list[Ticket]:
        source = self.source
        rated = {r.ticket for r in self.ratings}
        ids = sorted(set(self.raw) | set(self.state.conversations) | rated, key=_id_order)
        previous = source.previous(ids)
        bases: dict[str, Ticket] = {}
        fresh: dict[str, list[TicketEvent]] = {}
        for ticket_id in ids:
            raw = self.raw.get(ticket_id)
            prior = previous.get(ticket_id)
            if raw is None:
                if prior is not None:
                    bases[ticket_id] = prior
                continue
            base = self._from_listing(ticket_id, raw)
            if base is None:
                continue
            bases[ticket_id] = base
            fresh[ticket_id] = _stats_events(raw, base.status)
            if self._needs_conversations(raw, base, prior):
                self.state.conversations.setdefault(ticket_id, self.now)
        replies = self._read_conversations(bases)
        tickets: list[Ticket] = []
        for ticket_id in ids:
            base = bases.get(ticket_id)
            if base is None:
                continue
            prior = previous.get(ticket_id)
            events = [
                *(prior.events if prior is not None else ()),
                *fresh.get(ticket_id, ()),
            ]
            read = replies.get(ticket_id)
            if read:
                # the conversations are the whole reply history up to their last one: they
                # replace the replies stats suggested until then
                until = max(e.at for e in read)
                events = [e for e in events if not (e.type in _REPLIES and e.at <= until)]
                events.extend(read)
            events = sorted(dict.fromkeys(events), key=lambda e: e.at)
            ticket = replace(base, events=tuple(events))
            raw = self.raw.get(ticket_id)
            if raw is not None:
                ticket = replace(ticket, native=_native_clocks(raw, ticket, prior))
            if ticket_id in fresh or ticket_id in replies or ticket_id in rated:
                tickets.append(ticket)
        return self._apply_ratings(tickets)

    def _from_listing(self, ticket_id: str, raw: Mapping[str, Any]) -> Ticket | None:
        source = self.source
        if ticket_id in source._ignored:
            return None
        created = _instant(raw.get("created_at"))
        if created is None:
            self.problems.append(f"{TICKETS_PATH}: ticket {ticket_id} has no created_at")
            return None
        if created < self.state.history_start:
            self.ignored.add(ticket_id)  # older than the history read: its clocks are unknown
            return None
        requester = _id(raw.get("requester_id"))
        if requester is not None:
            self.requesters[ticket_id] = requester
        status = source.map_status(raw.get("status"))
        if raw.get("deleted") is True or raw.get("spam") is True:
            status = "closed"
        tags = raw.get("tags")
        kind = raw.get("type")
        return Ticket(
            id=ticket_id,
            created_at=datetime.fromtimestamp(created, UTC),
            status=status,
            priority=source.map_priority(raw.get("priority")),
            channel=_channel(raw.get("source")),
            group=_id(raw.get("group_id")),
            brand=_id(raw.get("product_id")),
            type=kind if isinstance(kind, str) and kind else None,
            tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
            assignee=_id(raw.get("responder_id")),
        )

    def _needs_conversations(
        self, raw: Mapping[str, Any], base: Ticket, prior: Ticket | None
    ) -> bool:
        """Whether stats leave the start of a running next-response cycle too uncertain."""
        if base.is_closed:
            return False
        stats = _stats(raw)
        first = _instant(stats.get("first_responded_at"))
        agent = _instant(stats.get("agent_responded_at"))
        requester = _instant(stats.get("requester_responded_at"))
        if first is None or agent is None or requester is None or requester <= agent:
            return False
        lower = agent
        if prior is not None:
            known = [e.at.timestamp() for e in prior.events if e.type is EventType.REQUESTER_REPLY]
            if known and max(known) > agent:
                return False  # the cycle was already open at the previous poll: its start is known
            # every update after the previous read position shows up in this poll
            lower = max(agent, float(self.start))
        return requester - lower > self.source.reply_tolerance

    def _read_conversations(self, bases: Mapping[str, Ticket]) -> dict[str, list[TicketEvent]]:
        """Conversations of the waiting tickets, oldest wish first, within the caps."""
        source = self.source
        waiting = self.state.conversations
        for ticket_id, since in list(waiting.items()):
            if ticket_id not in bases and self.now - since > CONVERSATION_MAX_AGE_SECONDS:
                del waiting[ticket_id]
                self.problems.append(
                    f"ticket {ticket_id}: gave up reading its conversations (its previous state "
                    "is not known)"
                )
        order = sorted(waiting, key=lambda i: (waiting[i], _id_order(i)))
        replies: dict[str, list[TicketEvent]] = {}
        fetched = 0
        for ticket_id in order:
            if fetched >= source.conversations_per_poll:
                break
            remaining = self.client.rate_limit_remaining
            if remaining is not None and remaining < source.conversation_reserve:
                self.problems.append(
                    f"conversations of {len(waiting)} tickets wait for the next poll "
                    f"({remaining:g} requests left in the rate-limit window)"
                )
                break
            base = bases.get(ticket_id)
            if base is None:
                continue  # its state is not known yet; it waits (bounded by age)
            requester = self.requesters.get(ticket_id) or source._requesters.get(ticket_id)
            fetched += 1
            try:
                events = self._conversations(ticket_id, requester)
            except SourceError as exc:
                if exc.reason == "http_4xx" or exc.status == 403:
                    del waiting[
                        ticket_id
                    ]  # deleted or not visible to this key: nothing to wait for
                    self.problems.append(f"ticket {ticket_id}: conversations not readable ({exc})")
                    continue
                self.problems.append(
                    f"ticket {ticket_id}: conversations wait for the next poll ({exc.reason})"
                )
                break
            del waiting[ticket_id]
            replies[ticket_id] = events
        if len(waiting) > CONVERSATION_BACKLOG_LIMIT:
            dropped = sorted(waiting, key=lambda i: waiting[i])[
                : len(waiting) - CONVERSATION_BACKLOG_LIMIT
            ]
            for ticket_id in dropped:
                del waiting[ticket_id]
            self.problems.append(
                f"{len(dropped)} tickets will not have their conversations read (more than "
                f"{CONVERSATION_BACKLOG_LIMIT} were waiting)"
            )
        return replies

    def _conversations(self, ticket_id: str, requester: str | None) -> list[TicketEvent]:
        path = CONVERSATIONS_PATH.format(id=ticket_id)
        events: list[TicketEvent] = []
        page_number = 1
        for _ in range(MAX_CONVERSATION_PAGES):
            params: dict[str, str | int] = {"per_page": MAX_PER_PAGE, "page": page_number}
            records, next_page = self.page(path, params, f"{path} page {page_number}")
            for record in records:
                event = self._conversation_event(record, requester)
                if event is not None:
                    events.append(event)
            if next_page is None or next_page <= page_number:
                break
            page_number = next_page
        return events

    def _conversation_event(
        self, record: Mapping[str, Any], requester: str | None
    ) -> TicketEvent | None:
        created = _instant(record.get("created_at"))
        if created is None:
            return None
        at = datetime.fromtimestamp(created, UTC)
        private = record.get("private") is True
        author = _id(record.get("user_id"))
        if record.get("incoming") is True or (author is not None and author == requester):
            return None if private else TicketEvent(at, EventType.REQUESTER_REPLY)
        kind = record.get("source")
        if kind == SURVEY_FEEDBACK_SOURCE:
            return None
        public = not private and kind != NOTE_SOURCE
        who = Author.AI_AGENT if author in self.source.ai_agent_ids else Author.AGENT
        return TicketEvent(at, EventType.AGENT_REPLY, public=public, author=who)

    def _apply_ratings(self, tickets: list[Ticket]) -> list[Ticket]:
        """Each ticket's first rating as a ``csat`` event; ratings of unknown tickets wait."""
        by_id = {t.id: i for i, t in enumerate(tickets)}
        waiting: list[WaitingRating] = []
        for rating in sorted(self.ratings, key=lambda r: (r.at, r.id)):
            index = by_id.get(rating.ticket)
            if index is None:
                if rating.ticket in self.ignored or rating.ticket in self.source._ignored:
                    continue
                if self.now - rating.at <= RATINGS_WAITING_MAX_AGE_SECONDS:
                    waiting.append(rating)
                else:
                    self.problems.append(
                        f"ticket {rating.ticket}: dropped rating {rating.id} (the ticket was not "
                        "seen within 7 days)"
                    )
                continue
            ticket = tickets[index]
            if any(e.type is EventType.CSAT for e in ticket.events):
                continue
            event = TicketEvent(
                datetime.fromtimestamp(rating.at, UTC), EventType.CSAT, rating=rating.rating
            )
            events = sorted([*ticket.events, event], key=lambda e: e.at)
            tickets[index] = replace(ticket, events=tuple(events))
        if len(waiting) > RATINGS_WAITING_LIMIT:
            self.problems.append(
                f"{len(waiting) - RATINGS_WAITING_LIMIT} ratings dropped (more than "
                f"{RATINGS_WAITING_LIMIT} were waiting for their tickets)"
            )
            waiting = waiting[-RATINGS_WAITING_LIMIT:]
        self.state.ratings_waiting = waiting
        return tickets


# --- events and native clocks -----------------------------------------------------------------


def _stats_events(raw: Mapping[str, Any], status: str) -> list[TicketEvent]:
    """What the stats of one listing entry say happened (latest values only)."""
    stats = _stats(raw)

    def at(key: str) -> datetime | None:
        value = _instant(stats.get(key))
        return None if value is None else datetime.fromtimestamp(value, UTC)

    events: list[TicketEvent] = []
    for key in ("first_responded_at", "agent_responded_at"):
        when = at(key)
        if when is not None:
            events.append(TicketEvent(when, EventType.AGENT_REPLY))
    requester = at("requester_responded_at")
    if requester is not None:
        events.append(TicketEvent(requester, EventType.REQUESTER_REPLY))
    changed = at("status_updated_at")
    resolved, closed, reopened = at("resolved_at"), at("closed_at"), at("reopened_at")
    solved_now = status in CLOSED_STATUSES
    later = [t for t in (changed, reopened) if t is not None]
    for solved_at, event in (
        (resolved, TicketEvent(resolved, EventType.SOLVED) if resolved else None),
        (closed, TicketEvent(closed, EventType.STATUS, to="closed") if closed else None),
    ):
        if solved_at is None or event is None:
            continue
        # a solve the ticket has since left is real only if something came after it
        if solved_now or any(t > solved_at for t in later):
            events.append(event)
    if reopened is not None:
        events.append(TicketEvent(reopened, EventType.REOPENED))
    pending = at("pending_since")
    if status == "pending" and pending is not None:
        events.append(TicketEvent(pending, EventType.STATUS, to=status))
    elif changed is not None:
        events.append(TicketEvent(changed, EventType.STATUS, to=status))
    return events


def _native_clocks(
    raw: Mapping[str, Any], ticket: Ticket, prior: Ticket | None
) -> tuple[NativeClock, ...]:
    """Freshdesk's own SLA state of a ticket: first response, resolution, latest next response."""
    stats = _stats(raw)
    clocks = {(c.metric, c.cycle): c for c in (prior.native if prior is not None else ())}
    created = ticket.created_at
    paused = ticket.status in NATIVE_PAUSED

    def instant(value: Any) -> datetime | None:
        seconds = _instant(value)
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC)

    def put(
        metric: str,
        cycle: int,
        started: datetime | None,
        due: Any,
        escalated: Any,
        stopped: datetime | None,
        is_paused: bool,
    ) -> None:
        deadline = instant(due)
        before = clocks.get((metric, cycle))
        if deadline is None and escalated is not True:
            if before is not None and stopped is not None and before.stopped_at is None:
                clocks[(metric, cycle)] = replace(before, stopped_at=stopped, paused=False)
            return  # no SLA applies to this metric (or no longer says so)
        if deadline is None and before is not None:
            deadline = before.deadline
        breached = deadline if escalated is True else None
        if breached is not None and stopped is not None and stopped <= breached:
            breached = None  # stopped by the deadline: met
        clocks[(metric, cycle)] = NativeClock(
            metric=metric,
            cycle=cycle,
            started_at=started,
            deadline=deadline,
            stopped_at=stopped,
            breached_at=breached,
            paused=is_paused and stopped is None,
        )

    put(
        "first_response",
        0,
        created,
        raw.get("fr_due_by"),
        raw.get("fr_escalated"),
        instant(stats.get("first_responded_at")),
        False,
    )
    solved_at = None
    if ticket.is_closed:
        solved_at = instant(stats.get("resolved_at")) or instant(stats.get("closed_at"))
    put("resolution", 0, created, raw.get("due_by"), raw.get("is_escalated"), solved_at, paused)

    cycles = next_response_clocks(ticket, float("inf"), (Author.AGENT,))
    for cycle in cycles:  # stop earlier native cycles that our events show answered
        before = clocks.get(("next_response", cycle.cycle))
        if before is not None and before.stopped_at is None and cycle.first_stop is not None:
            clocks[("next_response", cycle.cycle)] = replace(
                before, stopped_at=datetime.fromtimestamp(cycle.first_stop, UTC), paused=False
            )
    requester = instant(stats.get("requester_responded_at"))
    index: int
    started: datetime | None
    stopped: datetime | None
    if cycles:
        latest = cycles[-1]
        index, started = latest.cycle, datetime.fromtimestamp(latest.started_at, UTC)
        stopped = (
            datetime.fromtimestamp(latest.first_stop, UTC)
            if latest.first_stop is not None
            else None
        )
    else:
        index, started, stopped = 0, requester, None
    if started is not None:
        put(
            "next_response",
            index,
            started,
            raw.get("nr_due_by"),
            raw.get("nr_escalated"),
            stopped,
            paused,
        )
    return tuple(clocks[k] for k in sorted(clocks))


# --- business hours and SLA policies ----------------------------------------------------------

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def business_hours(record: Mapping[str, Any]) -> ScheduleHours:
    """A Freshdesk business-hours calendar as business-calendar arguments.

    ``business_hours`` lists ``start_time``/``end_time`` per weekday in
    12-hour clock ("8:00 am", "5:00 pm"); a missing day is closed; an end of
    "11:59 pm" closes at midnight.  ``time_zone`` is a Rails name ("Eastern
    Time (US & Canada)", "Chennai") or an IANA one.  Freshdesk lists no
    holidays through this endpoint: add them in the config.
    """
    zone = record.get("time_zone")
    if not isinstance(zone, str):
        raise ScheduleError(f"time_zone: expected a time-zone name, got {zone!r}")
    days = record.get("business_hours")
    if not isinstance(days, Mapping):
        raise ScheduleError("business_hours: expected an object of weekdays")
    weekly: dict[int, tuple[tuple[int, int], ...]] = {}
    for weekday, name in enumerate(_WEEKDAYS):
        hours = days.get(name)
        if hours is None:
            continue
        if not isinstance(hours, Mapping):
            raise ScheduleError(f"business_hours.{name}: expected start_time and end_time")
        start = _clock_seconds(hours.get("start_time"), f"business_hours.{name}.start_time")
        end = _clock_seconds(hours.get("end_time"), f"business_hours.{name}.end_time")
        if end == 23 * 3600 + 59 * 60:
            end = 86400
        if end <= start:
            raise ScheduleError(f"business_hours.{name}: ends before it starts")
        weekly[weekday] = ((start, end),)
    if not weekly:
        raise ScheduleError("business_hours: the calendar has no business hours")
    title = record.get("name")
    return ScheduleHours(
        name=str(title) if title is not None else f"freshdesk-{record.get('id')}",
        timezone=iana_time_zone(zone),
        weekly=weekly,
        holidays=frozenset(),
    )


def fetch_business_hours(
    client: HelpdeskClient, calendar_id: int | str | None = None
) -> ScheduleHours:
    """One business-hours calendar (the default one without ``calendar_id``): one request."""
    if calendar_id is not None:
        answer = client.get_json(f"{BUSINESS_HOURS_PATH}/{calendar_id}")
        if not isinstance(answer, Mapping):
            raise SourceError(
                f"GET {BUSINESS_HOURS_PATH}/{calendar_id}: expected a JSON object", "bad_response"
            )
        return business_hours(answer)
    listed = client.get_json(BUSINESS_HOURS_PATH)
    if not isinstance(listed, list) or not listed:
        raise SourceError(
            f"GET {BUSINESS_HOURS_PATH}: expected a list of calendars", "bad_response"
        )
    calendars = [c for c in listed if isinstance(c, Mapping)]
    chosen = next((c for c in calendars if c.get("is_default") is True), None)
    if chosen is None:
        raise SourceError(
            f"GET {BUSINESS_HOURS_PATH}: no calendar is marked is_default", "bad_response"
        )
    return business_hours(chosen)


@dataclass(frozen=True, slots=True)
class SlaTargets:
    """One Freshdesk SLA policy as targets per metric and priority (seconds)."""

    name: str
    targets: Mapping[str, Mapping[Priority, float]]
    #: priorities whose targets run on business hours (the others are calendar time)
    business_hours: frozenset[Priority]


_TARGET_KEYS = (
    ("first_response", "respond_within"),
    ("next_response", "next_respond_within"),
    ("resolution", "resolve_within"),
)


def sla_targets(policies: Any, policy_id: int | str | None = None) -> SlaTargets:
    """The targets of one SLA policy (the default one without ``policy_id``).

    ``sla_target`` holds ``priority_1`` (low) to ``priority_4`` (urgent), each
    with ``respond_within``, ``resolve_within`` (and ``next_respond_within``
    where next-response SLAs are on), in seconds.
    """
    if not isinstance(policies, list):
        raise ScheduleError("expected the list of SLA policies")
    listed = [p for p in policies if isinstance(p, Mapping)]
    if policy_id is not None:
        chosen = next((p for p in listed if str(p.get("id")) == str(policy_id)), None)
    else:
        chosen = next((p for p in listed if p.get("is_default") is True), None)
    if chosen is None:
        wanted = f"id {policy_id}" if policy_id is not None else "is_default"
        raise ScheduleError(f"no SLA policy with {wanted}")
    raw_targets = chosen.get("sla_target")
    if not isinstance(raw_targets, Mapping):
        raise ScheduleError("sla_target: expected an object of priority_1..priority_4")
    targets: dict[str, dict[Priority, float]] = {metric: {} for metric, _ in _TARGET_KEYS}
    on_business_hours: set[Priority] = set()
    for number in range(1, 5):
        target = raw_targets.get(f"priority_{number}")
        if not isinstance(target, Mapping):
            continue
        priority = DEFAULT_PRIORITIES[str(number)]
        for metric, key in _TARGET_KEYS:
            seconds = target.get(key)
            if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
                targets[metric][priority] = float(seconds)
        if target.get("business_hours") is True:
            on_business_hours.add(priority)
    return SlaTargets(
        name=str(chosen.get("name") or chosen.get("id")),
        targets={metric: values for metric, values in targets.items() if values},
        business_hours=frozenset(on_business_hours),
    )


def fetch_sla_targets(client: HelpdeskClient, policy_id: int | str | None = None) -> SlaTargets:
    """The targets of one SLA policy, read with one request."""
    return sla_targets(client.get_json(SLA_POLICIES_PATH), policy_id)


# --- small readers ----------------------------------------------------------------------------


class _Stall:
    """Counts answers in a row that do not move a listing; ``stalled`` after :data:`STALL_REPEATS`.

    An answer does not move the listing when it repeats the previous page's
    records, or when its ``Link`` points to a page that is not after it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.repeats = 0
        self.previous: list[tuple[Any, Any]] | None = None

    def check(
        self, records: Sequence[Mapping[str, Any]], page_number: int, next_page: int | None
    ) -> None:
        if next_page is None:
            return  # the last page: nothing more to move to
        content = [(r.get("id"), r.get("updated_at", r.get("created_at"))) for r in records]
        same = content == self.previous or next_page <= page_number
        self.previous = content
        self.repeats = self.repeats + 1 if same else 0
        if self.repeats >= STALL_REPEATS:
            raise SourceError(
                f"GET {self.path}: the listing answered the same page (or a link back to it) "
                f"{STALL_REPEATS} times in a row at page {page_number}; it does not advance, so "
                "the poll stops instead of reading it forever. It is asked again on the next "
                "poll; if this persists, the helpdesk's paging is stuck",
                "stalled",
            )


def _next_page(headers: Mapping[str, str], current: int) -> int | None:
    """The page the ``Link`` header points to with ``rel="next"``, if any.

    A link to a page that is not after ``current`` is returned as it is (the
    caller counts it as a listing that does not advance).
    """
    value = headers.get("Link") or headers.get("link")
    if not value:
        return None
    for link in parse_header_links(value):
        if link.get("rel") != "next":
            continue
        pages = parse_qs(urlsplit(link.get("url", "")).query).get("page")
        if pages:
            try:
                number = int(pages[0])
            except ValueError:
                break
            return number
        return current + 1
    return None


def _stats(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    stats = raw.get("stats")
    return stats if isinstance(stats, Mapping) else {}


def _rating(ratings: Any) -> Rating | None:
    """``ratings.default_question``: happy (101..103) is good, neutral and unhappy are bad."""
    if not isinstance(ratings, Mapping):
        return None
    value = _int(ratings.get("default_question"))
    if value is None:
        return None
    return Rating.GOOD if value > NEUTRAL_RATING else Rating.BAD


def _channel(value: Any) -> str | None:
    number = _int(value)
    if number is None:
        return None
    return CHANNELS.get(number, "other")


def _clock_seconds(value: Any, where: str) -> int:
    """``"8:00 am"`` -> seconds since midnight."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    try:
        clock, _, half = text.partition(" ")
        hours_text, _, minutes_text = clock.partition(":")
        hours, minutes = int(hours_text), int(minutes_text or 0)
        if half not in ("am", "pm") or not (1 <= hours <= 12 and 0 <= minutes <= 59):
            raise ValueError(text)
    except ValueError:
        raise ScheduleError(f"{where}: expected a time like 8:00 am, got {value!r}") from None
    hours = hours % 12 + (12 if half == "pm" else 0)
    return hours * 3600 + minutes * 60


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
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def build(config: Config) -> FreshdeskSource:
    """The Freshdesk source of a config (``source.type: freshdesk``)."""
    return FreshdeskSource(config.source)
