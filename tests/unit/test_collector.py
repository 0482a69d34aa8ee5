"""The collector: every metric of exporter.metrics, served from a hand-built snapshot.

Values are read back with ``registry.get_sample_value`` as the
``prometheus_client`` tests do; exposition text is only parsed back, never
compared as strings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter import __version__, metrics
from exporter.collector import SnapshotCollector, build_registry
from exporter.metrics import MetricSpec
from exporter.snapshot import EMPTY, HistogramSample, Sample, Snapshot

SCALARS = [spec for spec in metrics.ALL if spec.type in ("counter", "gauge")]
HISTOGRAMS = [spec for spec in metrics.ALL if spec.type in ("histogram", "gaugehistogram")]


@dataclass
class Holder:
    """Stands in for the poller: anything with a ``snapshot`` attribute."""

    snapshot: Snapshot


def label_values(spec: MetricSpec, suffix: str = "") -> tuple[str, ...]:
    return tuple(f"{name}-value{suffix}" for name in spec.labels)


def one_of_each() -> Snapshot:
    """One series per scalar metric, valued by its position in metrics.ALL (1-based)."""
    samples = {
        spec.name: (Sample(label_values(spec), float(metrics.ALL.index(spec) + 1)),)
        for spec in SCALARS
    }
    return Snapshot(taken_at=1_700_000_000.0, samples=samples, ready=True)


@pytest.mark.parametrize("spec", SCALARS, ids=lambda s: s.name)
def test_scalar_metric_is_served_with_its_labels_in_declared_order(spec: MetricSpec) -> None:
    registry = build_registry(Holder(one_of_each()))
    labels = dict(zip(spec.labels, label_values(spec), strict=True))
    assert registry.get_sample_value(spec.name, labels) == metrics.ALL.index(spec) + 1


@pytest.mark.parametrize("spec", metrics.ALL, ids=lambda s: s.name)
def test_family_carries_the_declared_type_and_help(spec: MetricSpec) -> None:
    families = {f.name: f for f in SnapshotCollector(Holder(EMPTY)).collect()}
    family = families[spec.name.removesuffix("_total")]
    assert family.type == spec.type
    assert family.documentation == spec.help


def test_families_come_in_declared_order() -> None:
    names = [f.name for f in SnapshotCollector(Holder(one_of_each())).collect()]
    assert names == [spec.name.removesuffix("_total") for spec in metrics.ALL]


def test_label_values_follow_the_metric_label_order() -> None:
    snapshot = Snapshot(
        taken_at=0.0,
        samples={metrics.SLA_OPEN_TIMERS.name: (Sample(("resolution", "high", "paused"), 4.0),)},
    )
    registry = build_registry(Holder(snapshot))
    value = registry.get_sample_value(
        "helpdesk_sla_open_timers", {"state": "paused", "priority": "high", "sla": "resolution"}
    )
    assert value == 4.0
    swapped = {"sla": "high", "priority": "resolution", "state": "paused"}
    assert registry.get_sample_value("helpdesk_sla_open_timers", swapped) is None


def test_counter_samples_keep_their_total_suffix() -> None:
    snapshot = Snapshot(
        taken_at=0.0,
        samples={metrics.SLO_EVENTS.name: (Sample(("urgent-first-response", "bad"), 2.0),)},
    )
    registry = build_registry(Holder(snapshot))
    labels = {"slo": "urgent-first-response", "result": "bad"}
    assert registry.get_sample_value("helpdesk_slo_events_total", labels) == 2.0
    assert b"helpdesk_slo_events_total_total" not in generate_latest(registry)


ELAPSED = HistogramSample(
    labels=("first_response", "urgent"),
    buckets=((300.0, 1.0), (900.0, 3.0), (3600.0, 3.0)),
    count=4.0,
    sum=9000.0,
)
TIME_TO_BREACH = HistogramSample(
    labels=("resolution", "normal"),
    buckets=((0.0, 0.0), (300.0, 2.0), (1800.0, 5.0)),
    count=6.0,
    sum=12345.0,
)
TIME_TO_THRESHOLD = HistogramSample(
    labels=("urgent-first-response",),
    buckets=((0.0, 1.0), (600.0, 2.0), (1800.0, 3.0)),
    count=3.0,
    sum=900.0,
)


def histogram_snapshot() -> Snapshot:
    return Snapshot(
        taken_at=0.0,
        histograms={
            metrics.SLA_ELAPSED.name: (ELAPSED,),
            metrics.SLA_TIME_TO_BREACH.name: (TIME_TO_BREACH,),
            metrics.SLO_TIME_TO_THRESHOLD.name: (TIME_TO_THRESHOLD,),
        },
    )


@pytest.mark.parametrize(
    ("sample", "labels", "expected"),
    [
        ("_bucket", {"le": "300.0"}, 1.0),
        ("_bucket", {"le": "900.0"}, 3.0),
        ("_bucket", {"le": "3600.0"}, 3.0),
        ("_bucket", {"le": "+Inf"}, 4.0),
        ("_count", {}, 4.0),
        ("_sum", {}, 9000.0),
    ],
    ids=["le-300", "le-900", "le-3600", "le-inf-is-count", "count", "sum"],
)
def test_histogram_series(sample: str, labels: dict[str, str], expected: float) -> None:
    registry = build_registry(Holder(histogram_snapshot()))
    name = metrics.SLA_ELAPSED.name + sample
    full = {"sla": "first_response", "priority": "urgent", **labels}
    assert registry.get_sample_value(name, full) == expected


@pytest.mark.parametrize(
    ("sample", "labels", "expected"),
    [
        ("_bucket", {"le": "0.0"}, 0.0),
        ("_bucket", {"le": "300.0"}, 2.0),
        ("_bucket", {"le": "1800.0"}, 5.0),
        ("_bucket", {"le": "+Inf"}, 6.0),
        ("_gcount", {}, 6.0),
        ("_gsum", {}, 12345.0),
    ],
    ids=["le-0", "le-300", "le-1800", "le-inf-is-count", "gcount", "gsum"],
)
def test_gauge_histogram_series(sample: str, labels: dict[str, str], expected: float) -> None:
    registry = build_registry(Holder(histogram_snapshot()))
    name = metrics.SLA_TIME_TO_BREACH.name + sample
    full = {"sla": "resolution", "priority": "normal", **labels}
    assert registry.get_sample_value(name, full) == expected


def test_histogram_has_no_gauge_suffixes_and_gauge_histogram_no_counter_ones() -> None:
    registry = build_registry(Holder(histogram_snapshot()))
    elapsed = {"sla": "first_response", "priority": "urgent"}
    breach = {"sla": "resolution", "priority": "normal"}
    assert registry.get_sample_value(metrics.SLA_ELAPSED.name + "_gcount", elapsed) is None
    assert registry.get_sample_value(metrics.SLA_TIME_TO_BREACH.name + "_count", breach) is None


def test_empty_snapshot_yields_every_family_without_samples() -> None:
    registry = build_registry(Holder(EMPTY))
    families = list(registry.collect())
    assert len(families) == len(metrics.ALL)
    with_samples = {f.name for f in families if f.samples}
    assert with_samples == {metrics.BUILD_INFO.name}
    assert generate_latest(registry)
    assert generate_openmetrics(registry).endswith(b"# EOF\n")


def test_build_info_defaults_to_the_running_version() -> None:
    registry = build_registry(Holder(EMPTY))
    assert registry.get_sample_value(metrics.BUILD_INFO.name, {"version": __version__}) == 1.0


def test_build_info_from_the_snapshot_wins() -> None:
    snapshot = Snapshot(taken_at=0.0, samples={metrics.BUILD_INFO.name: (Sample(("9.9.9",), 1.0),)})
    registry = build_registry(Holder(snapshot))
    assert registry.get_sample_value(metrics.BUILD_INFO.name, {"version": "9.9.9"}) == 1.0
    assert registry.get_sample_value(metrics.BUILD_INFO.name, {"version": __version__}) is None


def test_each_scrape_reads_the_latest_snapshot() -> None:
    holder = Holder(EMPTY)
    registry = build_registry(holder)
    assert registry.get_sample_value("helpdesk_up", {"source": "file"}) is None
    holder.snapshot = Snapshot(taken_at=1.0, samples={metrics.UP.name: (Sample(("file",), 0.0),)})
    assert registry.get_sample_value("helpdesk_up", {"source": "file"}) == 0.0
    holder.snapshot = Snapshot(taken_at=2.0, samples={metrics.UP.name: (Sample(("file",), 1.0),)})
    assert registry.get_sample_value("helpdesk_up", {"source": "file"}) == 1.0


def test_series_with_the_wrong_label_count_is_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    snapshot = Snapshot(
        taken_at=0.0,
        samples={
            metrics.TICKETS_OPEN.name: (
                Sample(("urgent",), 1.0),  # priority only: status missing
                Sample(("urgent", "open"), 2.0),
            )
        },
        histograms={metrics.SLA_ELAPSED.name: (HistogramSample(("x",), (), 0.0, 0.0),)},
    )
    registry = build_registry(Holder(snapshot))
    with caplog.at_level(logging.ERROR, logger="exporter.collector"):
        exposition = generate_latest(registry)
    assert (
        registry.get_sample_value("helpdesk_tickets_open", {"priority": "urgent", "status": "open"})
        == 2.0
    )
    assert b'helpdesk_tickets_open{priority="urgent"}' not in exposition
    assert "metric=helpdesk_tickets_open" in caplog.text
    assert "metric=helpdesk_sla_elapsed_business_seconds" in caplog.text


def test_registry_is_private_and_the_global_one_stays_clean() -> None:
    registry = build_registry(Holder(one_of_each()))
    assert registry is not REGISTRY
    assert REGISTRY.get_sample_value("helpdesk_up", {"source": "source-value"}) is None
    assert registry.get_sample_value("python_info") is None


def test_registry_knows_every_name_without_scraping_for_name_filters() -> None:
    registry = build_registry(Holder(one_of_each()))
    restricted = registry.restricted_registry(["helpdesk_up"])
    names = {s.name for family in restricted.collect() for s in family.samples}
    assert names == {"helpdesk_up"}


def test_full_snapshot_round_trips_through_openmetrics() -> None:
    snapshot = Snapshot(
        taken_at=0.0,
        samples=one_of_each().samples,
        histograms=histogram_snapshot().histograms,
    )
    text = generate_openmetrics(build_registry(Holder(snapshot))).decode()
    parsed = {family.name: family for family in text_string_to_metric_families(text)}
    assert set(parsed) == {spec.name.removesuffix("_total") for spec in metrics.ALL}
    breach = parsed[metrics.SLA_TIME_TO_BREACH.name]
    assert breach.type == "gaugehistogram"
    assert {s.name for s in breach.samples} == {
        "helpdesk_sla_time_to_breach_seconds_bucket",
        "helpdesk_sla_time_to_breach_seconds_gcount",
        "helpdesk_sla_time_to_breach_seconds_gsum",
    }


@pytest.mark.parametrize("spec", HISTOGRAMS, ids=lambda s: s.name)
def test_histograms_declare_their_labels_plus_le(spec: MetricSpec) -> None:
    registry = build_registry(Holder(histogram_snapshot()))
    buckets = [
        s
        for family in registry.collect()
        for s in family.samples
        if s.name == spec.name + "_bucket"
    ]
    assert buckets
    assert all(set(s.labels) == {*spec.labels, "le"} for s in buckets)
