"""A running exporter on the demo helpdesk serves the status-time counter, and it grows."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter import metrics
from tests.e2e.process import ServeProcess

CONFIG = """\
service: support
source: {type: demo, poll_interval: 1s}
store: state.db
slas:
  resolution:
    targets: {urgent: 4h, high: 8h, normal: 16h, low: 32h}
"""


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[ServeProcess]:
    config = tmp_path / "helpdesk-slo.yml"
    config.write_text(CONFIG, encoding="utf-8")
    process = ServeProcess(tmp_path, config)
    try:
        yield process
    finally:
        process.stop()


def _status_seconds(exporter: ServeProcess) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["status"], sample.labels["priority"]): sample.value
        for family in text_string_to_metric_families(exporter.metrics_text())
        for sample in family.samples
        if sample.name == metrics.TICKET_STATUS_SECONDS.name
    }


def test_the_status_counter_grows_from_poll_to_poll(exporter: ServeProcess) -> None:
    seen: list[dict[tuple[str, str], float]] = []

    def grown() -> bool:
        current = _status_seconds(exporter)
        if current and sum(current.values()) > 0:  # once the first poll has accrued something
            seen.append(current)
        return len(seen) > 1 and sum(seen[-1].values()) > sum(seen[0].values())

    exporter.wait_until("the status counter grows", grown, timeout=60)
    assert len(seen[-1]) == 16  # every status group of every priority
    for before, after in itertools.pairwise(seen):
        assert all(after[labels] >= value for labels, value in before.items())
