"""Progress lines of long reads: when they are logged, what they say, which sources send them."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import responses

from exporter.sources import progress as progress_module
from exporter.sources.progress import ReadProgress
from exporter.sources.zendesk import TICKETS_PATH
from tests.builders import ts
from tests.sources import helpers as zendesk
from tests.sources import test_freshdesk as freshdesk

SINCE = ts("2026-09-28 12:00")
UNTIL = ts("2026-11-02 12:00")  # 35 days later
DAY = 86400.0
COUNTS = "source=zendesk endpoint=/x"


class Ticking:
    """A clock the test sets by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Answers:
    """An HTTP client's answer counts, changed by the test."""

    def __init__(self, **counts: int) -> None:
        self.counts = {code.removeprefix("http_"): n for code, n in counts.items()}

    def totals(self) -> Mapping[str, int]:
        return dict(self.counts)


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == progress_module.__name__]


# Each page: (clock at the page, records, time of its last record or None).
Page = tuple[float, int, float | None]


@pytest.mark.parametrize(
    ("window", "total", "pages", "done_at", "expected"),
    [
        (
            (SINCE, UNTIL),
            None,
            [(1.0, 1000, SINCE + DAY), (2.0, 1000, SINCE + 2 * DAY)],
            9.0,
            [],
        ),
        (
            (SINCE, UNTIL),
            None,
            [(4.0, 1000, SINCE + DAY), (70.0, 1000, SINCE + 12.25 * DAY)],
            75.0,
            [
                f"reading {COUNTS} pages=2 records=2000 rate_limited=0 elapsed=1m10s: read up to "
                "2026-10-10T18:00Z, 35% of the time since 2026-09-28T12:00Z, about 2m10s left",
                f"read {COUNTS} pages=2 records=2000 rate_limited=0 elapsed=1m15s: done",
            ],
        ),
        (
            None,
            None,
            [(10.0, 5, None), (15.0, 5, None), (19.0, 5, None), (20.0, 5, None), (31.0, 5, None)],
            31.0,
            [
                f"reading {COUNTS} pages=1 records=5 rate_limited=0 elapsed=10s",
                f"reading {COUNTS} pages=4 records=20 rate_limited=0 elapsed=20s",
                f"reading {COUNTS} pages=5 records=25 rate_limited=0 elapsed=31s",
                f"read {COUNTS} pages=5 records=25 rate_limited=0 elapsed=31s: done",
            ],
        ),
        (
            None,
            5000,
            [(10.0, 1000, None)],
            10.0,
            [
                f"reading {COUNTS} pages=1 records=1000 rate_limited=0 elapsed=10s: "
                "1000 of about 5000 records, 20%, about 40s left",
                f"read {COUNTS} pages=1 records=1000 rate_limited=0 elapsed=10s: done",
            ],
        ),
        (
            (SINCE, UNTIL),
            None,
            [(12.0, 100, UNTIL + DAY)],
            12.0,
            [
                f"reading {COUNTS} pages=1 records=100 rate_limited=0 elapsed=12s: read up to "
                "2026-11-03T12:00Z, 100% of the time since 2026-09-28T12:00Z",
                f"read {COUNTS} pages=1 records=100 rate_limited=0 elapsed=12s: done",
            ],
        ),
        (
            None,
            None,
            [(3.0, 10, None)],
            12.0,
            [f"read {COUNTS} pages=1 records=10 rate_limited=0 elapsed=12s: done"],
        ),
    ],
    ids=[
        "short-read-is-quiet",
        "window-estimate-and-time-left",
        "at-most-one-line-per-interval",
        "total-estimate",
        "past-the-window-is-100-percent",
        "long-read-ending-between-lines-still-says-done",
    ],
)
def test_progress_lines(
    caplog: pytest.LogCaptureFixture,
    window: tuple[float, float] | None,
    total: int | None,
    pages: list[Page],
    done_at: float,
    expected: list[str],
) -> None:
    caplog.set_level(logging.INFO, logger=progress_module.__name__)
    clock = Ticking()
    since, until = window if window is not None else (None, None)
    read = ReadProgress("zendesk", "/x", since=since, until=until, total=total, clock=clock)
    for at, records, reached in pages:
        clock.now = at
        read.page(records, reached)
    clock.now = done_at
    read.done()
    assert _messages(caplog) == expected


@pytest.mark.parametrize(
    ("before", "during", "expected"),
    [({}, {"http_429": 3}, 3), ({"http_429": 2}, {"http_429": 5, "http_200": 9}, 3)],
    ids=["from-none", "only-those-during-the-read"],
)
def test_rate_limited_counts_the_429_answers_of_this_read(
    caplog: pytest.LogCaptureFixture,
    before: dict[str, int],
    during: dict[str, int],
    expected: int,
) -> None:
    caplog.set_level(logging.INFO, logger=progress_module.__name__)
    clock, client = Ticking(), Answers(**before)
    read = ReadProgress("zendesk", "/x", client, clock=clock)
    client.counts = Answers(**during).counts
    clock.now = 10.0
    read.page(1)
    assert f"rate_limited={expected} " in _messages(caplog)[0]


# --- the sources report their page loops ------------------------------------------------------


@pytest.fixture
def slow_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every reading of the progress clock is 11 s after the previous one."""
    ticks = iter(range(0, 10**6, 11))
    monkeypatch.setattr(progress_module, "default_clock", lambda: float(next(ticks)))
    yield


@pytest.mark.usefixtures("slow_clock")
def test_zendesk_ticket_export_reports_each_slow_page_and_the_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=progress_module.__name__)
    source = zendesk.make_source(tmp_path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        zendesk.serve(rsps, zendesk.FULL)
        source.poll(None, zendesk.NOW)
    tickets = [m for m in _messages(caplog) if f"endpoint={TICKETS_PATH} " in m]
    assert [m.split(" ", 1)[0] for m in tickets] == ["reading", "reading", "read"]
    assert "pages=2 " in tickets[-1] and tickets[-1].endswith(": done")
    assert "of the time since 2026-09-28T12:00Z" in tickets[0]
    reported = {m.split("endpoint=")[1].split(" ")[0] for m in _messages(caplog)}
    assert reported == set(zendesk.ENDPOINTS)


@pytest.mark.usefixtures("slow_clock")
def test_freshdesk_listing_reports_each_slow_page_and_the_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=progress_module.__name__)
    source = freshdesk.make_source(tmp_path)
    freshdesk.poll(source, freshdesk.FULL)
    tickets = [m for m in _messages(caplog) if f"endpoint={freshdesk.TICKETS_PATH} " in m]
    assert [m.split(" ", 1)[0] for m in tickets] == ["reading", "reading", "read"]
    assert "source=freshdesk " in tickets[0] and "records=3 " in tickets[0]
    assert "of the time since 2026-09-28T12:00Z" in tickets[0]
    reported = {m.split("endpoint=")[1].split(" ")[0] for m in _messages(caplog)}
    assert reported == {freshdesk.TICKETS_PATH, freshdesk.RATINGS_PATH}
