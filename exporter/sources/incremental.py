"""The common base of the sources that read a helpdesk's incremental exports over HTTP.

A vendor module only reads its API and maps records into tickets (its
:meth:`IncrementalSource.read`); this base keeps what every such source needs
around that:

* the known-ticket cache: the last full state of each ticket, read through the
  store (:meth:`IncrementalSource.use_known_tickets`) or kept in memory, bounded,
  closed tickets forgotten first;
* request accounting: the HTTP answers of each poll by status code go into
  :attr:`PollResult.api_codes` (or :attr:`SourceError.api_codes` when the poll
  fails), and the helpdesk's rate-limit headroom into
  ``rate_limit_remaining`` of either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

from exporter.config import SourceConfig
from exporter.model import Ticket
from exporter.sources.base import PollResult, SourceError
from exporter.sources.http import HelpdeskClient

#: Batch lookup of the last full state of tickets (e.g. read from the store).
KnownTickets = Callable[[Sequence[str]], Mapping[str, Ticket]]
#: Tickets remembered in memory when no ``known`` lookup is given.
CACHE_LIMIT = 200_000
#: Answers in a row that do not move an export or a listing before the poll fails with
#: ``stalled`` (the helpdesk keeps answering the same position).
STALL_REPEATS = 3


class IncrementalSource:
    """Known tickets and API accounting for one helpdesk; subclasses implement :meth:`read`."""

    name = "incremental"

    def __init__(
        self,
        config: SourceConfig,
        client: HelpdeskClient,
        known: KnownTickets | None = None,
        cache_limit: int = CACHE_LIMIT,
    ) -> None:
        self.config = config
        self.client = client
        self.cache_limit = cache_limit
        self._known = known
        self._tickets: dict[str, Ticket] = {}
        self._reported = client.totals()
        self._attempts = client.attempts

    def read(self, cursor: str | None, now: float) -> PollResult:
        """Read what changed since ``cursor`` (the vendor's part of :meth:`poll`)."""
        raise NotImplementedError

    def poll(self, cursor: str | None, now: float) -> PollResult:
        """:meth:`read`, with the poll's HTTP answers and rate-limit headroom attached.

        A failed poll attaches them to its :class:`SourceError`; any other
        failure leaves them to the next poll's result, so none is lost.
        """
        try:
            result = self.read(cursor, now)
        except SourceError as exc:
            exc.api_codes, _ = self._usage()
            exc.rate_limit_remaining = self.client.rate_limit_remaining
            raise
        result.api_codes, result.requests = self._usage()
        result.rate_limit_remaining = self.client.rate_limit_remaining
        return result

    def _usage(self) -> tuple[dict[str, int], int]:
        """HTTP answers by status code and requests sent since the last report."""
        totals, attempts = self.client.totals(), self.client.attempts
        counts = {code: count - self._reported.get(code, 0) for code, count in totals.items()}
        sent = attempts - self._attempts if attempts >= self._attempts else attempts
        self._reported, self._attempts = totals, attempts
        return {code: count for code, count in counts.items() if count > 0}, sent

    # -- the known tickets --

    def use_known_tickets(self, known: KnownTickets | None) -> None:
        """Read previous ticket states through ``known`` (e.g. the store) instead of memory.

        With it, a restarted exporter rebuilds changed tickets from what the
        store holds; without it, from the tickets returned since this process
        started.
        """
        self._known = known
        if known is not None:
            self._tickets.clear()

    def previous(self, ids: Sequence[str]) -> dict[str, Ticket]:
        """The last full state of these tickets, from ``known`` or from memory."""
        if self._known is not None:
            return dict(self._known(ids)) if ids else {}
        return {i: self._tickets[i] for i in ids if i in self._tickets}

    def remember(self, tickets: Sequence[Ticket]) -> None:
        """Keep the returned tickets for the next poll (only when no ``known`` lookup is set)."""
        if self._known is not None:
            return
        for ticket in tickets:
            self._tickets[ticket.id] = ticket
        if len(self._tickets) > self.cache_limit:
            _evict(self._tickets, self.cache_limit)


def _evict(tickets: dict[str, Ticket], limit: int) -> None:
    """Forget closed tickets first, oldest first, until ``limit`` remain."""
    excess = len(tickets) - limit
    closed = sorted((t.created_at, i) for i, t in tickets.items() if t.is_closed)
    for _, ticket_id in closed[:excess]:
        del tickets[ticket_id]
    for ticket_id in list(tickets)[: max(0, len(tickets) - limit)]:
        del tickets[ticket_id]


# --- a cursor by update time --------------------------------------------------------------------

log = logging.getLogger(__name__)

#: Bump when :class:`SinceCursor` changes shape.
SINCE_CURSOR_VERSION = 1


@dataclass
class SinceCursor:
    """Where a search by update time resumes: the newest update read and the records read near it.

    ``since`` is the update time the next search starts from (searches overlap it, so a
    change in the same second is never lost); ``seen`` maps the ids already read at or
    after it to their update time, so the overlap is not counted twice;
    ``history_start`` is where the first poll began (now - lookback).
    """

    #: Names the source in the warning about an unreadable cursor.
    vendor: ClassVar[str] = "source"

    history_start: int
    since: float
    seen: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fresh(cls, now: float, lookback: float) -> Self:
        start = int(now - lookback)
        return cls(start, float(start))

    @classmethod
    def parse(cls, text: str | None, now: float, lookback: float) -> Self:
        """The state a cursor holds; a missing or unreadable cursor starts from ``lookback``."""
        if text is None:
            return cls.fresh(now, lookback)
        try:
            data = json.loads(text)
            if data.get("v") != SINCE_CURSOR_VERSION:
                raise ValueError(f"version {data.get('v')!r}")
            seen = data.get("seen") or {}
            return cls(
                history_start=int(data["history_start"]),
                since=float(data["since"]),
                seen={str(k): float(v) for k, v in seen.items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "%s: the saved cursor is not readable (%s); starting again from the lookback",
                cls.vendor,
                type(exc).__name__,
            )
            return cls.fresh(now, lookback)

    def dump(self) -> str:
        return json.dumps(
            {
                "v": SINCE_CURSOR_VERSION,
                "history_start": self.history_start,
                "since": round(self.since, 3),
                "seen": self.seen,
            },
            separators=(",", ":"),
            sort_keys=True,
        )
