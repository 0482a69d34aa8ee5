"""Counters across restarts, on a real ``serve`` and judged by a real promtool.

A file source holds tickets scripted a few seconds into the future (events
after "now" are not seen until their time comes), on a 24x7 calendar with a
3-second SLO threshold, so outcomes are decided while the test watches:

    t0+2   tickets a, b created         t0+12  tickets c, d created
    t0+3   a answered      -> good       t0+13  c answered      -> good
    t0+5   b unanswered    -> bad        t0+15  d unanswered    -> bad (answered t0+20)

Run A (new store, epoch about t0) sees a and b; run B restarts on the same
store and sees c and d; run C starts on a new store (a lost volume), whose
epoch is after every decision, so its counters start at 0.  Scraped values go
into a promtool test as one series per counter, one sample a minute in the
order they were scraped: ``increase()`` over the whole series must equal the
number of outcomes actually decided while it was observed — the restart adds
nothing and loses nothing, and the lost store is an ordinary counter reset.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_serve import Exporter, sample
from tests.tools import require_binary

CONFIG = """\
source: {type: file, path: tickets.jsonl, poll_interval: 1s}
store: state.db
slas:
  first_response:
    targets: {urgent: 1h}
slos:
  - name: urgent-reply
    sla: first_response
    threshold: 3s
    objective: 90%
"""
SERIES = 'helpdesk_slo_events_total{{result="{result}",slo="urgent-reply"}}'


def iso(instant: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(instant))


def scripted_tickets(t0: float) -> list[dict[str, object]]:
    def created(ticket_id: str, at: float, reply: float | None) -> dict[str, object]:
        events = [] if reply is None else [{"at": iso(reply), "type": "agent_reply"}]
        return {"id": ticket_id, "created_at": iso(at), "priority": "urgent", "events": events}

    return [
        created("a", t0 + 2, t0 + 3),
        created("b", t0 + 2, None),
        created("c", t0 + 12, t0 + 13),
        created("d", t0 + 12, t0 + 20),
    ]


def counts(exporter: Exporter) -> tuple[float, float]:
    text = exporter.metrics()
    good = sample(text, "helpdesk_slo_events_total", {"slo": "urgent-reply", "result": "good"})
    bad = sample(text, "helpdesk_slo_events_total", {"slo": "urgent-reply", "result": "bad"})
    assert good is not None and bad is not None
    return good, bad


def wait_for(exporter: Exporter, expected: tuple[float, float], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if counts(exporter) == expected:
            return
        time.sleep(0.2)
    pytest.fail(f"counters never reached {expected}, last {counts(exporter)}:\n{exporter.log}")


@pytest.fixture
def exporters() -> Iterator[list[Exporter]]:
    started: list[Exporter] = []
    yield started
    for exporter in started:
        exporter.kill()


def start(directory: Path, started: list[Exporter]) -> Exporter:
    exporter = Exporter(directory, ["--config", str(directory / "helpdesk-slo.yml")])
    started.append(exporter)
    exporter.wait_until("/ready")
    return exporter


def test_restart_keeps_counters_and_increase_counts_only_new_events(
    tmp_path: Path, exporters: list[Exporter]
) -> None:
    promtool = require_binary("promtool")
    (tmp_path / "helpdesk-slo.yml").write_text(CONFIG)
    t0 = float(int(time.time()))
    (tmp_path / "tickets.jsonl").write_text(
        "".join(json.dumps(t) + "\n" for t in scripted_tickets(t0))
    )
    scraped: list[tuple[float, float]] = []

    run_a = start(tmp_path, exporters)
    scraped.append(counts(run_a))
    wait_for(run_a, (1, 1))
    scraped.append(counts(run_a))
    assert run_a.stop() == 0

    run_b = start(tmp_path, exporters)
    after_restart = counts(run_b)
    # the same store gives the same counters: nothing lost, nothing counted twice
    assert after_restart == scraped[-1]
    scraped.append(after_restart)
    wait_for(run_b, (2, 2))
    scraped.append(counts(run_b))
    assert run_b.stop() == 0

    (tmp_path / "state.db").unlink()
    for leftover in tmp_path.glob("state.db-*"):
        leftover.unlink()
    run_c = start(tmp_path, exporters)
    scraped.append(counts(run_c))
    assert scraped[-1] == (0, 0), "a new store starts every counter at 0"
    assert run_c.stop() == 0

    # every outcome decided while the series was observed: a, b (run A), c, d (run B)
    decided_while_observed = (2 - scraped[0][0], 2 - scraped[0][1])
    minutes = len(scraped) - 1
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": SERIES.format(result=result),
                        "values": " ".join(str(int(s[index])) for s in scraped),
                    }
                    for index, result in enumerate(("good", "bad"))
                ],
                "promql_expr_test": [
                    {
                        "expr": f"increase({SERIES.format(result=result)}[{minutes}m])",
                        "eval_time": f"{minutes}m",
                        "exp_samples": [
                            {
                                "labels": f'{{result="{result}",slo="urgent-reply"}}',
                                "value": decided_while_observed[index],
                            }
                        ],
                    }
                    for index, result in enumerate(("good", "bad"))
                ],
            }
        ],
    }
    test_file = tmp_path / "restart.test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run(
        [promtool, "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{test_file.read_text()}\n{done.stdout}{done.stderr}"
