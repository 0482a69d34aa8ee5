"""The Zendesk source against a real local Zendesk double that misbehaves, then heals.

Each fault fails the poll with its reason; the poll after the fault heals,
from the cursor the poller kept, returns exactly what a poll that never saw
the fault returns: no ticket lost, none counted twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.config import parse_config
from exporter.model import Ticket
from exporter.sources.base import PollResult, SourceError
from exporter.sources.zendesk import ZendeskSource, zendesk_client
from tests.fakes.zendesk import REDIRECT_TO, FakeZendesk
from tests.sources.helpers import FakeClock

#: The fake world's clock at the first poll (POSIX seconds).
T0 = 1_793_620_800
HOUR = 3600


@dataclass
class World:
    """The double, its clock (``now``, moved by the test) and the tickets made before the test."""

    fake: FakeZendesk
    now: float = float(T0)
    tickets: tuple[int, ...] = ()

    def clock(self) -> float:
        return self.now


@pytest.fixture
def world() -> Iterator[World]:
    made = World(FakeZendesk())
    made.fake.clock = made.clock
    with made.fake as fake:
        first = fake.create_ticket(T0 - 3 * HOUR, priority="urgent")
        fake.auto_ack(first, T0 - 3 * HOUR + 5)
        fake.agent_reply(first, T0 - 2 * HOUR)
        second = fake.create_ticket(T0 - 2 * HOUR, priority="high", channel="web")
        fake.agent_reply(second, T0 - HOUR, status="pending")
        fake.rate(first, T0 - HOUR, "good")
        made.tickets = (first, second)
        yield made


def make_source(fake: FakeZendesk, tmp_path: Path) -> ZendeskSource:
    token = tmp_path / "token"
    token.write_text(fake.token + "\n")
    config = parse_config(
        f"""
source:
  type: zendesk
  url: {fake.url}
  email: {fake.email}
  token_file: {token}
  lookback: 1d
  timeout: 1s
"""
    ).source
    clock = FakeClock()
    client = zendesk_client(config, sleep=clock.sleep, clock=clock.monotonic)
    client._jitter = lambda: 0.0
    return ZendeskSource(config, client)


def by_id(result: PollResult) -> dict[str, Ticket]:
    return {ticket.id: ticket for ticket in result.tickets}


@pytest.mark.parametrize(
    ("endpoint", "kind", "reason"),
    [
        pytest.param("tickets", "stall", "stalled", id="ticket-export-stalls"),
        pytest.param("ticket_events", "stall", "stalled", id="ticket-events-stall"),
        pytest.param("metric_events", "stall", "stalled", id="metric-events-stall"),
        pytest.param("ratings", "stall", "stalled", id="ratings-stall"),
        pytest.param("tickets", "trickle", "timeout", id="ticket-export-trickles"),
        pytest.param("ticket_events", "trickle", "timeout", id="ticket-events-trickle"),
        pytest.param("ticket_events", "redirect", "redirect", id="ticket-events-redirect"),
    ],
)
def test_after_a_fault_heals_no_ticket_is_lost_or_doubled(
    endpoint: str,
    kind: str,
    reason: str,
    world: World,
    tmp_path: Path,
) -> None:
    fake = world.fake
    clean, faulty = make_source(fake, tmp_path), make_source(fake, tmp_path)
    clean_first, faulty_first = clean.poll(None, T0), faulty.poll(None, T0)
    assert by_id(faulty_first) == by_id(clean_first)

    # support carries on; the helpdesk misbehaves on the next poll
    third = fake.create_ticket(T0 + 10, priority="urgent", channel="chat")
    fake.agent_reply(third, T0 + 100)
    second = world.tickets[1]
    fake.requester_reply(second, T0 + 120)
    fake.rate(second, T0 + 130, "bad")
    world.now = T0 + 600
    fake.misbehave(endpoint, kind)
    with pytest.raises(SourceError) as caught:
        faulty.poll(faulty_first.cursor, world.now)
    fake.heal()
    recovered = faulty.poll(faulty_first.cursor, world.now)  # the poller kept the old cursor
    expected = clean.poll(clean_first.cursor, world.now)

    assert caught.value.reason == reason
    message = str(caught.value)
    assert fake.token not in message and "127.0.0.1" not in message
    if kind == "redirect":
        assert REDIRECT_TO in message and "start_time" not in message
    assert by_id(recovered) == by_id(expected)
    assert recovered.cursor == expected.cursor
    assert recovered.watermark == expected.watermark
    assert sorted(by_id(recovered)) == sorted(str(t) for t in (second, third))
