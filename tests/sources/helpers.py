"""Recorded-shape Zendesk answers served through ``responses``, a fake clock, configs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from exporter.config import SourceConfig, parse_config
from exporter.sources.zendesk import (
    METRIC_EVENTS_PATH,
    RATINGS_PATH,
    TICKET_EVENTS_PATH,
    TICKETS_PATH,
    ZendeskSource,
    zendesk_client,
)
from tests.builders import ts

FIXTURES = Path(__file__).parent / "fixtures" / "zendesk"
BASE_URL = "https://acme.zendesk.com"
EMAIL = "ops@acme.example"
TOKEN = "s3cr3t-Zendesk-token-9f8e7d"
#: The instant every poll of these tests happens at, unless a test says otherwise.
NOW = ts("2026-11-02 12:00")
#: ``now - lookback`` (35 days) for :data:`NOW`: where the first poll starts reading.
HISTORY_START = ts("2026-09-28 12:00")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def url(path: str) -> str:
    return BASE_URL + path


def query(call: Any) -> dict[str, str]:
    """The query parameters of a recorded ``responses`` call, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def path_of(call: Any) -> str:
    return str(urlsplit(call.request.url).path)


class FakeClock:
    """Monotonic time that only moves when something sleeps; records the sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def source_config(tmp_path: Path, extra: str = "", auth: str = "token") -> SourceConfig:
    token = tmp_path / "zendesk-token"
    token.write_text(TOKEN + "\n")
    config = parse_config(
        f"""
source:
  type: zendesk
  url: {BASE_URL}
  email: {EMAIL}
  token_file: {token}
  auth: {auth}
  lookback: 35d
{extra}
"""
    )
    return config.source


def make_source(
    tmp_path: Path, clock: FakeClock | None = None, extra: str = "", **options: Any
) -> ZendeskSource:
    clock = clock or FakeClock()
    config = source_config(tmp_path, extra)
    client = zendesk_client(config, sleep=clock.sleep, clock=clock.monotonic)
    client._jitter = lambda: 0.0
    return ZendeskSource(config, client, **options)


#: The four endpoints of a poll.
ENDPOINTS = (TICKETS_PATH, TICKET_EVENTS_PATH, METRIC_EVENTS_PATH, RATINGS_PATH)

#: A first poll over the recorded day: two ticket pages and one page of everything else.
FULL: Mapping[str, tuple[str, ...]] = {
    TICKETS_PATH: ("tickets-cursor-page1.json", "tickets-cursor-end-of-stream.json"),
    TICKET_EVENTS_PATH: ("ticket-events-auto-ack-then-human.json",),
    METRIC_EVENTS_PATH: ("metric-events-deleted-breach.json",),
    RATINGS_PATH: ("satisfaction-ratings-good-and-bad.json",),
}
#: A poll after :data:`FULL` in which nothing changed.
EMPTY: Mapping[str, tuple[str, ...]] = {
    TICKETS_PATH: ("tickets-cursor-empty.json",),
    TICKET_EVENTS_PATH: ("ticket-events-empty.json",),
    METRIC_EVENTS_PATH: ("metric-events-empty.json",),
    RATINGS_PATH: ("satisfaction-ratings-empty.json",),
}


def serve(rsps: responses.RequestsMock, plan: Mapping[str, Iterable[str]]) -> None:
    """Answer each endpoint with its fixtures, in order (the last one repeats)."""
    for path, names in plan.items():
        for name in names:
            if name.endswith(".json"):
                rsps.get(url(path), json=fixture(name))
            else:
                rsps.get(url(path), body=fixture_text(name), content_type="application/json")


def serve_empty_time_based(rsps: responses.RequestsMock, path: str, name: str) -> None:
    """An empty time-based export page whose ``end_time`` is the asked ``start_time``."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        body = fixture(name)
        start = int(parse_qs(urlsplit(request.url).query)["start_time"][0])
        body["end_time"] = start
        body["next_page"] = f"{BASE_URL}{path}?start_time={start}"
        return 200, {}, json.dumps(body)

    rsps.add_callback(responses.GET, url(path), callback=answer, content_type="application/json")
