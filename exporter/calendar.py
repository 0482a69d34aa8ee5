"""Business calendars: how many business seconds lie between two instants.

A :class:`BusinessCalendar` is an IANA time zone, weekly opening hours (several
intervals per day, e.g. around a lunch break) and holidays (explicit dates,
and optionally a country's public holidays from the ``holidays`` package).
It answers two questions for the SLA clocks:

* :meth:`BusinessCalendar.elapsed` -- business seconds in ``[a, b)``;
* :meth:`BusinessCalendar.add` -- the earliest instant at which ``s`` business
  seconds have passed since ``a`` (a deadline; it can be the *end* of an
  interval, e.g. 12:30 before a lunch break that ends at 13:30).

Both have an epoch-seconds twin (:meth:`~BusinessCalendar.elapsed_ts`,
:meth:`~BusinessCalendar.add_ts`) for hot loops.

How wall-clock hours become instants: each local date's intervals are
converted to UTC with :mod:`zoneinfo`, so a day can hold 23 or 25 real hours
across DST switches.  An endpoint that does not exist on that date (it falls in
a spring-forward gap, e.g. 02:30 in Europe/Paris on 2026-03-29) maps to the
instant the clock jumps, i.e. the end of the gap (03:00 local, 01:00 UTC).  An
endpoint that occurs twice (a fall-back overlap) maps to its first occurrence
(``fold=0``).  An interval ending at ``86400`` ("24:00") ends at the next local
date's midnight.  A holiday is a whole local date without business time.

How it stays fast: the calendar lazily builds sorted arrays of business
interval starts and ends (integer epoch seconds) with a running sum of business
seconds, one local year at a time and in both directions.  ``elapsed`` is then
two binary searches and a subtraction, and ``add`` one more binary search on
the running sum, whatever the span.  With integer-second inputs all results are
exact integers (returned as floats), so ``elapsed(a, add(a, s)) == s``.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

#: Weekly business hours: weekday (0 = Monday .. 6 = Sunday) -> sorted,
#: non-overlapping ``(start, end)`` pairs in seconds since local midnight, with
#: ``0 <= start < end <= 86400`` (``86400`` is "24:00").
WeeklyHours = Mapping[int, Sequence[tuple[int, int]]]

SECONDS_PER_DAY = 86400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_SECOND = timedelta(seconds=1)
# Local years the arrays may cover; datetime stops at year 9999 and the year
# after the last covered one must still have a representable 1 January.
_FIRST_YEAR = 2
_LAST_YEAR = 9998


class CalendarRangeError(ValueError):
    """An instant or deadline outside the years a calendar can cover."""


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} is a naive datetime ({value.isoformat()}): business time needs "
            "an aware datetime, e.g. datetime(..., tzinfo=UTC)"
        )


def _parse_weekly(weekly: WeeklyHours) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Validate weekly hours; return seven tuples of merged intervals."""
    days: list[tuple[tuple[int, int], ...]] = []
    for weekday in weekly:
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise ValueError(
                f"weekly hours: weekday {weekday!r} is not an integer from 0 (Monday) to 6 (Sunday)"
            )
    for weekday in range(7):
        merged: list[tuple[int, int]] = []
        previous_end = -1
        for pair in weekly.get(weekday, ()):
            try:
                start, end = pair
            except (TypeError, ValueError):
                start, end = -1, -1
            if not (
                isinstance(start, int)
                and isinstance(end, int)
                and 0 <= start < end <= SECONDS_PER_DAY
            ):
                raise ValueError(
                    f"weekly hours, weekday {weekday}: interval {pair!r} must be whole "
                    "seconds since midnight with 0 <= start < end <= 86400"
                )
            if start < previous_end:
                raise ValueError(
                    f"weekly hours, weekday {weekday}: interval {pair!r} overlaps or "
                    "precedes the interval before it; list intervals sorted and "
                    "without overlap"
                )
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
            previous_end = end
        days.append(tuple(merged))
    if not any(days):
        raise ValueError(
            "weekly hours: no day has any business interval, so no deadline could "
            "ever be reached; give at least one interval (or use BusinessCalendar.always())"
        )
    return tuple(days)


