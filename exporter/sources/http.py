"""The HTTP client every helpdesk source shares: retries, deadlines, a rate budget, counts.

:class:`HelpdeskClient` wraps one :class:`requests.Session` whose adapter
carries a urllib3 :class:`~urllib3.util.Retry`:

* **Retries.** ``GET`` requests (and the read-only searches sent with
  :meth:`HelpdeskClient.post_json`) are retried on 429 and 5xx answers and on
  connection and read errors, a bounded number of times.  A ``Retry-After``
  header (seconds, or an HTTP date) is honoured: no new request goes out
  before it has passed.  Without one, the wait is exponential back-off with
  jitter.  A ``Retry-After`` longer than ``max_retry_after`` (or than what is
  left of the poll's budget) is not waited for: the request fails with
  ``rate_limited`` and a ``retry_after`` hint for the poller, itself capped at
  ``max_retry_after``, so neither a poll nor the pause before the next one
  follows a helpdesk that asks for hours.
* **Deadlines.** ``timeout`` is ``(connect, total)``: one attempt (connect,
  headers and the whole body) never takes longer than ``total`` seconds, even
  when the helpdesk trickles its answer a byte at a time; a watchdog shuts the
  socket down when the time is up and the request fails with ``timeout``.
  :meth:`HelpdeskClient.poll_budget` bounds a whole poll: retry waits and
  rate-budget waits never run past it, and once it is spent every request
  raises :class:`PollBudgetSpent`, which the sources treat like their page
  limit (they keep what they read and resume on the next poll).
* **Size.** Bodies are streamed; one larger than ``max_response_bytes``
  (:data:`MAX_RESPONSE_BYTES` by default) is not read further and fails with
  ``bad_response``, so memory stays bounded.
* **Redirects** are never followed: a 3xx fails with ``redirect`` and a
  message naming the target's scheme and host (``source.url`` should be the
  final address).
* **Rate budget.** Every answer's rate-limit headers (``ratelimit-remaining``,
  ``X-Rate-Limit-Remaining``, ``X-Ratelimit-Remaining``) update
  :attr:`HelpdeskClient.rate_limit_remaining`; when fewer than ``reserve``
  requests are left, the next request waits for the window to reset
  (``ratelimit-reset`` seconds, or the ``X-RateLimit-Reset`` instant, when
  given, else ``rate_window`` seconds).  A 429 without ``Retry-After`` waits
  until ``X-RateLimit-Reset`` when the answer has it (Intercom's way), capped
  like a ``Retry-After``.
  ``window_limits`` adds client-side sliding windows per path prefix for
  endpoints with their own, stricter limit (Zendesk's incremental exports
  allow 10 requests a minute).
* **Counting.** Every HTTP answer, retried ones included, is counted by status
  code; :meth:`HelpdeskClient.drain_counts` hands the counts over (for
  ``helpdesk_api_requests_total{code}``) and starts again.
* **Errors** are :class:`~exporter.sources.base.SourceError` with a bounded
  ``reason``, one of :data:`REASONS`.  Messages name the method and the
  endpoint path, never the host's credentials, the query string or a header.
  Bodies of failed answers are never parsed (a 429 is often ``text/plain``).

All waiting goes through the injectable ``sleep`` and ``clock``, so tests run
without real waits (the per-attempt watchdog alone runs on real time).  Waits
happen inside :meth:`_ClientRetry.increment`, the one step both a real urllib3
pool and the ``responses`` test double go through before retrying.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any, ClassVar, Self, cast
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ResponseError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse, HTTPResponse
from urllib3.util.retry import Retry

from exporter import __version__
from exporter.sources.base import SourceError

log = logging.getLogger(__name__)

#: Every ``SourceError.reason`` a helpdesk source raises (``helpdesk_poll_errors_total{reason}``).
REASONS = (
    "dns",  # the helpdesk's host name does not resolve
    "connect",  # connection refused, unreachable, or dropped before an answer
    "tls",  # certificate or TLS handshake failure
    "timeout",  # no complete answer within source.timeout
    "auth",  # HTTP 401 or 403: credentials refused or lacking a permission
    "rate_limited",  # HTTP 429 after retries, or a Retry-After over source.max_retry_after
    "http_5xx",  # server errors after retries
    "http_4xx",  # any other 4xx (404 wrong URL, 400 bad parameters, ...)
    "bad_response",  # not JSON, not the expected shape, cut short, or too large
    "redirect",  # a 3xx: redirects are not followed
    "stalled",  # an export whose position does not advance
)
#: Status codes a GET is retried on.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Headers that carry the requests left in the rate-limit window, most specific first.
REMAINING_HEADERS = ("ratelimit-remaining", "x-rate-limit-remaining", "x-ratelimit-remaining")
#: Header that carries the seconds until the rate-limit window resets.
RESET_HEADER = "ratelimit-reset"
#: Header that carries the instant (POSIX seconds) the window resets (Intercom); a small
#: value is read as seconds from now.
RESET_AT_HEADER = "x-ratelimit-reset"
#: A reset value above this is an instant, not a number of seconds.
_EPOCH_FLOOR = 1e9
USER_AGENT = f"helpdesk-slo-exporter/{__version__}"
#: Largest answer read (bytes, after decompression); a larger one fails with ``bad_response``.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: Bodies are read in chunks of this size, the deadline checked between them.
CHUNK_BYTES = 64 * 1024

Sleep = Callable[[float], None]
Clock = Callable[[], float]


class RateLimited(SourceError):
    """The helpdesk kept answering 429; ``retry_after`` is its advice in seconds, capped."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, "rate_limited", status=429, retry_after=retry_after)


