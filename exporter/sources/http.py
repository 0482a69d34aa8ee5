"""The HTTP client every helpdesk source shares: retries, time-outs, a rate budget, counts.

:class:`HelpdeskClient` wraps one :class:`requests.Session` whose adapter
carries a urllib3 :class:`~urllib3.util.Retry`:

* **Retries.** ``GET`` requests are retried on 429 and 5xx answers and on
  connection and read errors, a bounded number of times.  A ``Retry-After``
  header (seconds, or an HTTP date) is honoured: no new request goes out
  before it has passed.  Without one, the wait is exponential back-off with
  jitter.  A ``Retry-After`` longer than ``max_retry_after`` is not waited for
  in the poll; the request fails with ``http_429`` and a ``retry_after`` hint
  for the poller, so one poll never blocks for long.
* **Rate budget.** Every answer's rate-limit headers (``ratelimit-remaining``,
  ``X-Rate-Limit-Remaining``, ``X-Ratelimit-Remaining``) update
  :attr:`HelpdeskClient.rate_limit_remaining`; when fewer than ``reserve``
  requests are left, the next request waits for the window to reset
  (``ratelimit-reset`` seconds when given, else ``rate_window`` seconds).
  ``window_limits`` adds client-side sliding windows per path prefix for
  endpoints with their own, stricter limit (Zendesk's incremental exports
  allow 10 requests a minute).
* **Counting.** Every HTTP answer, retried ones included, is counted by status
  code; :meth:`HelpdeskClient.drain_counts` hands the counts over (for
  ``helpdesk_api_requests_total{code}``) and starts again.
* **Errors** are :class:`~exporter.sources.base.SourceError` with a bounded
  ``reason`` (:data:`REASONS`).  Messages name the method and the endpoint
  path, never the host's credentials, the query string or a header.  Bodies of
  failed answers are never parsed (a 429 is often ``text/plain``).

All waiting goes through the injectable ``sleep`` and ``clock``, so tests run
without real waits.  Waits happen inside :meth:`_ClientRetry.increment`, the
one step both a real urllib3 pool and the ``responses`` test double go
through before retrying.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Self, cast

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from exporter import __version__
from exporter.sources.base import SourceError

log = logging.getLogger(__name__)

#: Every ``SourceError.reason`` this client raises.
REASONS = (
    "http_429",
    "http_5xx",
    "http_4xx",
    "http_3xx",
    "timeout",
    "connection",
    "malformed_json",
)
#: Status codes a GET is retried on.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Headers that carry the requests left in the rate-limit window, most specific first.
REMAINING_HEADERS = ("ratelimit-remaining", "x-rate-limit-remaining", "x-ratelimit-remaining")
#: Header that carries the seconds until the rate-limit window resets.
RESET_HEADER = "ratelimit-reset"
USER_AGENT = f"helpdesk-slo-exporter/{__version__}"

Sleep = Callable[[float], None]
Clock = Callable[[], float]


class RateLimited(SourceError):
    """The helpdesk kept answering 429; ``retry_after`` is its advice in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, "http_429")
        self.retry_after = retry_after


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
        retry_after: float | None = None
        if response is not None:
            if self.respect_retry_after_header:
                retry_after = self.get_retry_after(response)
            if retry_after is not None and retry_after > owner.max_retry_after:
                owner._last_retry_after = retry_after
                raise MaxRetryError(
                    cast(ConnectionPool, _pool), url or "", ResponseError("Retry-After too long")
                )
        else:
            owner._attempts += 1
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        wait = retry_after if retry_after is not None else owner._backoff(len(new.history))
        if owner._waited + wait > owner.max_retry_wait:
            reason = error if error is not None else ResponseError("retry wait budget spent")
            raise MaxRetryError(cast(ConnectionPool, _pool), url or "", reason)
        if response is not None:  # answers that end the request are counted by the client
            owner._observe(response.status, response.headers)
        owner._waited += wait
        owner._last_retry_after = retry_after
        owner._wait(wait)
        return new

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Waiting already happened in :meth:`increment`."""


class HelpdeskClient:
    """One HTTP session to one helpdesk, shared by every request of a source.

    ``base_url`` is the helpdesk's root (``https://acme.zendesk.com``); paths
    given to :meth:`get_json` are appended to it.  ``timeout`` is ``(connect,
    read)`` seconds.  ``auth`` is anything :mod:`requests` accepts
    (``(user, password)`` or an :class:`~requests.auth.AuthBase`).
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
        max_retry_after: float = 120.0,
        max_retry_wait: float = 300.0,
        reserve: int = 2,
        rate_window: float = 60.0,
        window_limits: Mapping[str, tuple[int, float]] | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        jitter: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.backoff_jitter = backoff_jitter
        self.max_retry_after = max_retry_after
        self.max_retry_wait = max_retry_wait
        self.reserve = reserve
        self.rate_window = rate_window
        self.window_limits = dict(window_limits or {})
        self._sleep = sleep
        self._clock = clock
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
        self._recent: dict[str, deque[float]] = {prefix: deque() for prefix in self.window_limits}
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        adapter = HTTPAdapter(max_retries=self._retry(retries))
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
            allowed_methods=frozenset({"GET"}),
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

    # -- requests --

    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """``GET base_url + path`` and its JSON body; :class:`SourceError` on any failure."""
        return self.get_json_with_headers(path, params)[0]

    def get_json_with_headers(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> tuple[Any, Mapping[str, str]]:
        """Like :meth:`get_json`, also returning the answer's headers (e.g. ``Link`` for paging)."""
        where = f"GET {path}"
        self._before_request(path)
        self._waited = 0.0
        self._last_retry_after = None
        attempts_before = self._attempts
        try:
            response = self.session.get(
                self.base_url + path, params=dict(params or {}), timeout=self.timeout
            )
        except requests.exceptions.RequestException as exc:
            # the last failed attempt is counted here unless the retry object already did
            self._attempts = max(self._attempts, attempts_before + 1)
            raise self._transport_error(where, exc) from None
        self._observe(response.status_code, response.headers)
        return self._decode(where, response), response.headers

    def _transport_error(
        self, where: str, exc: requests.exceptions.RequestException
    ) -> SourceError:
        """A request that got no usable answer, as a bounded reason (never the URL)."""
        if isinstance(exc, requests.exceptions.RetryError):
            return self._rate_limited(where)
        if isinstance(exc, requests.exceptions.Timeout) or _caused_by_timeout(exc):
            return SourceError(
                f"{where}: the helpdesk did not answer within {self.timeout[1]:g}s "
                f"(connect {self.timeout[0]:g}s); it will be retried on the next poll",
                "timeout",
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            return SourceError(
                f"{where}: cannot connect to the helpdesk (DNS, TLS or network error); "
                "check source.url and the network path",
                "connection",
            )
        return SourceError(f"{where}: request failed ({type(exc).__name__})", "connection")

    def _decode(self, where: str, response: requests.Response) -> Any:
        status = response.status_code
        if status == 429:
            raise self._rate_limited(where, response.headers)
        if status >= 500:
            raise SourceError(
                f"{where}: the helpdesk answered HTTP {status} after retries; "
                "it will be retried on the next poll",
                "http_5xx",
            )
        if status >= 400:
            raise SourceError(f"{where}: HTTP {status}: {_hint(status)}", "http_4xx")
        if status >= 300:
            raise SourceError(
                f"{where}: HTTP {status} redirect was not followed; check source.url", "http_3xx"
            )
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(
                f"{where}: the answer is not valid JSON ({_json_problem(exc)}); "
                "the same page is asked for again on the next poll",
                "malformed_json",
            ) from None

    def _rate_limited(self, where: str, headers: Mapping[str, str] | None = None) -> RateLimited:
        retry_after = self._last_retry_after
        if headers is not None:
            retry_after = _parse_retry_after(headers.get("Retry-After")) or retry_after
        advice = f"; it asks to retry after {retry_after:g}s" if retry_after is not None else ""
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
            self._observed_at = self._clock()

    def _backoff(self, retry_number: int) -> float:
        """Exponential back-off with jitter before retry ``retry_number`` (1 = first)."""
        base = self.backoff_factor * 2.0 ** max(retry_number - 1, 0)
        return min(self.backoff_max, base) + self._jitter() * self.backoff_jitter

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    def _before_request(self, path: str) -> None:
        """Wait when the rate budget is nearly spent or a path window is full."""
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
                self._wait(wait)
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
                self._wait(wait)
                recent.popleft()
            recent.append(self._clock())


def _caused_by_timeout(exc: BaseException) -> bool:
    """Whether a timeout hides inside a wrapped error (urllib3 wraps exhausted read time-outs)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TimeoutError | Urllib3Timeout | requests.exceptions.Timeout):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return False


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
