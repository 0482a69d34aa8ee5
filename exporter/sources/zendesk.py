"""Zendesk Support as a source: four incremental reads per poll, merged into full tickets.

Endpoints (one request each when nothing changed; more pages only when there
is more to read):

* ``GET /api/v2/incremental/tickets/cursor.json`` -- ticket attributes, by
  ``start_time`` on the first poll and by the saved ``cursor`` afterwards,
  following ``after_cursor`` until ``end_of_stream``.  ``include=users``
  sideloads the users of each page, whose ``role`` (``end-user``, ``agent``,
  ``admin``) tells requesters from agents.
* ``GET /api/v2/incremental/ticket_events.json?include=comment_events`` --
  ticket updates (time-based: ``start_time``, ``end_time``,
  ``end_of_stream``): comments and ``Create``/``Change`` child events of the
  ``status``, ``assignee_id`` and ``group_id`` fields (a ticket's
  assignments to an agent or a group, for ``start: assigned``).
* ``GET /api/v2/incremental/ticket_metric_events.json`` -- Zendesk's own SLA
  clocks for ``mode: native`` (time-based like the ticket events).
* ``GET /api/v2/satisfaction_ratings.json?score=received`` -- good and bad
  satisfaction ratings since the last poll, for ``kind: csat`` SLOs.

**Mapping.** Priority through ``source.priority_map``, then Zendesk's own
names; a null priority is ``normal``.  Status through ``source.status_map``,
then ``hold`` -> ``on_hold`` and the others as they are.  Channel is
``via.channel``; group and brand are the ids as text.  A comment becomes:

* nothing, when it is the ticket's first comment (the request itself: its
  update also holds the ``Create`` events);
* an automated agent reply when a rule sent it (``via.channel`` ``rule`` or
  ``via.source.rel`` ``trigger``/``automation``, or an update made ``via``
  ``Rule``), or when its author is Zendesk itself (``-1``) -- so
  auto-acknowledgements never stop a first-response clock;
* an AI-agent reply when its author is one of ``ai_agent_ids`` (the users
  your AI agent posts as) or it came through one of ``ai_agent_channels``;
* a requester reply when its author is the ticket's requester or any
  ``end-user`` (a CC'd colleague of the requester); private end-user comments
  are ignored;
* otherwise an agent reply, public or internal as the comment is.

**Native clocks.** ``reply_time`` instance 1 is ``first_response``;
instance ``n >= 2`` is ``next_response`` cycle ``n - 2``.  ``resolution`` is
``agent_work_time`` by default: it pauses in ``pending`` *and* ``on_hold``,
as our resolution clock does with its default ``pause_statuses``
(``requester_wait_time`` pauses in ``pending`` only; pick it, or
``resolution_time``, with ``resolution_metric``).  ``apply_sla`` gives the
target, ``activate``/``pause``/``fulfill`` start, pause and stop the clock,
and a ``breach`` event gives the deadline and the breach, unless it is marked
``deleted: true`` (Zendesk withdrew it, e.g. after the target changed):
those are ignored and cancel a breach recorded at the same instant.

**Merging across polls.** Tickets and their events arrive on separate
streams, so each changed ticket is rebuilt from its previous full state plus
what this poll read, and returned whole (the :class:`PollResult` contract).
The previous state comes from ``known`` (a batch lookup into the store, see
:meth:`ZendeskSource.use_known_tickets`) or, without one, from the tickets
this source returned before (kept in memory, bounded).  Merging is idempotent
(equal events collapse), so a poll repeated from the same cursor after a
failure neither loses nor double-counts anything.  Updates of a ticket the
source cannot build yet (its attributes were not exported yet, or the
requester of a comment is unknown) wait in the cursor (``pending``), so they
survive restarts; they hold the watermark back until they are applied.

**Cursor** (one opaque string, JSON)::

    {"v": 1, "history_start": 1790596800,
     "tickets": {"cursor": "MTc5MzYxNzIwMC4wfHwxMDR8"},
     "ticket_events": {"start_time": 1793615400, "seen": ["926256957119"]},
     "metric_events": {"start_time": 1793619000, "seen": ["926232157209"]},
     "ratings": {"start_time": 1793620680},
     "pending": [{"ticket": "105", "kind": "comment", "at": 1793620710.0, ...}]}

``seen`` holds the records already read at or after ``start_time``
(time-based exports repeat the items of their last second).  A position
never runs ahead of ``now - 60 s``, and one that would go backwards is
refused: the previous one is kept and a warning logged.

**Watermark.** Zendesk's exports exclude the last minute.  A stream read to
``end_of_stream`` is complete up to ``now - 60 s``; one cut short (page limit,
the poll's time budget ``source.poll_timeout``, refused cursor) up to where it
stopped.  The watermark is the minimum over the streams, also held back by
pending updates.  A poll that runs out of time keeps what it read: a large
first sync progresses over several polls.

**Stalls.** An export that answers :data:`STALL_REPEATS` times in a row
without moving (the same ``after_cursor`` without ``end_of_stream``, or a
time-based page whose ``end_time`` stays at ``start_time`` with nothing new)
fails the poll with reason ``stalled`` instead of being read forever.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from exporter.config import Config, ConfigError, SlaMode, SourceConfig, read_secret
from exporter.model import (
    ASSIGNED_TO_GROUP,
    Author,
    EventType,
    NativeClock,
    Priority,
    Rating,
    Ticket,
    TicketEvent,
    format_instant,
)
from exporter.sources.base import PollResult, SourceError
from exporter.sources.http import BasicAuth, BearerAuth, HelpdeskClient, PollBudgetSpent
from exporter.sources.incremental import STALL_REPEATS as STALL_REPEATS  # also importable here
from exporter.sources.incremental import IncrementalSource, KnownTickets
from exporter.sources.progress import ReadProgress
from exporter.sources.values import id_order as _id_order
from exporter.sources.values import instant as _instant
from exporter.sources.zendesk_time_zones import ScheduleHours, schedule_hours

log = logging.getLogger(__name__)

TICKETS_PATH = "/api/v2/incremental/tickets/cursor.json"
TICKET_EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
METRIC_EVENTS_PATH = "/api/v2/incremental/ticket_metric_events.json"
RATINGS_PATH = "/api/v2/satisfaction_ratings.json"
SCHEDULE_PATH = "/api/v2/business_hours/schedules/{id}.json"
HOLIDAYS_PATH = "/api/v2/business_hours/schedules/{id}/holidays.json"
#: Zendesk's incremental exports allow 10 requests a minute (30 with the High Volume add-on).
INCREMENTAL_LIMIT = ("/api/v2/incremental/", (10, 60.0))

#: Zendesk leaves the last minute out of its exports.
EXPORT_LAG_SECONDS = 60
#: Items per page of a time-based export; a shorter page is the last one.
TIME_BASED_PAGE = 1000
#: Pages read per stream and poll; the rest is read on the next poll.
MAX_PAGES = 200
#: Rating pages are read with this much overlap (ratings are de-duplicated per ticket).
RATINGS_OVERLAP_SECONDS = 60
RATINGS_PAGE = 100
#: A comment on a known ticket waits this long for its requester to be known.
PENDING_GRACE_SECONDS = 3600.0
#: Updates of a ticket that never shows up are dropped after this long.
PENDING_MAX_AGE_SECONDS = 7 * 86400.0
#: Most updates kept waiting in the cursor.
PENDING_LIMIT = 20000
#: Requester and user-role ids remembered between polls.
ID_CACHE_LIMIT = 500_000
CURSOR_VERSION = 1

DEFAULT_STATUSES: Mapping[str, str] = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "solved": "solved",
    "closed": "closed",
}
RESOLUTION_METRICS = ("agent_work_time", "requester_wait_time", "resolution_time")
#: ``via.source.rel`` values of comments a business rule added.
RULE_RELS = frozenset({"trigger", "automation"})
#: The author id of comments Zendesk itself adds.
SYSTEM_AUTHOR = "-1"


# --- updates read from the exports ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Update:
    """One change of one ticket read from an export, kept until the ticket can be built.

    ``kind`` is ``comment``, ``status``, ``assigned``, ``metric`` or ``rating``;
    ``fields`` holds its JSON-safe details; ``id`` is Zendesk's id of the record.
    """

    ticket: str
    kind: str
    at: float
    id: int
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "kind": self.kind,
            "at": self.at,
            "id": self.id,
            **self.fields,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Update:
        fields = {k: v for k, v in record.items() if k not in ("ticket", "kind", "at", "id")}
        return cls(
            str(record["ticket"]),
            str(record["kind"]),
            float(record["at"]),
            int(record["id"]),
            fields,
        )


@dataclass(frozen=True, slots=True)
class Stream:
    """Position in a time-based export: next ``start_time`` and the ids read at it."""

    start_time: int
    #: records read at or after ``start_time`` (ids; metric events add ``:deleted``)
    seen: frozenset[str] = frozenset()


@dataclass
class CursorState:
    """Everything the source needs to resume; serialized as the poll's cursor."""

    history_start: int
    tickets_cursor: str | None
    ticket_events: Stream
    metric_events: Stream
    ratings_start: int
    pending: list[Update] = field(default_factory=list)

    @classmethod
    def fresh(cls, now: float, lookback: float) -> CursorState:
        start = int(now - lookback)
        return cls(start, None, Stream(start), Stream(start), start)

    @classmethod
    def parse(cls, text: str | None, now: float, lookback: float) -> CursorState:
        """The state a cursor holds; a missing or unreadable cursor starts from ``lookback``."""
        if text is None:
            return cls.fresh(now, lookback)
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError(f"version {data.get('v')!r}")
            tickets = data.get("tickets") or {}
            cursor = tickets.get("cursor")
            return cls(
                history_start=int(data["history_start"]),
                tickets_cursor=str(cursor) if cursor else None,
                ticket_events=_stream(data["ticket_events"]),
                metric_events=_stream(data["metric_events"]),
                ratings_start=int(data["ratings"]["start_time"]),
                pending=[Update.from_json(p) for p in data.get("pending") or []],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "zendesk: the saved cursor is not readable (%s); starting again from the lookback",
                type(exc).__name__,
            )
            return cls.fresh(now, lookback)

    def dump(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "history_start": self.history_start,
                "tickets": {"cursor": self.tickets_cursor},
                "ticket_events": {
                    "start_time": self.ticket_events.start_time,
                    "seen": sorted(self.ticket_events.seen),
                },
                "metric_events": {
                    "start_time": self.metric_events.start_time,
                    "seen": sorted(self.metric_events.seen),
                },
                "ratings": {"start_time": self.ratings_start},
                "pending": [p.to_json() for p in self.pending],
            },
            separators=(",", ":"),
            sort_keys=True,
        )


