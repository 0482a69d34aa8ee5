"""The ``prometheus_client`` collector that serves the poller's latest snapshot.

A scrape only formats what the poller already computed: :class:`SnapshotCollector`
reads ``provider.snapshot`` once per scrape and turns every metric declared in
:mod:`exporter.metrics` into a metric family, in the order of
:data:`exporter.metrics.ALL`, with the HELP text declared there.  It never
calls the helpdesk, never touches the store and never evaluates a clock, so
the cost of a scrape depends on the number of series in the snapshot (a few
per SLO, SLA and priority), not on the number of tickets.

Each exporter builds its own :class:`~prometheus_client.CollectorRegistry`
with :func:`build_registry`; the process-wide default registry is never used,
so no Python process or GC metrics leak in and tests can run several
exporters side by side.

Sample output (Prometheus text format, abridged; HELP lines shortened)::

    # HELP helpdesk_slo_events_total SLO events decided since the store's epoch, by result ...
    # TYPE helpdesk_slo_events_total counter
    helpdesk_slo_events_total{result="bad",slo="urgent-first-response"} 2.0
    helpdesk_slo_events_total{result="good",slo="urgent-first-response"} 41.0
    # HELP helpdesk_slo_objective_ratio The SLO's objective as a ratio (0.95).
    # TYPE helpdesk_slo_objective_ratio gauge
    helpdesk_slo_objective_ratio{slo="urgent-first-response"} 0.95
    # HELP helpdesk_sla_time_to_breach_seconds Running SLA clocks by seconds left until ...
    # TYPE helpdesk_sla_time_to_breach_seconds histogram
    helpdesk_sla_time_to_breach_seconds_bucket{le="0.0",priority="high",sla="resolution"} 0.0
    helpdesk_sla_time_to_breach_seconds_bucket{le="300.0",priority="high",sla="resolution"} 1.0
    ...
    helpdesk_sla_time_to_breach_seconds_bucket{le="+Inf",priority="high",sla="resolution"} 7.0
    # HELP helpdesk_sla_time_to_breach_seconds_gcount Running SLA clocks by seconds left ...
    # TYPE helpdesk_sla_time_to_breach_seconds_gcount gauge
    helpdesk_sla_time_to_breach_seconds_gcount{priority="high",sla="resolution"} 7.0
    ...
    # HELP helpdesk_sla_elapsed_business_seconds Business seconds elapsed on stopped SLA clocks.
    # TYPE helpdesk_sla_elapsed_business_seconds histogram
    helpdesk_sla_elapsed_business_seconds_bucket{le="300.0",priority="high",sla="resolution"} 0.0
    ...
    helpdesk_sla_elapsed_business_seconds_count{priority="high",sla="resolution"} 12.0
    helpdesk_sla_elapsed_business_seconds_sum{priority="high",sla="resolution"} 201840.0
    # HELP helpdesk_up 1 when the last poll of the helpdesk succeeded.
    # TYPE helpdesk_up gauge
    helpdesk_up{source="zendesk"} 1.0
    # HELP helpdesk_exporter_build_info Always 1; the exporter's version.
    # TYPE helpdesk_exporter_build_info gauge
    helpdesk_exporter_build_info{version="0.1.0"} 1.0

In the Prometheus text format a gauge histogram is typed ``histogram`` and
its ``_gcount``/``_gsum`` follow as gauges of their own (``prometheus_client``
does this); in OpenMetrics (``# TYPE ... gaugehistogram``) they stay in the family.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from exporter import __version__, metrics
from exporter.metrics import MetricSpec
from exporter.snapshot import HistogramSample, Sample, Snapshot

log = logging.getLogger(__name__)


class SnapshotProvider(Protocol):
    """Anything that holds the latest snapshot (the poller, or a test double)."""

    @property
    def snapshot(self) -> Snapshot: ...


def _family(spec: MetricSpec) -> Metric:
    """An empty family of the right type for ``spec``."""
    if spec.type == "counter":
        return CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
    if spec.type == "gauge":
        return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
    if spec.type == "histogram":
        return HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
    return GaugeHistogramMetricFamily(spec.name, spec.help, labels=spec.labels)


def _le(bound: float) -> str:
    """A bucket bound as an ``le`` label value: ``300.0``, ``0.5``, ``+Inf``."""
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    return repr(float(bound))


def _buckets(series: HistogramSample) -> list[tuple[str, float]]:
    """Cumulative buckets as ``prometheus_client`` wants them: ``le`` strings, ``+Inf`` last."""
    buckets = [(_le(bound), count) for bound, count in series.buckets]
    buckets.append(("+Inf", series.count))
    return buckets


class SnapshotCollector:
    """Yields one family per :class:`~exporter.metrics.MetricSpec` from ``provider.snapshot``.

    Every family is yielded even when the snapshot has no series for it (an
    empty snapshot before the first poll yields families without samples).
    A series whose label values do not match its metric's label names is a
    bug upstream; it is dropped and logged rather than failing the scrape.
    """

    def __init__(
        self, provider: SnapshotProvider, specs: tuple[MetricSpec, ...] = metrics.ALL
    ) -> None:
        self.provider = provider
        self.specs = specs
        self._warned: set[str] = set()

    def describe(self) -> Iterator[Metric]:
        """Families without samples, so the registry knows every name without a scrape."""
        for spec in self.specs:
            yield _family(spec)

    def collect(self) -> Iterator[Metric]:
        yield from self.families(self.provider.snapshot)

    def families(self, snapshot: Snapshot) -> Iterator[Metric]:
        """The metric families of one snapshot."""
        for spec in self.specs:
            family = _family(spec)
            width = len(spec.labels)
            if isinstance(family, HistogramMetricFamily | GaugeHistogramMetricFamily):
                for series in snapshot.histograms.get(spec.name, ()):
                    if len(series.labels) != width:
                        self._mismatch(spec, series.labels)
                        continue
                    family.add_metric(series.labels, _buckets(series), series.sum)
            elif isinstance(family, CounterMetricFamily | GaugeMetricFamily):
                samples: tuple[Sample, ...] = snapshot.samples.get(spec.name, ())
                if not samples and spec is metrics.BUILD_INFO:
                    samples = (Sample((__version__,), 1.0),)
                for sample in samples:
                    if len(sample.labels) != width:
                        self._mismatch(spec, sample.labels)
                        continue
                    family.add_metric(sample.labels, sample.value)
            yield family

    def _mismatch(self, spec: MetricSpec, labels: tuple[str, ...]) -> None:
        if spec.name in self._warned:
            return
        self._warned.add(spec.name)
        log.error(
            "dropped series with wrong label count metric=%s expected=%d got=%d",
            spec.name,
            len(spec.labels),
            len(labels),
        )


def build_registry(provider: SnapshotProvider) -> CollectorRegistry:
    """A fresh registry serving ``provider``'s snapshots (never the global registry)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(provider))
    return registry
