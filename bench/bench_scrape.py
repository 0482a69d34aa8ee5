"""/metrics: render cost at 1k vs 100k open tickets, and 50 concurrent scrapers.

**Render.**  For each ticket count, a real :class:`~exporter.poller.Poller`
(store in a temporary SQLite file) polls a synthetic source once and the
resulting snapshot is rendered by the collector, uncached, ``--renders``
times in each format: Prometheus text, OpenMetrics, and text + gzip (what
Prometheus asks for).  That is the cost of the first scrape after a new
snapshot; later scrapes of the same snapshot are served from the server's
per-snapshot cache (the "cached" column: ``ExporterApp.handle`` end to end,
without the socket).  The config is the built-in demo's (3 SLAs, 4 priorities,
its SLOs) with the opt-in per-ticket deadline series at their maximum
(``top_deadlines: 50``), the largest snapshot a config of that shape gives.

Synthetic tickets are all open, created over the last five days, with the
demo's priority and channel mix; about half have an auto-acknowledgement and
a first human reply, a quarter wait on the customer (pending) — so running,
paused and breached clocks all occur.  Snapshots hold aggregates, so the
series count, and with it the render cost, should not grow with tickets.

**Load.**  ``helpdesk-slo serve`` runs as a separate process on 127.0.0.1 with
a file source of the larger ticket count (``poll_interval: 15s``, so polls and
gauge refreshes run during the test).  ``--scrapers`` scrapers (threads spread
over ``--processes`` client processes, so the clients do not share one GIL)
each request /metrics back to back on a keep-alive connection, with
Prometheus's ``Accept`` (OpenMetrics) and ``Accept-Encoding: gzip`` headers,
for ``--seconds``.  A scraper never waits between requests: this is far
harsher than Prometheus, which scrapes a target once per scrape interval.
Errors are non-200 answers and failed connections; latency is request sent to
body read.  Client and server share the machine's cores.

    python bench/bench_scrape.py [--tickets 1000,100000] [--scrapers 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)

from exporter.collector import build_registry
from exporter.config import parse_config
from exporter.demo_config import DEMO_CONFIG
from exporter.model import (
    Author,
    EventType,
    Priority,
    Ticket,
    TicketEvent,
    ticket_to_json,
)
from exporter.poller import Poller
from exporter.sources.base import PollResult
from exporter.store import Store
from exporter.web.app import ExporterApp

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PRIORITIES = ((Priority.URGENT, 5), (Priority.HIGH, 20), (Priority.NORMAL, 55), (Priority.LOW, 20))
CHANNELS = (("email", 40), ("web", 30), ("chat", 18), ("phone", 12))
GROUPS = ("tier1", "tier2", "billing")


# --- synthetic tickets --------------------------------------------------------------------------


def synthetic_tickets(count: int, now: float, seed: int = 1) -> list[Ticket]:
    """``count`` open tickets created over the five days before ``now``."""
    rng = random.Random(seed)
    priorities = [p for p, _ in PRIORITIES]
    priority_weights = [w for _, w in PRIORITIES]
    channels = [c for c, _ in CHANNELS]
    channel_weights = [w for _, w in CHANNELS]
    tickets = []
    for number in range(count):
        created = now - rng.uniform(60, 5 * 86400)
        at = datetime.fromtimestamp(created, UTC)
        events: list[TicketEvent] = []
        status = "new"
        if rng.random() < 0.7:
            events.append(
                TicketEvent(at + timedelta(seconds=5), EventType.AGENT_REPLY, automated=True)
            )
        if rng.random() < 0.5:
            reply = at + timedelta(seconds=rng.uniform(300, min(86400, now - created)))
            events.append(TicketEvent(reply, EventType.ASSIGNED))
            events.append(TicketEvent(reply, EventType.AGENT_REPLY, author=Author.AGENT))
            status = "open"
            if rng.random() < 0.5:
                events.append(
                    TicketEvent(reply + timedelta(seconds=30), EventType.STATUS, to="pending")
                )
                status = "pending"
        tickets.append(
            Ticket(
                id=str(100_000_000 + number),
                created_at=at,
                status=status,
                priority=rng.choices(priorities, priority_weights)[0],
                channel=rng.choices(channels, channel_weights)[0],
                group=rng.choice(GROUPS),
                type="question",
                events=tuple(sorted(events, key=lambda e: e.at)),
            )
        )
    return tickets


class SyntheticSource:
    """Returns every ticket on the first poll, nothing afterwards."""

    name = "bench"

    def __init__(self, tickets: list[Ticket]) -> None:
        self.tickets = tickets

    def poll(self, cursor: str | None, now: float) -> PollResult:
        if cursor is not None:
            return PollResult([], cursor, now)
        return PollResult(self.tickets, "all", now, requests=1)


def bench_config_text(tickets: Path | None = None) -> str:
    """The demo's config with the per-ticket deadline series at their maximum (50)."""
    text = DEMO_CONFIG.replace("top_deadlines: 10", "top_deadlines: 50")
    if tickets is not None:
        text = text.replace("source:\n  type: demo", f'source:\n  type: file\n  path: "{tickets}"')
    assert "top_deadlines: 50" in text and (tickets is None or "type: file" in text)
    return text


