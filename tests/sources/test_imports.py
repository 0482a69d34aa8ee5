"""Calendars imported from the helpdesk (``import: zendesk``), read once at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from exporter.config import ConfigError, parse_config
from exporter.model import Priority
from exporter.slo import Evaluator
from exporter.sources.base import SourceError
from exporter.sources.imports import resolve_imports
from tests.builders import ticket, ts

FIXTURES = Path(__file__).parent / "fixtures" / "zendesk"
URL = "https://acme.zendesk.com"

CONFIG = f"""
source:
  type: zendesk
  url: {URL}
  email: ops@acme.example
  token_env: ZENDESK_TOKEN
calendars:
  support:
    import: zendesk
    schedule: 360000555555
    holidays: ["2026-12-31"]
slas:
  first_response:
    calendar: support
    targets: {{urgent: 2h}}
"""


@responses.activate
def test_zendesk_schedule_becomes_the_business_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_TOKEN", "not-a-real-token")
    for name, path in (
        ("schedule-pacific.json", "/api/v2/business_hours/schedules/360000555555.json"),
        (
            "schedule-pacific-holidays.json",
            "/api/v2/business_hours/schedules/360000555555/holidays.json",
        ),
    ):
        responses.get(URL + path, json=json.loads((FIXTURES / name).read_text()))
    config = resolve_imports(parse_config(CONFIG))
    support = config.calendars["support"]
    assert support.timezone == "America/Los_Angeles"
    # Zendesk's Monday 09:00-17:00 is minutes 1980-2460 from Sunday 00:00
    assert support.hours[0] == ((9 * 3600, 17 * 3600),)
    holidays = {d.isoformat() for d in support.holidays}
    assert {"2026-11-26", "2026-11-27", "2026-12-25", "2026-12-31"} <= holidays
    # Wed 25 Nov 16:00 PST (00:00 UTC on the 26th): 1h that day, Thanksgiving Thu and Fri,
    # the weekend, then 1h on Monday: 10:00 PST = 18:00 UTC
    evaluation = Evaluator(config).evaluate(ticket("2026-11-26 00:00"), ts("2026-11-30 12:00"))
    assert evaluation.slas["first_response"][0].deadline == ts("2026-11-30 18:00")
    assert len(responses.calls) == 2


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        pytest.param(
            "{import: zendesk}",
            "`import: zendesk` needs `schedule:`",
            id="zendesk-without-schedule",
        ),
        pytest.param(
            "{import: zendesk, schedule: 1, hours: 24x7}",
            "takes its hours from the helpdesk",
            id="imported-with-hours",
        ),
        pytest.param("{schedule: 1}", "`schedule:` needs `import:", id="schedule-without-import"),
        pytest.param(
            "{import: freshdesk}",
            "needs `source.type: freshdesk`",
            id="import-from-another-helpdesk",
        ),
    ],
)
def test_bad_imports_are_config_errors(calendar: str, message: str) -> None:
    imported = '    import: zendesk\n    schedule: 360000555555\n    holidays: ["2026-12-31"]\n'
    text = CONFIG.replace("  support:\n" + imported, f"  support: {calendar}\n")
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


def test_a_config_without_imports_is_left_alone() -> None:
    config = parse_config(
        CONFIG.replace("import: zendesk", "timezone: UTC").replace(
            "    schedule: 360000555555\n", ""
        )
    )
    assert resolve_imports(config) is config


SLA_CONFIG = f"""
source:
  type: zendesk
  url: {URL}
  email: ops@acme.example
  token_env: ZENDESK_TOKEN
calendars:
  office: {{timezone: America/Los_Angeles, hours: {{mon-fri: ["09:00-17:00"]}}}}
slas:
  import: zendesk
  policy: Enterprise
  calendar: office
slos:
  - name: urgent-first-response
    sla: first_response
    match: {{priority: [urgent]}}
    threshold: 50%
    objective: 95%
