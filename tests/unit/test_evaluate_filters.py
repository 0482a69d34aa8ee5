"""``evaluate --slo/--state/--priority/--since``: which tickets, clocks and outcomes are shown,
and the summary line per SLO counted from what is shown.

The history is ``tests/fixtures/file_source/office_week.jsonl`` on the office calendar of
``tests.builders.OFFICE_CONFIG``, evaluated at Friday 2026-11-20 16:00 UTC:

=====  ========  =================  ===================================================
id     priority  created (UTC)      clocks at 16:00
=====  ========  =================  ===================================================
101    urgent    Mon 16th 08:10     first_response met (15m), resolution met; rated good
102    urgent    Mon 16th 09:00     first_response breached (2h30m), next_response met,
                                    resolution met; rated bad
103    high      Tue 17th 13:00     first_response met (2h), resolution met
104    normal    Wed 18th 10:00     first_response met (1h), resolution paused (pending)
105    low       Thu 19th 08:00     no SLA target for low: no clock shown
106    urgent    Fri 20th 14:00     first_response breached (no reply), resolution running
=====  ========  =================  ===================================================
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main
from exporter.model import ticket_to_json
from tests.builders import OFFICE_CONFIG, reply, requester, ticket

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "file_source" / "office_week.jsonl"
AT = "2026-11-20T16:00:00Z"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copy(FIXTURE, tmp_path / "tickets.jsonl")
    path = tmp_path / "helpdesk-slo.yml"
    path.write_text(OFFICE_CONFIG)
    return path


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        code = main(list(argv), out=out)
    except SystemExit as exc:  # argparse refusing an argument
        code = int(exc.code or 0)
    return code, out.getvalue()


def table(config: Path, *filters: str) -> tuple[list[list[str]], list[str]]:
    """The ticket rows (split on whitespace) and the summary lines of the table output."""
    code, text = run("evaluate", "--config", str(config), "--at", AT, "--format", "table", *filters)
    assert code == 0
    lines = text.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("TICKET")))
    body = lines[header + 1 :]
    end = body.index("") if "" in body else len(body)
    return [line.split() for line in body[:end]], body[end + 1 :]


def shown_ids(rows: list[list[str]]) -> list[str]:
    return sorted({row[0] for row in rows})


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        pytest.param([], ["101", "102", "103", "104", "105", "106"], id="no-filter"),
        pytest.param(["--priority", "urgent"], ["101", "102", "106"], id="priority"),
        pytest.param(
            ["--priority", "high", "--priority", "normal"], ["103", "104"], id="priorities"
        ),
        # 2 days before Friday 16:00 is Wednesday 16:00
        pytest.param(["--since", "2d"], ["105", "106"], id="since-duration"),
        pytest.param(
            ["--since", "2026-11-18T10:00:00Z"], ["104", "105", "106"], id="since-instant-inclusive"
        ),
        pytest.param(["--slo", "urgent-first-response"], ["101", "102", "106"], id="slo"),
        # low tickets have no resolution target, so the SLO counts no cycle of 105
        pytest.param(["--slo", "resolution"], ["101", "102", "103", "104", "106"], id="slo-sla"),
        pytest.param(["--slo", "csat"], ["101", "102"], id="slo-csat-rated-only"),
        pytest.param(
            ["--slo", "csat", "--slo", "urgent-first-response"],
            ["101", "102", "106"],
            id="slos",
        ),
        pytest.param(["--state", "breached"], ["102", "106"], id="state-breached"),
        pytest.param(["--state", "paused"], ["104"], id="state-paused"),
        pytest.param(["--state", "running"], ["106"], id="state-running"),
        pytest.param(["--state", "paused", "--state", "running"], ["104", "106"], id="states"),
        pytest.param(
            ["--slo", "urgent-first-response", "--state", "met"], ["101"], id="slo-and-state"
        ),
        pytest.param(
            ["--slo", "resolution", "--state", "met"], ["101", "102", "103"], id="slo-sla-and-state"
        ),
        # Monday's tickets were created before Monday 16:00
        pytest.param(["--priority", "urgent", "--since", "4d"], ["106"], id="priority-and-since"),
        pytest.param(
            ["--priority", "urgent", "--state", "met"], ["101", "102"], id="priority-and-state"
        ),
        pytest.param(
            ["--slo", "resolution", "--since", "2026-11-17T00:00:00Z", "--state", "met"],
            ["103"],
            id="slo-since-and-state",
        ),
        pytest.param(
            ["--slo", "urgent-first-response", "--priority", "high"], [], id="nothing-matches"
        ),
        pytest.param(["--ticket", "102", "--state", "paused"], [], id="ticket-filtered-out"),
    ],
)
def test_filters_choose_the_tickets(config: Path, filters: list[str], ids: list[str]) -> None:
    rows, _ = table(config, *filters)
    assert shown_ids(rows) == ids


@pytest.mark.parametrize(
    ("filters", "clocks"),
    [
        pytest.param(
            ["--slo", "urgent-first-response"],
            {("101", "first_response"), ("102", "first_response"), ("106", "first_response")},
            id="slo-shows-its-sla-only",
        ),
        pytest.param(
            ["--state", "breached"],
            {("102", "first_response"), ("106", "first_response")},
            id="state-shows-those-clocks-only",
        ),
        pytest.param(
            ["--slo", "csat", "--priority", "urgent", "--since", "5d"],
            {("101", "first_response"), ("101", "resolution")}
            | {("102", "first_response"), ("102", "next_response"), ("102", "resolution")},
            id="csat-slo-shows-every-clock",
        ),
    ],
)
def test_filters_choose_the_clocks(
    config: Path, filters: list[str], clocks: set[tuple[str, str]]
) -> None:
    rows, _ = table(config, *filters)
    assert {(row[0], row[1]) for row in rows} == clocks


def test_slo_filter_shows_only_that_slos_outcomes(config: Path) -> None:
    rows, _ = table(config, "--slo", "urgent-first-response", "--state", "breached")
    assert [row[-1] for row in rows] == ["urgent-first-response=bad"] * 2


@pytest.mark.parametrize(
    ("filters", "lines"),
    [
        pytest.param(
            ["--slo", "urgent-first-response"],
            ["urgent-first-response: 1 good, 2 bad, 0 pending — 33.3% (objective 95%)"],
            id="slo",
        ),
        pytest.param(
            ["--slo", "urgent-first-response", "--state", "met"],
            ["urgent-first-response: 1 good, 0 bad, 0 pending — 100.0% (objective 95%)"],
            id="slo-and-state",
        ),
        # 101 good; 102 and 106 bad (first-response-30m counts every priority)
        pytest.param(
            ["--slo", "first-response-30m", "--priority", "urgent"],
            ["first-response-30m: 1 good, 2 bad, 0 pending — 33.3% (objective 90%)"],
            id="slo-and-priority",
        ),
        # 104 paused and 106 running: both pending
        pytest.param(
            ["--slo", "resolution", "--since", "3d"],
            ["resolution: 0 good, 0 bad, 2 pending — no decided events (objective 80%)"],
            id="nothing-decided",
        ),
        pytest.param(
            ["--slo", "resolution", "--slo", "csat", "--priority", "urgent"],
            [
                "resolution: 2 good, 0 bad, 1 pending — 100.0% (objective 80%)",
                "csat: 1 good, 1 bad, 0 pending — 50.0% (objective 90%)",
            ],
            id="two-slos-in-config-order",
        ),
    ],
)
def test_summary_line_counts_what_is_shown(
    config: Path, filters: list[str], lines: list[str]
) -> None:
    _, summary = table(config, *filters)
    assert summary == lines


def test_without_slo_filter_every_slo_has_a_summary_line(config: Path) -> None:
    _, summary = table(config, "--priority", "high")
    assert [line.split(":")[0] for line in summary] == [
        "urgent-first-response",
        "first-response-30m",
        "resolution",
        "next-response",
        "csat",
    ]
    # 103 alone: first reply after 2h (bad at 30m), solved within 8h
    assert summary[1] == "first-response-30m: 0 good, 1 bad, 0 pending — 0.0% (objective 90%)"
    assert summary[2] == "resolution: 1 good, 0 bad, 0 pending — 100.0% (objective 80%)"


def test_compliance_is_rounded_down(tmp_path: Path) -> None:
    # 19 good and 1 bad is exactly 95%; 2 bad of 41 (95.12%) shows 95.1%, never rounds up
    tickets = [
        ticket("2026-11-02 09:00", reply("2026-11-02 09:10"), id=f"g{i}") for i in range(39)
    ] + [ticket("2026-11-02 09:00", reply("2026-11-02 11:00"), id=f"b{i}") for i in range(2)]
    (tmp_path / "tickets.jsonl").write_text(
        "".join(json.dumps(ticket_to_json(t)) + "\n" for t in tickets)
    )
    (tmp_path / "c.yml").write_text(OFFICE_CONFIG)
    code, text = run(
        "evaluate", "--config", str(tmp_path / "c.yml"), "--at", "2026-11-03T12:00:00Z",
        "--format", "table", "--slo", "urgent-first-response",
    )  # fmt: skip
    assert code == 0
    assert text.splitlines()[-1] == (
        "urgent-first-response: 39 good, 2 bad, 0 pending — 95.1% (objective 95%)"
    )


def test_every_cycle_counts_and_shows(tmp_path: Path) -> None:
    # a vip ticket with two next-response cycles: answered in 20m, then after 2h (target 1h)
    vip = ticket(
        "2026-11-02 08:00",
        reply("2026-11-02 08:10"),
        requester("2026-11-02 09:00"),
        reply("2026-11-02 09:20"),
        requester("2026-11-02 13:00"),
        reply("2026-11-02 15:00"),
        tags=["vip"],
        id="7",
    )
    (tmp_path / "tickets.jsonl").write_text(json.dumps(ticket_to_json(vip)) + "\n")
    (tmp_path / "c.yml").write_text(OFFICE_CONFIG)
    code, text = run(
        "evaluate", "--config", str(tmp_path / "c.yml"), "--at", "2026-11-03T12:00:00Z",
        "--format", "table", "--slo", "next-response",
    )  # fmt: skip
    assert code == 0
    lines = text.splitlines()
    assert lines[-3].split()[-1] == "next-response=good+bad"
    assert lines[-1] == "next-response: 1 good, 1 bad, 0 pending — 50.0% (objective 90%)"


def test_json_keeps_its_keys_and_adds_the_selection(config: Path) -> None:
    base = ["evaluate", "--config", str(config), "--at", AT]
    _, plain_text = run(*base)
    code, text = run(*base, "--slo", "urgent-first-response", "--state", "breached")
    assert code == 0
    plain: dict[str, Any] = json.loads(plain_text)
    document: dict[str, Any] = json.loads(text)
    assert set(document) == {"at", "tickets", "slos", "selection"}
    # the window summary of every SLO is the contract's, whatever is shown
    assert document["slos"] == plain["slos"]
    assert [t["id"] for t in document["tickets"]] == ["102", "106"]
    assert document["tickets"][0] == {
        "id": "102",
        "slas": {"first_response": plain["tickets"][1]["slas"]["first_response"]},
        "slos": {"urgent-first-response": {"result": "bad", "decided_at": "2026-11-16T09:30:00Z"}},
    }
    assert document["selection"] == {
        "slos": {
            "urgent-first-response": {
                "good": 0,
                "bad": 2,
                "pending": 0,
                "compliance_ratio": 0,
                "objective_ratio": 0.95,
            }
        }
    }


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        pytest.param(
            ["--slo", "urgent-first-respons"],
            "error: --slo 'urgent-first-respons': no such SLO in {config}; known: "
            "urgent-first-response, first-response-30m, resolution, next-response, csat",
            id="unknown-slo",
        ),
        pytest.param(
            ["--priority", "p1"],
            "error: --priority 'p1': not a priority; known: urgent, high, normal, low "
            "(helpdesk priorities are mapped onto these by source.priority_map)",
            id="unknown-priority",
        ),
        pytest.param(
            ["--since", "yesterday"], "error: --since: expected a duration", id="since-not-a-time"
        ),
        pytest.param(["--since", "0s"], "error: --since must be longer than zero", id="since-zero"),
        pytest.param(
            ["--since", "2026-11-18T10:00:00"], "has no offset", id="since-instant-without-offset"
        ),
        pytest.param(["--state", "late"], "invalid choice: 'late'", id="unknown-state"),
    ],
)
def test_unknown_names_exit_2_naming_the_known_ones(
    config: Path, capsys: pytest.CaptureFixture[str], filters: list[str], message: str
) -> None:
    code, text = run("evaluate", "--config", str(config), "--at", AT, *filters)
    assert code == 2
    assert text == ""
    assert message.format(config=config) in capsys.readouterr().err


RULE_ONLY_SLOS = [
    (
        "promql",
        "    promql: {bad: 'sum(rate(e[{{window}}]))', total: 'sum(rate(r[{{window}}]))'}\n",
    ),
    ("availability", "    availability: {up: 'probe_success{job=\"chat\"}', during: office}\n"),
]


@pytest.mark.parametrize(
    ("kind", "block"), RULE_ONLY_SLOS, ids=[kind for kind, _ in RULE_ONLY_SLOS]
)
def test_an_slo_computed_by_prometheus_is_not_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, block: str
) -> None:
    shutil.copy(FIXTURE, tmp_path / "tickets.jsonl")
    path = tmp_path / "c.yml"
    path.write_text(
        OFFICE_CONFIG + f"  - name: chat\n    kind: {kind}\n    objective: 99%\n" + block
    )
    code, _ = run("evaluate", "--config", str(path), "--at", AT, "--slo", "chat")
    assert code == 2
    assert f"--slo chat: a {kind} SLO is computed by Prometheus, not by evaluate" in (
        capsys.readouterr().err
    )
    code, out = run("evaluate", "--config", str(path), "--at", AT, "--format", "json")
    assert code == 0
    assert "chat" not in json.loads(out)["slos"]


def test_an_unknown_ticket_still_exits_1_with_filters(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("evaluate", "--config", str(config), "--at", AT, "--ticket", "999",
                  "--priority", "urgent")  # fmt: skip
    assert code == 1
    assert capsys.readouterr().err == (
        f"error: --ticket: no ticket 999 in the file source as of {AT}\n"
    )
