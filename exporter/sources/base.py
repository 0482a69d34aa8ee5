"""What every source offers the poller: one incremental poll at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from exporter.model import Ticket


class SourceError(Exception):
    """A poll failed; ``reason`` is a short, bounded label for metrics (e.g. ``rate_limited``).

    The reasons of the HTTP sources are listed in
    :data:`exporter.sources.http.REASONS`.  ``status`` is the HTTP status that
    ended the request, when there was one; ``retry_after`` the seconds the
    helpdesk asked to wait before the next request (already capped by
    ``source.max_retry_after``), when it said.
    """

    def __init__(
        self,
        message: str,
        reason: str = "error",
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        #: HTTP requests of the failed poll by status code, as in :class:`PollResult`
        self.api_codes: dict[str, int] = {}
        #: requests left in the helpdesk's rate-limit window, when its headers said
        self.rate_limit_remaining: float | None = None


class SourceUnavailable(SourceError):
    """The config names a source this build cannot poll."""


@dataclass
class PollResult:
    """What one poll returned.

    ``tickets`` hold the full current state of every ticket that changed since
    ``cursor`` (all tickets on a first poll).  ``cursor`` is opaque and is
    persisted by the store; ``watermark`` is the instant (POSIX seconds) up to
    which the source guarantees its data is complete.  ``problems`` are
    records that could not be read, each naming where it was; they do not
    fail the poll.
    """

    tickets: list[Ticket]
    cursor: str | None
    watermark: float
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    #: HTTP requests of this poll by status code ("200", "429", ...), for
    #: ``helpdesk_api_requests_total{code}``; empty for sources without HTTP
    api_codes: dict[str, int] = field(default_factory=dict)
    #: requests left in the helpdesk's rate-limit window, when its headers say
    rate_limit_remaining: float | None = None


class Source(Protocol):
    #: bounded label value for ``helpdesk_*{source=...}`` metrics
    name: str

    def poll(self, cursor: str | None, now: float) -> PollResult:
        """Fetch what changed since ``cursor``; raise :class:`SourceError` on failure."""
        ...


@runtime_checkable
class KnowsTickets(Protocol):
    """Optional: a source that merges partial updates reads earlier ticket states through this."""

    def use_known_tickets(
        self, known: Callable[[Sequence[str]], Mapping[str, Ticket]] | None
    ) -> None:
        """Read previous ticket states through ``known`` (e.g. the store) instead of memory."""
        ...