"""
POLICIES = URL + "/api/v2/slas/policies.json"


@responses.activate
def test_zendesk_sla_policy_becomes_the_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_TOKEN", "not-a-real-token")
    responses.get(POLICIES, json=json.loads((FIXTURES / "sla-policies-two.json").read_text()))
    config = resolve_imports(parse_config(SLA_CONFIG))
    assert config.sla_import is None
    first = config.slas["first_response"]
    assert first.calendar == "office"
    assert {p.value: d.seconds for p, d in first.targets.items()} == {
        "urgent": 1800,
        "high": 7200,
    }
    assert config.slas["next_response"].targets[Priority.URGENT].seconds == 3600
    # agent_work_time is the resolution clock by default: it pauses in pending and on hold
    resolution = config.slas["resolution"]
    assert resolution.targets[Priority.HIGH].seconds == 540 * 60
    assert resolution.pause_statuses == frozenset({"pending", "on_hold"})
    # periodic_update_time has no clock of ours and is left out
    assert set(config.slas) == {"first_response", "next_response", "resolution"}


@responses.activate
def test_the_first_policy_by_position_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_TOKEN", "not-a-real-token")
    responses.get(POLICIES, json=json.loads((FIXTURES / "sla-policies-two.json").read_text()))
    text = SLA_CONFIG.replace("  policy: Enterprise\n", "")
    config = resolve_imports(parse_config(text))
    # "Everyone" counts calendar time: its targets run on the 24x7 calendar
    assert config.slas["first_response"].calendar == "24x7"
    assert config.slas["first_response"].targets[Priority.NORMAL].seconds == 8 * 3600
    assert "resolution" not in config.slas  # requester_wait_time is not the configured metric


@responses.activate
def test_an_unknown_policy_is_a_clear_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_TOKEN", "not-a-real-token")
    responses.get(POLICIES, json=json.loads((FIXTURES / "sla-policies-two.json").read_text()))
    with pytest.raises(SourceError) as raised:
        resolve_imports(parse_config(SLA_CONFIG.replace("policy: Enterprise", "policy: Gold")))
    assert "no SLA policy titled or numbered 'Gold'" in str(raised.value)
    assert "Enterprise" in str(raised.value) and "Everyone" in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            ("  calendar: office\n", "  calendar: offce\n"),
            "slas.calendar: no calendar named 'offce'",
            id="unknown-calendar",
        ),
        pytest.param(
            ("  policy: Enterprise\n", "  polcy: Enterprise\n"),
            "slas.polcy: unknown key; did you mean 'policy'?",
            id="typo",
        ),
        pytest.param(
            (
                "  calendar: office\n",
                "  calendar: office\n  first_response: {targets: {urgent: 1h}}\n",
            ),
            "the SLA targets come from the helpdesk",
            id="targets-written-too",
        ),
    ],
)
def test_bad_sla_imports_are_config_errors(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(SLA_CONFIG.replace(*change))
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


FRESHDESK = "https://acme.freshdesk.com"
FRESHDESK_FIXTURES = Path(__file__).parent / "fixtures" / "freshdesk"
FRESHDESK_CONFIG = f"""
source: {{type: freshdesk, url: {FRESHDESK}, token_env: FRESHDESK_KEY}}
calendars:
  us-office: {{import: freshdesk, schedule: 43000012345}}
slas:
  import: freshdesk
  policy: 43000088326
  calendar: us-office
"""


@responses.activate
def test_freshdesk_business_hours_and_sla_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHDESK_KEY", "not-a-real-key")
    calendars = json.loads((FRESHDESK_FIXTURES / "business-hours-two-calendars.json").read_text())
    policies = json.loads((FRESHDESK_FIXTURES / "sla-policies-default-and-custom.json").read_text())
    responses.get(FRESHDESK + "/api/v2/business_hours/43000012345", json=calendars[0])
    responses.get(FRESHDESK + "/api/v2/sla_policies", json=policies)
    config = resolve_imports(parse_config(FRESHDESK_CONFIG))
    office = config.calendars["us-office"]
    assert office.timezone == "America/New_York"
    assert office.hours[0] == ((8 * 3600, 17 * 3600),)  # Monday 8:00 am - 5:00 pm
    first = config.slas["first_response"]
    assert first.calendar == "us-office"
    assert first.targets[Priority.URGENT].seconds == 1200
    assert config.slas["resolution"].targets[Priority.LOW].seconds == 900


@responses.activate
def test_a_policy_mixing_business_hours_and_calendar_time_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRESHDESK_KEY", "not-a-real-key")
    calendars = json.loads((FRESHDESK_FIXTURES / "business-hours-two-calendars.json").read_text())
    policies = json.loads((FRESHDESK_FIXTURES / "sla-policies-default-and-custom.json").read_text())
    responses.get(FRESHDESK + "/api/v2/business_hours/43000012345", json=calendars[0])
    responses.get(FRESHDESK + "/api/v2/sla_policies", json=policies)
    # the default policy counts urgent tickets round the clock and the others in business hours
    with pytest.raises(SourceError) as raised:
        resolve_imports(parse_config(FRESHDESK_CONFIG.replace("  policy: 43000088326\n", "")))
    assert "mix business hours and calendar time" in str(raised.value)
