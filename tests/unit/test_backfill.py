"""``helpdesk-slo backfill``: OpenMetrics history that promtool turns into blocks."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pytest

from exporter.backfill import backfill
from exporter.cli import main
from exporter.config import parse_config
from exporter.model import ticket_to_json
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