# --- render -------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(render: object, repeats: int) -> list[float]:
    assert callable(render)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        render()
        times.append((time.perf_counter() - started) * 1000)
    return times


def render_row(count: int, renders: int, directory: Path) -> dict[str, float]:
    now = time.time()
    tickets = synthetic_tickets(count, now)
    store = Store(directory / f"render-{count}.db")
    config = parse_config(bench_config_text()).model_copy(update={"store": store.path})
    poller = Poller(config, SyntheticSource(tickets), store, clock=lambda: now)
    started = time.perf_counter()
    poller.poll_once()
    poll_seconds = time.perf_counter() - started
    registry = build_registry(poller)
    text = generate_latest(registry)
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    text_ms = timed(lambda: generate_latest(registry), renders)
    om_ms = timed(lambda: generate_openmetrics(registry), renders)
    gzip_ms = timed(lambda: gzip.compress(generate_latest(registry)), renders)
    app = ExporterApp(poller, config, registry=registry)
    app.handle("GET", "/metrics", accept=PROMETHEUS_ACCEPT, accept_encoding="gzip")
    cached_ms = timed(
        lambda: app.handle("GET", "/metrics", accept=PROMETHEUS_ACCEPT, accept_encoding="gzip"),
        renders,
    )
    store.close()
    return {
        "tickets": count,
        "live": poller.live_count,
        "poll_s": poll_seconds,
        "series": series,
        "bytes": len(text),
        "gzip_bytes": len(gzip.compress(text)),
        "text_p50": statistics.median(text_ms),
        "text_p99": quantile(text_ms, 0.99),
        "om_p50": statistics.median(om_ms),
        "gzip_p50": statistics.median(gzip_ms),
        "gzip_p99": quantile(gzip_ms, 0.99),
        "cached_p50": statistics.median(cached_ms),
    }