class PollBudgetSpent(SourceError):
    """The poll's time budget ran out before this request could be made or finished.

    Sources stop reading where they are (as at their page limit) and keep what
    they read; the rest is read on the next poll.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, "timeout")


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>`` (OAuth access tokens)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:  # never show the token
        return "BearerAuth(<hidden>)"


class BasicAuth(HTTPBasicAuth):
    """HTTP basic auth whose ``repr`` does not show the password."""

    def __repr__(self) -> str:
        return "BasicAuth(<hidden>)"


# --- the per-attempt deadline -------------------------------------------------------------------


class _Watchdog:
    """Shuts the sockets of one request attempt down when its deadline passes.

    A socket time-out bounds each read, not the answer: a helpdesk sending one
    byte a second never trips it.  The watchdog bounds the whole attempt.
    """

    def __init__(self, seconds: float, by_poll: bool) -> None:
        self.deadline = time.monotonic() + seconds
        #: the poll's budget, not the request's own time-out, set this deadline
        self.by_poll = by_poll
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self._done:
                return
            self._sockets.append(sock)
            if not self.expired:
                return
        _shutdown(sock)

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.deadline

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def stop(self) -> None:
        with self._lock:
            self._done = True
            self._sockets.clear()
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    with suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


#: The watchdog of the request attempt running in this thread, if any.
_current = threading.local()


def _watch_current(sock: socket.socket | None) -> None:
    watchdog: _Watchdog | None = getattr(_current, "watchdog", None)
    if watchdog is not None:
        watchdog.watch(sock)


class _WatchedConnection(HTTPConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _watch_current(self.sock)
        return super().getresponse()


class _WatchedTLSConnection(HTTPSConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _watch_current(self.sock)
        return super().getresponse()


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedTLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTLSConnection


class _Adapter(HTTPAdapter):
    """``HTTPAdapter`` whose connections hand their socket to the running watchdog."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedTLSPool}


# --- retries ------------------------------------------------------------------------------------


