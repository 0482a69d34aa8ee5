"""History as OpenMetrics, so dashboards have months of data on day one.

``helpdesk-slo backfill --config F --since 90d --out history.om`` reads the
source's history, decides every outcome exactly as the live exporter would
(:func:`exporter.engine.decide`), and writes the ``*_total`` counters as
timestamped samples every ``step``, one series after another, each in time
order, ending with ``# EOF``: the input of::

    promtool tsdb create-blocks-from openmetrics history.om ./data

The history ends where the live exporter starts: at the epoch of the store
named in the config when it exists (the live counters count from there),
otherwise at the time of the run.  Counters start at 0 at the beginning of the
history, so Prometheus sees one counter reset where the live series takes
over, which ``increase()`` and ``rate()`` handle.
"""

from __future__ import annotations

import logging
import os
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TextIO

from exporter import metrics
from exporter.config import Config, SourceType
from exporter.engine import Plan, decide, known_counter_series
from exporter.metrics import MetricSpec
from exporter.model import Ticket
from exporter.records import SkippedRecord, SkipReason, evaluate_ticket, skip_reason
from exporter.sources import build_source
from exporter.sources.file import iter_tickets, open_lines, parse_lines
from exporter.store import Store
from exporter.units import parse_duration

log = logging.getLogger(__name__)

#: the counters a backfill writes, in output order
COUNTERS: tuple[MetricSpec, ...] = (
    metrics.SLO_EVENTS,
    metrics.SLA_OUTCOMES,
    metrics.TICKETS_CREATED,
    metrics.TICKETS_SOLVED,
    metrics.CSAT_RATINGS,
)

SeriesKey = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class BackfillResult:
    tickets: int
    series: int
    samples: int
    start: float
    end: float
    #: records skipped (unreadable, or failed to evaluate); ``skipped`` has them by reason
    problems: int
    skipped: dict[SkipReason, int] = field(default_factory=dict)


def history_end(config: Config, now: float) -> float:
    """The live exporter's epoch if its store exists, else ``now``."""
    store_path = Path(config.store)
    if not store_path.exists():
        return now
    store = Store(store_path)
    try:
        return min(store.epoch, now) if store.epoch else now
    finally:
        store.close()


def history_tickets(
    config: Config, since: float, now: float, problems: list[str]
) -> Iterator[Ticket]:
    """The source's tickets of the last ``since`` seconds before ``now`` (a file: all of it);
    records that cannot be read are added to ``problems``."""
    if config.source.type is SourceType.FILE:
        assert config.source.path is not None
        yield from iter_tickets(config.source.path, problems)
        return
    source_config = config.source.model_copy(update={"lookback": parse_duration(f"{int(since)}s")})
    if source_config.type is SourceType.DEMO:
        source_config = source_config.model_copy(
            update={"history": parse_duration(f"{int(since)}s")}
        )
    source = build_source(config.model_copy(update={"source": source_config}))
    result = source.poll(None, now)
    problems.extend(result.problems)
    yield from result.tickets


def collect(
    config: Config,
    tickets: Iterable[Ticket],
    now: float,
    progress: Callable[[int], None] | None = None,
    problems: list[str] | None = None,
) -> tuple[dict[SeriesKey, array[float]], int]:
    """Decision times per counter series, from every ticket's facts as of ``now``.

    A ticket that cannot be evaluated is left out and reported in ``problems``.
    """
    plan = Plan(config)
    series: dict[SeriesKey, array[float]] = {}

    def add(name: str, labels: tuple[str, ...], at: float) -> None:
        key = (name, labels)
        times = series.get(key)
        if times is None:
            times = series[key] = array("d")
        times.append(at)

    # known label combinations exist from the start, as on the live exporter
    for spec, labels in known_counter_series(config):
        series.setdefault((spec.name, labels), array("d"))

    count = 0
    for ticket in tickets:
        count += 1
        if progress is not None and count % 100_000 == 0:
            progress(count)
        created = ticket.created_at.timestamp()
        if created > now:
            continue
        facts = evaluate_ticket(ticket, lambda t: decide(plan, t, now, now))
        if isinstance(facts, SkippedRecord):
            if problems is not None:
                problems.append(facts)
            continue
        channel = plan.channel(ticket.channel)
        add(metrics.TICKETS_CREATED.name, (ticket.priority.value, channel), created)
        for slo_row in facts.slo_outcomes:
            add(metrics.SLO_EVENTS.name, (slo_row.slo, slo_row.result), slo_row.decided_at)
        for sla_row in facts.sla_outcomes:
            labels = (sla_row.sla, sla_row.priority, sla_row.outcome)
            add(metrics.SLA_OUTCOMES.name, labels, sla_row.decided_at)
        for solve in facts.solves:
            solved_labels = (solve.priority, plan.channel(solve.channel))
            add(metrics.TICKETS_SOLVED.name, solved_labels, solve.solved_at)
        for rating_row in facts.csat:
            add(metrics.CSAT_RATINGS.name, (rating_row.rating,), rating_row.rated_at)
    return series, count


