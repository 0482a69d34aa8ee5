"""A poller on the file source with an injected clock, for the store and poller tests.

Fixtures live in ``tests/fixtures/poller``: ``helpdesk-slo.yml`` (24x7 calendar,
so every duration below is plain wall-clock arithmetic) and one JSON Lines
file per moment of a scripted day.  ``poll(fixture, at)`` copies a fixture over
the source file and polls at ``at``.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from exporter.config import Config, parse_config
from exporter.poller import Poller
from exporter.snapshot import HistogramSample, Snapshot
from exporter.sources.file import FileSource
from exporter.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "poller"


def ts(text: str) -> float:
    """POSIX seconds of an ISO 8601 instant (``2026-11-02T09:00:00Z``)."""
    return datetime.fromisoformat(text).timestamp()


#: The store's epoch in these tests: counters count what happens from here on.
EPOCH = ts("2026-11-02T08:00:00Z")


def load_config(tmp_path: Path, extra: str = "") -> Config:
    text = (FIXTURES / "helpdesk-slo.yml").read_text(encoding="utf-8") + extra
    return parse_config(text, base_dir=tmp_path)


def value(snapshot: Snapshot, name: str, *labels: str) -> float | None:
    """One sample's value, or None when the series is absent."""
    for sample in snapshot.samples.get(name, ()):
        if sample.labels == labels:
            return sample.value
    return None


def histogram(snapshot: Snapshot, name: str, *labels: str) -> HistogramSample | None:
    for sample in snapshot.histograms.get(name, ()):
        if sample.labels == labels:
            return sample
    return None


class Harness:
    """Config, store and poller sharing one settable clock."""

    def __init__(
        self,
        tmp_path: Path,
        extra_config: str = "",
        store_path: Path | None = None,
        epoch: float = EPOCH,
    ):
        self.tmp_path = tmp_path
        self.config = load_config(tmp_path, extra_config)
        self.now = epoch  # a new store's epoch is the clock when it is created
        self.tickets = tmp_path / "tickets.jsonl"
        self.store_path = store_path or self.config.store
        self.store = Store(self.store_path, clock=self.clock)
        self.poller = Poller(self.config, FileSource(self.config.source), self.store, self.clock)

    def clock(self) -> float:
        return self.now

    def poll(self, fixture: str | None, at: str) -> Snapshot:
        """Put ``fixture`` in the source file (None: remove it), poll at ``at``."""
        if fixture is None:
            self.tickets.unlink(missing_ok=True)
        else:
            shutil.copyfile(FIXTURES / fixture, self.tickets)
        self.now = ts(at)
        self.poller.poll_once()
        return self.poller.snapshot

    def restart(self) -> None:
        """A new process on the same store file."""
        self.store.close()
        self.store = Store(self.store_path, clock=self.clock)
        self.poller = Poller(self.config, FileSource(self.config.source), self.store, self.clock)

    def value(self, name: str, *labels: str) -> float | None:
        return value(self.poller.snapshot, name, *labels)

    def totals(self, snapshot: Snapshot | None = None) -> dict[tuple[str, tuple[str, ...]], float]:
        """Every ``*_total`` sample of a snapshot (default: the latest)."""
        snapshot = snapshot or self.poller.snapshot
        return {
            (name, sample.labels): sample.value
            for name, samples in snapshot.samples.items()
            if name.endswith("_total")
            for sample in samples
        }
