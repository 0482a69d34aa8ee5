"""One bad record never stops a poll, and helpdesk text never becomes an unbounded label.

Every case polls a ``file`` source holding two good tickets around something
a helpdesk (or a hand-edited file) can send: bytes that are not UTF-8, lines
that are not JSON or not tickets, times in year 0001 or 9999, a megabyte of
channel text, hundreds of channels, statuses nobody configured.  The poll
succeeds, the good tickets are counted, the skip counter says what was left
out, and every label value comes from a fixed set.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from exporter import metrics
from exporter.labels import CHANNELS, MAX_LABEL_LENGTH, STATUSES
from exporter.poller import LiveTicket, Poller
from exporter.records import SkipReason
from exporter.slo import Evaluator
from exporter.sources.file import FileSource
from exporter.store import PollBatch, TicketState
from tests.unit.poller_harness import Harness, ts

M = metrics
AT = "2026-11-02T09:00:00Z"
REASONS = [reason.value for reason in SkipReason]


def record(ticket_id: str, **fields: Any) -> dict[str, Any]:
    """An open ticket created after the store's epoch (08:00)."""
    return {
        "id": ticket_id,
        "created_at": "2026-11-02T08:10:00Z",
        "status": "open",
        "priority": "normal",
        "channel": "email",
        "events": [],
        **fields,
    }


SOLVED: dict[str, Any] = {
    "status": "solved",
    "events": [{"at": "2026-11-02T08:20:00Z", "type": "solved"}],
}


def line(ticket: dict[str, Any]) -> bytes:
    return json.dumps(ticket).encode()


GOOD_FIRST = line(record("G1", priority="urgent", channel="email"))
GOOD_LAST = line(record("G2", priority="normal", channel="web"))


def write(h: Harness, middle: list[bytes]) -> None:
    h.tickets.write_bytes(b"\n".join([GOOD_FIRST, *middle, GOOD_LAST]) + b"\n")


def poll(h: Harness) -> None:
    h.now = ts(AT)
    h.poller.poll_once()


def skipped(h: Harness) -> dict[str, float | None]:
    return {reason: h.value(M.RECORDS_SKIPPED.name, "file", reason) for reason in REASONS}


def labels_of(h: Harness, spec: metrics.MetricSpec, label: str) -> set[str]:
    index = spec.labels.index(label)
    return {sample.labels[index] for sample in h.poller.snapshot.samples[spec.name]}


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def assert_good_tickets_counted(h: Harness) -> None:
    assert h.value(M.UP.name, "file") == 1
    assert h.value(M.TICKETS_CREATED.name, "urgent", "email") == 1
    assert h.value(M.TICKETS_CREATED.name, "normal", "web") == 1


# --- records that cannot be read ----------------------------------------------------------------

UNREADABLE = [
    # (case, middle lines, reason, where and what the log line says)
    (
        "bytes that are not UTF-8",
        [b'{"id": "X", "channel": "\xff\xfe"}'],
        "undecodable",
        "tickets.jsonl:2: not UTF-8 text (byte 0xff at column 25)",
    ),
    (
        "a truncated JSON line",
        [b'{"id": "X", "created_at": '],
        "invalid",
        "tickets.jsonl:2: not valid JSON",
    ),
    (
        "JSON nested too deep to parse",
        [b"[" * 200_000 + b"]" * 200_000],
        "invalid",
        "tickets.jsonl:2: ",
    ),
    ("a ticket without an id", [line(record(""))], "invalid", "tickets.jsonl:2: id: every ticket"),
    (
        "a ticket created in year 0001",
        [line(record("Y", created_at="0001-01-01T00:00:00Z"))],
        "out_of_range",
        "tickets.jsonl:2: ticket Y.created_at: time '0001-01-01T00:00:00Z' is outside",
    ),
    (
        "a reply past year 9999 in UTC",
        [line(record("Z", events=[{"at": "9999-12-31T23:30:00-01:00", "type": "agent_reply"}]))],
        "out_of_range",
        "tickets.jsonl:2: ticket Z.events[0].at",
    ),
]


