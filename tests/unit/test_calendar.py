"""Business calendars: business time between instants, and deadlines.

Expected values are worked out by hand in the comments next to each case.
Europe/Paris is UTC+1 in winter (CET) and UTC+2 in summer (CEST);
America/New_York is UTC-5 (EST) and UTC-4 (EDT).  In 2026 the switches are
Paris 2026-03-29 02:00 CET -> 03:00 CEST and 2026-10-25 03:00 CEST -> 02:00
CET; New York 2026-03-08 02:00 EST -> 03:00 EDT and 2026-11-01 02:00 EDT ->
01:00 EST.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.calendar import BusinessCalendar, WeeklyHours

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = 60
HOUR = 3600


def at(hours: int, minutes: int = 0) -> int:
    """Seconds since local midnight of the wall time ``hours:minutes``."""
    return hours * HOUR + minutes * MINUTE


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def new_york(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def every_day(*intervals: tuple[int, int]) -> WeeklyHours:
    return {weekday: list(intervals) for weekday in range(7)}


#: Monday to Friday 09:00-12:30 and 13:30-18:00: 8 business hours a day.
OFFICE_HOURS: WeeklyHours = {
    weekday: [(at(9), at(12, 30)), (at(13, 30), at(18))] for weekday in range(5)
}
#: The same plus Saturday 10:00-14:00.
OFFICE_AND_SATURDAY: WeeklyHours = {**OFFICE_HOURS, 5: [(at(10), at(14))]}


def office(
    weekly: WeeklyHours = OFFICE_HOURS,
    holiday_dates: frozenset[date] = frozenset(),
    country: str | None = None,
    timezone: str = "Europe/Paris",
) -> BusinessCalendar:
    return BusinessCalendar(
        timezone=timezone, weekly=weekly, holidays=holiday_dates, country=country, name="office"
    )


# -- elapsed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [
        # Tue 11:00-12:30 is 1.5 h, lunch counts nothing, 13:30-14:00 is 0.5 h.
        pytest.param(office(), paris(2026, 6, 9, 11), paris(2026, 6, 9, 14), 2 * HOUR, id="lunch"),
        # Fri 17:00-18:00 1 h, Saturday and Sunday nothing, Mon 09:00-10:00 1 h.
        pytest.param(
            office(), paris(2026, 6, 12, 17), paris(2026, 6, 15, 10), 2 * HOUR, id="weekend"
        ),
        # Same span with Saturday 10:00-14:00 open: 1 h + 4 h + 1 h.
        pytest.param(
            office(OFFICE_AND_SATURDAY),
            paris(2026, 6, 12, 17),
            paris(2026, 6, 15, 10),
            6 * HOUR,
            id="weekend-with-saturday-hours",
        ),
        # Thu 24 Dec 17:00-18:00 1 h, Fri 25 Dec a holiday, weekend, Mon 28 09:00-10:00 1 h.
        pytest.param(
            office(holiday_dates=frozenset({date(2026, 12, 25)})),
            paris(2026, 12, 24, 17),
            paris(2026, 12, 28, 10),
            2 * HOUR,
            id="holiday-date",
        ),
        # Without the holiday Friday 25 Dec adds its 8 h.
        pytest.param(
            office(),
            paris(2026, 12, 24, 17),
            paris(2026, 12, 28, 10),
            10 * HOUR,
            id="same-span-without-holiday",
        ),
        # Tue 14 July 2026 is France's National Day: Mon 17-18 1 h + Wed 9-10 1 h.
        pytest.param(
            office(country="FR"),
            paris(2026, 7, 13, 17),
            paris(2026, 7, 15, 10),
            2 * HOUR,
            id="country-holiday-fr-14-july",
        ),
        # Without the country the same span counts Tuesday's 8 h: 1 h + 8 h + 1 h.
        pytest.param(
            office(),
            paris(2026, 7, 13, 17),
            paris(2026, 7, 15, 10),
            10 * HOUR,
            id="same-span-without-country",
        ),
        # 4 July 2026 is a Saturday; the holidays package observes it on Fri 3 July.
        # Thu 16:00-17:00 1 h, Friday off, weekend, Mon 09:00-10:00 1 h.
        pytest.param(
            office(
                {d: [(at(9), at(17))] for d in range(5)}, country="US", timezone="America/New_York"
            ),
            new_york(2026, 7, 2, 16),
            new_york(2026, 7, 6, 10),
            2 * HOUR,
            id="country-holiday-us-4-july-observed-friday",
        ),
        # Office hours keep their wall-clock times across the spring switch:
        # Fri 27 Mar 17:00 CET-18:00 1 h, Mon 30 Mar 09:00-10:00 CEST 1 h.
        pytest.param(
            office(),
            paris(2026, 3, 27, 17),
            paris(2026, 3, 30, 10),
            2 * HOUR,
            id="office-hours-across-spring-switch",
        ),
        # Before opening, 07:00-09:00 counts nothing; 09:00-09:30 counts.
        pytest.param(
            office(),
            paris(2026, 6, 9, 7),
            paris(2026, 6, 9, 9, 30),
            30 * MINUTE,
            id="before-opening",
        ),
        # From the evening: Tue 19:00 to Wed 10:00 is Wed 09:00-10:00.
        pytest.param(
            office(), paris(2026, 6, 9, 19), paris(2026, 6, 10, 10), HOUR, id="start-in-evening"
        ),
        # From inside lunch: 12:45 to 14:00 is 13:30-14:00.
        pytest.param(
            office(),
            paris(2026, 6, 9, 12, 45),
            paris(2026, 6, 9, 14),
            30 * MINUTE,
            id="start-in-lunch",
        ),
        # A whole working week: 5 days x 8 h.
        pytest.param(office(), paris(2026, 6, 8), paris(2026, 6, 15), 40 * HOUR, id="whole-week"),
        # Instants in any time zone: 09:00 UTC is 11:00 CEST, 12:00 UTC is 14:00 CEST.
        pytest.param(office(), utc(2026, 6, 9, 9), utc(2026, 6, 9, 12), 2 * HOUR, id="utc-inputs"),
    ],
)
def test_elapsed(calendar: BusinessCalendar, start: datetime, end: datetime, expected: int) -> None:
    assert calendar.elapsed(start, end) == expected
    assert calendar.elapsed_ts(start.timestamp(), end.timestamp()) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(paris(2026, 6, 9, 14), paris(2026, 6, 9, 11), id="end-before-start"),
        pytest.param(paris(2026, 6, 9, 11), paris(2026, 6, 9, 11), id="empty-span"),
    ],
)
def test_elapsed_of_a_reversed_or_empty_span_is_zero(start: datetime, end: datetime) -> None:
    assert office().elapsed(start, end) == 0.0
    assert office().elapsed_ts(start.timestamp(), end.timestamp()) == 0.0


def test_elapsed_keeps_fractions_of_seconds() -> None:
    ten = paris(2026, 6, 9, 10).timestamp()
    # Inside the 09:00-12:30 interval business time is real time.
    assert office().elapsed_ts(ten + 0.25, ten + 1.75) == 1.5


# -- DST ----------------------------------------------------------------------

ALL_DAY = every_day((0, 86400))
#: 01:00-04:00 every day: contains the 02:00-03:00 switch in both zones.
NIGHT_SHIFT = every_day((at(1), at(4)))


@pytest.mark.parametrize(
    ("timezone", "weekly", "start", "end", "expected"),
    [
        # Local midnight to midnight on the switch days: 23 h in spring, 25 h in autumn.
        pytest.param(
            "Europe/Paris",
            ALL_DAY,
            paris(2026, 3, 29),
            paris(2026, 3, 30),
            23 * HOUR,
            id="paris-all-day-spring-23h",
        ),
        pytest.param(
            "Europe/Paris",
            ALL_DAY,
            paris(2026, 10, 25),
            paris(2026, 10, 26),
            25 * HOUR,
            id="paris-all-day-autumn-25h",
        ),
        pytest.param(
            "America/New_York",
            ALL_DAY,
            new_york(2026, 3, 8),
            new_york(2026, 3, 9),
            23 * HOUR,
            id="new-york-all-day-spring-23h",
        ),
        pytest.param(
            "America/New_York",
            ALL_DAY,
            new_york(2026, 11, 1),
            new_york(2026, 11, 2),
            25 * HOUR,
            id="new-york-all-day-autumn-25h",
        ),
        # A whole week of 24 h days around the spring switch: 7 x 24 h - 1 h.
        pytest.param(
            "Europe/Paris",
            ALL_DAY,
            paris(2026, 3, 23),
            paris(2026, 3, 30),
            7 * 24 * HOUR - HOUR,
            id="paris-all-day-week-167h",
        ),
        # 01:00-04:00 on the spring day: 01:00 CET = 00:00 UTC to 04:00 CEST = 02:00 UTC.
        pytest.param(
            "Europe/Paris",
            NIGHT_SHIFT,
            paris(2026, 3, 29),
            paris(2026, 3, 30),
            2 * HOUR,
            id="paris-night-shift-spring-2h",
        ),
        # Autumn: 01:00 CEST = 23:00 UTC (Sat) to 04:00 CET = 03:00 UTC.
        pytest.param(
            "Europe/Paris",
            NIGHT_SHIFT,
            paris(2026, 10, 25),
            paris(2026, 10, 26),
            4 * HOUR,
            id="paris-night-shift-autumn-4h",
        ),
        # New York spring: 01:00 EST = 06:00 UTC to 04:00 EDT = 08:00 UTC.
        pytest.param(
            "America/New_York",
            NIGHT_SHIFT,
            new_york(2026, 3, 8),
            new_york(2026, 3, 9),
            2 * HOUR,
            id="new-york-night-shift-spring-2h",
        ),
        # New York autumn: 01:00 happens twice; the first (EDT) is 05:00 UTC; 04:00 EST is
        # 09:00 UTC.
        pytest.param(
            "America/New_York",
            NIGHT_SHIFT,
            new_york(2026, 11, 1),
            new_york(2026, 11, 2),
            4 * HOUR,
            id="new-york-night-shift-autumn-4h",
        ),
        # A day before the switch is a plain 3 h.
        pytest.param(
            "Europe/Paris",
            NIGHT_SHIFT,
            paris(2026, 3, 28),
            paris(2026, 3, 29),
            3 * HOUR,
            id="paris-night-shift-ordinary-day-3h",
        ),
        # 02:30 does not exist on 29 Mar: the start moves to the jump, 03:00 CEST = 01:00 UTC;
        # 05:00 CEST = 03:00 UTC.
        pytest.param(
            "Europe/Paris",
            every_day((at(2, 30), at(5))),
            paris(2026, 3, 29),
            paris(2026, 3, 30),
            2 * HOUR,
            id="paris-start-in-gap",
        ),
        # 01:00 CET = 00:00 UTC to 02:30 (in the gap) = 01:00 UTC.
        pytest.param(
            "Europe/Paris",
            every_day((at(1), at(2, 30))),
            paris(2026, 3, 29),
            paris(2026, 3, 30),
            HOUR,
            id="paris-end-in-gap",
        ),
        # 02:10-02:50 lies entirely in the gap: nothing that day.
        pytest.param(
            "Europe/Paris",
            every_day((at(2, 10), at(2, 50))),
            paris(2026, 3, 29),
            paris(2026, 3, 30),
            0,
            id="paris-interval-inside-gap",
        ),
        # 02:30 happens twice on 25 Oct; its first occurrence is 02:30 CEST = 00:30 UTC.
        # 02:30-04:00: 00:30 UTC to 03:00 UTC.
        pytest.param(
            "Europe/Paris",
            every_day((at(2, 30), at(4))),
            paris(2026, 10, 25),
            paris(2026, 10, 26),
            2 * HOUR + 30 * MINUTE,
            id="paris-start-repeated",
        ),
        # 00:00-02:30: 22:00 UTC (Sat) to 00:30 UTC.
        pytest.param(
            "Europe/Paris",
            every_day((0, at(2, 30))),
            paris(2026, 10, 25),
            paris(2026, 10, 26),
            2 * HOUR + 30 * MINUTE,
            id="paris-end-repeated",
        ),
    ],
)
def test_elapsed_across_dst(
    timezone: str, weekly: WeeklyHours, start: datetime, end: datetime, expected: int
) -> None:
    calendar = BusinessCalendar(timezone=timezone, weekly=weekly)
    assert calendar.elapsed(start, end) == expected


@pytest.mark.parametrize(
    ("timezone", "weekly", "instant", "expected"),
    [
        # The gap start 02:30 maps to 01:00 UTC (03:00 CEST).
        pytest.param(
            "Europe/Paris",
            every_day((at(2, 30), at(5))),
            utc(2026, 3, 29, 0, 59),
            False,
            id="paris-gap-start-just-before",
        ),
        pytest.param(
            "Europe/Paris",
            every_day((at(2, 30), at(5))),
            utc(2026, 3, 29, 1),
            True,
            id="paris-gap-start-at-jump",
        ),
        # The repeated 02:30 is its first occurrence: open at 00:30 UTC, not 01:30 UTC only.
        pytest.param(
            "Europe/Paris",
            every_day((at(2, 30), at(4))),
            utc(2026, 10, 25, 0, 30),
            True,
            id="paris-repeated-start-first-occurrence",
        ),
        pytest.param(
            "Europe/Paris",
            every_day((at(2, 30), at(4))),
            utc(2026, 10, 25, 0, 29),
            False,
            id="paris-repeated-start-just-before",
        ),
    ],
)
def test_dst_endpoints(
    timezone: str, weekly: WeeklyHours, instant: datetime, expected: bool
) -> None:
    calendar = BusinessCalendar(timezone=timezone, weekly=weekly)
    assert calendar.is_open_ts(instant.timestamp()) is expected


# -- intervals ending at midnight ---------------------------------------------

LATE_SHIFT = every_day((at(22), 86400))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Tue 23:00 to Wed 00:30: 23:00-24:00 counts; Wednesday opens only at 22:00.
        pytest.param(
            paris(2026, 6, 9, 23), paris(2026, 6, 10, 0, 30), HOUR, id="to-after-midnight"
        ),
        # Sat 28 Mar 22:00-24:00 ends at Sun 00:00 CET = 23:00 UTC, before the switch.
        pytest.param(
            paris(2026, 3, 28, 21), paris(2026, 3, 29, 12), 2 * HOUR, id="before-spring-switch"
        ),
        # Two evenings: Tue 22-24 and Wed 22-24.
        pytest.param(paris(2026, 6, 9, 12), paris(2026, 6, 11, 12), 4 * HOUR, id="two-evenings"),
    ],
)
def test_interval_ending_at_midnight(start: datetime, end: datetime, expected: int) -> None:
    assert BusinessCalendar("Europe/Paris", LATE_SHIFT).elapsed(start, end) == expected


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param(paris(2026, 6, 9, 23, 59) + timedelta(seconds=59), True, id="last-second"),
        pytest.param(paris(2026, 6, 10), False, id="midnight-is-closed"),
        pytest.param(paris(2026, 6, 9, 22), True, id="start-is-open"),
    ],
)
def test_interval_ending_at_midnight_is_open(instant: datetime, expected: bool) -> None:
    calendar = BusinessCalendar("Europe/Paris", LATE_SHIFT)
    assert calendar.is_open_ts(instant.timestamp()) is expected


# -- add ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "start", "seconds", "expected"),
    [
        # Fri 16:00-18:00 uses 2 h; the third hour is Mon 09:00-10:00 CEST = 08:00 UTC.
        pytest.param(
            office(),
            paris(2026, 6, 12, 16),
            3 * HOUR,
            paris(2026, 6, 15, 10),
            id="deadline-across-weekend",
        ),
        # 09:00 + 3.5 h ends exactly at 12:30: the deadline is 12:30, not 13:30.
        pytest.param(
            office(),
            paris(2026, 6, 9, 9),
            3 * HOUR + 30 * MINUTE,
            paris(2026, 6, 9, 12, 30),
            id="lands-on-interval-end",
        ),
        pytest.param(
            office(),
            paris(2026, 6, 9, 11),
            90 * MINUTE,
            paris(2026, 6, 9, 12, 30),
            id="lands-on-interval-end-before-lunch",
        ),
        # One more second needs the afternoon: 13:30:01.
        pytest.param(
            office(),
            paris(2026, 6, 9, 11),
            90 * MINUTE + 1,
            paris(2026, 6, 9, 13, 30) + timedelta(seconds=1),
            id="one-second-after-lunch",
        ),
        # 17:00 + 1 h is Tuesday's closing time, 18:00, not Wednesday's 09:00.
        pytest.param(
            office(), paris(2026, 6, 9, 17), HOUR, paris(2026, 6, 9, 18), id="lands-on-closing-time"
        ),
        # From the evening: the first business hour is Wed 09:00-10:00.
        pytest.param(
            office(), paris(2026, 6, 9, 19), HOUR, paris(2026, 6, 10, 10), id="start-in-evening"
        ),
        # From lunch: 13:30 + 30 min.
        pytest.param(
            office(),
            paris(2026, 6, 9, 12, 45),
            30 * MINUTE,
            paris(2026, 6, 9, 14),
            id="start-in-lunch",
        ),
        # Thu 24 Dec 17:00-18:00 1 h; Fri 25 Dec a holiday; Mon 28 Dec 09:00-10:00 CET.
        pytest.param(
            office(holiday_dates=frozenset({date(2026, 12, 25)})),
            paris(2026, 12, 24, 17),
            2 * HOUR,
            paris(2026, 12, 28, 10),
            id="across-holiday",
        ),
        # Mon 13 Jul 17:00-18:00, Tue 14 Jul closed (FR), Wed 09:00-10:00.
        pytest.param(
            office(country="FR"),
            paris(2026, 7, 13, 17),
            2 * HOUR,
            paris(2026, 7, 15, 10),
            id="across-country-holiday",
        ),
        # Fri 27 Mar 17:00-18:00 CET, then Mon 30 Mar 09:00-10:00 CEST = 08:00 UTC.
        pytest.param(
            office(),
            paris(2026, 3, 27, 17),
            2 * HOUR,
            paris(2026, 3, 30, 10),
            id="across-spring-switch",
        ),
        # Two full weeks of 40 h from Monday 09:00 end on the second Friday at 18:00.
        pytest.param(
            office(),
            paris(2026, 6, 8, 9),
            80 * HOUR,
            paris(2026, 6, 19, 18),
            id="two-weeks-ends-friday-closing",
        ),
        # 24x7 local hours on the autumn day: 25 h from local midnight is the next midnight.
        pytest.param(
            BusinessCalendar("Europe/Paris", ALL_DAY),
            paris(2026, 10, 25),
            25 * HOUR,
            paris(2026, 10, 26),
            id="all-day-autumn-25h",
        ),
        # Late shift 22:00-24:00: 1 h from 23:00 ends at midnight, the interval's end.
        pytest.param(
            BusinessCalendar("Europe/Paris", LATE_SHIFT),
            paris(2026, 6, 9, 23),
            HOUR,
            paris(2026, 6, 10),
            id="ends-at-midnight",
        ),
    ],
)
def test_add(calendar: BusinessCalendar, start: datetime, seconds: int, expected: datetime) -> None:
    deadline = calendar.add(start, seconds)
    assert deadline == expected
    assert deadline.utcoffset() == timedelta(0)
    assert calendar.add_ts(start.timestamp(), seconds) == expected.timestamp()


@pytest.mark.parametrize(
    ("start", "seconds"),
    [
        pytest.param(paris(2026, 6, 9, 10), 0, id="zero-while-open"),
        # 20:00 is closed, yet no time to add means the deadline is now.
        pytest.param(paris(2026, 6, 9, 20), 0, id="zero-while-closed"),
        pytest.param(paris(2026, 6, 9, 20), -60, id="negative"),
    ],
)
def test_add_nothing_returns_the_start_in_utc(start: datetime, seconds: int) -> None:
    deadline = office().add(start, seconds)
    assert deadline == start
    assert deadline.tzinfo is UTC
    assert office().add_ts(start.timestamp(), seconds) == start.timestamp()


def test_add_terminates_across_a_year_of_holidays() -> None:
    every_day_of_2027 = frozenset(date(2027, 1, 1) + timedelta(days=n) for n in range(365))
    calendar = office(holiday_dates=every_day_of_2027)
    # Thu 31 Dec 2026 17:00-18:00 is 1 h; all of 2027 is closed; Sat 1 Jan 2028;
    # Mon 3 Jan 2028 09:00-10:00 CET is the second hour.
    assert calendar.add(paris(2026, 12, 31, 17), 2 * HOUR) == paris(2028, 1, 3, 10)
    assert calendar.elapsed(paris(2026, 12, 31, 17), paris(2028, 1, 3, 10)) == 2 * HOUR


def test_add_beyond_the_supported_years_raises() -> None:
    # 40 business hours a week cover about 7.5 million seconds a year.
    with pytest.raises(ValueError, match="beyond year"):
        office().add(paris(2026, 6, 9, 10), 1e14)


# -- open or closed ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "instant", "expected"),
    [
        pytest.param(office(), paris(2026, 6, 9, 9), True, id="opening-second-is-open"),
        pytest.param(office(), paris(2026, 6, 9, 12, 30), False, id="closing-second-is-closed"),
        pytest.param(office(), paris(2026, 6, 9, 12, 29), True, id="before-lunch"),
        pytest.param(office(), paris(2026, 6, 13, 11), False, id="saturday"),
        pytest.param(office(country="FR"), paris(2026, 7, 14, 11), False, id="country-holiday"),
        pytest.param(
            office(country="US", timezone="America/New_York"),
            new_york(2026, 7, 3, 11),
            False,
            id="us-observed-holiday",
        ),
        pytest.param(
            office(timezone="America/New_York"),
            new_york(2026, 7, 3, 11),
            True,
            id="same-day-without-country",
        ),
    ],
)
def test_is_open(calendar: BusinessCalendar, instant: datetime, expected: bool) -> None:
    assert calendar.is_open_ts(instant.timestamp()) is expected


# -- input checks -------------------------------------------------------------------

NAIVE = datetime(2026, 6, 9, 10)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.elapsed(NAIVE, paris(2026, 6, 9, 11)), id="elapsed-naive-start"),
        pytest.param(lambda c: c.elapsed(paris(2026, 6, 9, 9), NAIVE), id="elapsed-naive-end"),
        pytest.param(lambda c: c.add(NAIVE, HOUR), id="add-naive-start"),
        pytest.param(lambda c: c.add(NAIVE, 0), id="add-naive-start-zero"),
    ],
)
def test_naive_datetimes_are_refused(call: Callable[[BusinessCalendar], object]) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        call(office())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            {"weekly": {0: [(at(9), at(13)), (at(12), at(18))]}},
            "overlaps",
            id="overlapping-intervals",
        ),
        pytest.param(
            {"weekly": {0: [(at(13), at(18)), (at(9), at(12))]}}, "sorted", id="unsorted-intervals"
        ),
        pytest.param({"weekly": {0: [(at(9), at(9))]}}, "start < end", id="empty-interval"),
        pytest.param({"weekly": {0: [(at(22), 86401)]}}, "<= 86400", id="past-midnight"),
        pytest.param({"weekly": {0: [(-1, at(9))]}}, "0 <= start", id="negative-start"),
        pytest.param(
            {"weekly": {0: [(at(9), at(12), at(13))]}}, "must be whole seconds", id="not-a-pair"
        ),
        pytest.param(
            {"weekly": {0: [(at(9), 17.5 * HOUR)]}}, "must be whole seconds", id="fractional-end"
        ),
        pytest.param({"weekly": {7: [(at(9), at(17))]}}, "weekday 7", id="weekday-out-of-range"),
        pytest.param({"weekly": {}}, "no day has any business interval", id="no-hours"),
        pytest.param(
            {"weekly": every_day()}, "no day has any business interval", id="only-empty-days"
        ),
        pytest.param({"timezone": "Mars/Olympus_Mons"}, "unknown time zone", id="unknown-zone"),
        pytest.param({"timezone": "not a zone/../x"}, "unknown time zone", id="malformed-zone"),
        pytest.param(
            {"country": "XX"}, "no public holidays known for country 'XX'", id="unknown-country"
        ),
        pytest.param(
            {"country": "FR", "subdivision": "ZZ"}, "subdivision 'ZZ'", id="unknown-subdivision"
        ),
        pytest.param({"subdivision": "CA"}, "needs a country", id="subdivision-without-country"),
        pytest.param(
            {"holidays": [datetime(2026, 12, 25, tzinfo=UTC)]},
            "must be a date",
            id="holiday-as-datetime",
        ),
    ],
)
def test_bad_construction_raises(arguments: dict[str, object], message: str) -> None:
    keywords: dict[str, object] = {"timezone": "Europe/Paris", "weekly": OFFICE_HOURS}
    keywords.update(arguments)
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**keywords)  # type: ignore[arg-type]


def test_touching_intervals_count_as_one() -> None:
    calendar = BusinessCalendar("Europe/Paris", {1: [(at(9), at(12)), (at(12), at(18))]})
    assert calendar.elapsed(paris(2026, 6, 9), paris(2026, 6, 10)) == 9 * HOUR
    assert calendar.is_open_ts(paris(2026, 6, 9, 12).timestamp())


# -- always -------------------------------------------------------------------------


def test_always_counts_real_time() -> None:
    calendar = BusinessCalendar.always()
    assert (calendar.name, calendar.timezone, calendar.is_always) == ("always", "UTC", True)
    # The Paris spring day holds 23 real hours; so does the always calendar.
    assert calendar.elapsed(paris(2026, 3, 29), paris(2026, 3, 30)) == 23 * HOUR
    assert calendar.elapsed(paris(2026, 3, 30), paris(2026, 3, 29)) == 0.0
    # 23:00 CEST is 21:00 UTC; two real hours later is 23:00 UTC.
    assert calendar.add(paris(2026, 6, 13, 23), 2 * HOUR) == utc(2026, 6, 13, 23)
    assert calendar.add(paris(2026, 6, 13, 23), 0) == paris(2026, 6, 13, 23)
    assert calendar.is_open_ts(paris(2026, 12, 25, 3).timestamp())
    assert calendar.elapsed_ts(10.5, 20.0) == 9.5
    assert calendar.add_ts(10.5, 9.5) == 20.0


def test_names_and_zone() -> None:
    calendar = office()
    assert (calendar.name, calendar.timezone, calendar.is_always) == (
        "office",
        "Europe/Paris",
        False,
    )
    assert BusinessCalendar.always(name="24x7").name == "24x7"


# -- lazily built years ---------------------------------------------------------------


def test_answers_do_not_depend_on_which_years_were_asked_first() -> None:
    spans = [
        (paris(2030, 6, 3, 8), paris(2030, 7, 1, 12)),
        (paris(2019, 12, 20, 15), paris(2020, 1, 10, 11)),
        (paris(2026, 6, 9, 11), paris(2026, 6, 9, 14)),
        (paris(2010, 1, 1), paris(2035, 1, 1)),
    ]
    shared = office(country="FR")
    for start, end in spans:
        assert shared.elapsed(start, end) == office(country="FR").elapsed(start, end)
        assert shared.add(start, 100 * HOUR) == office(country="FR").add(start, 100 * HOUR)


def test_threads_extending_the_same_calendar_agree() -> None:
    shared = office(country="FR")
    starts = [paris(year, 3, 27, 17) for year in range(2000, 2040)]
    expected = [office(country="FR").add(start, 50 * HOUR) for start in starts]
    results: dict[int, datetime] = {}

    def work(index: int) -> None:
        results[index] = shared.add(starts[index], 50 * HOUR)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(starts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(starts))] == expected


# -- properties -----------------------------------------------------------------------

PROPERTY_CALENDARS = {
    "paris-office-fr": BusinessCalendar(
        "Europe/Paris",
        OFFICE_AND_SATURDAY,
        holidays=frozenset({date(2026, 12, 24), date(2027, 8, 16)}),
        country="FR",
        name="paris-office-fr",
    ),
    # Endpoints in the New York gap (02:30 in March) and overlap (01:30 in
    # November), a lunch break and an interval ending at midnight.
    "new-york-odd-hours": BusinessCalendar(
        "America/New_York",
        {
            **every_day((at(1, 30), at(2, 30)), (at(9), at(12)), (at(13), at(17)), (at(22), 86400)),
            6: [(at(1, 30), at(2, 30))],
        },
        country="US",
        name="new-york-odd-hours",
    ),
}
CALENDAR_NAMES = sorted(PROPERTY_CALENDARS)
FIRST = int(utc(2024, 1, 1).timestamp())
LAST = int(utc(2028, 12, 31).timestamp())
DST_SWITCHES = [
    int(moment.timestamp())
    for moment in (
        utc(2026, 3, 29, 1),
        utc(2026, 10, 25, 1),
        utc(2026, 3, 8, 7),
        utc(2026, 11, 1, 6),
        utc(2025, 3, 30, 1),
        utc(2027, 10, 31, 1),
        utc(2025, 3, 9, 7),
        utc(2027, 11, 7, 6),
    )
]
instants = st.one_of(
    st.integers(FIRST, LAST),
    st.builds(
        lambda switch, shift: switch + shift,
        st.sampled_from(DST_SWITCHES),
        st.integers(-3 * 86400, 3 * 86400),
    ),
)
#: Up to ~60 business days of 8 hours.
business_seconds = st.integers(0, 60 * 8 * HOUR)
calendar_names = st.sampled_from(CALENDAR_NAMES)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


@PROPERTY_SETTINGS
@given(calendar_names, instants, business_seconds)
def test_elapsed_until_the_deadline_is_the_business_time(name: str, a: int, s: int) -> None:
    calendar = PROPERTY_CALENDARS[name]
    assert calendar.elapsed_ts(a, calendar.add_ts(a, s)) == s


@PROPERTY_SETTINGS
@given(calendar_names, instants, st.integers(1, 60 * 8 * HOUR))
def test_deadline_is_the_earliest_instant(name: str, a: int, s: int) -> None:
    calendar = PROPERTY_CALENDARS[name]
    deadline = calendar.add_ts(a, s)
    assert deadline > a
    assert calendar.elapsed_ts(a, deadline - 1) < s


@PROPERTY_SETTINGS
@given(calendar_names, instants, st.integers(0, 90 * 86400), st.integers(0, 90 * 86400))
def test_elapsed_grows_with_the_end(name: str, a: int, first: int, second: int) -> None:
    calendar = PROPERTY_CALENDARS[name]
    near, far = sorted((first, second))
    assert calendar.elapsed_ts(a, a + near) <= calendar.elapsed_ts(a, a + far)


@PROPERTY_SETTINGS
@given(calendar_names, instants, business_seconds, business_seconds)
def test_deadline_grows_with_the_business_time(name: str, a: int, first: int, second: int) -> None:
    calendar = PROPERTY_CALENDARS[name]
    less, more = sorted((first, second))
    assert calendar.add_ts(a, less) <= calendar.add_ts(a, more)


@PROPERTY_SETTINGS
@given(calendar_names, instants, instants, instants)
def test_elapsed_is_additive(name: str, x: int, y: int, z: int) -> None:
    calendar = PROPERTY_CALENDARS[name]
    a, b, c = sorted((x, y, z))
    assert calendar.elapsed_ts(a, c) == calendar.elapsed_ts(a, b) + calendar.elapsed_ts(b, c)


@PROPERTY_SETTINGS
@given(calendar_names, instants, business_seconds)
def test_datetime_and_epoch_forms_agree(name: str, a: int, s: int) -> None:
    calendar = PROPERTY_CALENDARS[name]
    start = datetime.fromtimestamp(a, UTC)
    deadline = calendar.add(start, s)
    assert deadline.timestamp() == calendar.add_ts(a, s)
    assert calendar.elapsed(start, deadline) == s


# -- a slow, obviously correct reference ---------------------------------------------

REFERENCE_SPEC: dict[str, tuple[ZoneInfo, WeeklyHours, frozenset[date], str]] = {
    "paris-office-fr": (
        PARIS,
        OFFICE_AND_SATURDAY,
        frozenset({date(2026, 12, 24), date(2027, 8, 16)}),
        "FR",
    ),
    "new-york-odd-hours": (
        NEW_YORK,
        {
            **every_day((at(1, 30), at(2, 30)), (at(9), at(12)), (at(13), at(17)), (at(22), 86400)),
            6: [(at(1, 30), at(2, 30))],
        },
        frozenset(),
        "US",
    ),
}
REFERENCE_HOLIDAYS = {
    name: spec[2] | frozenset(holidays.country_holidays(spec[3], years=range(2022, 2031)))
    for name, spec in REFERENCE_SPEC.items()
}


def reference_instant(zone: ZoneInfo, day: date, seconds: int) -> datetime:
    """When the wall clock of ``zone`` reads ``seconds`` after midnight of ``day``."""
    wall = datetime.combine(day, time()) + timedelta(seconds=seconds)
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # exists; fold=0 is the first of two occurrences
    # In a spring-forward gap: walk minute by minute to the jump.
    moment = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while moment.astimezone(zone).replace(tzinfo=None) < wall:
        moment += timedelta(minutes=1)
    return moment


def reference_intervals(name: str, since: datetime) -> Iterator[tuple[int, int]]:
    """Business intervals, date by date, from the local day before ``since``."""
    zone, weekly, _, _ = REFERENCE_SPEC[name]
    day = since.astimezone(zone).date() - timedelta(days=1)
    while True:
        if day not in REFERENCE_HOLIDAYS[name]:
            for start, end in weekly.get(day.weekday(), ()):
                opens = int(reference_instant(zone, day, start).timestamp())
                closes = int(reference_instant(zone, day, end).timestamp())
                if closes > opens:
                    yield opens, closes
        day += timedelta(days=1)


def reference_elapsed(name: str, a: int, b: int) -> int:
    total = 0
    for opens, closes in reference_intervals(name, datetime.fromtimestamp(a, UTC)):
        if opens >= b:
            return total
        total += max(0, min(b, closes) - max(a, opens))
    raise AssertionError("unreachable")


def reference_add(name: str, a: int, s: int) -> int:
    if s <= 0:
        return a
    left = s
    for opens, closes in reference_intervals(name, datetime.fromtimestamp(a, UTC)):
        usable = max(0, closes - max(a, opens))
        if usable >= left:
            return max(a, opens) + left
        left -= usable
    raise AssertionError("unreachable")


@settings(max_examples=300, deadline=None)
@given(calendar_names, instants, st.integers(0, 10 * 86400))
def test_elapsed_matches_the_reference(name: str, a: int, length: int) -> None:
    assert PROPERTY_CALENDARS[name].elapsed_ts(a, a + length) == reference_elapsed(
        name, a, a + length
    )


@settings(max_examples=300, deadline=None)
@given(calendar_names, instants, st.integers(0, 10 * 8 * HOUR))
def test_add_matches_the_reference(name: str, a: int, s: int) -> None:
    assert PROPERTY_CALENDARS[name].add_ts(a, s) == reference_add(name, a, s)