def _stream(record: Mapping[str, Any]) -> Stream:
    return Stream(int(record["start_time"]), frozenset(str(i) for i in record.get("seen") or []))


def cursor_time(cursor: str | None) -> float | None:
    """The instant a Zendesk export cursor points at, when it can be read.

    Zendesk's cursors are base64 of ``"<epoch seconds>||<id>|"``; this is not a
    documented contract, so anything else simply yields ``None`` (unknown).
    """
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        return float(text.split("|", 1)[0])
    except (ValueError, UnicodeError, binascii.Error):
        return None


# --- the source -------------------------------------------------------------------------------


def zendesk_client(
    config: SourceConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> HelpdeskClient:
    """A client for the configured Zendesk account (token from ``token_file``/``token_env``).

    ``auth: token`` signs in as ``{email}/token`` with the API token, ``auth:
    basic`` as ``email`` with a password, ``auth: oauth`` with a bearer token.
    """
    if config.url is None:
        raise ConfigError(["source.url: a zendesk source needs `url:`"])
    secret = read_secret(config)
    if secret is None:
        raise ConfigError(["source: a zendesk source needs `token_file:` or `token_env:`"])
    auth: BearerAuth | BasicAuth
    if config.auth == "oauth":
        auth = BearerAuth(secret)
    else:
        if not config.email:
            raise ConfigError(
                [
                    "source.email: Zendesk API-token and basic auth sign in as an agent: give "
                    "that agent's email (or use auth: oauth with an OAuth access token)"
                ]
            )
        user = f"{config.email}/token" if config.auth == "token" else config.email
        auth = BasicAuth(user, secret)
    read = config.timeout.seconds
    return HelpdeskClient(
        config.url,
        auth=auth,
        timeout=(min(10.0, read), read),
        max_retry_after=config.max_retry_after.seconds,
        window_limits=dict([INCREMENTAL_LIMIT]),
        sleep=sleep,
        clock=clock,
    )


class ZendeskSource(IncrementalSource):
    """Polls one Zendesk account; see the module documentation for what each poll reads.

    ``client`` defaults to :func:`zendesk_client` built with ``clock`` and
    ``sleep`` (injectable so tests never wait).  Every option comes from the
    ``source`` config: ``ai_agent_ids`` and ``ai_agent_channels`` say which
    comments an AI agent wrote, ``resolution_metric`` which Zendesk metric is
    the native resolution clock.
    """

    name = "zendesk"

    def __init__(
        self,
        config: SourceConfig,
        client: HelpdeskClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        sleep: Callable[[float], None] = time.sleep,
        known: KnownTickets | None = None,
        native: bool = True,
    ) -> None:
        super().__init__(config, client or zendesk_client(config, sleep=sleep, clock=clock), known)
        #: read the ticket metric events (Zendesk's own SLA clocks): ``mode: native`` needs them
        self.native = native
        self.lookback = config.lookback.seconds
        self.poll_timeout = config.poll_timeout.seconds
        self.page_size = config.page_size
        self.priority_map = {str(k).lower(): v for k, v in config.priority_map.items()}
        self.status_map = {str(k).lower(): v for k, v in config.status_map.items()}
        self.ai_agent_ids = frozenset(str(i) for i in config.ai_agent_ids)
        self.ai_agent_channels = frozenset(str(c) for c in config.ai_agent_channels)
        metric = config.resolution_metric
        if metric not in RESOLUTION_METRICS:
            raise ConfigError(
                [
                    f"source.resolution_metric: {metric!r} is not one of "
                    f"{', '.join(RESOLUTION_METRICS)}"
                ]
            )
        self.resolution_metric = str(metric)
        self._requesters: dict[str, str] = {}
        self._roles: dict[str, str] = {}
        self._ignored: set[str] = set()

    # -- one poll --

    def read(self, cursor: str | None, now: float) -> PollResult:
        """Read what changed since ``cursor``; nothing is kept unless the whole poll succeeds.

        Within ``source.poll_timeout``: a stream the budget cuts short keeps
        what it read, and the watermark stays where its data is complete.
        """
        state = CursorState.parse(cursor, now, self.lookback)
        run = _PollRun(self, state, now)
        with self.client.poll_budget(self.poll_timeout):
            run.read_tickets()
            run.read_ticket_events()
            if self.native:
                run.read_metric_events()
            run.read_ratings()
        tickets = run.build()
        self._commit(run, tickets)
        return PollResult(
            tickets=tickets,
            cursor=run.state.dump(),
            watermark=run.watermark(),
            problems=run.problems,
        )

    def _commit(self, run: _PollRun, tickets: list[Ticket]) -> None:
        _remember(self._requesters, run.requesters)
        _remember(self._roles, run.roles)
        self._ignored |= run.ignored
        self.remember(tickets)

    # -- mapping helpers --

    def map_status(self, raw: Any) -> str:
        text = str(raw or "new").lower()
        return self.status_map.get(text) or DEFAULT_STATUSES.get(text, text)

    def map_priority(self, raw: Any) -> Priority:
        if raw is None:
            return Priority.NORMAL
        text = str(raw).lower()
        mapped = self.priority_map.get(text)
        if mapped is not None:
            return mapped
        try:
            return Priority(text)
        except ValueError:
            return Priority.NORMAL

    def native_key(self, metric: str, instance: int) -> tuple[str, int] | None:
        """Our ``(metric, cycle)`` for a Zendesk metric instance, or None when we do not use it."""
        if metric == "reply_time":
            if instance == 1:
                return ("first_response", 0)
            if instance >= 2:
                return ("next_response", instance - 2)
            return None
        if metric == self.resolution_metric and instance == 1:
            return ("resolution", 0)
        return None


class _PollRun:
    """The staging area of one poll: nothing here reaches the source until it succeeded."""

    def __init__(self, source: ZendeskSource, state: CursorState, now: float) -> None:
        self.source = source
        self.client = source.client
        self.state = state
        self.now = now
        self.limit = int(now) - EXPORT_LAG_SECONDS
        self.problems: list[str] = []
        self.export: dict[str, Mapping[str, Any]] = {}
        self.roles: dict[str, str] = {}
        self.requesters: dict[str, str] = {}
        self.ignored: set[str] = set()
        self.updates: dict[str, list[Update]] = {}
        self.marks: list[float] = [now - EXPORT_LAG_SECONDS]
        for update in state.pending:
            self.updates.setdefault(update.ticket, []).append(update)
        state.pending = []

    # -- reading --

    def page(self, path: str, params: Mapping[str, str | int]) -> Mapping[str, Any]:
        body = self.client.get_json(path, params)
        if not isinstance(body, Mapping):
            raise SourceError(
                f"GET {path}: expected a JSON object, got {type(body).__name__}", "bad_response"
            )
        return body

    def cut(self, path: str, exc: PollBudgetSpent) -> None:
        """Log that the poll's budget ended the read of ``path`` (it resumes next poll)."""
        log.warning("zendesk: %s (%s is cut short here)", exc, path)

    def read_tickets(self) -> None:
        cursor = self.state.tickets_cursor
        params: dict[str, str | int] = {"per_page": self.source.page_size, "include": "users"}
        if cursor:
            params["cursor"] = cursor
        else:
            params["start_time"] = self.state.history_start
        exhausted = False
        repeats = 0
        since = cursor_time(cursor) or self.state.history_start
        progress = ReadProgress("zendesk", TICKETS_PATH, self.client, since=since, until=self.now)
        for number in range(1, MAX_PAGES + 1):
            try:
                page = self.page(TICKETS_PATH, params)
            except PollBudgetSpent as exc:
                self.cut(TICKETS_PATH, exc)
                break
            progress.page(
                len(_records(page, "tickets")), cursor_time(str(page.get("after_cursor") or ""))
            )
            for index, raw in enumerate(_records(page, "tickets")):
                ticket_id = _id(raw.get("id"))
                if ticket_id is None:
                    self.problems.append(
                        f"{TICKETS_PATH} page {number}: tickets[{index}] has no id"
                    )
                    continue
                self.export[ticket_id] = raw
            for user in _records(page, "users"):
                user_id, role = _id(user.get("id")), user.get("role")
                if user_id is not None and isinstance(role, str):
                    self.roles[user_id] = role
            after = page.get("after_cursor")
            if isinstance(after, str) and after:
                old, new = cursor_time(cursor), cursor_time(after)
                if old is not None and new is not None and new < old:
                    log.warning(
                        "zendesk: %s returned a cursor that goes back in time (%s < %s); "
                        "keeping the previous cursor",
                        TICKETS_PATH,
                        format_instant(new),
                        format_instant(old),
                    )
                    break
                cursor = after
            if page.get("end_of_stream") is True:
                exhausted = True
                break
            if not (isinstance(after, str) and after):
                break
            repeats = repeats + 1 if after == params.get("cursor") else 0
            if repeats >= STALL_REPEATS:
                raise _stalled(TICKETS_PATH, "the same after_cursor without end_of_stream")
            params = {"per_page": self.source.page_size, "include": "users", "cursor": after}
        progress.done()
        self.state.tickets_cursor = cursor
        if not exhausted:
            self.marks.append(cursor_time(cursor) or float(self.state.history_start))

    def read_ticket_events(self) -> None:
        self.state.ticket_events = self._time_based(
            TICKET_EVENTS_PATH,
            "ticket_events",
            self.state.ticket_events,
            {"include": "comment_events"},
            self._audit,
            _audit_time,
            lambda item: str(item["id"]),
        )

    def read_metric_events(self) -> None:
        self.state.metric_events = self._time_based(
            METRIC_EVENTS_PATH,
            "ticket_metric_events",
            self.state.metric_events,
            {},
            self._metric_event,
            lambda item: _instant(item.get("time")),
            # a breach withdrawn later comes again with the same id and "deleted": true
            lambda item: (
                f"{item['id']}:deleted" if item.get("deleted") is True else str(item["id"])
            ),
        )

    def _time_based(
        self,
        path: str,
        key: str,
        stream: Stream,
        extra: Mapping[str, str | int],
        handle: Callable[[Mapping[str, Any], str], None],
        time_of: Callable[[Mapping[str, Any]], float | None],
        identity: Callable[[Mapping[str, Any]], str],
    ) -> Stream:
        """Read a time-based export from ``stream`` to its end; the new position.

        The position never passes ``now - 60 s`` (an item dated later, such as
        a scheduled breach, is remembered in ``seen`` instead) and never goes
        back.
        """
        if stream.start_time > self.limit:
            return stream  # nothing can be exported yet
        start = stream.start_time
        read: dict[str, float] = {seen: float(start) for seen in stream.seen}
        exhausted = False
        repeats = 0
        progress = ReadProgress("zendesk", path, self.client, since=start, until=self.limit)
        for number in range(1, MAX_PAGES + 1):
            try:
                page = self.page(path, {"start_time": start, **extra})
            except PollBudgetSpent as exc:
                self.cut(path, exc)
                break
            where = f"{path} page {number}"
            items = _records(page, key)
            end_time = page.get("end_time")
            if end_time is None and not items:
                end_time = start
            if not isinstance(end_time, int) or isinstance(end_time, bool):
                raise SourceError(
                    f"GET {path}: the answer has no end_time; the same page is asked for "
                    "again on the next poll",
                    "bad_response",
                )
            progress.page(len(items), end_time)
            fresh = 0
            for index, item in enumerate(items):
                if not isinstance(item.get("id"), int) or isinstance(item.get("id"), bool):
                    self.problems.append(f"{where}: {key}[{index}] has no id")
                    continue
                name = identity(item)
                if name in read:
                    continue
                read[name] = time_of(item) or float(end_time)
                fresh += 1
                handle(item, f"{where}: {key}[{index}]")
            if end_time < start:
                log.warning(
                    "zendesk: %s returned end_time %s before start_time %s (going back in "
                    "time); keeping the previous start_time",
                    path,
                    format_instant(end_time),
                    format_instant(start),
                )
                break
            moved = min(end_time, self.limit) > start
            start = max(start, min(end_time, self.limit))
            end_of_stream = page.get("end_of_stream")
            if end_of_stream is True:
                exhausted = True
                break
            if end_of_stream is None and (
                len(items) < TIME_BASED_PAGE or not page.get("next_page")
            ):
                exhausted = True
                break
            repeats = 0 if moved or fresh else repeats + 1
            if repeats >= STALL_REPEATS:
                stuck = format_instant(start)
                raise _stalled(path, f"a page whose end_time stays at start_time {stuck}")
        progress.done()
        if not exhausted:
            self.marks.append(float(start))
        seen = frozenset(name for name, at in read.items() if at >= start)
        return Stream(start, seen)

    def read_ratings(self) -> None:
        start = self.state.ratings_start
        params: dict[str, str | int] = {
            "score": "received",
            "start_time": start,
            "page[size]": RATINGS_PAGE,
        }
        repeats = 0
        progress = ReadProgress("zendesk", RATINGS_PATH, self.client, since=start, until=self.now)
        for number in range(1, MAX_PAGES + 1):
            try:
                page = self.page(RATINGS_PATH, params)
            except PollBudgetSpent as exc:
                self.cut(RATINGS_PATH, exc)
                progress.done()
                return  # read again from the same start on the next poll
            ratings = _records(page, "satisfaction_ratings")
            progress.page(
                len(ratings), _instant(ratings[-1].get("created_at")) if ratings else None
            )
            for index, rating in enumerate(ratings):
                self._rating(rating, f"{RATINGS_PATH} page {number}: [{index}]")
            meta = page.get("meta")
            after = meta.get("after_cursor") if isinstance(meta, Mapping) else None
            if not (isinstance(meta, Mapping) and meta.get("has_more") is True and after):
                break
            repeats = repeats + 1 if str(after) == params.get("page[after]") else 0
            if repeats >= STALL_REPEATS:
                raise _stalled(RATINGS_PATH, "the same after_cursor with has_more")
            params = {**params, "page[after]": str(after)}
        progress.done()
        self.state.ratings_start = max(start, self.limit - RATINGS_OVERLAP_SECONDS)

    # -- turning records into updates --

    def add(self, update: Update) -> None:
        self.updates.setdefault(update.ticket, []).append(update)

    def _audit(self, item: Mapping[str, Any], where: str) -> None:
        ticket = _id(item.get("ticket_id"))
        at = _audit_time(item)
        if ticket is None or at is None:
            self.problems.append(f"{where}: no ticket_id or time")
            return
        children = [c for c in item.get("child_events") or [] if isinstance(c, Mapping)]
        creating = any(c.get("event_type") == "Create" for c in children)
        audit_via = item.get("via")
        for child in children:
            kind = child.get("event_type")
            child_at = _instant(child.get("created_at")) or at
            child_id = _int(child.get("id"))
            if child_id is None:
                child_id = _int(item.get("id")) or 0
            if kind == "Comment":
                if creating:
                    continue  # the ticket's first comment is the request, not a reply
                author = _id(child.get("author_id", item.get("updater_id")))
                public = child.get("public", child.get("comment_public"))
                via = child.get("via")
                self.add(
                    Update(
                        ticket,
                        "comment",
                        child_at,
                        child_id,
                        {
                            "author": author,
                            "public": bool(public),
                            "automated": _automated(via, audit_via, author),
                            "channel": _channel(via),
                        },
                    )
                )
            elif kind in ("Create", "Change"):
                for name, value in _changes(child):
                    if name == "status" and isinstance(value, str):
                        self.add(Update(ticket, "status", child_at, child_id, {"to": value}))
                    elif name == "assignee_id" and _id(value) is not None:
                        self.add(Update(ticket, "assigned", child_at, child_id, {"to": _id(value)}))
                    elif name == "group_id" and _id(value) is not None:
                        fields = {"to": _id(value), "group": True}
                        self.add(Update(ticket, "assigned", child_at, child_id, fields))

    def _metric_event(self, item: Mapping[str, Any], where: str) -> None:
        ticket = _id(item.get("ticket_id"))
        at = _instant(item.get("time"))
        metric, instance, kind = item.get("metric"), item.get("instance_id"), item.get("type")
        if ticket is None or at is None or not isinstance(metric, str):
            self.problems.append(f"{where}: no ticket_id, time or metric")
            return
        if not isinstance(instance, int) or self.source.native_key(metric, instance) is None:
            return
        fields: dict[str, Any] = {"metric": metric, "instance": instance, "type": kind}
        sla = item.get("sla")
        if kind == "apply_sla" and isinstance(sla, Mapping):
            fields["target_seconds"] = _target_seconds(sla)
        if kind == "breach":
            fields["deleted"] = item.get("deleted") is True
        self.add(Update(ticket, "metric", at, int(item["id"]), fields))

    def _rating(self, rating: Mapping[str, Any], where: str) -> None:
        ticket = _id(rating.get("ticket_id"))
        score = rating.get("score")
        at = _instant(rating.get("updated_at")) or _instant(rating.get("created_at"))
        rating_id = rating.get("id")
        if ticket is None or at is None or not isinstance(rating_id, int):
            self.problems.append(f"{where}: no ticket_id, id or time")
            return
        if score in ("good", "bad"):
            self.add(Update(ticket, "rating", at, rating_id, {"score": score}))

    # -- building tickets --

    def build(self) -> list[Ticket]:
        ids = sorted(set(self.export) | set(self.updates), key=_id_order)
        previous = self.source.previous(ids)
        tickets: list[Ticket] = []
        for ticket_id in ids:
            ticket = self._build_one(ticket_id, previous.get(ticket_id))
            if ticket is not None:
                tickets.append(ticket)
        self._bound_pending()
        # A waiting update holds the watermark back only when its ticket is already known:
        # then a verdict on that ticket could miss it.  A ticket not exported yet has no
        # verdicts to get wrong, and holding every other ticket's bad verdicts for it (a
        # chat that changes every minute never leaves the export's last-minute gap) would
        # stall the SLOs.
        known = set(previous) | {ticket.id for ticket in tickets}
        for update in self.state.pending:
            if update.ticket in known:
                self.marks.append(update.at - 1.0)
        return tickets

    def _build_one(self, ticket_id: str, prior: Ticket | None) -> Ticket | None:
        source = self.source
        raw = self.export.get(ticket_id)
        updates = sorted(self.updates.get(ticket_id, []), key=lambda u: (u.at, u.id))
        if ticket_id in source._ignored:
            return None
        if raw is None and prior is None:
            self._wait(updates, "its attributes are not exported yet")
            return None
        requester = self.source._requesters.get(ticket_id)
        deleted = raw is not None and raw.get("status") == "deleted"
        if raw is not None:
            base = self._from_export(ticket_id, raw)
            if base is None:
                return None
            requester = _id(raw.get("requester_id"))
            if requester is not None:
                self.requesters[ticket_id] = requester
            if deleted:
                if prior is None:
                    self.ignored.add(ticket_id)
                    return None
                base = replace(base, status="closed")
        else:
            assert prior is not None
            base = prior
        if base.created_at.timestamp() < self.state.history_start:
            self.ignored.add(ticket_id)  # older than the history read: its clocks are unknown
            return None

        events = list(prior.events) if prior is not None else []
        have = set(events)
        native = {(c.metric, c.cycle): c for c in (prior.native if prior is not None else ())}
        has_csat = any(e.type is EventType.CSAT for e in events)
        status = base.status
        last_status_at: float | None = None
        waiting: list[Update] = []

        def add(event: TicketEvent) -> None:
            if event not in have:
                have.add(event)
                events.append(event)

        for update in updates:
            at = datetime.fromtimestamp(update.at, UTC)
            if update.kind == "comment":
                if (
                    requester is None
                    and raw is None
                    and self.now - update.at < PENDING_GRACE_SECONDS
                ):
                    waiting.append(update)
                    continue
                event = self._comment_event(update, at, requester)
                if event is not None:
                    add(event)
            elif update.kind == "status":
                to = source.map_status(update.fields.get("to"))
                add(TicketEvent(at, EventType.STATUS, to=to))
                if last_status_at is None or update.at >= last_status_at:
                    last_status_at, status = update.at, to
            elif update.kind == "assigned":
                whom = ASSIGNED_TO_GROUP if update.fields.get("group") else None
                add(TicketEvent(at, EventType.ASSIGNED, to=whom))
            elif update.kind == "metric":
                _apply_metric(native, source, update, at)
            elif update.kind == "rating" and not has_csat:
                add(TicketEvent(at, EventType.CSAT, rating=Rating(update.fields["score"])))
                has_csat = True
        if raw is not None:
            embedded = raw.get("satisfaction_rating")
            score = embedded.get("score") if isinstance(embedded, Mapping) else None
            when = _instant(raw.get("updated_at"))
            if score in ("good", "bad") and not has_csat and when is not None:
                add(
                    TicketEvent(
                        datetime.fromtimestamp(when, UTC), EventType.CSAT, rating=Rating(score)
                    )
                )
            if deleted and not (prior is not None and prior.status == "closed"):
                add(
                    TicketEvent(
                        datetime.fromtimestamp(when or self.now, UTC), EventType.STATUS, to="closed"
                    )
                )
        elif last_status_at is not None:
            base = replace(base, status=status)
        self.state.pending.extend(waiting)
        events.sort(key=lambda e: e.at)
        return replace(
            base,
            events=tuple(events),
            native=tuple(native[k] for k in sorted(native)),
        )

    def _from_export(self, ticket_id: str, raw: Mapping[str, Any]) -> Ticket | None:
        source = self.source
        created = _instant(raw.get("created_at"))
        if created is None:
            self.problems.append(f"{TICKETS_PATH}: ticket {ticket_id} has no created_at")
            return None
        via = raw.get("via")
        tags = raw.get("tags")
        return Ticket(
            id=ticket_id,
            created_at=datetime.fromtimestamp(created, UTC),
            status=source.map_status(raw.get("status")),
            priority=source.map_priority(raw.get("priority")),
            channel=_channel(via),
            group=_id(raw.get("group_id")),
            brand=_id(raw.get("brand_id")),
            type=raw.get("type") if isinstance(raw.get("type"), str) else None,
            tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
            assignee=_id(raw.get("assignee_id")),
        )

    def _comment_event(
        self, update: Update, at: datetime, requester: str | None
    ) -> TicketEvent | None:
        fields = update.fields
        author = fields.get("author")
        public = bool(fields.get("public"))
        if fields.get("automated"):
            return TicketEvent(at, EventType.AGENT_REPLY, public=public, automated=True)
        if (
            author in self.source.ai_agent_ids
            or fields.get("channel") in self.source.ai_agent_channels
        ):
            return TicketEvent(at, EventType.AGENT_REPLY, public=public, author=Author.AI_AGENT)
        role = self.roles.get(str(author)) or self.source._roles.get(str(author))
        if author is not None and (author == requester or role == "end-user"):
            return TicketEvent(at, EventType.REQUESTER_REPLY) if public else None
        return TicketEvent(at, EventType.AGENT_REPLY, public=public)

    def _wait(self, updates: list[Update], why: str) -> None:
        for update in updates:
            if self.now - update.at > PENDING_MAX_AGE_SECONDS:
                self.problems.append(
                    f"ticket {update.ticket}: dropped a {update.kind} update of "
                    f"{format_instant(update.at)} ({why} after "
                    f"{PENDING_MAX_AGE_SECONDS / 86400:g} days)"
                )
                continue
            self.state.pending.append(update)

    def _bound_pending(self) -> None:
        pending = self.state.pending
        if len(pending) > PENDING_LIMIT:
            pending.sort(key=lambda u: (u.at, u.id))
            dropped = len(pending) - PENDING_LIMIT
            self.problems.append(
                f"{dropped} waiting updates dropped (more than {PENDING_LIMIT} were waiting for "
                "their tickets)"
            )
            del pending[:dropped]

    def watermark(self) -> float:
        return min(self.marks)


# --- native clocks ----------------------------------------------------------------------------


def _apply_metric(
    clocks: dict[tuple[str, int], NativeClock], source: ZendeskSource, update: Update, at: datetime
) -> None:
    """Advance one native clock by one Zendesk metric event (in time order)."""
    fields = update.fields
    key = source.native_key(str(fields.get("metric")), int(fields.get("instance", 0)))
    if key is None:
        return
    clock = clocks.get(key) or NativeClock(metric=key[0], cycle=key[1])
    kind = fields.get("type")
    if kind == "activate":
        clock = replace(clock, started_at=clock.started_at or at, paused=False, stopped_at=None)
    elif kind == "pause":
        clock = replace(clock, started_at=clock.started_at or at, paused=True)
    elif kind == "fulfill":
        breached = clock.breached_at
        if breached is not None and breached >= at:
            breached = None  # stopping exactly at the deadline meets it
        clock = replace(clock, stopped_at=at, paused=False, breached_at=breached)
    elif kind == "apply_sla":
        target = fields.get("target_seconds")
        if isinstance(target, int | float):
            clock = replace(clock, target_seconds=float(target))
    elif kind == "breach":
        if fields.get("deleted"):
            clock = replace(
                clock,
                deadline=None if clock.deadline == at else clock.deadline,
                breached_at=None if clock.breached_at == at else clock.breached_at,
            )
        else:
            stopped = clock.stopped_at
            breached = at if stopped is None or at < stopped else clock.breached_at
            clock = replace(clock, deadline=at, breached_at=breached)
    else:
        return
    clocks[key] = clock


def _target_seconds(sla: Mapping[str, Any]) -> float | None:
    seconds = sla.get("target_in_seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds)
    minutes = sla.get("target")
    if isinstance(minutes, int | float) and not isinstance(minutes, bool):
        return float(minutes) * 60.0
    return None


# --- business-hours schedules -----------------------------------------------------------------


def fetch_schedule(client: HelpdeskClient, schedule_id: int | str) -> ScheduleHours:
    """A Zendesk schedule and its holidays (two requests) as business-calendar arguments."""
    schedule = client.get_json(SCHEDULE_PATH.format(id=schedule_id))
    holidays = client.get_json(HOLIDAYS_PATH.format(id=schedule_id))
    if not isinstance(schedule, Mapping) or not isinstance(holidays, Mapping):
        raise SourceError(f"schedule {schedule_id}: expected JSON objects", "bad_response")
    listed = holidays.get("holidays") or []
    return schedule_hours(schedule, [h for h in listed if isinstance(h, Mapping)])


# --- small readers ----------------------------------------------------------------------------


def _records(page: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = page.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceError(f"the answer's {key!r} is not a list", "bad_response")
    return [item for item in value if isinstance(item, Mapping)]


def _stalled(path: str, what: str) -> SourceError:
    return SourceError(
        f"GET {path}: the export answered {what} {STALL_REPEATS} times in a row; it does not "
        "advance, so the poll stops instead of reading it forever. It is asked again on the "
        "next poll; if this persists, the helpdesk's export is stuck",
        "stalled",
    )


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _audit_time(item: Mapping[str, Any]) -> float | None:
    stamp = item.get("timestamp")
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        return float(stamp)
    return _instant(item.get("created_at"))


def _channel(via: Any) -> str | None:
    if isinstance(via, Mapping):
        channel = via.get("channel")
        return channel if isinstance(channel, str) and channel else None
    return None


def _automated(via: Any, audit_via: Any, author: str | None) -> bool:
    """Whether a business rule (trigger, automation) or Zendesk itself wrote a comment."""
    if author == SYSTEM_AUTHOR:
        return True
    for candidate in (via, audit_via):
        if isinstance(candidate, str) and candidate.strip().lower() == "rule":
            return True
        if isinstance(candidate, Mapping):
            if candidate.get("channel") == "rule":
                return True
            origin = candidate.get("source")
            if isinstance(origin, Mapping) and origin.get("rel") in RULE_RELS:
                return True
    return False


def _changes(child: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(field, new value)`` pairs of a ``Create``/``Change`` child event.

    The export writes the field as a key (``{"status": "open", "previous_value":
    "new"}``); audits write ``field_name``/``value``; both are read.
    """
    if isinstance(child.get("field_name"), str):
        return [(child["field_name"], child.get("value"))]
    return [(name, child[name]) for name in ("status", "assignee_id", "group_id") if name in child]


def _remember(target: dict[str, str], new: Mapping[str, str]) -> None:
    target.update(new)
    if len(target) > ID_CACHE_LIMIT:
        for key in list(target)[: len(target) - ID_CACHE_LIMIT]:
            del target[key]


def build(config: Config) -> ZendeskSource:
    """The Zendesk source of a config; native SLAs add the metric-events export.

    That export costs a third of Zendesk's incremental-export budget, so it is
    read only when a native SLA needs it.
    """
    native = (config.sla_import is not None and config.sla_import.mode is SlaMode.NATIVE) or any(
        sla.mode is SlaMode.NATIVE for sla in config.slas.values()
    )
    return ZendeskSource(config.source, native=native)
