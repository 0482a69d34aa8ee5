"""Progress of a long read from a helpdesk API, logged while it runs.

The first sync of a large helpdesk reads weeks of tickets page by page, which
can take many minutes (Zendesk's incremental export allows 10 requests a
minute).  A source's page loop makes one :class:`ReadProgress` per endpoint
and calls :meth:`~ReadProgress.page` once per page.  Nothing is logged while a
read is short; once it has run for :data:`INTERVAL` seconds, one info line at
most every :data:`INTERVAL` seconds says how far it got, and one more says
when it is done::

    reading source=zendesk endpoint=/api/v2/incremental/tickets/cursor.json pages=120
      records=118000 rate_limited=3 elapsed=2m10s: read up to 2026-10-14T08:00Z,
      35% of the time since 2026-09-28T12:00Z, about 4m left
    read source=zendesk endpoint=/api/v2/incremental/tickets/cursor.json pages=340
      records=338000 rate_limited=9 elapsed=6m12s: done

How far it got is estimated from the API's total where it gives one
(``total``), otherwise from the time window being read: the instant the read
started from (``since``), the instant it reads towards (``until``) and the
time of the last record read (``reached``, e.g. a cursor's time).
``rate_limited`` counts the answers 429 (each one waited for) during the read;
waits the client makes to stay within its own rate budget are logged by the
client as they happen.  The clock is injectable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from exporter.model import format_instant
from exporter.units import format_duration

log = logging.getLogger(__name__)

#: Seconds between two progress lines of one read (and before the first one).
INTERVAL = 10.0

Clock = Callable[[], float]
#: The clock a :class:`ReadProgress` made without one uses (the sources make theirs so).
default_clock: Clock = time.monotonic


class CountsAnswers(Protocol):
    """What :class:`ReadProgress` reads from the HTTP client: answers by status code."""

    def totals(self) -> Mapping[str, int]: ...


class ReadProgress:
    """Counts the pages and records of one read and logs how far it got, now and then.

    ``since`` and ``until`` (POSIX seconds) are the time window the read goes
    through; ``total`` the records the API says there are.  Either lets a line
    estimate what is left.
    """

    def __init__(
        self,
        source: str,
        endpoint: str,
        client: CountsAnswers | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
        total: int | None = None,
        clock: Clock | None = None,
        interval: float = INTERVAL,
    ) -> None:
        self.source = source
        self.endpoint = endpoint
        self.since = since
        self.until = until
        self.total = total
        self.pages = 0
        self.records = 0
        self.reached: float | None = None
        self._client = client
        self._clock = clock if clock is not None else default_clock
        self._interval = interval
        self._started = self._clock()
        self._last_line = self._started
        self._limited_before = self._limited_total()
        self._reported = False

    def page(self, records: int, reached: float | None = None) -> None:
        """One more page of ``records`` records, the last of them dated ``reached``."""
        self.pages += 1
        self.records += records
        if reached is not None:
            self.reached = reached
        now = self._clock()
        if now - self._last_line >= self._interval:
            self._last_line = now
            self._reported = True
            estimate = self.estimate(now)
            log.info("reading %s%s", self._counts(now), f": {estimate}" if estimate else "")

    def done(self) -> None:
        """The read is over: one closing line if it was long enough to be reported."""
        now = self._clock()
        if self._reported or now - self._started >= self._interval:
            log.info("read %s: done", self._counts(now))

    def estimate(self, now: float) -> str:
        """How far the read got and what is left, in words; empty when nothing tells."""
        elapsed = now - self._started
        if self.total is not None and self.total > 0:
            share = min(1.0, self.records / self.total)
            text = f"{self.records} of about {self.total} records, {share:.0%}"
        elif None not in (self.since, self.until, self.reached):
            assert self.since is not None and self.until is not None and self.reached is not None
            span = self.until - self.since
            if span <= 0:
                return ""
            share = min(1.0, max(0.0, (self.reached - self.since) / span))
            text = (
                f"read up to {_minute(self.reached)}, {share:.0%} of the time since "
                f"{_minute(self.since)}"
            )
        else:
            return ""
        if 0 < share < 1:
            text += f", about {format_duration(elapsed * (1 - share) / share)} left"
        return text

    def _counts(self, now: float) -> str:
        limited = self._limited_total() - self._limited_before
        return (
            f"source={self.source} endpoint={self.endpoint} pages={self.pages} "
            f"records={self.records} rate_limited={limited} "
            f"elapsed={format_duration(now - self._started)}"
        )

    def _limited_total(self) -> int:
        return int(self._client.totals().get("429", 0)) if self._client is not None else 0


def _minute(posix: float) -> str:
    """``2026-10-14T08:00Z``: :func:`format_instant` to the minute, enough for progress lines."""
    whole = datetime.fromtimestamp(posix, UTC).replace(second=0, microsecond=0)
    return format_instant(whole).removesuffix(":00Z") + "Z"
