"""The shared HTTP client: retries, Retry-After, the rate budget, counting, and its errors."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from exporter.sources.base import SourceError
from exporter.sources.http import HelpdeskClient, RateLimited
from exporter.sources.zendesk import TICKETS_PATH, zendesk_client
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
def test_429_until_retries_run_out_fails_with_http_429_and_never_parses_the_body() -> None:
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
    assert caught.value.reason == "http_429"
    assert caught.value.retry_after == 7.0
    assert clock.sleeps == [7.0, 7.0]
    assert made.drain_counts() == {"429": 3}


@responses.activate
def test_retry_after_longer_than_the_poll_accepts_fails_at_once_with_the_hint() -> None:
    clock = FakeClock()
    responses.get(
        url(PATH),
        status=429,
        body=RATE_LIMITED,
        content_type="text/plain",
        headers={"Retry-After": "3600"},
    )
    made = client(clock, max_retry_after=120.0)

    with pytest.raises(RateLimited) as caught:
        made.get_json(PATH)
    assert caught.value.retry_after == 3600.0
    assert clock.sleeps == []
    assert made.drain_counts() == {"429": 1}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(
            {"status": 401, "json": {"error": "Couldn't authenticate you"}},
            "http_4xx",
            id="401-bad-credentials",
        ),
        pytest.param(
            {"status": 403, "json": {"error": "Forbidden"}}, "http_4xx", id="403-not-admin"
        ),
        pytest.param(
            {"status": 404, "json": {"error": "InvalidEndpoint"}}, "http_4xx", id="404-wrong-url"
        ),
        pytest.param(
            {"status": 503, "body": "Service Unavailable"}, "http_5xx", id="503-after-retries"
        ),
        pytest.param(
            {"status": 200, "body": fixture_text("truncated-page.txt")},
            "malformed_json",
            id="truncated-json",
        ),
        pytest.param(
            {"status": 200, "body": "<html>maintenance</html>"},
            "malformed_json",
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
            "connection",
            id="connection-refused",
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
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