class _ClientRetry(Retry):
    """urllib3 ``Retry`` that counts each retried answer and waits through the client.

    urllib3 rebuilds the object on every retry through ``type(self)(...)``, so
    the owning client is a class attribute of a per-client subclass (see
    :meth:`HelpdeskClient._retry`).
    """

    owner: ClassVar[HelpdeskClient]

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        owner = type(self).owner
        pool = cast(ConnectionPool, _pool)
        retry_after: float | None = None
        if response is not None:
            owner._last_status = response.status
            if self.respect_retry_after_header:
                retry_after = self.get_retry_after(response)
            if retry_after is None and response.status == 429:
                retry_after = owner._reset_wait(response.headers)
            if retry_after is not None and retry_after > owner.max_retry_after:
                owner._last_retry_after = retry_after
                raise MaxRetryError(pool, url or "", ResponseError("Retry-After too long"))
        else:
            owner._attempts += 1
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        wait = retry_after if retry_after is not None else owner._backoff(len(new.history))
        if owner._waited + wait > owner.max_retry_wait or not owner._fits_in_poll(wait):
            if response is not None:
                owner._last_retry_after = retry_after
            reason = error if error is not None else ResponseError("retry wait budget spent")
            raise MaxRetryError(pool, url or "", reason)
        if response is not None:  # answers that end the request are counted by the client
            owner._observe(response.status, response.headers)
        owner._waited += wait
        owner._last_retry_after = retry_after
        owner._wait(wait)
        owner._arm()  # the next attempt has its own deadline
        return new

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Waiting already happened in :meth:`increment`."""


# --- the client ---------------------------------------------------------------------------------


class HelpdeskClient:
    """One HTTP session to one helpdesk, shared by every request of a source.

    ``base_url`` is the helpdesk's root (``https://acme.zendesk.com``); paths
    given to :meth:`get_json` are appended to it.  ``timeout`` is ``(connect,
    total)`` seconds: the most a connection may take, and the most one attempt
    (connect, headers and the whole body) may take.  ``auth`` is anything
    :mod:`requests` accepts (``(user, password)`` or an
    :class:`~requests.auth.AuthBase`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthBase | tuple[str, str] | None = None,
        timeout: tuple[float, float] = (10.0, 30.0),
        retries: int = 4,
        backoff_factor: float = 1.0,
        backoff_max: float = 30.0,
        backoff_jitter: float = 1.0,
        max_retry_after: float = 300.0,
        max_retry_wait: float = 300.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        reserve: int = 2,
        rate_window: float = 60.0,
        window_limits: Mapping[str, tuple[int, float]] | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        jitter: Callable[[], float] = random.random,
        session: requests.Session | None = None,
        wall_clock: Clock = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.backoff_jitter = backoff_jitter
        self.max_retry_after = max_retry_after
        self.max_retry_wait = max_retry_wait
        self.max_response_bytes = max_response_bytes
        self.reserve = reserve
        self.rate_window = rate_window
        self.window_limits = dict(window_limits or {})
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._jitter = jitter
        #: requests left in the helpdesk's rate-limit window, as its last answer said
        self.rate_limit_remaining: float | None = None
        self._reset_after: float | None = None
        self._observed_at = 0.0
        self._codes: Counter[str] = Counter()
        self._totals: Counter[str] = Counter()
        self._attempts = 0
        self._waited = 0.0
        self._last_retry_after: float | None = None
        self._last_status: int | None = None
        self._poll_deadline: float | None = None
        self._poll_seconds = 0.0
        self._watchdog: _Watchdog | None = None
        self._recent: dict[str, deque[float]] = {prefix: deque() for prefix in self.window_limits}
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        adapter = _Adapter(max_retries=self._retry(retries))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def _retry(self, retries: int) -> Retry:
        retry_class = type("ClientRetry", (_ClientRetry,), {"owner": self})
        retry: Retry = retry_class(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            allowed_methods=frozenset({"GET", "POST"}),  # POST: read-only searches only
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff_jitter,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        return retry

    # -- what a poll reports --

    @property
    def attempts(self) -> int:
        """HTTP requests sent since the last :meth:`drain_counts` (answered or not)."""
        return self._attempts

    def drain_counts(self) -> dict[str, int]:
        """HTTP answers by status code since the last call, then start again."""
        counts = dict(self._codes)
        self._codes.clear()
        self._attempts = 0
        return counts

    def totals(self) -> dict[str, int]:
        """HTTP answers by status code since the client was made (never reset)."""
        return dict(self._totals)

    def close(self) -> None:
        self.session.close()

    # -- the poll's budget --

    @contextmanager
    def poll_budget(self, seconds: float) -> Iterator[None]:
        """Bound every request and wait inside the block to ``seconds`` in all (on ``clock``)."""
        self._poll_deadline = self._clock() + seconds
        self._poll_seconds = seconds
        try:
            yield
        finally:
            self._poll_deadline = None

    def _poll_left(self) -> float | None:
        if self._poll_deadline is None:
            return None
        return self._poll_deadline - self._clock()

    def _fits_in_poll(self, wait: float) -> bool:
        left = self._poll_left()
        return left is None or wait < left

    def _budget_spent(self, where: str) -> PollBudgetSpent:
        return PollBudgetSpent(
            f"{where}: the poll's time budget ({self._poll_seconds:g}s, source.poll_timeout) "
            "is spent; the rest is read on the next poll"
        )

    # -- requests --

    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """``GET base_url + path`` and its JSON body; :class:`SourceError` on any failure."""
        return self.get_json_with_headers(path, params)[0]

    def get_json_with_headers(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> tuple[Any, Mapping[str, str]]:
        """Like :meth:`get_json`, also returning the answer's headers (e.g. ``Link`` for paging)."""
        return self._request_json("GET", path, params, None)

    def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """``POST base_url + path`` with a JSON body, and the answer's JSON body.

        Only for read-only searches (Intercom's ``/conversations/search``): they
        are retried like a ``GET``, so never use it for a request that changes data.
        """
        return self._request_json("POST", path, None, body)[0]

    def _request_json(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        payload: Mapping[str, Any] | None,
    ) -> tuple[Any, Mapping[str, str]]:
        where = f"{method} {path}"
        self._before_request(where, path)
        self._waited = 0.0
        self._last_retry_after = None
        self._last_status = None
        attempts_before = self._attempts
        self._arm()
        try:
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=dict(params or {}),
                    json=payload,
                    timeout=(self.timeout[0], self.timeout[1]),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.exceptions.RequestException as exc:
                # the last failed attempt is counted here unless the retry object already did
                self._attempts = max(self._attempts, attempts_before + 1)
                raise self._transport_error(where, exc) from None
            try:
                self._observe(response.status_code, response.headers)
                self._check_status(where, response)
                body = self._read(where, response)
            finally:
                response.close()
        finally:
            self._disarm()
        return self._decode(where, body), response.headers

    def _arm(self) -> None:
        """Start the deadline of one attempt: ``timeout`` total, or what is left of the poll."""
        self._disarm()
        seconds, by_poll = self.timeout[1], False
        left = self._poll_left()
        if left is not None and left < seconds:
            seconds, by_poll = max(left, 0.0), True
        self._watchdog = _Watchdog(seconds, by_poll)
        _current.watchdog = self._watchdog

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        _current.watchdog = None

    def _timed_out(self, where: str) -> SourceError:
        watchdog = self._watchdog
        if watchdog is not None and watchdog.by_poll:
            return self._budget_spent(where)
        return SourceError(
            f"{where}: the helpdesk did not answer in full within {self.timeout[1]:g}s "
            "(source.timeout: connect, headers and body); it will be retried on the next poll",
            "timeout",
        )

    def _read(self, where: str, response: requests.Response) -> bytes:
        """The body, in chunks, within the attempt's deadline and the size cap."""
        cap = self.max_response_bytes
        declared = _first_number(response.headers, ("Content-Length",))
        if declared is not None and declared > cap:
            raise self._too_large(where, f"it announces {declared:.0f} bytes")
        watchdog = self._watchdog
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > cap:
                    raise self._too_large(where, "it is longer")
                chunks.append(chunk)
                if watchdog is not None and watchdog.passed():
                    raise self._timed_out(where)
        except requests.exceptions.RequestException as exc:
            if watchdog is not None and watchdog.passed():
                raise self._timed_out(where) from None
            raise SourceError(
                f"{where}: the answer was cut short ({type(exc).__name__}); "
                "the same page is asked for again on the next poll",
                "bad_response",
            ) from None
        if watchdog is not None and watchdog.expired:
            raise self._timed_out(where)  # the watchdog ended the body early
        return b"".join(chunks)

    def _too_large(self, where: str, how: str) -> SourceError:
        return SourceError(
            f"{where}: the answer is larger than {self.max_response_bytes} bytes ({how}); "
            "it was not read further. Lower source.page_size so pages stay smaller",
            "bad_response",
        )

    def _transport_error(
        self, where: str, exc: requests.exceptions.RequestException
    ) -> SourceError:
        """A request that got no usable answer, as a bounded reason (never the URL)."""
        watchdog = self._watchdog
        if watchdog is not None and watchdog.expired:
            return self._timed_out(where)
        if isinstance(exc, requests.exceptions.RetryError):
            return self._retries_spent(where)
        if _caused_by(exc, socket.gaierror, NameResolutionError):
            return SourceError(
                f"{where}: the helpdesk's host name does not resolve (DNS); "
                "check the host in source.url and the DNS setup",
                "dns",
            )
        if _caused_by(exc, ssl.SSLError, ssl.CertificateError, Urllib3SSLError) or isinstance(
            exc, requests.exceptions.SSLError
        ):
            return SourceError(
                f"{where}: the TLS handshake with the helpdesk failed (certificate or protocol); "
                "check that source.url is the helpdesk's https address and that its "
                "certificate is trusted here",
                "tls",
            )
        if _caused_by_timeout(exc):
            return self._timed_out(where)
        if isinstance(exc, requests.exceptions.ConnectionError):
            return SourceError(
                f"{where}: cannot connect to the helpdesk (refused, unreachable or dropped); "
                "check source.url and the network path",
                "connect",
            )
        return SourceError(f"{where}: request failed ({type(exc).__name__})", "connect")

    def _retries_spent(self, where: str) -> SourceError:
        status = self._last_status
        if status is None or status == 429:
            return self._rate_limited(where)
        return SourceError(
            f"{where}: the helpdesk answered HTTP {status} after retries; "
            "it will be retried on the next poll",
            "http_5xx" if status >= 500 else "http_4xx",
            status=status,
        )

    def _check_status(self, where: str, response: requests.Response) -> None:
        status = response.status_code
        if status == 429:
            raise self._rate_limited(where, response.headers)
        if status >= 500:
            raise SourceError(
                f"{where}: the helpdesk answered HTTP {status} after retries; "
                "it will be retried on the next poll",
                "http_5xx",
                status=status,
            )
        if status in (401, 403):
            raise SourceError(f"{where}: HTTP {status}: {_hint(status)}", "auth", status=status)
        if status >= 400:
            raise SourceError(f"{where}: HTTP {status}: {_hint(status)}", "http_4xx", status=status)
        if status >= 300:
            target = _origin(urljoin(response.url, response.headers.get("Location") or ""))
            to = f" to {target}" if target else ""
            raise SourceError(
                f"{where}: HTTP {status} redirects{to}; redirects are not followed: "
                "set source.url to the final address",
                "redirect",
                status=status,
            )

    def _decode(self, where: str, body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(
                f"{where}: the answer is not valid JSON ({_json_problem(exc)}); "
                "the same page is asked for again on the next poll",
                "bad_response",
            ) from None

    def _rate_limited(self, where: str, headers: Mapping[str, str] | None = None) -> RateLimited:
        retry_after = self._last_retry_after
        if headers is not None:
            retry_after = (
                _parse_retry_after(headers.get("Retry-After"))
                or retry_after
                or self._reset_wait(headers)
            )
        advice = ""
        if retry_after is not None:
            advice = f"; it asks to retry after {retry_after:g}s"
            if retry_after > self.max_retry_after:
                advice += (
                    f", the next poll waits {self.max_retry_after:g}s (source.max_retry_after)"
                )
                retry_after = self.max_retry_after
        return RateLimited(f"{where}: rate limited by the helpdesk (HTTP 429){advice}", retry_after)

    # -- bookkeeping shared with the retry object --

    def _observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Count one HTTP answer and read its rate-limit headers."""
        self._attempts += 1
        self._codes[str(status)] += 1
        self._totals[str(status)] += 1
        remaining = _first_number(headers, REMAINING_HEADERS)
        if remaining is not None:
            self.rate_limit_remaining = remaining
            self._reset_after = _first_number(headers, (RESET_HEADER,))
            if self._reset_after is None:
                self._reset_after = self._reset_wait(headers)
            self._observed_at = self._clock()

    def _reset_wait(self, headers: Mapping[str, str]) -> float | None:
        """Seconds until the rate-limit window resets, from ``X-RateLimit-Reset``, if given.

        Intercom sends the reset instant (POSIX seconds); a value too small to be
        an instant is taken as seconds from now.  A 429 without ``Retry-After``
        waits this long (capped by ``max_retry_after`` like a ``Retry-After``).
        """
        value = _first_number(headers, (RESET_AT_HEADER,))
        if value is None:
            return None
        if value > _EPOCH_FLOOR:
            value -= self._wall_clock()
        return max(0.0, value)

    def _backoff(self, retry_number: int) -> float:
        """Exponential back-off with jitter before retry ``retry_number`` (1 = first)."""
        base = self.backoff_factor * 2.0 ** max(retry_number - 1, 0)
        return min(self.backoff_max, base) + self._jitter() * self.backoff_jitter

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    def _wait_in_poll(self, where: str, seconds: float) -> None:
        """Wait before a request, unless the wait would outlast the poll's budget."""
        if not self._fits_in_poll(seconds):
            raise self._budget_spent(where)
        self._wait(seconds)

    def _before_request(self, where: str, path: str) -> None:
        """Wait when the rate budget is nearly spent or a path window is full."""
        left = self._poll_left()
        if left is not None and left <= 0:
            raise self._budget_spent(where)
        remaining = self.rate_limit_remaining
        if remaining is not None and remaining <= self.reserve:
            window = self._reset_after if self._reset_after is not None else self.rate_window
            wait = min(window - (self._clock() - self._observed_at), self.max_retry_after)
            if wait > 0:
                log.info(
                    "rate budget: %g requests left in the window; waiting %.1fs before %s",
                    remaining,
                    wait,
                    path,
                )
                self._wait_in_poll(where, wait)
            self.rate_limit_remaining = None
        for prefix, (count, seconds) in self.window_limits.items():
            if not path.startswith(prefix):
                continue
            recent = self._recent[prefix]
            now = self._clock()
            while recent and now - recent[0] >= seconds:
                recent.popleft()
            if len(recent) >= count:
                wait = seconds - (now - recent[0])
                log.info(
                    "rate budget: %d requests to %s* in %gs; waiting %.1fs",
                    count,
                    prefix,
                    seconds,
                    wait,
                )
                self._wait_in_poll(where, wait)
                recent.popleft()
            recent.append(self._clock())


def _errors(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every error wrapped inside it (urllib3 and requests nest them)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        if current.__cause__ is not None:
            pending.append(current.__cause__)


def _caused_by(exc: BaseException, *kinds: type[BaseException]) -> bool:
    return any(isinstance(error, kinds) for error in _errors(exc))


def _caused_by_timeout(exc: BaseException) -> bool:
    """Whether a timeout hides inside a wrapped error (urllib3 wraps exhausted read time-outs).

    urllib3's ``NewConnectionError`` (refused, unresolvable) is a subclass of
    its connect time-out; it is not a time-out.
    """
    return any(
        isinstance(error, TimeoutError | Urllib3Timeout | requests.exceptions.Timeout)
        and not isinstance(error, NewConnectionError)
        for error in _errors(exc)
    )


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: no credentials, path or query."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _first_number(headers: Mapping[str, str], names: tuple[str, ...]) -> float | None:
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value)
        except ValueError:
            continue
    return None


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(Retry().parse_retry_after(value)))
    except Exception:
        return None


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}, line {exc.lineno} column {exc.colno}"
    return "not UTF-8 text"


def _hint(status: int) -> str:
    if status == 401:
        return (
            "the helpdesk refused the credentials; check the token in token_file/token_env "
            "(and, where the helpdesk uses them, source.email and source.auth)"
        )
    if status == 403:
        return "the credentials lack a permission this endpoint needs (see the source's docs)"
    if status == 404:
        return "no such endpoint or record; check source.url"
    if status == 400:
        return "the helpdesk rejected the request parameters"
    return "the helpdesk refused the request"
