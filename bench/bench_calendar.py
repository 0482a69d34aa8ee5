"""Calendar arithmetic: exporter.calendar against businesstimedelta on the same spans.

Both libraries get one calendar they can both express: Europe/Paris, Monday to
Friday 09:00-18:00 with a 12:30-13:30 lunch break, and French public holidays
that fall on weekdays (2024-2030) as explicit dates.  Random spans (seeded)
start anywhere in 2025-2027 at a whole second; their lengths are log-uniform
from one minute to 30 days, and the business time added by ``add`` is
log-uniform from one minute to 80 business hours (ten working days).

For every span the two answers are compared; the table counts mismatches.
Our calendar is timed warm: the one-time build of its interval arrays is
timed separately.  Each implementation runs over the whole list once.

    python bench/bench_calendar.py [--spans 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from datetime import time as wall_time
from importlib.metadata import version
from pathlib import Path

import businesstimedelta  # type: ignore[import-untyped]
import holidays
import pytz  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.calendar import BusinessCalendar

ZONE = "Europe/Paris"
WEEKDAYS = [0, 1, 2, 3, 4]
OPENS, LUNCH_STARTS, LUNCH_ENDS, CLOSES = (9, 0), (12, 30), (13, 30), (18, 0)
FIRST_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
LAST_START = int(datetime(2028, 1, 1, tzinfo=UTC).timestamp())
MINUTE = 60
HOUR = 3600
DAY = 86400


def seconds_of(hours_minutes: tuple[int, int]) -> int:
    hours, minutes = hours_minutes
    return hours * HOUR + minutes * MINUTE


def weekday_holidays() -> list[date]:
    table = holidays.country_holidays("FR", years=range(2024, 2031))
    return sorted(day for day in table if day.weekday() < 5)


def our_calendar(holiday_dates: Sequence[date]) -> BusinessCalendar:
    day = [
        (seconds_of(OPENS), seconds_of(LUNCH_STARTS)),
        (seconds_of(LUNCH_ENDS), seconds_of(CLOSES)),
    ]
    return BusinessCalendar(
        ZONE, {weekday: day for weekday in WEEKDAYS}, holidays=frozenset(holiday_dates)
    )


def their_rule(holiday_dates: Sequence[date]) -> businesstimedelta.Rules:
    zone = pytz.timezone(ZONE)
    return businesstimedelta.Rules(
        [
            businesstimedelta.WorkDayRule(
                start_time=wall_time(*OPENS),
                end_time=wall_time(*CLOSES),
                working_days=WEEKDAYS,
                tz=zone,
            ),
            businesstimedelta.LunchTimeRule(
                start_time=wall_time(*LUNCH_STARTS),
                end_time=wall_time(*LUNCH_ENDS),
                working_days=WEEKDAYS,
                tz=zone,
            ),
            businesstimedelta.HolidayRule(frozenset(holiday_dates), tz=zone),
        ]
    )


def log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def timed(run: Callable[[], list[float]]) -> tuple[list[float], float]:
    started = time.perf_counter()
    results = run()
    return results, time.perf_counter() - started


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def count_mismatches(ours: list[float], theirs: list[float]) -> list[int]:
    return [i for i, (mine, other) in enumerate(zip(ours, theirs, strict=True)) if mine != other]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spans", type=int, default=20000, help="random spans (default 20000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    options = parser.parse_args(argv)

    rng = random.Random(options.seed)
    starts = [rng.randint(FIRST_START, LAST_START) for _ in range(options.spans)]
    lengths = [log_uniform(rng, MINUTE, 30 * DAY) for _ in range(options.spans)]
    amounts = [log_uniform(rng, MINUTE, 80 * HOUR) for _ in range(options.spans)]
    ends = [start + length for start, length in zip(starts, lengths, strict=True)]
    start_times = [datetime.fromtimestamp(start, UTC) for start in starts]
    end_times = [datetime.fromtimestamp(end, UTC) for end in ends]

    holiday_dates = weekday_holidays()
    ours = our_calendar(holiday_dates)
    rule = their_rule(holiday_dates)
    deltas = [businesstimedelta.BusinessTimeDelta(rule, seconds=amount) for amount in amounts]

    # One-time build of our arrays over every year the spans and deadlines touch.
    build_started = time.perf_counter()
    ours.elapsed_ts(FIRST_START, LAST_START + 60 * DAY)
    build_seconds = time.perf_counter() - build_started

    spans = list(zip(starts, ends, strict=True))
    span_times = list(zip(start_times, end_times, strict=True))
    additions = list(zip(starts, amounts, strict=True))
    addition_times = list(zip(start_times, amounts, strict=True))
    timestamp_additions = list(zip(start_times, deltas, strict=True))

    elapsed_ts = ours.elapsed_ts
    elapsed = ours.elapsed
    add_ts = ours.add_ts
    add = ours.add
    difference = rule.difference

    ours_elapsed_ts, t_ours_elapsed_ts = timed(lambda: [elapsed_ts(a, b) for a, b in spans])
    ours_elapsed, t_ours_elapsed = timed(lambda: [elapsed(a, b) for a, b in span_times])
    theirs_elapsed, t_theirs_elapsed = timed(
        lambda: [difference(a, b).timedelta.total_seconds() for a, b in span_times]
    )
    ours_add_ts, t_ours_add_ts = timed(lambda: [add_ts(a, s) for a, s in additions])
    ours_add, t_ours_add = timed(lambda: [add(a, s).timestamp() for a, s in addition_times])
    theirs_add, t_theirs_add = timed(
        lambda: [(a + delta).timestamp() for a, delta in timestamp_additions]
    )

    n = options.spans
    elapsed_mismatches = count_mismatches(ours_elapsed_ts, theirs_elapsed)
    add_mismatches = count_mismatches(ours_add_ts, theirs_add)
    assert ours_elapsed == ours_elapsed_ts and ours_add == ours_add_ts

    rows = [
        ("elapsed, epoch seconds (`elapsed_ts`)", t_ours_elapsed_ts, t_theirs_elapsed,
         len(elapsed_mismatches)),
        ("elapsed, aware datetimes (`elapsed`)", t_ours_elapsed, t_theirs_elapsed,
         len(elapsed_mismatches)),
        ("add, epoch seconds (`add_ts`)", t_ours_add_ts, t_theirs_add, len(add_mismatches)),
        ("add, aware datetimes (`add`)", t_ours_add, t_theirs_add, len(add_mismatches)),
    ]  # fmt: skip

    print(f"## Calendar arithmetic: {n} spans, seed {options.seed}")
    print()
    print(f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"- platform: {platform.platform()}")
    print(f"- CPU: {cpu_model()}")
    print(f"- Python: {platform.python_version()} ({platform.python_implementation()})")
    print(f"- businesstimedelta: {version('businesstimedelta')}, pytz {pytz.__version__}")
    print(f"- our one-time build of the interval arrays (2024-2029): {build_seconds * 1000:.1f} ms")
    print()
    print("| operation | ours ops/s | businesstimedelta ops/s | ratio | mismatches |")
    print("|---|---:|---:|---:|---:|")
    for operation, ours_seconds, theirs_seconds, mismatches in rows:
        print(
            f"| {operation} | {n / ours_seconds:,.0f} | {n / theirs_seconds:,.0f} "
            f"| {theirs_seconds / ours_seconds:,.0f}x | {mismatches} / {n} |"
        )

    # The same comparison on the short spans only (under one day), where the
    # peer walks few periods: the ratio there is the least favourable to us.
    short = [i for i, length in enumerate(lengths) if length < DAY]
    short_mismatches = len(set(short) & set(elapsed_mismatches))
    short_spans = [spans[i] for i in short]
    short_span_times = [span_times[i] for i in short]
    _, t_theirs_short = timed(
        lambda: [difference(a, b).timedelta.total_seconds() for a, b in short_span_times]
    )
    _, t_ours_short_ts = timed(lambda: [elapsed_ts(a, b) for a, b in short_spans])
    _, t_ours_short = timed(lambda: [elapsed(a, b) for a, b in short_span_times])
    for operation, ours_seconds in (
        (f"elapsed_ts, the {len(short)} spans under one day", t_ours_short_ts),
        (f"elapsed, the {len(short)} spans under one day", t_ours_short),
    ):
        print(
            f"| {operation} | {len(short) / ours_seconds:,.0f} "
            f"| {len(short) / t_theirs_short:,.0f} | {t_theirs_short / ours_seconds:,.0f}x "
            f"| {short_mismatches} / {len(short)} |"
        )

    for label, indexes, mine, other in (
        ("elapsed", elapsed_mismatches, ours_elapsed_ts, theirs_elapsed),
        ("add", add_mismatches, ours_add_ts, theirs_add),
    ):
        for i in indexes[:5]:
            print(
                f"\nmismatch ({label}) start {start_times[i].isoformat()} "
                f"end {end_times[i].isoformat()} amount {amounts[i]}: "
                f"ours {mine[i]!r}, businesstimedelta {other[i]!r}"
            )


if __name__ == "__main__":
    main()
