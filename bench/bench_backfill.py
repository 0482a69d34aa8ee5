"""Backfill throughput: N tickets of history to OpenMetrics (target: 1M in < 60 s).

Tickets come from the demo helpdesk (28 days, deterministic), cloned with new
ids and shifted back in time until there are N of them, written as JSON Lines
for a ``file`` source; then ``exporter.backfill.backfill`` runs over them with
the demo's SLAs and SLOs and a 5-minute step.

    python bench/bench_backfill.py --tickets 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from exporter.backfill import backfill
from exporter.config import default_config, parse_config
from exporter.demo_config import DEMO_CONFIG
from exporter.model import Ticket, ticket_to_json
from exporter.sources.demo import DemoSource

DAY = 86400.0


def shifted(ticket: Ticket, copy: int, shift: timedelta) -> Ticket:
    return dataclasses.replace(
        ticket,
        id=f"{ticket.id}-{copy}",
        created_at=ticket.created_at - shift,
        events=tuple(dataclasses.replace(e, at=e.at - shift) for e in ticket.events),
        native=(),
    )


def write_tickets(path: Path, count: int, now: float, days: int) -> float:
    """Write ``count`` tickets spread over ``days`` days of history; returns the span in days."""
    demo = default_config()
    source = DemoSource(demo.source)
    base = source.poll(None, now).tickets
    base = [t for t in base if t.is_closed]
    written = copy = 0
    with path.open("w", encoding="utf-8") as handle:
        while written < count:
            # copies land on the same weekdays, spread over the history, minutes apart
            shift = timedelta(days=7 * (copy % max(1, (days - 28) // 7)), minutes=copy % 1440)
            for ticket in base:
                handle.write(json.dumps(ticket_to_json(shifted(ticket, copy, shift))) + "\n")
                written += 1
                if written == count:
                    break
            copy += 1
    return float(days)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90, help="history span (default 90)")
    args = parser.parse_args()
    now = float(int(time.time() // 300 * 300))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        tickets = directory / "tickets.jsonl"
        started = time.perf_counter()
        days = write_tickets(tickets, args.tickets, now, args.days)
        setup = time.perf_counter() - started
        text = DEMO_CONFIG.replace("type: demo", f"type: file\n  path: {tickets}")
        config = parse_config(text, base_dir=directory)
        started = time.perf_counter()
        result = backfill(config, days * DAY, directory / "history.om", 300.0, now=now)
        elapsed = time.perf_counter() - started
        size = (directory / "history.om").stat().st_size
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print("| tickets | days | series | samples | output | backfill time | tickets/s | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {result.tickets:,} | {days:.0f} | {result.series} | {result.samples:,} | "
        f"{size / 1e6:.0f} MB | {elapsed:.1f} s | {result.tickets / elapsed:,.0f} | "
        f"{rss:.0f} MB |"
    )
    print(f"(setup, writing the JSON Lines: {setup:.1f} s)")


if __name__ == "__main__":
    main()
