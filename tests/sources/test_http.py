"""The shared HTTP client: retries, Retry-After, the rate budget, counting, and its errors."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from exporter.config import ConfigError
from exporter.sources.base import SourceError
from exporter.sources.http import REASONS, HelpdeskClient, PollBudgetSpent, RateLimited
from exporter.sources.zendesk import TICKETS_PATH, zendesk_client
from tests.certs import make_certificates
from tests.sources.helpers import (
    BASE_URL,
    EMAIL,
    TOKEN,
    FakeClock,
    fixture,
    fixture_text,
    source_config,
    url,
)

PATH = TICKETS_PATH
PAGE = fixture("tickets-cursor-empty.json")
RATE_LIMITED = fixture_text("rate-limited-429.txt")


def client(clock: FakeClock, **options: Any) -> HelpdeskClient:
    made = HelpdeskClient(
        BASE_URL,
        auth=(f"{EMAIL}/token", TOKEN),
        sleep=clock.sleep,
        clock=clock.monotonic,
        jitter=lambda: 0.0,
        **options,
    )
    return made


class Recorder:
    """A ``responses`` callback answering in turn and noting the clock of each request."""

    def __init__(self, clock: FakeClock, answers: list[tuple[int, dict[str, str], str]]) -> None:
        self.clock = clock
        self.answers = answers
        self.seen: list[float] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.seen.append(self.clock.now)
        return self.answers[min(len(self.seen), len(self.answers)) - 1]


@responses.activate
def test_429_waits_retry_after_before_asking_again() -> None:
    clock = FakeClock()
    answer = Recorder(
        clock,
        [
            (429, {"Retry-After": "30", "Content-Type": "text/plain"}, RATE_LIMITED),
            (200, {"Content-Type": "application/json"}, fixture_text("tickets-cursor-empty.json")),
        ],
    )
    responses.add_callback(responses.GET, url(PATH), callback=answer)
    made = client(clock)

    assert made.get_json(PATH, {"cursor": "abc"}) == PAGE
    assert clock.sleeps == [30.0]
    first, second = answer.seen
    assert second - first >= 30.0  # no request before Retry-After has passed
    assert made.drain_counts() == {"429": 1, "200": 1}


@responses.activate
def test_500_then_success_backs_off_and_counts_both_answers() -> None:
    clock = FakeClock()
    responses.get(url(PATH), status=500, body="<html>oops</html>", content_type="text/html")
    responses.get(url(PATH), json=PAGE)
    made = client(clock, backoff_factor=2.0)

    assert made.get_json(PATH) == PAGE
    assert clock.sleeps == [2.0]
    assert made.drain_counts() == {"500": 1, "200": 1}
    assert made.drain_counts() == {}


@responses.activate
def test_429_until_retries_run_out_fails_rate_limited_and_never_parses_the_body() -> None:
    clock = FakeClock()
    responses.get(
        url(PATH),
        status=429,
        body=RATE_LIMITED,
        content_type="text/plain",
        headers={"Retry-After": "7"},
    )
    made = client(clock, retries=2)

    with pytest.raises(RateLimited) as caught:
        made.get_json(PATH)
    assert caught.value.reason == "rate_limited"
    assert caught.value.retry_after == 7.0
    assert clock.sleeps == [7.0, 7.0]
    assert made.drain_counts() == {"429": 3}


@pytest.mark.parametrize(
    "retry_after",
    [
        pytest.param("86400", id="a-day-in-seconds"),
        pytest.param("3600", id="an-hour-in-seconds"),
        pytest.param("Fri, 31 Dec 2100 23:59:59 GMT", id="http-date-far-ahead"),
    ],
)
@responses.activate
def test_retry_after_over_the_cap_fails_at_once_with_the_hint_capped(retry_after: str) -> None:
    clock = FakeClock()
    responses.get(
        url(PATH),
        status=429,
        body=RATE_LIMITED,
        content_type="text/plain",
        headers={"Retry-After": retry_after},
    )
    made = client(clock, max_retry_after=120.0)

    with pytest.raises(RateLimited) as caught:
        made.get_json(PATH)
    assert caught.value.reason == "rate_limited"
    assert caught.value.retry_after == 120.0  # the poller never waits longer than the cap
    assert clock.sleeps == []
    assert made.drain_counts() == {"429": 1}


@pytest.mark.parametrize(
    ("configured", "cap"),
    [
        pytest.param("", 300.0, id="default-5m"),
        pytest.param("  max_retry_after: 90s", 90.0, id="configured-90s"),
    ],
)
@responses.activate
def test_source_max_retry_after_caps_the_hint(configured: str, cap: float, tmp_path: Path) -> None:
    clock = FakeClock()
    responses.get(url(PATH), status=429, body=RATE_LIMITED, headers={"Retry-After": "86400"})
    made = zendesk_client(
        source_config(tmp_path, configured), sleep=clock.sleep, clock=clock.monotonic
    )

    with pytest.raises(RateLimited) as caught:
        made.get_json(PATH)
    assert caught.value.retry_after == cap
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        pytest.param("  poll_timeout: 20m", "poll_timeout must be at most 10m", id="poll-20m"),
        pytest.param("  max_retry_after: 6h", "max_retry_after must be at most 10m", id="wait-6h"),
        pytest.param(
            "  timeout: 2m\n  poll_timeout: 1m",
            "poll_timeout must be at least timeout",
            id="poll-shorter-than-a-request",
        ),
    ],
)
def test_source_waits_are_bounded_in_the_config(extra: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        source_config(tmp_path, extra)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(
            {"status": 401, "json": {"error": "Couldn't authenticate you"}},
            "auth",
            id="401-bad-credentials",
        ),
        pytest.param({"status": 403, "json": {"error": "Forbidden"}}, "auth", id="403-not-admin"),
        pytest.param(
            {"status": 404, "json": {"error": "InvalidEndpoint"}}, "http_4xx", id="404-wrong-url"
        ),
        pytest.param(
            {"status": 400, "json": {"error": "InvalidValue"}}, "http_4xx", id="400-bad-parameters"
        ),
        pytest.param(
            {"status": 429, "body": RATE_LIMITED, "headers": {"Retry-After": "1"}},
            "rate_limited",
            id="429-after-retries",
        ),
        pytest.param(
            {"status": 301, "headers": {"Location": "https://eu.acme.example/"}},
            "redirect",
            id="301-moved",
        ),
        pytest.param(
            {"status": 503, "body": "Service Unavailable"}, "http_5xx", id="503-after-retries"
        ),
        pytest.param(
            {"status": 200, "body": fixture_text("truncated-page.txt")},
            "bad_response",
            id="truncated-json",
        ),
        pytest.param(
            {"status": 200, "body": "<html>maintenance</html>"},
            "bad_response",
            id="html-instead-of-json",
        ),
        pytest.param(
            {"body": requests.exceptions.ReadTimeout("read timed out")},
            "timeout",
            id="read-timeout",
        ),
        pytest.param(
            {"body": requests.exceptions.ConnectTimeout("connect timed out")},
            "timeout",
            id="connect-timeout",
        ),
        pytest.param(
            {"body": requests.exceptions.ConnectionError("refused")},
            "connect",
            id="connection-refused",
        ),
        pytest.param(
            {"body": requests.exceptions.SSLError("certificate verify failed")},
            "tls",
            id="certificate",
        ),
        pytest.param(
            {"body": requests.exceptions.ConnectionError(socket.gaierror(-2, "unknown name"))},
            "dns",
            id="name-not-known",
        ),
    ],
)
@responses.activate
def test_failures_become_source_errors_with_bounded_reasons(
    answer: dict[str, Any], reason: str
) -> None:
    clock = FakeClock()
    responses.get(url(PATH), **answer)
    made = client(clock, retries=1)

    with pytest.raises(SourceError) as caught:
        made.get_json(PATH, {"cursor": "MTc5MzYxNzIwMC4wfHwxMDR8", "include": "users"})
    assert caught.value.reason == reason
    assert caught.value.reason in REASONS
    assert str(caught.value).startswith(f"GET {PATH}: ")


FAILURES = [
    pytest.param({"status": 401, "json": {"error": "Couldn't authenticate you"}}, id="401"),
    pytest.param({"status": 429, "body": RATE_LIMITED, "headers": {"Retry-After": "1"}}, id="429"),
    pytest.param({"status": 500, "body": "error"}, id="500"),
    pytest.param({"status": 200, "body": "{not json"}, id="malformed"),
    pytest.param(
        {"body": requests.exceptions.ReadTimeout(f"{BASE_URL}{PATH}?cursor=x")}, id="timeout"
    ),
    pytest.param(
        {"body": requests.exceptions.ConnectionError(f"{BASE_URL}{PATH}?cursor=x")}, id="connection"
    ),
    pytest.param({"body": requests.exceptions.SSLError(f"{BASE_URL}{PATH}?cursor=x")}, id="tls"),
    pytest.param(
        {
            "status": 302,
            "headers": {
                "Location": f"https://{EMAIL}:{TOKEN}@eu.acme.example/x?cursor=SECRET-CURSOR-VALUE"
            },
        },
        id="redirect",
    ),
]


@pytest.mark.parametrize("answer", FAILURES)
@pytest.mark.parametrize("auth", ["token", "basic", "oauth"])
@responses.activate
def test_error_messages_never_show_credentials_or_the_query(
    answer: dict[str, Any], auth: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    responses.get(url(PATH), **answer)
    made = zendesk_client(
        source_config(tmp_path, auth=auth), sleep=clock.sleep, clock=clock.monotonic
    )

    with pytest.raises(SourceError) as caught:
        made.get_json(PATH, {"cursor": "SECRET-CURSOR-VALUE", "include": "users"})
    text = f"{caught.value} {caught.value!r} {caught.value.args}"
    encoded = base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
    for secret in (
        TOKEN,
        EMAIL,
        encoded,
        "Authorization",
        "Bearer",
        "SECRET-CURSOR-VALUE",
        "acme.zendesk.com",
    ):
        assert secret not in text
    assert PATH in text


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        pytest.param(
            "token",
            "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode(),
            id="api-token",
        ),
        pytest.param(
            "basic",
            "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode(),
            id="password",
        ),
        pytest.param("oauth", f"Bearer {TOKEN}", id="oauth"),
    ],
)
@responses.activate
def test_zendesk_auth_header(auth: str, expected: str, tmp_path: Path) -> None:
    responses.get(url(PATH), json=PAGE)
    made = zendesk_client(source_config(tmp_path, auth=auth))

    made.get_json(PATH)
    assert responses.calls[0].request.headers["Authorization"] == expected
    assert TOKEN not in repr(made.session.auth)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        pytest.param(
            {"ratelimit-remaining": "1", "ratelimit-reset": "12"}, 12.0, id="ratelimit-reset-given"
        ),
        pytest.param(
            {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "2"},
            60.0,
            id="zendesk-x-rate-limit-window",
        ),
        pytest.param({"X-Ratelimit-Remaining": "0"}, 60.0, id="x-ratelimit-remaining"),
        pytest.param(
            {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "350"}, None, id="plenty-left"
        ),
    ],
)
@responses.activate
def test_rate_budget_waits_for_the_window_when_nearly_spent(
    headers: dict[str, str], wait: float | None
) -> None:
    clock = FakeClock()
    responses.get(url(PATH), json=PAGE, headers=headers)
    made = client(clock)

    made.get_json(PATH)
    remaining = made.rate_limit_remaining
    made.get_json(PATH)
    assert remaining == float(next(v for k, v in headers.items() if "remaining" in k.lower()))
    assert clock.sleeps == ([] if wait is None else [wait])


@responses.activate
def test_incremental_exports_keep_to_ten_requests_a_minute() -> None:
    clock = FakeClock()
    responses.get(url(PATH), json=PAGE)
    made = client(clock, window_limits={"/api/v2/incremental/": (10, 60.0)})

    for _ in range(10):
        made.get_json(PATH)
        clock.now += 1.0
    assert clock.sleeps == []
    made.get_json(PATH)
    assert clock.sleeps == [50.0]  # the first of the ten left the window 60 s after it was sent
    assert len(responses.calls) == 11


# --- the same behaviour through a real urllib3 connection pool ---------------------------------


#: One scripted answer: status, headers, body, seconds to wait before answering.
Answer = tuple[int, dict[str, str], bytes, float]


class ScriptedServer(ThreadingHTTPServer):
    """A local HTTP server answering GETs from ``script`` in turn (the last one repeats)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Scripted)
        self.script: list[Answer] = []
        self.seen: list[str] = []

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Scripted(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_GET(self) -> None:
        script = self.server.script
        status, headers, body, delay = script[min(len(self.server.seen), len(script) - 1)]
        self.server.seen.append(self.path)
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up waiting, as the test wants

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_real_pool_honours_retry_after_and_counts_every_answer(
    local_server: ScriptedServer,
) -> None:
    page = fixture_text("tickets-cursor-empty.json").encode()
    local_server.script = [
        (429, {"Retry-After": "5", "Content-Type": "text/plain"}, RATE_LIMITED.encode(), 0),
        (503, {"Content-Type": "text/plain"}, b"busy", 0),
        (200, {"Content-Type": "application/json", "X-Rate-Limit-Remaining": "698"}, page, 0),
    ]
    clock = FakeClock()
    made = HelpdeskClient(
        local_server.base_url, sleep=clock.sleep, clock=clock.monotonic, jitter=lambda: 0.0
    )

    assert made.get_json(PATH, {"cursor": "abc"}) == PAGE
    assert clock.sleeps == [5.0, 2.0]  # Retry-After, then back-off before the second retry
    assert made.drain_counts() == {"429": 1, "503": 1, "200": 1}
    assert made.rate_limit_remaining == 698.0
    assert len(local_server.seen) == 3


def test_real_pool_read_timeout_after_retries_is_a_timeout(
    local_server: ScriptedServer,
) -> None:
    local_server.script = [(200, {}, b"{}", 0.5)]
    clock = FakeClock()
    made = HelpdeskClient(
        local_server.base_url,
        timeout=(1.0, 0.1),
        retries=1,
        sleep=clock.sleep,
        clock=clock.monotonic,
        jitter=lambda: 0.0,
    )

    with pytest.raises(SourceError) as caught:
        made.get_json(PATH)
    assert caught.value.reason == "timeout"
    assert "127.0.0.1" not in str(caught.value)


# --- bounded faults: deadlines, size, redirects, network reasons --------------------------------


class RawServer(ThreadingHTTPServer):
    """A local HTTP server whose handler is the test's ``respond``; counts the body bytes sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Raw)
        self.daemon_threads = True
        self.respond: Any = None
        self.sent = 0
        self.done = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Raw(BaseHTTPRequestHandler):
    server: RawServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        try:
            self.server.respond(self)
        except OSError:
            pass  # the client hung up, as it should
        finally:
            self.close_connection = True
            self.server.done.set()

    def send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.server.sent += len(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def trickle_headers(handler: _Raw) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(200):  # one header byte every 50 ms: 10 s in all
        handler.send(b"X")
        time.sleep(0.05)


def trickle_body(handler: _Raw) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "200")
    handler.end_headers()
    handler.send(b"[")
    for _ in range(199):  # one body byte every 50 ms: 10 s in all
        time.sleep(0.05)
        handler.send(b" ")


@pytest.mark.parametrize(
    "respond",
    [
        pytest.param(trickle_headers, id="headers-trickled"),
        pytest.param(trickle_body, id="body-trickled"),
    ],
)
def test_a_trickled_answer_fails_with_timeout_at_the_total_deadline(
    respond: Any, raw_server: RawServer
) -> None:
    raw_server.respond = respond
    clock = FakeClock()
    made = HelpdeskClient(
        raw_server.base_url,
        timeout=(1.0, 0.5),
        retries=1,
        sleep=clock.sleep,
        clock=clock.monotonic,
        jitter=lambda: 0.0,
    )

    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        made.get_json(PATH)
    took = time.monotonic() - started

    assert caught.value.reason == "timeout"
    assert took < 3.0  # two attempts of 0.5 s at most, not the 10 s the trickle takes
    assert "127.0.0.1" not in str(caught.value)


def endless_body(declare_length: bool) -> Any:
    def respond(handler: _Raw) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(256 * 1024 * 1024))
            handler.end_headers()
            chunk = b" " * 65536
            for _ in range(4096):
                handler.send(chunk)
        else:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
            for _ in range(4096):
                handler.send(chunk)
            handler.send(b"0\r\n\r\n")

    return respond


@pytest.mark.parametrize(
    "declare_length",
    [
        pytest.param(True, id="content-length-over-the-cap"),
        pytest.param(False, id="chunked-without-length"),
    ],
)
def test_an_answer_over_the_size_cap_fails_and_is_not_read_further(
    declare_length: bool, raw_server: RawServer
) -> None:
    raw_server.respond = endless_body(declare_length)
    clock = FakeClock()
    cap = 1024 * 1024
    made = HelpdeskClient(
        raw_server.base_url,
        max_response_bytes=cap,
        sleep=clock.sleep,
        clock=clock.monotonic,
        jitter=lambda: 0.0,
    )

    with pytest.raises(SourceError) as caught:
        made.get_json(PATH)
    assert raw_server.done.wait(10)

    assert caught.value.reason == "bad_response"
    assert f"larger than {cap} bytes" in str(caught.value)
    # 256 MiB offered; what got out is the cap plus what socket buffers hold
    assert raw_server.sent < 40 * 1024 * 1024


@pytest.mark.parametrize(
    ("status", "location", "target"),
    [
        pytest.param(301, "https://eu.acme.example/api/v2/x", "https://eu.acme.example", id="301"),
        pytest.param(
            302, "https://acme.example:8443/login?next=/x", "https://acme.example:8443", id="302"
        ),
        pytest.param(
            307, "/api/v2/incremental/other.json", "https://acme.zendesk.com", id="307-relative"
        ),
        pytest.param(
            308,
            "https://ops%40acme.example:s3cret@new.acme.example/p?token=abc#frag",
            "https://new.acme.example",
            id="308-with-credentials-and-query",
        ),
    ],
)
@responses.activate
def test_redirects_are_refused_naming_only_the_target_scheme_and_host(
    status: int, location: str, target: str
) -> None:
    clock = FakeClock()
    responses.get(url(PATH), status=status, headers={"Location": location})
    responses.get("https://eu.acme.example/api/v2/x", json=PAGE)
    made = client(clock)

    with pytest.raises(SourceError) as caught:
        made.get_json(PATH, {"cursor": "abc"})
    message = str(caught.value)

    assert caught.value.reason == "redirect"
    assert f"HTTP {status} redirects to {target};" in message
    assert "source.url" in message
    for hidden in ("s3cret", "ops%40", "token=", "?", "/api/v2/x", "/login", "#"):
        assert hidden not in message.removeprefix(f"GET {PATH}")
    assert len(responses.calls) == 1  # not followed


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("base", "reason"),
    [
        pytest.param(lambda server: "https://nonexistent.invalid", "dns", id="dns-unresolvable"),
        pytest.param(
            lambda server: f"http://127.0.0.1:{closed_port()}", "connect", id="connect-refused"
        ),
        pytest.param(
            lambda server: server.base_url.replace("http://", "https://"),
            "tls",
            id="tls-to-a-plain-http-server",
        ),
    ],
)
def test_network_failures_have_their_own_reasons(
    base: Any, reason: str, local_server: ScriptedServer
) -> None:
    local_server.script = [(200, {}, b"{}", 0)]
    clock = FakeClock()
    made = HelpdeskClient(
        base(local_server), retries=1, sleep=clock.sleep, clock=clock.monotonic, jitter=lambda: 0.0
    )

    with pytest.raises(SourceError) as caught:
        made.get_json(PATH, {"cursor": "SECRET-CURSOR-VALUE"})

    assert caught.value.reason == reason
    assert "SECRET-CURSOR-VALUE" not in str(caught.value)
    assert "nonexistent.invalid" not in str(caught.value)


# --- the poll's budget ---------------------------------------------------------------------------


@responses.activate
def test_a_spent_poll_budget_sends_no_request() -> None:
    clock = FakeClock()
    responses.get(url(PATH), json=PAGE)
    made = client(clock)

    with made.poll_budget(60.0):
        made.get_json(PATH)
        clock.now += 61.0
        with pytest.raises(PollBudgetSpent) as caught:
            made.get_json(PATH)
    made.get_json(PATH)  # outside a poll there is no budget

    assert caught.value.reason == "timeout"
    assert "source.poll_timeout" in str(caught.value)
    assert len(responses.calls) == 2


@pytest.mark.parametrize(
    ("answer", "reason", "sleeps"),
    [
        pytest.param(
            {"status": 503, "body": "busy"}, "http_5xx", [4.0], id="5xx-back-off-past-the-budget"
        ),
        pytest.param(
            {"status": 429, "body": RATE_LIMITED, "headers": {"Retry-After": "30"}},
            "rate_limited",
            [],
            id="retry-after-past-the-budget",
        ),
    ],
)
@responses.activate
def test_retry_waits_never_run_past_the_poll_budget(
    answer: dict[str, Any], reason: str, sleeps: list[float]
) -> None:
    clock = FakeClock()
    responses.get(url(PATH), **answer)
    made = client(clock, backoff_factor=4.0)

    with made.poll_budget(10.0), pytest.raises(SourceError) as caught:
        made.get_json(PATH)

    assert caught.value.reason == reason
    assert clock.sleeps == sleeps  # 4 s fits in 10 s, the next 8 s would not
    if reason == "rate_limited":
        assert caught.value.retry_after == 30.0


@responses.activate
def test_a_rate_window_wait_past_the_poll_budget_ends_the_poll_instead() -> None:
    clock = FakeClock()
    responses.get(url(PATH), json=PAGE)
    made = client(clock, window_limits={"/api/v2/incremental/": (2, 60.0)})

    with made.poll_budget(30.0):
        made.get_json(PATH)
        made.get_json(PATH)
        with pytest.raises(PollBudgetSpent):
            made.get_json(PATH)  # would wait 60 s for the window

    assert clock.sleeps == []
    assert len(responses.calls) == 2


def test_reasons_are_declared_once() -> None:
    assert REASONS == (
        "dns",
        "connect",
        "tls",
        "timeout",
        "auth",
        "rate_limited",
        "http_5xx",
        "http_4xx",
        "bad_response",
        "redirect",
        "stalled",
    )


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RawServer, Path]]:
    certificates = make_certificates(tmp_path)
    server = RawServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.server_cert, certificates.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, certificates.ca
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def tls_client(server: RawServer, ca: Path | None, clock: FakeClock) -> HelpdeskClient:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override the test's CA
    if ca is not None:
        session.verify = str(ca)
    return HelpdeskClient(
        server.base_url.replace("http://", "https://"),
        timeout=(1.0, 0.5),
        retries=1,
        session=session,
        sleep=clock.sleep,
        clock=clock.monotonic,
        jitter=lambda: 0.0,
    )


def test_a_trickled_answer_over_tls_fails_with_timeout_at_the_total_deadline(
    tls_server: tuple[RawServer, Path],
) -> None:
    server, ca = tls_server
    server.respond = trickle_body
    made = tls_client(server, ca, FakeClock())

    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        made.get_json(PATH)

    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 3.0


def test_an_untrusted_certificate_is_a_tls_failure(tls_server: tuple[RawServer, Path]) -> None:
    server, _ = tls_server
    server.respond = trickle_body
    made = tls_client(server, None, FakeClock())

    with pytest.raises(SourceError) as caught:
        made.get_json(PATH)

    assert caught.value.reason == "tls"
    assert "source.url" in str(caught.value)
