"""A store that cannot be read or written never ends the poll loop nor lowers a counter.

The poller logs one line per failed poll, counts it as
``helpdesk_poll_errors_total{reason="store"}``, keeps the last good values
with ``helpdesk_up`` 0, and tries again on the next poll.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from exporter import metrics
from exporter.model import Ticket
from exporter.poller import Poller
from exporter.sources.file import FileSource
from exporter.store import Store
from exporter.units import Duration
from tests.unit.poller_harness import FIXTURES, Harness, ts

M = metrics
PAGE = 4096


def corrupt(path: Path) -> None:
    """Overwrite every page after the first two: the file opens, its tables do not read."""
    data = bytearray(path.read_bytes())
    data[2 * PAGE :] = b"\xa5" * (len(data) - 2 * PAGE)
    path.write_bytes(bytes(data))
    for extra in path.parent.glob(path.name + "-*"):
        extra.unlink()


@pytest.fixture
def morning(tmp_path: Path) -> Harness:
    h = Harness(tmp_path)
    h.poll("morning.jsonl", "2026-11-02T09:00:00Z")
    return h


@pytest.fixture
def corrupted(morning: Harness) -> Iterator[Harness]:
    """The morning's store, damaged while the exporter was down, opened by a new process."""
    morning.store.checkpoint()
    morning.store.close()
    corrupt(morning.store_path)
    morning.restart()
    yield morning
    morning.store.close()


def problems_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_corrupted_store_fails_the_poll_in_one_line(
    corrupted: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        corrupted.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")  # never raises
    snapshot = corrupted.poller.snapshot
    assert corrupted.value(M.UP.name, "file") == 0
    assert not corrupted.poller.ready  # ready means a poll succeeded
    logged = problems_logged(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].exc_info is None
    assert "state.db cannot be read: database disk image is malformed" in logged[0].getMessage()
    # nothing was ever read from it: no counter is published, so none can go back to 0,
    # but the gauges HelpdeskSourceDown reads are there, the last success at the start
    assert set(snapshot.samples) == {
        M.UP.name,
        M.LAST_SUCCESSFUL_POLL.name,
        M.WATERMARK.name,
        M.SOURCE_BACKOFF.name,
        M.POLL_LAST_ERROR.name,
        M.BUILD_INFO.name,
    }
    assert corrupted.value(M.POLL_LAST_ERROR.name, "file", "store") == ts("2026-11-02T10:00:00Z")


def test_the_poll_loop_survives_a_corrupted_store(corrupted: Harness) -> None:
    corrupted.now = ts("2026-11-02T10:00:00Z")
    stop = threading.Event()
    thread = threading.Thread(target=corrupted.poller.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while corrupted.poller.health().failures == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert corrupted.poller.health().failures >= 1
        assert thread.is_alive()
        assert corrupted.value(M.UP.name, "file") == 0
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def broken(*args: object) -> None:
    raise sqlite3.OperationalError("disk I/O error")


def test_failing_writes_keep_the_last_good_values_and_recover(
    morning: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    good = morning.totals()
    for method in ("write_poll", "add_counters", "totals", "source_state"):
        monkeypatch.setattr(Store, method, broken)
    with caplog.at_level(logging.WARNING):
        morning.poll("mid-morning.jsonl", "2026-11-02T10:00:00Z")
        morning.poll("mid-morning.jsonl", "2026-11-02T10:01:00Z")
    assert morning.value(M.UP.name, "file") == 0
    assert morning.value(M.POLL_ERRORS.name, "file", "store") == 2
    during = morning.totals()
    del during[(M.POLL_ERRORS.name, ("file", "store"))]
    assert during == good
    logged = problems_logged(caplog)
    assert len(logged) == 2 and all(r.exc_info is None for r in logged)
    assert "disk I/O error; serving the last good values, retrying" in logged[0].getMessage()
    # the disk is back: the counts the store could not take are written, none goes back
    monkeypatch.undo()
    shutil.copyfile(FIXTURES / "mid-morning.jsonl", morning.tickets)  # a new mtime: read again
    morning.poll("mid-morning.jsonl", "2026-11-02T10:02:00Z")
    assert morning.value(M.UP.name, "file") == 1
    assert morning.value(M.POLL_ERRORS.name, "file", "store") == 2
    assert morning.value(M.TICKETS_CREATED.name, "urgent", "web") == 1
    assert morning.poller.counters() == morning.store.totals() == morning.store.recount()


def test_the_loop_goes_on_after_an_unexpected_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness(tmp_path)
    source = h.config.source.model_copy(update={"poll_interval": Duration(0.05, "50ms")})
    h.config = h.config.model_copy(update={"source": source})
    h.restart()
    shutil.copyfile(FIXTURES / "morning.jsonl", h.tickets)
    h.now = ts("2026-11-02T09:00:00Z")
    poll_once = h.poller.poll_once
    calls = []

    def first_call_fails() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        poll_once()

    monkeypatch.setattr(h.poller, "poll_once", first_call_fails)
    stop = threading.Event()
    thread = threading.Thread(target=h.poller.run, args=(stop,))
    with caplog.at_level(logging.WARNING):
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while h.value(M.UP.name, "file") != 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            thread.join(5)
    assert h.value(M.UP.name, "file") == 1
    assert h.value(M.POLL_ERRORS.name, "file", "exception") == 1
    assert "poll source=file failed: a bug" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_damaged_engine_state_row_is_evaluated_again(morning: Harness) -> None:
    before = {
        name: morning.poller.snapshot.samples[name]
        for name in (M.TICKETS_OPEN.name, M.SLA_OPEN_TIMERS.name)
    }
    with morning.store._lock:
        morning.store._db.execute(
            "UPDATE live_tickets SET state = 'not json' WHERE ticket_id = 'B'"
        )
    morning.restart()
    morning.poll("morning.jsonl", "2026-11-02T09:00:30Z")
    assert morning.value(M.UP.name, "file") == 1
    for name, samples in before.items():
        assert morning.poller.snapshot.samples[name] == samples


class _MergingSource(FileSource):
    """A file source that, like the API sources, asks the store for earlier ticket states."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.known: Callable[[Iterable[str]], dict[str, Ticket]] | None = None

    def use_known_tickets(self, known: Callable[[Iterable[str]], dict[str, Ticket]]) -> None:
        self.known = known


def test_a_damaged_stored_ticket_body_is_left_out_of_the_known_tickets(
    morning: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with morning.store._lock:
        morning.store._db.execute("UPDATE tickets SET body = '{not json' WHERE id = 'B'")
    source = _MergingSource(morning.config.source)
    Poller(morning.config, source, morning.store, morning.clock)
    assert source.known is not None
    with caplog.at_level(logging.WARNING):
        known = source.known(["A", "B"])
    assert set(known) == {"A"}
    assert "stored ticket B is unreadable" in caplog.text
