"""``helpdesk-slo evaluate``: the JSON contract, the table, and its errors."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main
from exporter.model import ticket_to_json
from tests.builders import OFFICE_CONFIG, auto_ack, reply, solved, status, ticket

TICKETS = [
    ticket("2026-11-02 09:00", auto_ack("2026-11-02 09:00:05"), reply("2026-11-02 09:20"), id="1"),
    ticket("2026-11-02 09:00", reply("2026-11-02 10:30"), id="2"),
    ticket("2026-11-02 10:00", status("2026-11-02 10:30", "pending"), priority="high", id="3"),
    ticket("2026-11-02 11:00", solved("2026-11-02 11:10"), priority="normal", id="4"),
]


def write_setup(tmp_path: Path, extra_lines: str = "") -> Path:
    lines = [json.dumps(ticket_to_json(t)) for t in TICKETS]
    (tmp_path / "tickets.jsonl").write_text("\n".join(lines) + "\n" + extra_lines)
    config = tmp_path / "helpdesk-slo.yml"
    config.write_text(OFFICE_CONFIG)
    return config


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_json_document_has_the_contract_shape(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    code, text = run("evaluate", "--config", str(config), "--at", "2026-11-02T12:00:00Z")
    assert code == 0
    document: dict[str, Any] = json.loads(text)
    assert document["at"] == "2026-11-02T12:00:00Z"
    assert [t["id"] for t in document["tickets"]] == ["1", "2", "3", "4"]
    first = document["tickets"][0]
    assert first["slas"]["first_response"] == {
        "state": "met",
        "target_seconds": 3600,
        "deadline": "2026-11-02T10:00:00Z",
        "stopped_at": "2026-11-02T09:20:00Z",
        "breached_at": None,
        "elapsed_business_seconds": 1200,
    }
    assert first["slos"]["urgent-first-response"] == {
        "result": "good",
        "decided_at": "2026-11-02T09:20:00Z",
    }
    second = document["tickets"][1]
    assert second["slas"]["first_response"]["state"] == "breached"
    assert second["slas"]["first_response"]["breached_at"] == "2026-11-02T10:00:00Z"
    assert second["slos"]["urgent-first-response"] == {
        "result": "bad",
        "decided_at": "2026-11-02T09:30:00Z",
    }
    third = document["tickets"][2]
    assert third["slas"]["resolution"] == {
        "state": "paused",
        "target_seconds": 28800,
        "deadline": None,
        "stopped_at": None,
        "breached_at": None,
        "elapsed_business_seconds": 1800,
    }
    # urgent-first-response: 1 good, 1 bad at 95% -> 1 - 0.5/0.05 = -9
    assert document["slos"]["urgent-first-response"] == {
        "good": 1,
        "bad": 1,
        "pending": 0,
        "error_budget_remaining_ratio": -9,
    }
    assert set(document["slos"]) == {
        "urgent-first-response",
        "first-response-30m",
        "resolution",
        "next-response",
        "csat",
    }
    assert document["slos"]["csat"]["error_budget_remaining_ratio"] == 1


def test_at_ignores_later_tickets_and_events(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    code, text = run("evaluate", "--config", str(config), "--at", "2026-11-02T09:10:00Z")
    assert code == 0
    document = json.loads(text)
    assert [t["id"] for t in document["tickets"]] == ["1", "2"]
    assert document["tickets"][0]["slas"]["first_response"]["state"] == "running"
    assert document["tickets"][0]["slos"]["urgent-first-response"]["result"] == "pending"


def test_table_is_aligned_and_names_every_clock(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    code, text = run(
        "evaluate", "--config", str(config), "--at", "2026-11-02T12:00:00Z", "--format", "table"
    )
    assert code == 0
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("TICKET"))
    row = next(line for line in lines if line.startswith("2 ") and "first_response" in line)
    assert "breached" in row
    assert row.index("first_response") == header.index("SLA")
    assert any(line.startswith("urgent-first-response") for line in lines)


def test_ticket_filter(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    code, text = run(
        "evaluate", "--config", str(config), "--at", "2026-11-02T12:00:00Z", "--ticket", "3"
    )
    assert code == 0
    assert [t["id"] for t in json.loads(text)["tickets"]] == ["3"]


def test_malformed_line_is_reported_and_the_rest_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_setup(tmp_path, extra_lines='{"id": "9", "created_at": "yesterday"}\n{oops\n')
    code, text = run("evaluate", "--config", str(config), "--at", "2026-11-02T12:00:00Z")
    assert code == 0
    assert len(json.loads(text)["tickets"]) == 4
    err = capsys.readouterr().err
    assert "tickets.jsonl:5: ticket 9.created_at" in err
    assert "tickets.jsonl:6: not valid JSON" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--at", "tomorrow"], "--at: not an ISO 8601 time", id="bad-at"),
        pytest.param(["--at", "2026-11-02T12:00:00"], "has no offset", id="naive-at"),
        pytest.param(
            ["--at", "9999-12-31T23:59:59Z"], "is outside the years 1970 to 2199", id="at-year-9999"
        ),
        pytest.param(
            ["--at", "1969-12-31T23:59:59Z"],
            "is outside the years 1970 to 2199",
            id="at-before-1970",
        ),
        pytest.param(
            ["--at", "0001-01-01T00:00:00+01:00"],
            "is outside the years 1970 to 2199",
            id="at-overflow",
        ),
    ],
)
def test_bad_usage_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    config = write_setup(tmp_path)
    code, _ = run("evaluate", "--config", str(config), *argv)
    assert code == 2
    assert message in capsys.readouterr().err


def test_missing_ticket_file_fails_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_setup(tmp_path)
    (tmp_path / "tickets.jsonl").unlink()
    code, _ = run("evaluate", "--config", str(config), "--at", "2026-11-02T12:00:00Z")
    assert code == 1
    err = capsys.readouterr().err
    assert "tickets.jsonl: cannot read tickets" in err
    assert "Traceback" not in err


def test_example_config_evaluates(capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "file.yml"
    code, text = run("evaluate", "--config", str(example), "--at", "2026-11-06T18:00:00Z")
    assert code == 0, capsys.readouterr().err
    document = json.loads(text)
    by_id = {t["id"]: t for t in document["tickets"]}
    # ticket 104: auto-ack and an internal note, then a public reply 30m after the 14:00 deadline
    assert by_id["104"]["slas"]["first_response"]["state"] == "breached"
    assert by_id["104"]["slas"]["first_response"]["elapsed_business_seconds"] == 5400
    # ticket 103: created 12:00 Paris, lunch 12:30-13:30 does not count: deadline 14:00 Paris
    assert by_id["103"]["slas"]["first_response"]["deadline"] == "2026-11-02T13:00:00Z"
    # ticket 111 is on hold: its resolution clock is paused
    assert by_id["111"]["slas"]["resolution"]["state"] == "paused"


def test_an_unknown_ticket_exits_1_after_printing_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_setup(tmp_path)
    at = "2026-11-02T12:00:00Z"
    code, text = run(
        "evaluate", "--config", str(config), "--at", at, "--ticket", "3", "--ticket", "999"
    )
    assert code == 1
    assert [t["id"] for t in json.loads(text)["tickets"]] == ["3"]
    assert (
        capsys.readouterr().err == f"error: --ticket: no ticket 999 in the file source as of {at}\n"
    )


def test_a_ticket_created_after_at_is_unknown_as_of_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_setup(tmp_path)
    code, _ = run(
        "evaluate", "--config", str(config), "--at", "2026-11-02T09:30:00Z", "--ticket", "4"
    )
    assert code == 1
    assert "no ticket 4 in the file source as of 2026-11-02T09:30:00Z" in capsys.readouterr().err


def test_a_ticket_whose_evaluation_fails_is_skipped_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from exporter.slo import Evaluator

    clocks = Evaluator.clocks

    def broken_for_2(self: Evaluator, ticket: Any, metric: str, at: float) -> Any:
        if ticket.id == "2":
            raise ZeroDivisionError("float division by zero")
        return clocks(self, ticket, metric, at)

    monkeypatch.setattr(Evaluator, "clocks", broken_for_2)
    config = write_setup(tmp_path)
    code, text = run("evaluate", "--config", str(config), "--at", "2026-11-02T12:00:00Z")
    assert code == 0
    assert [t["id"] for t in json.loads(text)["tickets"]] == ["1", "3", "4"]
    assert "warning: skipped ticket 2: float division by zero" in capsys.readouterr().err