class _Span:
    """An immutable snapshot of the built arrays (readers never lock).

    ``cum[i]`` is the business time before interval ``i`` (counted from
    ``lo``); ``cum_end[i] = cum[i] + ends[i] - starts[i]``.  Every business
    interval that overlaps ``[lo, hi)`` is present, so positions of instants
    in ``[lo, hi]`` are exact.
    """

    __slots__ = ("cum", "cum_end", "ends", "first_year", "hi", "last_year", "lo", "starts")

    def __init__(
        self,
        first_year: int,
        last_year: int,
        lo: int,
        hi: int,
        starts: list[int],
        ends: list[int],
    ) -> None:
        self.first_year = first_year
        self.last_year = last_year
        self.lo = lo
        self.hi = hi
        self.starts = starts
        self.ends = ends
        cum: list[int] = []
        cum_end: list[int] = []
        total = 0
        for start, end in zip(starts, ends, strict=True):
            cum.append(total)
            total += end - start
            cum_end.append(total)
        self.cum = cum
        self.cum_end = cum_end

    @property
    def total(self) -> int:
        return self.cum_end[-1] if self.cum_end else 0


class BusinessCalendar:
    """Business hours in one time zone, with holidays.

    ``weekly`` maps weekdays (0 = Monday) to sorted, non-overlapping
    ``(start, end)`` seconds since local midnight (``end`` up to 86400);
    touching intervals are merged.  ``holidays`` are local dates without
    business time; ``country`` (ISO code such as ``"FR"``, with an optional
    ``subdivision`` such as ``"CA"`` for the US) adds that country's public
    holidays, computed per year when first needed.  Every problem with these
    arguments raises :class:`ValueError`.

    Wall times are read per local date: a time that a spring-forward switch
    skips maps to the end of the gap (the instant the clock jumps), and a time
    that a fall-back switch repeats maps to its first occurrence (``fold=0``).

    Instances are safe to share between threads.
    """

    def __init__(
        self,
        timezone: str,
        weekly: WeeklyHours,
        holidays: Iterable[date] = frozenset(),
        country: str | None = None,
        subdivision: str | None = None,
        name: str = "business",
    ) -> None:
        self._name = name
        self._timezone = timezone
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"calendar {name!r}: unknown time zone {timezone!r}; use an IANA name "
                "such as 'Europe/Paris' or 'America/New_York'"
            ) from error
        self._weekly = _parse_weekly(weekly)
        holiday_dates: set[date] = set()
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(
                    f"calendar {name!r}: holiday {day!r} must be a date (a whole local "
                    "day), not a datetime or other value"
                )
            holiday_dates.add(day)
        self._holidays = frozenset(holiday_dates)
        if subdivision is not None and country is None:
            raise ValueError(
                f"calendar {name!r}: subdivision {subdivision!r} needs a country, "
                "e.g. country='US', subdivision='CA'"
            )
        self._country = country
        self._subdivision = subdivision
        if country is not None:
            try:
                holidays_package.country_holidays(country, subdiv=subdivision)
            except NotImplementedError as error:
                raise ValueError(
                    f"calendar {name!r}: no public holidays known for country "
                    f"{country!r}"
                    + (f" subdivision {subdivision!r}" if subdivision else "")
                    + f" ({error}); use an ISO 3166 code supported by the holidays "
                    "package, e.g. 'FR' or 'US'"
                ) from error
        self._always = False
        self._lock = threading.Lock()
        self._span: _Span | None = None
        self._intervals_by_year: dict[int, list[tuple[int, int]]] = {}
        self._country_dates_by_year: dict[int, frozenset[date]] = {}

    @classmethod
    def always(cls, name: str = "always") -> BusinessCalendar:
        """A 24x7 calendar in UTC: business time is real time."""
        calendar = cls("UTC", {day: [(0, SECONDS_PER_DAY)] for day in range(7)}, name=name)
        calendar._always = True
        return calendar

    @property
    def name(self) -> str:
        return self._name

    @property
    def timezone(self) -> str:
        """The IANA time zone name the weekly hours are read in."""
        return self._timezone

    @property
    def is_always(self) -> bool:
        """True for the 24x7 calendar made by :meth:`always`."""
        return self._always

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar(name={self._name!r}, timezone={self._timezone!r}, "
            f"always={self._always})"
        )

    # -- datetime API ---------------------------------------------------------

    def elapsed(self, a: datetime, b: datetime) -> float:
        """Business seconds in ``[a, b)``; ``0.0`` when ``b <= a``.

        Both must be aware datetimes (any time zone), else :class:`ValueError`.
        """
        _require_aware(a, "elapsed(a, b): a")
        _require_aware(b, "elapsed(a, b): b")
        return self.elapsed_ts(a.timestamp(), b.timestamp())

    def add(self, a: datetime, seconds: float) -> datetime:
        """The earliest instant ``t >= a`` with ``elapsed(a, t) >= seconds``, in UTC.

        ``seconds <= 0`` returns ``a`` itself (converted to UTC), even when the
        calendar is closed at ``a``.  ``a`` must be aware, else :class:`ValueError`.
        """
        _require_aware(a, "add(a, seconds): a")
        if seconds <= 0:
            return a.astimezone(UTC)
        return datetime.fromtimestamp(self.add_ts(a.timestamp(), seconds), UTC)

    # -- epoch-seconds API (hot path) -----------------------------------------

    def elapsed_ts(self, a: float, b: float) -> float:
        """:meth:`elapsed` on POSIX epoch seconds."""
        if not b > a:
            return 0.0
        if self._always:
            return float(b - a)
        span = self._span
        if span is None or not (span.lo <= a and b <= span.hi):
            span = self._cover(a, b)
        starts = span.starts
        ends = span.ends
        cum = span.cum
        i = bisect_right(starts, a) - 1
        if i < 0:
            position_a: float = 0
        elif a < ends[i]:
            position_a = cum[i] + (a - starts[i])
        else:
            position_a = span.cum_end[i]
        j = bisect_right(starts, b, i if i > 0 else 0) - 1
        if j < 0:
            return 0.0
        if b < ends[j]:
            return float(cum[j] + (b - starts[j]) - position_a)
        return float(span.cum_end[j] - position_a)

    def add_ts(self, a: float, seconds: float) -> float:
        """:meth:`add` on POSIX epoch seconds."""
        if not seconds > 0:
            return float(a)
        if self._always:
            return float(a + seconds)
        span = self._span
        if span is None or not (span.lo <= a <= span.hi):
            span = self._cover(a, a)
        while True:
            i = bisect_right(span.starts, a) - 1
            if i < 0:
                position_a: float = 0
            elif a < span.ends[i]:
                position_a = span.cum[i] + (a - span.starts[i])
            else:
                position_a = span.cum_end[i]
            target = position_a + seconds
            if target <= span.total:
                break
            span = self._extend_for(span, target - span.total)
        j = bisect_left(span.cum_end, target)
        return float(span.starts[j] + (target - span.cum[j]))

    def is_open_ts(self, t: float) -> bool:
        """True when ``t`` is inside a business interval (start included, end not)."""
        if self._always:
            return True
        span = self._span
        if span is None or not (span.lo <= t < span.hi):
            span = self._cover(t, t + 1)
        i = bisect_right(span.starts, t) - 1
        return i >= 0 and t < span.ends[i]

    # -- building the arrays --------------------------------------------------

    def _cover(self, a: float, b: float) -> _Span:
        """Return a snapshot whose ``[lo, hi]`` contains ``[a, b]``."""
        for value in (a, b):
            if not math.isfinite(value):
                raise CalendarRangeError(
                    f"calendar {self._name!r}: instant {value!r} is not finite"
                )
        with self._lock:
            span = self._span
            if span is not None and span.lo <= a and b <= span.hi:
                return span
            # Local years differ from UTC years by at most a day: one spare
            # year each side is always enough.
            first_year = self._year_of(a) - 1
            last_year = self._year_of(b) + 1
            if span is not None:
                first_year = min(first_year, span.first_year)
                last_year = max(last_year, span.last_year)
            return self._publish(first_year, last_year)

    def _extend_for(self, span: _Span, missing_seconds: float) -> _Span:
        """Extend forward by enough years to hold ``missing_seconds`` more business time."""
        weekly_seconds = sum(end - start for day in self._weekly for start, end in day)
        # A year holds each weekday at most 53 times, and DST can lengthen a
        # few days by up to two hours: no year can hold more than this.
        most_per_year = 53 * weekly_seconds + 4 * 2 * 3600
        if span.last_year + missing_seconds / most_per_year > _LAST_YEAR:
            raise CalendarRangeError(
                f"calendar {self._name!r}: the deadline lies beyond year {_LAST_YEAR}"
            )
        years = max(1, math.ceil(missing_seconds / (weekly_seconds * 52)))
        with self._lock:
            current = self._span
            assert current is not None
            if current is not span:
                return current  # another thread extended it; the caller re-reads
            last_year = span.last_year + years
            if last_year > _LAST_YEAR:
                if span.last_year >= _LAST_YEAR:
                    raise CalendarRangeError(
                        f"calendar {self._name!r}: the deadline lies beyond year {_LAST_YEAR}"
                    )
                last_year = _LAST_YEAR
            return self._publish(current.first_year, last_year)

    def _year_of(self, t: float) -> int:
        try:
            year = datetime.fromtimestamp(t, UTC).year
        except (OverflowError, OSError, ValueError) as error:
            raise CalendarRangeError(
                f"calendar {self._name!r}: instant {t!r} is outside the supported range "
                f"(years {_FIRST_YEAR + 1} to {_LAST_YEAR - 1})"
            ) from error
        if not _FIRST_YEAR < year < _LAST_YEAR:
            raise CalendarRangeError(
                f"calendar {self._name!r}: instant {t!r} is outside the supported range "
                f"(years {_FIRST_YEAR + 1} to {_LAST_YEAR - 1})"
            )
        return year

    def _publish(self, first_year: int, last_year: int) -> _Span:
        """Build (under the lock) the snapshot for local years ``first..last``."""
        first_year = max(first_year, _FIRST_YEAR)
        starts: list[int] = []
        ends: list[int] = []
        for year in range(first_year, last_year + 1):
            intervals = self._intervals_by_year.get(year)
            if intervals is None:
                intervals = self._build_year(year)
                self._intervals_by_year[year] = intervals
            for start, end in intervals:
                if ends and ends[-1] == start:
                    ends[-1] = end
                else:
                    starts.append(start)
                    ends.append(end)
        lo = self._wall_to_epoch(date(first_year, 1, 1).toordinal(), 0)
        hi = self._wall_to_epoch(date(last_year + 1, 1, 1).toordinal(), 0)
        span = _Span(first_year, last_year, lo, hi, starts, ends)
        self._span = span
        return span

    def _build_year(self, year: int) -> list[tuple[int, int]]:
        """Business intervals (epoch seconds) of every local date of ``year``."""
        closed = {day for day in self._holidays if day.year == year}
        closed |= self._country_dates(year)
        intervals: list[tuple[int, int]] = []
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        weekday = date(year, 1, 1).weekday()
        for ordinal in range(first, last + 1):
            hours = self._weekly[weekday]
            weekday = (weekday + 1) % 7
            if not hours or date.fromordinal(ordinal) in closed:
                continue
            for start_wall, end_wall in hours:
                start = self._wall_to_epoch(ordinal, start_wall)
                end = self._wall_to_epoch(ordinal, end_wall)
                if end <= start:
                    continue  # the whole interval falls in a spring-forward gap
                if intervals and intervals[-1][1] == start:
                    intervals[-1] = (intervals[-1][0], end)
                else:
                    intervals.append((start, end))
        return intervals

    def _country_dates(self, year: int) -> frozenset[date]:
        """The country's holidays falling in ``year`` (observed days may move across
        a year boundary, so the neighbouring years are asked too)."""
        if self._country is None:
            return frozenset()
        found: set[date] = set()
        for asked in (year - 1, year, year + 1):
            dates = self._country_dates_by_year.get(asked)
            if dates is None:
                table = holidays_package.country_holidays(
                    self._country, subdiv=self._subdivision, years=asked
                )
                dates = frozenset(table.keys())
                self._country_dates_by_year[asked] = dates
            found.update(day for day in dates if day.year == year)
        return frozenset(found)

    def _offset_at(self, t: int) -> int:
        offset = datetime.fromtimestamp(t, self._zone).utcoffset()
        assert offset is not None
        return offset // _ONE_SECOND

    def _wall_to_epoch(self, ordinal: int, seconds: int) -> int:
        """The instant the local wall clock reads ``seconds`` after midnight of the
        date ``ordinal`` (``86400`` is the next midnight).  A time in a
        spring-forward gap maps to the end of the gap; a repeated time to its
        first occurrence."""
        wall = (ordinal - _EPOCH_ORDINAL) * SECONDS_PER_DAY + seconds
        naive = datetime.fromordinal(ordinal) + timedelta(seconds=seconds)
        earlier = naive.replace(tzinfo=self._zone)
        offset_before = earlier.utcoffset()
        assert offset_before is not None
        candidate = wall - offset_before // _ONE_SECOND
        if self._offset_at(candidate) == offset_before // _ONE_SECOND:
            return candidate  # the wall time exists (first occurrence if repeated)
        # In a gap: find the transition, the first instant whose wall time is
        # at or past ``wall``.  It lies in (wall - offset_after, candidate].
        offset_after = naive.replace(tzinfo=self._zone, fold=1).utcoffset()
        assert offset_after is not None
        low = wall - offset_after // _ONE_SECOND
        if low >= candidate:
            low = candidate - SECONDS_PER_DAY
        high = candidate
        while high - low > 1:
            middle = (low + high) // 2
            if middle + self._offset_at(middle) >= wall:
                high = middle
            else:
                low = middle
        return high
