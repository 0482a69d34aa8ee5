"""The counter series that exist from the start, before any ticket counts in them.

The live exporter publishes them at 0 and ``backfill`` writes them from 0, so
both show the same series sets: SLO events of every event SLO, SLA outcomes
of every priority the SLA has a target for, ratings, and tickets per channel
of the ``exporter.breakdown.channel`` allowlist.
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter import metrics
from exporter.config import Config
from exporter.model import PRIORITIES, Rating


def known_counter_series(config: Config) -> Iterator[tuple[metrics.MetricSpec, tuple[str, ...]]]:
    """Every (counter, label values) published at 0 before anything was counted."""
    for slo in config.slos:
        if slo.kind.counted_by_exporter:
            for result in ("good", "bad"):
                yield metrics.SLO_EVENTS, (slo.name, result)
    for metric, sla in config.slas.items():
        for priority in PRIORITIES:
            if priority in sla.targets:
                for outcome in ("met", "breached"):
                    yield metrics.SLA_OUTCOMES, (str(metric), priority.value, outcome)
    allowed = config.exporter.breakdown.get("channel")
    channels = [*allowed, "other", "none"] if allowed is not None else []
    for priority in PRIORITIES:
        for channel in channels:
            yield metrics.TICKETS_CREATED, (priority.value, channel)
            yield metrics.TICKETS_SOLVED, (priority.value, channel)
    for rating in Rating:
        yield metrics.CSAT_RATINGS, (rating.value,)
