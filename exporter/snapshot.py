"""The immutable set of metric values the poller publishes and the collector serves.

The poller builds a new :class:`Snapshot` after every poll (and on its own
refresh ticks) and swaps it in atomically; a scrape only reads the latest one,
so it never calls the helpdesk and never does more than format what is here.
Values are keyed by the metric names of :mod:`exporter.metrics`; label values
are given in the order of that metric's ``labels``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Sample:
    labels: tuple[str, ...]
    value: float


@dataclass(frozen=True, slots=True)
class HistogramSample:
    """One histogram (or gauge histogram) series.

    ``buckets`` are cumulative ``(upper bound, count)`` pairs in increasing
    order, without ``+Inf`` (which is ``count``).
    """

    labels: tuple[str, ...]
    buckets: tuple[tuple[float, float], ...]
    count: float
    sum: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: float
    samples: Mapping[str, tuple[Sample, ...]] = field(default_factory=dict)
    histograms: Mapping[str, tuple[HistogramSample, ...]] = field(default_factory=dict)
    #: True once a poll has succeeded in this process (``/ready`` also wants it recent)
    ready: bool = False


EMPTY = Snapshot(taken_at=0.0)