def _collect_chunk(
    config: Config, path: str, first_line: int, lines: list[bytes], now: float
) -> tuple[dict[SeriesKey, array[float]], int, list[str]]:
    """One worker's share of a JSON Lines file (runs in a child process)."""
    problems: list[str] = []
    tickets = parse_lines(path, first_line, lines, problems)
    series, count = collect(config, tickets, now, problems=problems)
    return series, count, problems


def _merge(into: dict[SeriesKey, array[float]], part: dict[SeriesKey, array[float]]) -> None:
    for key, times in part.items():
        existing = into.get(key)
        if existing is None:
            into[key] = times
        else:
            existing.extend(times)


def collect_file_parallel(
    config: Config,
    path: Path,
    now: float,
    problems: list[str],
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    chunk_lines: int = 20_000,
) -> tuple[dict[SeriesKey, array[float]], int]:
    """:func:`collect` over a JSON Lines file, in chunks, on every core."""
    workers = workers or os.cpu_count() or 1
    series: dict[SeriesKey, array[float]] = {}
    count = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: set[Future[tuple[dict[SeriesKey, array[float]], int, list[str]]]] = set()

        def drain(block: bool) -> None:
            nonlocal count
            while pending and (block or len(pending) >= 2 * workers):
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.remove(future)
                    part, part_count, part_problems = future.result()
                    _merge(series, part)
                    problems.extend(part_problems)
                    before = count
                    count += part_count
                    if progress is not None and count // 100_000 > before // 100_000:
                        progress(count)
                if not block:
                    break

        # raw lines: each is decoded on its own, so bad bytes cost one record, not the file
        lines_of_file = open_lines(path)
        first = 1
        while True:
            lines = list(islice(lines_of_file, chunk_lines))
            if not lines:
                break
            pending.add(pool.submit(_collect_chunk, config, str(path), first, lines, now))
            first += len(lines)
            drain(block=False)
        drain(block=True)
    return series, count


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def write_openmetrics(
    series: dict[SeriesKey, array[float]],
    start: float,
    end: float,
    step: float,
    out: TextIO,
    extra_labels: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Write counters sampled every ``step`` over ``[start, end]``; returns (series, samples).

    A counter's value at ``t`` is the number of its decisions in ``[start, t]``.
    """
    extra = sorted((extra_labels or {}).items())
    instants = []
    t = start
    while t <= end:
        instants.append(t)
        t += step
    written_series = samples = 0
    for spec in COUNTERS:
        keys = sorted(key for key in series if key[0] == spec.name)
        if not keys:
            continue
        family = spec.name.removesuffix("_total")
        out.write(f"# HELP {family} {spec.help}\n# TYPE {family} counter\n")
        for _, values in keys:
            times = sorted(x for x in series[(spec.name, values)] if start <= x <= end)
            pairs = sorted([*zip(spec.labels, values, strict=True), *extra])
            labels = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
            prefix = f"{spec.name}{{{labels}}} "
            lines = [
                f"{prefix}{bisect_right(times, instant)} {int(instant)}\n" for instant in instants
            ]
            out.write("".join(lines))
            written_series += 1
            samples += len(lines)
    out.write("# EOF\n")
    return written_series, samples


def backfill(
    config: Config,
    since: float,
    out_path: Path,
    step: float = 300.0,
    now: float | None = None,
    extra_labels: dict[str, str] | None = None,
    progress: TextIO | None = None,
    workers: int | None = None,
) -> BackfillResult:
    """Write ``since`` seconds of history ending at :func:`history_end` to ``out_path``."""
    now = time.time() if now is None else now
    end = history_end(config, now)
    # align samples on whole steps so reruns produce the same instants
    end = end - (end % step)
    start = end - since
    problems: list[str] = []

    def report(count: int) -> None:
        if progress is not None:
            print(f"backfill: {count} tickets read", file=progress, flush=True)

    if config.source.type is SourceType.FILE and workers != 1:
        assert config.source.path is not None
        series, count = collect_file_parallel(
            config, config.source.path, end, problems, report, workers
        )
    else:
        tickets = history_tickets(config, since, end, problems)
        series, count = collect(config, tickets, end, report, problems)
    for problem in problems[:20]:
        log.warning("backfill skipped %s", problem)
    skipped: dict[SkipReason, int] = {}
    for problem in problems:
        reason = skip_reason(problem)
        skipped[reason] = skipped.get(reason, 0) + 1
    tmp = out_path.with_name(out_path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        written, samples = write_openmetrics(series, start, end, step, handle, extra_labels)
    tmp.replace(out_path)
    return BackfillResult(count, written, samples, start, end, len(problems), skipped)
