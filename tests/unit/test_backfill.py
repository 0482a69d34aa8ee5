"""``helpdesk-slo backfill``: OpenMetrics history that promtool turns into blocks."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from exporter.backfill import backfill
from exporter.cli import main
from exporter.config import parse_config
from exporter.labels import CHANNELS
from exporter.model import ticket_to_json
from exporter.poller import Poller
from exporter.records import SkipReason
from exporter.slo import Evaluator
from exporter.sources.file import FileSource
from exporter.store import Store
from tests.builders import OFFICE_CONFIG, auto_ack, csat, reply, solved, ticket, ts
from tests.tools import require_binary

NOW = ts("2026-11-06 18:00")
TICKETS = [
    # urgent-first-response: good (20m), bad (decided at 09:30 on Nov 2)
    ticket("2026-11-02 09:00", auto_ack("2026-11-02 09:00:05"), reply("2026-11-02 09:20"), id="1"),
    ticket("2026-11-02 09:00", reply("2026-11-02 10:30"), solved("2026-11-02 11:00"), id="2"),
    ticket(
        "2026-11-03 09:00",
        reply("2026-11-03 09:10"),
        solved("2026-11-03 10:00"),
        csat("2026-11-03 12:00", "bad"),
        priority="high",
        channel="email",
        id="3",
    ),
]


def setup(tmp_path: Path) -> Path:
    (tmp_path / "tickets.jsonl").write_text(
        "".join(json.dumps(ticket_to_json(t)) + "\n" for t in TICKETS)
    )
    config = tmp_path / "helpdesk-slo.yml"
    config.write_text(OFFICE_CONFIG + f"store: {tmp_path / 'state.db'}\n")
    return config


def series(text: str) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, value, stamp = line.rsplit(" ", 2)
        found.setdefault(name, []).append((int(stamp), int(value)))
    return found


def last(found: dict[str, list[tuple[int, int]]], name: str) -> int:
    return found[name][-1][1]


def test_counters_end_with_every_decided_outcome(tmp_path: Path) -> None:
    config = parse_config(setup(tmp_path).read_text(), base_dir=tmp_path)
    out = tmp_path / "history.om"
    result = backfill(config, 7 * 86400, out, step=300, now=NOW, extra_labels={"job": "hs"})
    text = out.read_text()
    assert text.endswith("# EOF\n")
    found = series(text)
    ufr = 'helpdesk_slo_events_total{job="hs",result="%s",slo="urgent-first-response"}'
    assert last(found, ufr % "good") == 1
    assert last(found, ufr % "bad") == 1
    assert last(found, 'helpdesk_csat_ratings_total{job="hs",rating="bad"}') == 1
    assert (
        last(found, 'helpdesk_tickets_created_total{channel="email",job="hs",priority="high"}') == 1
    )
    # the bad outcome was decided at the threshold instant, 09:30 on Nov 2
    steps = found[ufr % "bad"]
    first_bad = next(stamp for stamp, value in steps if value == 1)
    assert first_bad == int(ts("2026-11-02 09:30"))
    assert result.end == NOW and result.start == NOW - 7 * 86400


def test_every_series_is_in_time_order_and_counters_never_fall(tmp_path: Path) -> None:
    config = parse_config(setup(tmp_path).read_text(), base_dir=tmp_path)
    out = tmp_path / "history.om"
    backfill(config, 3 * 86400, out, step=600, now=NOW)
    for name, samples in series(out.read_text()).items():
        stamps = [s for s, _ in samples]
        values = [v for _, v in samples]
        assert stamps == sorted(stamps), name
        assert values == sorted(values), name


def test_history_ends_where_the_live_store_begins(tmp_path: Path) -> None:
    config = parse_config(setup(tmp_path).read_text(), base_dir=tmp_path)
    epoch = ts("2026-11-04 00:00")
    Store(config.store, clock=lambda: epoch).close()
    out = tmp_path / "history.om"
    result = backfill(config, 86400, out, step=300, now=NOW)
    assert result.end == epoch
    stamps = {stamp for samples in series(out.read_text()).values() for stamp, _ in samples}
    assert max(stamps) == int(epoch)


def test_promtool_creates_blocks(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    config = setup(tmp_path)
    out = io.StringIO()
    code = main(
        ["backfill", "--config", str(config), "--since", "2d", "--out", str(tmp_path / "h.om")],
        out=out,
    )
    assert code == 0
    assert re.search(r"wrote .*h\.om: \d+ series", out.getvalue())
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(tmp_path / "h.om"), "data"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "data").iterdir())


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--since", "soon"], id="bad-since"),
        pytest.param(["--since", "1d", "--label", "no-equals"], id="bad-label"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, argv: list[str]) -> None:
    config = setup(tmp_path)
    base = ["backfill", "--config", str(config), "--out", str(tmp_path / "h.om")]
    assert main(base + argv, out=io.StringIO()) == 2


# --- records that cannot be read or evaluated -------------------------------------------------

BAD_LINES = [
    b'{"id": "X", "channel": "\xff"}',  # not UTF-8
    b'{"id": "Y", "created_at": ',  # not JSON
    json.dumps({"id": "Z", "created_at": "0001-01-01T00:00:00Z"}).encode(),  # year 0001
]


def setup_with_bad_records(tmp_path: Path) -> Path:
    config = setup(tmp_path)
    good = [json.dumps(ticket_to_json(t)).encode() for t in TICKETS]
    odd = ticket("2026-11-04 09:00", id="4", priority="normal", channel="x" * 1_000_000)
    odd_line = json.dumps({**ticket_to_json(odd), "status": "waiting-on-vendor"}).encode()
    lines = [good[0], *BAD_LINES, good[1], odd_line, good[2]]
    (tmp_path / "tickets.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return config


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "worker-processes"])
def test_bad_records_are_skipped_and_reported(tmp_path: Path, workers: int) -> None:
    config = parse_config(setup_with_bad_records(tmp_path).read_text(), base_dir=tmp_path)
    out = tmp_path / "history.om"
    result = backfill(config, 7 * 86400, out, step=300, now=NOW, workers=workers)
    assert result.tickets == 4
    assert result.problems == 3
    assert result.skipped == {
        SkipReason.UNDECODABLE: 1,
        SkipReason.INVALID: 1,
        SkipReason.OUT_OF_RANGE: 1,
    }
    found = series(out.read_text())
    ufr = 'helpdesk_slo_events_total{result="%s",slo="urgent-first-response"}'
    assert last(found, ufr % "good") == 1 and last(found, ufr % "bad") == 1
    assert last(found, 'helpdesk_tickets_created_total{channel="other",priority="normal"}') == 1
    channels = {m[1] for m in re.finditer(r'channel="([^"]*)"', out.read_text())}
    assert channels <= set(CHANNELS)


def test_a_ticket_that_cannot_be_evaluated_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clocks = Evaluator.clocks

    def broken_for_2(self: Evaluator, t: Any, metric: str, at: float) -> Any:
        if t.id == "2":
            raise ZeroDivisionError("float division by zero")
        return clocks(self, t, metric, at)

    monkeypatch.setattr(Evaluator, "clocks", broken_for_2)
    config = parse_config(setup(tmp_path).read_text(), base_dir=tmp_path)
    out = tmp_path / "history.om"
    result = backfill(config, 7 * 86400, out, step=300, now=NOW, workers=1)
    assert result.skipped == {SkipReason.EVALUATION: 1}
    found = series(out.read_text())
    ufr = 'helpdesk_slo_events_total{result="%s",slo="urgent-first-response"}'
    assert last(found, ufr % "good") == 1 and last(found, ufr % "bad") == 0
    created = 'helpdesk_tickets_created_total{channel="none",priority="urgent"}'
    assert last(found, created) == 1  # ticket 1 only: nothing of ticket 2 is written


def test_the_backfill_command_reports_skipped_records(tmp_path: Path) -> None:
    config = setup_with_bad_records(tmp_path)
    out = io.StringIO()
    argv = ["backfill", "--config", str(config), "--since", "2d", "--out", str(tmp_path / "h.om")]
    assert main(argv, out=out) == 0
    assert "(4 tickets, 3 skipped records)" in out.getvalue()


@pytest.mark.parametrize(
    "breakdown",
    ["", "exporter:\n  breakdown:\n    channel: [email, chat]\n"],
    ids=["no-channel-breakdown", "channel-allowlist"],
)
def test_backfill_writes_the_counter_series_the_live_exporter_publishes(
    tmp_path: Path, breakdown: str
) -> None:
    path = setup(tmp_path)
    (tmp_path / "tickets.jsonl").write_text("")  # only the series that exist from the start
    if breakdown:
        path.write_text(path.read_text() + breakdown)
    config = parse_config(path.read_text(), base_dir=tmp_path)
    out = tmp_path / "history.om"
    backfill(config, 7 * 86400, out, step=300, now=NOW, workers=1)
    written = {
        re.sub(r"\{.*", "", name) + "{" + ",".join(sorted(re.findall(r'"([^"]*)"', name))) + "}"
        for name in series(out.read_text())
    }
    store = Store(tmp_path / "live.db")
    try:
        poller = Poller(config, FileSource(config.source), store, clock=lambda: NOW)
        poller.poll_once()
        samples = poller.snapshot.samples
    finally:
        store.close()
    counters = ("helpdesk_slo_events_total", "helpdesk_sla_outcomes_total")
    counters += ("helpdesk_csat_ratings_total", "helpdesk_tickets_created_total")
    counters += ("helpdesk_tickets_solved_total",)
    live = {
        name + "{" + ",".join(sorted(sample.labels)) + "}"
        for name in counters
        for sample in samples[name]
    }
    assert written == live