# --- load ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_exporter(count: int, directory: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    tickets = directory / "tickets.jsonl"
    with tickets.open("w", encoding="utf-8") as out:
        for ticket in synthetic_tickets(count, time.time()):
            out.write(json.dumps(ticket_to_json(ticket)) + "\n")
    config = directory / "helpdesk-slo.yml"
    config.write_text(bench_config_text(tickets), encoding="utf-8")
    port = free_port()
    log = directory / "exporter.log"
    script = Path(sys.executable).with_name("helpdesk-slo")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "exporter"]
    process = subprocess.Popen(
        [*command, "serve", "--config", str(config), "--web.listen-address", f"127.0.0.1:{port}"],
        cwd=directory,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"exporter exited:\n{log.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                connection.close()
                return process, port, log
            connection.close()
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("exporter not ready after 600 s")


def scrape_worker(port: int, threads: int, seconds: float, start_at: float) -> dict[str, object]:
    """Runs in a client process: ``threads`` scrapers, back to back, until the time is up."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    first_error: list[str] = []

    def scraper(index: int) -> None:
        time.sleep(max(0.0, start_at - time.time()))
        end = time.monotonic() + seconds
        connection: http.client.HTTPConnection | None = None
        while time.monotonic() < end:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            started = time.perf_counter()
            try:
                connection.request(
                    "GET",
                    "/metrics",
                    headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"},
                )
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise OSError(f"HTTP {response.status}")
                latencies[index].append((time.perf_counter() - started) * 1000)
            except (OSError, http.client.HTTPException) as exc:
                errors[index] += 1
                if not first_error:
                    first_error.append(repr(exc))
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    workers = [threading.Thread(target=scraper, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {
        "latencies": [x for per in latencies for x in per],
        "errors": sum(errors),
        "first_error": first_error[0] if first_error else "",
    }


def load_row(
    count: int, scrapers: int, processes: int, seconds: float, directory: Path
) -> dict[str, object]:
    process, port, log = start_exporter(count, directory)
    try:
        per_process = [scrapers // processes + (i < scrapers % processes) for i in range(processes)]
        start_at = time.time() + 2.0
        with ProcessPoolExecutor(processes) as pool:
            futures = [
                pool.submit(scrape_worker, port, n, seconds, start_at) for n in per_process if n
            ]
            results = [f.result() for f in futures]
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(60)
    latencies = [x for r in results for x in r["latencies"]]  # type: ignore[attr-defined]
    errors = sum(int(r["errors"]) for r in results)  # type: ignore[call-overload]
    first_errors = [str(r["first_error"]) for r in results if r["first_error"]]
    polls = sum(1 for line in log.read_text().splitlines() if "exporter.poller poll " in line)
    return {
        "tickets": count,
        "scrapers": scrapers,
        "seconds": seconds,
        "requests": len(latencies) + errors,
        "errors": errors,
        "first_error": first_errors[0] if first_errors else "",
        "rps": len(latencies) / seconds,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": quantile(latencies, 0.99) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "polls": polls,
        "exit_code": exit_code,
    }


# --- report -------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="1000,100000", help="comma-separated open tickets")
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--processes", type=int, default=5, help="client processes")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    counts = [int(c) for c in args.tickets.split(",")]

    print(f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"- platform: {platform.platform()}, {os.cpu_count()} CPUs ({cpu_model()})")
    print(f"- Python: {platform.python_version()} ({platform.python_implementation()})")
    print(
        f"- renders per format: {args.renders}; load: {args.scrapers} scrapers "
        f"in {args.processes} client processes for {args.seconds:.0f} s"
    )
    with tempfile.TemporaryDirectory(prefix="bench-scrape-") as tmp:
        directory = Path(tmp)
        rows = [render_row(count, args.renders, directory) for count in counts]
        print()
        print(
            "| open tickets | live in poller | first poll | series | bytes (text) | bytes (gzip) "
            "| render text p50 / p99 | render OpenMetrics p50 | text+gzip p50 / p99 "
            "| cached scrape p50 |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['tickets']:,} | {r['live']:,} | {r['poll_s']:.1f} s | {r['series']:,} "
                f"| {r['bytes']:,} | {r['gzip_bytes']:,} "
                f"| {r['text_p50']:.2f} / {r['text_p99']:.2f} ms | {r['om_p50']:.2f} ms "
                f"| {r['gzip_p50']:.2f} / {r['gzip_p99']:.2f} ms "
                f"| {r['cached_p50'] * 1000:.0f} µs |"
            )
        if args.skip_load:
            return
        load_dir = directory / "load"
        load_dir.mkdir()
        row = load_row(max(counts), args.scrapers, args.processes, args.seconds, load_dir)
        print()
        print(
            "| open tickets | scrapers | duration | requests | errors | req/s | p50 | p99 | max "
            "| polls during test | exit on SIGTERM |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(
            f"| {row['tickets']:,} | {row['scrapers']} | {row['seconds']:.0f} s "
            f"| {row['requests']:,} | {row['errors']} | {row['rps']:,.0f} "
            f"| {row['p50']:.1f} ms | {row['p99']:.1f} ms | {row['max']:.1f} ms "
            f"| {row['polls']} | {row['exit_code']} |"
        )
        if row["first_error"]:
            print(f"first error: {row['first_error']}")


if __name__ == "__main__":
    main()