@pytest.mark.parametrize(
    ("middle", "reason", "logged"),
    [c[1:] for c in UNREADABLE],
    ids=[c[0] for c in UNREADABLE],
)
def test_an_unreadable_record_is_skipped_located_and_counted(
    h: Harness, middle: list[bytes], reason: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    write(h, middle)
    with caplog.at_level(logging.WARNING, logger="exporter.poller"):
        poll(h)
    assert_good_tickets_counted(h)
    assert skipped(h) == {r: (1.0 if r == reason else 0.0) for r in REASONS}
    assert any(logged in message for message in caplog.messages), caplog.messages


def test_every_bad_line_is_counted_and_the_rest_of_the_file_read(h: Harness) -> None:
    write(h, [b"\xff", b"{", line(record("Y", created_at="0001-01-01T00:00:00Z")), b"\xc3("])
    poll(h)
    assert_good_tickets_counted(h)
    assert skipped(h) == {"undecodable": 2, "invalid": 1, "out_of_range": 1, "evaluation": 0}


def test_skipped_records_stay_counted_across_a_restart(h: Harness) -> None:
    write(h, [b"\xff"])
    poll(h)
    h.restart()
    h.poller.refresh()
    assert h.value(M.RECORDS_SKIPPED.name, "file", "undecodable") == 1


# --- tickets that cannot be evaluated -----------------------------------------------------------


def test_a_ticket_whose_evaluation_fails_is_skipped_and_the_rest_written(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clocks = Evaluator.clocks

    def broken_for_x(self: Evaluator, ticket: Any, metric: str, at: float) -> Any:
        if ticket.id == "X" and metric == "resolution":
            raise ZeroDivisionError("float division by zero")
        return clocks(self, ticket, metric, at)

    monkeypatch.setattr(Evaluator, "clocks", broken_for_x)
    write(h, [line(record("X", priority="urgent", channel="email"))])
    with caplog.at_level(logging.WARNING, logger="exporter.poller"):
        poll(h)
    assert_good_tickets_counted(h)  # X's created is not counted: nothing of it is written
    assert skipped(h)["evaluation"] == 1
    assert "ticket X: float division by zero" in caplog.text
    assert "Traceback" not in caplog.text
    assert h.store.bodies(["X"]) == {}
    assert h.poller.counters() == h.store.totals() == h.store.recount()


def test_a_ticket_that_failed_is_evaluated_again_when_it_changes(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    clocks = Evaluator.clocks

    def broken_for_x(self: Evaluator, ticket: Any, metric: str, at: float) -> Any:
        if ticket.id == "X" and ticket.channel == "chat":
            raise ValueError("broken")
        return clocks(self, ticket, metric, at)

    monkeypatch.setattr(Evaluator, "clocks", broken_for_x)
    write(h, [line(record("X", priority="urgent", channel="chat"))])
    poll(h)
    write(h, [line(record("X", priority="urgent", channel="email"))])
    h.now = ts("2026-11-02T09:01:00Z")
    h.poller.poll_once()
    assert h.value(M.TICKETS_CREATED.name, "urgent", "email") == 2
    assert skipped(h)["evaluation"] == 1


# --- bounded labels -----------------------------------------------------------------------------


def unlimited(h: Harness) -> None:
    """The same harness without the ``breakdown.channel`` allowlist."""
    exporter = h.config.exporter.model_copy(update={"breakdown": {}})
    h.config = h.config.model_copy(update={"exporter": exporter})
    h.poller = Poller(h.config, FileSource(h.config.source), h.store, h.clock)


def test_a_megabyte_channel_is_other(h: Harness) -> None:
    unlimited(h)
    write(h, [line(record("X", priority="high", channel="x" * 1_000_000))])
    poll(h)
    assert_good_tickets_counted(h)
    assert h.value(M.TICKETS_CREATED.name, "high", "other") == 1
    assert labels_of(h, M.TICKETS_CREATED, "channel") <= set(CHANNELS)


def test_four_hundred_channels_stay_in_the_fixed_set(h: Harness) -> None:
    unlimited(h)
    channels = [f"channel-{i}" for i in range(398)] + ["voice", "whatsapp"]
    write(
        h,
        [
            line(record(f"C{i}", channel=channel, **(SOLVED if i % 2 else {})))
            for i, channel in enumerate(channels)
        ],
    )
    poll(h)
    assert_good_tickets_counted(h)
    assert h.value(M.TICKETS_CREATED.name, "normal", "other") == 398
    assert h.value(M.TICKETS_CREATED.name, "normal", "phone") == 1
    assert h.value(M.TICKETS_CREATED.name, "normal", "messaging") == 1
    assert h.value(M.TICKETS_SOLVED.name, "normal", "other") == 199
    for spec in (M.TICKETS_CREATED, M.TICKETS_SOLVED):
        assert labels_of(h, spec, "channel") <= set(CHANNELS)
    stored = {
        labels[1]
        for (name, labels) in h.store.totals()
        if name in (M.TICKETS_CREATED.name, M.TICKETS_SOLVED.name)
    }
    assert stored <= set(CHANNELS)


def test_the_allowlist_narrows_the_channels_further(h: Harness) -> None:
    write(h, [line(record("X", channel="chat")), line(record("Y", channel="voice"))])
    poll(h)
    assert labels_of(h, M.TICKETS_CREATED, "channel") == {"email", "web", "other", "none"}
    assert h.value(M.TICKETS_CREATED.name, "normal", "other") == 2


def test_unknown_statuses_are_other(h: Harness) -> None:
    write(h, [line(record(f"S{i}", status=f"waiting-{i}")) for i in range(50)])
    poll(h)
    assert_good_tickets_counted(h)
    assert h.value(M.TICKETS_OPEN.name, "normal", "other") == 50
    assert labels_of(h, M.TICKETS_OPEN, "status") <= set(STATUSES)


def test_a_long_ticket_id_is_cut_in_the_deadline_series(h: Harness) -> None:
    write(h, [line(record("7" * 10_000, priority="urgent"))])
    poll(h)
    ids = labels_of(h, M.SLA_TICKET_DEADLINE, "ticket_id")
    assert "7" * MAX_LABEL_LENGTH in ids
    assert max(map(len, ids)) <= MAX_LABEL_LENGTH


def test_raw_values_of_an_older_store_are_published_bounded(h: Harness) -> None:
    write(h, [])
    poll(h)
    h.store.add_counters(
        {
            (M.TICKETS_CREATED.name, ("urgent", "carrier-pigeon")): 3.0,
            (M.TICKETS_SOLVED.name, ("urgent", "voice")): 2.0,
        }
    )
    # an older version kept the helpdesk's own status in the engine state
    live = LiveTicket(
        "OLD", "normal", "Waiting on vendor", True, False, False, 0, 0, None, (), (), (), []
    )
    h.store.write_poll(
        PollBatch("file", None, ts(AT), ts(AT), states=[TicketState("OLD", live.to_json(), None)])
    )
    h.restart()
    h.poller.refresh()
    assert h.value(M.TICKETS_CREATED.name, "urgent", "other") == 3
    assert h.value(M.TICKETS_SOLVED.name, "urgent", "other") == 2
    assert h.value(M.TICKETS_OPEN.name, "normal", "other") == 1
    assert labels_of(h, M.TICKETS_CREATED, "channel") <= set(CHANNELS)
    assert labels_of(h, M.TICKETS_OPEN, "status") <= set(STATUSES)
