"""The rules plan and the rule text: factor maths, dead tiers, guards, exact decimals, structure.

promtool runs the generated rules and tests in ``test_generate.py``; these tests pin
the arithmetic and the shape of what is generated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import metrics
from exporter.config import AvailabilitySli, Config, ConfigError, Severity, parse_config
from exporter.pack.rules import (
    DAY,
    HOUR,
    LAST_ERROR,
    MINUTE,
    WORKBOOK_TIERS,
    RuleOptions,
    Tier,
    Window,
    availability_input,
    burn_factor,
    exact_decimal,
    format_window,
    plan_pack,
    render_rules,
    rule_groups,
    with_window,
)
from exporter.pack.ruletests import (
    Answered,
    Failed,
    Start,
    Stop,
    expand,
    humanize_duration,
    humanize_percentage,
    render,
    source_series,
    tier_condition,
    traffic,
)
from exporter.units import parse_duration
from tests.tools import require_shared

SHARED = Path(__file__).parents[2] / ".." / "shared"


def shared_file(name: str) -> Path:
    return require_shared("peers", "sloth", name)


def config_with(*slos: dict[str, Any], service: str = "support") -> Config:
    document = {
        "service": service,
        "slas": {
            "first_response": {"targets": {"urgent": "1h", "high": "4h", "normal": "8h"}},
            "resolution": {"targets": {"urgent": "4h", "high": "9h", "normal": "27h"}},
        },
        "slos": list(slos),
    }
    return parse_config(yaml.safe_dump(document, sort_keys=False))


def time_slo(**fields: Any) -> dict[str, Any]:
    slo: dict[str, Any] = {
        "name": "urgent-first-response",
        "sla": "first_response",
        "match": {"priority": ["urgent"]},
        "threshold": "50%",
        "objective": "95%",
        "window": "30d",
    }
    slo.update(fields)
    return slo


def all_rules(config: Config, options: RuleOptions | None = None) -> Iterator[dict[str, Any]]:
    for group in rule_groups(plan_pack(config, options)):
        yield from group["rules"]


# --- factor maths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period_days", "budget_percent", "long_window", "expected"),
    [
        (30, 2, HOUR, "14.4"),
        (30, 5, 6 * HOUR, "6"),
        (30, 10, DAY, "3"),
        (30, 10, 3 * DAY, "1"),
        (28, 2, HOUR, "13.44"),
        (28, 5, 6 * HOUR, "5.6"),
        (28, 10, DAY, "2.8"),
        (28, 10, 3 * DAY, "0.9333"),
        (7, 2, HOUR, "3.36"),
        (7, 10, 3 * DAY, "0.2333"),
    ],
    ids=[
        "30d-page-1h",
        "30d-page-6h",
        "30d-ticket-1d",
        "30d-ticket-3d",
        "28d-page-1h",
        "28d-page-6h",
        "28d-ticket-1d",
        "28d-ticket-3d-rounded",
        "7d-page-1h",
        "7d-ticket-3d-rounded",
    ],
)
def test_workbook_factor_is_budget_share_times_period_over_long_window(
    period_days: int, budget_percent: int, long_window: int, expected: str
) -> None:
    factor = burn_factor(Decimal(budget_percent) / 100, period_days * DAY, long_window)
    assert str(factor) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(144, 10, "14.4"), (1, 3, "0.3333"), (28, 3, "9.333"), (20, 1, "20"), (1, 8, "0.125")],
    ids=["terminating", "third", "rounded-4-digits", "whole", "eighth"],
)
def test_exact_decimal_is_exact_when_it_terminates(
    numerator: int, denominator: int, expected: str
) -> None:
    from fractions import Fraction

    assert str(exact_decimal(Fraction(numerator, denominator))) == expected


@pytest.mark.parametrize("period", ["30d", "28d"], ids=["google-30d", "google-28d"])
def test_default_tiers_are_the_workbook_windows_sloth_ships(period: str) -> None:
    table = yaml.safe_load(shared_file(f"google-{period}-windows.yaml").read_text())
    spec = table["spec"]
    theirs = []
    for severity in ("page", "ticket"):
        for speed in ("quick", "slow"):
            entry = spec[severity][speed]
            theirs.append(
                (
                    severity,
                    Decimal(entry["errorBudgetPercent"]),
                    entry["longWindow"],
                    entry["shortWindow"],
                )
            )
    ours = [
        (t.severity.value, t.budget_percent, format_window(t.long), format_window(t.short))
        for t in WORKBOOK_TIERS
    ]
    assert ours == theirs


# --- tiers per objective, dead tiers ----------------------------------------------------------


def _tiers(config: Config, options: RuleOptions | None = None) -> list[Tier]:
    return list(plan_pack(config, options).slos[0].tiers)


@pytest.mark.parametrize(
    ("objective", "window", "expected"),
    [
        ("99.5%", "30d", "page 14.4, page 6, ticket 3, ticket 1"),
        ("95%", "30d", "page 14.4, page 6, ticket 3, ticket 1"),
        ("90%", "30d", "page 10 rescaled, page 6, ticket 3, ticket 1"),
        ("80%", "30d", "page 5 rescaled, page 5 rescaled, ticket 3, ticket 1"),
        ("80%", "7d", "page 3.36, page 1.4, ticket 0.7, ticket 0.2333"),
        ("90%", "month", "page 10 rescaled, page 6, ticket 3, ticket 1"),
        ("85%", "28d", "page 6.667 rescaled, page 5.6, ticket 2.8, ticket 0.9333"),
    ],
    ids=["99.5-30d", "95-30d", "90-30d", "80-30d", "80-7d", "90-month", "85-28d"],
)
def test_default_tiers_per_objective(objective: str, window: str, expected: str) -> None:
    tiers = _tiers(config_with(time_slo(objective=objective, window=window)))
    described = [
        f"{t.severity.value} {t.factor}" + (" rescaled" if t.rescaled else "") for t in tiers
    ]
    assert ", ".join(described) == expected


def test_dead_tier_is_reported_on_one_line_and_rescaled_to_the_maximum() -> None:
    plan = plan_pack(config_with(time_slo(objective="90%")))
    assert plan.notes == (
        "slo urgent-first-response: page tier 1h/5m: burn rate 14.4 can never fire "
        "(max 10 at objective 90%); rescaled to 10, firing when every event in both windows "
        "is bad",
    )
    page = plan.slos[0].tiers[0]
    assert (page.factor, page.ratio_threshold, page.rescaled) == (Decimal(10), Decimal(1), True)
    assert page.configured_factor == Decimal("14.4")
    alert = next(r for r in all_rules(config_with(time_slo(objective="90%"))) if "alert" in r)
    assert alert["labels"]["burn_rate"] == "10"
    assert ">= 1) / 0.1" in alert["expr"]
    assert "14.4x is above the highest burn rate possible" in alert["annotations"]["description"]


def test_dead_tier_is_dropped_when_asked() -> None:
    config = config_with(time_slo(objective="90%"))
    plan = plan_pack(config, RuleOptions(dead_tiers="drop"))
    assert [str(t.factor) for t in plan.slos[0].tiers] == ["6", "3", "1"]
    assert plan.notes[0].endswith("can never fire (max 10 at objective 90%); dropped")


@pytest.mark.parametrize(
    ("alerting", "severities"),
    [
        ({"page": False}, ["ticket", "ticket"]),
        ({"ticket": False}, ["page", "page"]),
        ({"page": False, "ticket": False}, []),
    ],
    ids=["page-off", "ticket-off", "both-off"],
)
def test_disabled_severities_are_not_generated_and_not_reported(
    alerting: dict[str, bool], severities: list[str]
) -> None:
    plan = plan_pack(config_with(time_slo(objective="90%", alerting=alerting)))
    assert [t.severity.value for t in plan.slos[0].tiers] == severities
    assert any("page tier" in note for note in plan.notes) is alerting.get("page", True)


def test_selected_tiers_with_their_own_guard_and_for() -> None:
    config = config_with(
        time_slo(
            objective="99.5%",
            alerting={
                "for": "5m",
                "tiers": [
                    {"severity": "page", "long_window": "1h", "short_window": "5m"}
                    | {"budget_percent": 2},
                    {"severity": "ticket", "long_window": "12h", "short_window": "1h"}
                    | {"burn_rate": 2, "min_bad_events": 7},
                ],
            },
        )
    )
    plan = plan_pack(config)
    tiers = plan.slos[0].tiers
    assert [(t.severity, str(t.factor), t.min_bad_events) for t in tiers] == [
        (Severity.PAGE, "14.4", 3),
        (Severity.TICKET, "2", 7),
    ]
    assert Window(12 * HOUR) in plan.slos[0].windows
    alerts = [r for r in all_rules(config) if r.get("alert") == "SupportSLOErrorBudgetBurn"]
    assert [a["labels"]["long_window"] for a in alerts] == ["1h", "12h"]
    assert all(a["for"] == "5m" for a in alerts)
    assert "slo:sli_events:increase12h" in alerts[1]["expr"] and ">= 7" in alerts[1]["expr"]
    assert "> 0.072) / 0.005" in alerts[0]["expr"]


def test_tier_longer_than_the_slo_window_is_dropped_and_reported() -> None:
    plan = plan_pack(config_with(time_slo(window="2d")))
    assert [t.long.text for t in plan.slos[0].tiers] == ["1h", "6h", "1d"]
    assert any("3d/6h: long window is longer than the 2d SLO window" in n for n in plan.notes)


def test_min_bad_events_zero_removes_the_guard() -> None:
    config = config_with(time_slo(alerting={"min_bad_events": 0}))
    burn = [r for r in all_rules(config) if r.get("alert") == "SupportSLOErrorBudgetBurn"]
    assert burn and all("ignoring (result)" not in r["expr"] for r in burn)


# --- the rules as generated -------------------------------------------------------------------


def test_ratios_never_divide_by_zero_and_counts_default_to_zero() -> None:
    rules = list(all_rules(config_with(time_slo())))
    ratios = [r for r in rules if r.get("record", "").startswith("slo:sli_error:ratio_rate")]
    counts = [r for r in rules if r.get("record", "").startswith("slo:sli_events:increase")]
    assert len(ratios) == 8 and len(counts) == 16
    for rule in ratios:
        assert rule["expr"].count("> 0)") == 1
        assert rule["expr"].endswith("or on () vector(0)")
    for rule in counts:
        assert rule["expr"].endswith("or vector(0)")
        assert metrics.SLO_EVENTS.name in rule["expr"]


def test_windows_are_the_standard_ones_plus_the_slo_window() -> None:
    plan = plan_pack(config_with(time_slo(window="28d")))
    assert [w.text for w in plan.slos[0].windows] == [
        "5m", "30m", "1h", "2h", "6h", "1d", "3d", "28d",
    ]  # fmt: skip


def test_every_rule_carries_slo_service_and_the_slo_labels() -> None:
    config = config_with(time_slo(labels={"team": "tier1"}), service="helpdesk")
    for rule in all_rules(config):
        labels = rule["labels"]
        assert labels["service"] == "helpdesk"
        if str(rule.get("alert", "")).startswith("Helpdesk"):
            continue
        if str(rule.get("record", "")).startswith("priority_status:"):
            continue  # status time: the exporter's, per priority and status, no SLO
        assert labels["slo"] == "urgent-first-response" and labels["team"] == "tier1"
        if "alert" in rule:
            assert labels["severity"] in ("page", "ticket")
            assert set(rule["annotations"]) == {
                "summary", "description", "runbook_url", "dashboard_url",
            }  # fmt: skip
        if rule.get("alert") == "SupportSLOErrorBudgetBurn":
            assert {"long_window", "short_window", "burn_rate"} <= set(labels)


_RECORDED = re.compile(r"\b(slo:[a-z_]+:[a-z_0-9]+)\{")


def test_rules_read_only_series_that_are_fresh_when_they_run() -> None:
    """A rule reads a recorded series made earlier in its own group, or by a 1-minute group."""
    groups = rule_groups(plan_pack(config_with(time_slo(), time_slo(name="other", window="month"))))
    every_minute = {
        rule["record"]
        for group in groups
        if group["interval"] == "1m"
        for rule in group["rules"]
        if "record" in rule
    }
    for group in groups:
        assert group["interval"] in ("1m", "5m")
        earlier: set[str] = set()
        for rule in group["rules"]:
            for name in _RECORDED.findall(rule["expr"]):
                assert name in earlier or name in every_minute, (group["name"], rule, name)
            if "record" in rule:
                earlier.add(rule["record"])


def test_long_windows_are_recorded_every_five_minutes() -> None:
    groups = rule_groups(plan_pack(config_with(time_slo())))
    fast, slow = groups[0], groups[1]
    assert (fast["interval"], slow["interval"]) == ("1m", "5m")
    recorded = {r.get("record", "") for r in slow["rules"]}
    assert {r for r in recorded if r.startswith("slo:sli_error")} == {
        "slo:sli_error:ratio_rate1d",
        "slo:sli_error:ratio_rate3d",
        "slo:sli_error:ratio_rate30d",
    }


_FLOAT_NOISE = re.compile(r"\d\.\d*(?:0{6,}|9{6,})\d")


@pytest.mark.parametrize(
    "objective", ["99.9%", "99.5%", "95%", "85%", "0.7"], ids=["99.9", "99.5", "95", "85", "70"]
)
def test_numbers_are_exact_decimals(objective: str) -> None:
    text = render_rules(plan_pack(config_with(time_slo(objective=objective, window="28d"))))
    assert not _FLOAT_NOISE.search(text)
    budget = str(Decimal(1) - parse_config(
        yaml.safe_dump({"slos": [{"name": "x", "kind": "csat", "objective": objective}]})
    ).slos[0].objective_ratio)  # fmt: skip
    assert f"vector({budget.rstrip('0')})" in text


def test_rendering_is_deterministic() -> None:
    first = render_rules(plan_pack(config_with(time_slo(), time_slo(name="b", window="week"))))
    second = render_rules(plan_pack(config_with(time_slo(), time_slo(name="b", window="week"))))
    assert first == second


def test_calendar_windows_read_the_exporter_gauges() -> None:
    rules = {
        r.get("record") or r["alert"]: r for r in all_rules(config_with(time_slo(window="month")))
    }
    remaining = rules["slo:period_error_budget_remaining:ratio"]["expr"]
    assert remaining == f'min({metrics.SLO_BUDGET_REMAINING.name}{{slo="urgent-first-response"}})'
    assert rules["slo:time_period:days"]["expr"] == "vector(30)"
    assert "days_in_month()" in rules["SupportSLOBudgetExhaustionForecast"]["expr"]
    assert metrics.SLO_PERIOD_EVENTS.name in rules["SupportSLOErrorBudgetExhausted"]["expr"]


@pytest.mark.parametrize(
    ("breach_imminent", "bucket", "noted"),
    [
        ("15m", 900.0, False),
        ("10m", 900.0, True),
        ("1h", 3600.0, False),
        ("2d", float("inf"), True),
    ],
    ids=["exact", "rounded-up", "exact-hour", "beyond-buckets"],
)
def test_imminent_breach_reads_one_bucket(breach_imminent: str, bucket: float, noted: bool) -> None:
    config = config_with(time_slo(alerting={"breach_imminent": breach_imminent}))
    plan = plan_pack(config)
    assert plan.slos[0].imminent_bucket == bucket
    assert any("breach_imminent" in n for n in plan.notes) is noted
    alert = next(r for r in all_rules(config) if r.get("alert") == "SupportSLABreachImminent")
    assert f"{metrics.SLA_TIME_TO_BREACH.name}_bucket" in alert["expr"]
    assert 'priority=~"urgent"' in alert["expr"]


def test_labels_the_rules_use_are_refused_as_slo_labels() -> None:
    with pytest.raises(ConfigError) as error:
        plan_pack(config_with(time_slo(labels={"result": "x"})))
    assert len(error.value.problems) == 1
    assert "slos[0].labels: label 'result' is set by the pack itself" in error.value.problems[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sum(rate(x[{{window}}]))", "sum(rate(x[1h]))"),
        ("sum(rate(x[{{.window}}]))", "sum(rate(x[1h]))"),
        ("sum(rate(x[{{ .window }}]))", "sum(rate(x[1h]))"),
    ],
    ids=["ours", "sloth", "spaced"],
)
def test_promql_window_placeholder(query: str, expected: str) -> None:
    assert with_window(query, Window(HOUR)) == expected


def test_promql_slo_with_a_good_query_counts_bad_as_total_minus_good() -> None:
    slo = {
        "name": "chat",
        "kind": "promql",
        "objective": "99%",
        "promql": {"good": "sum(rate(ok[{{window}}]))", "total": "sum(rate(all[{{window}}]))"},
    }
    rules = list(all_rules(config_with(slo)))
    bad = next(
        r
        for r in rules
        if r.get("record") == "slo:sli_events:increase5m" and r["labels"]["result"] == "bad"
    )
    assert bad["expr"] == (
        "(clamp_min(sum(sum(rate(all[5m]))) - (sum(sum(rate(ok[5m]))) or vector(0)), 0) * 300)"
        " or vector(0)"
    )  # fmt: skip


def availability_slo(**fields: Any) -> dict[str, Any]:
    slo: dict[str, Any] = {
        "name": "chat",
        "kind": "availability",
        "objective": "99.5%",
        "availability": {"up": 'probe_success{job="chat"}', "during": "24x7"},
    }
    slo.update(fields)
    return slo


def test_an_availability_slo_keeps_the_names_of_the_other_kinds() -> None:
    """Same recording rules and SupportSLO* alerts as a promql SLO, plus its minute samples."""
    promql = {
        "name": "chat",
        "kind": "promql",
        "objective": "99.5%",
        "promql": {"bad": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"},
    }

    def names(slo: dict[str, Any]) -> list[tuple[str, str]]:
        rules = all_rules(config_with(slo))
        return [(r.get("record") or r["alert"], r["labels"].get("result", "")) for r in rules]

    minute = [("slo:sli_minute:business", "bad"), ("slo:sli_minute:business", "total")]
    assert names(availability_slo()) == minute + names(promql)


@pytest.mark.parametrize(
    ("up", "bad_minute", "total_minute"),
    [
        (
            'probe_success{job="chat"}',
            'max(helpdesk_calendar_open{calendar="24x7"})\n* on ()\n'
            '(1 - clamp(min(probe_success{job="chat"}), 0, 1))',
            'max(helpdesk_calendar_open{calendar="24x7"})\nand on ()\n'
            'min(probe_success{job="chat"})',
        ),
        (
            'avg by (instance) (probe_success{job="chat"})',
            'max(helpdesk_calendar_open{calendar="24x7"})\n* on ()\n'
            '(1 - clamp(min(avg by (instance) (probe_success{job="chat"})), 0, 1))',
            'max(helpdesk_calendar_open{calendar="24x7"})\nand on ()\n'
            'min(avg by (instance) (probe_success{job="chat"}))',
        ),
    ],
    ids=["one-probe", "an-aggregation-still-reduced-to-its-lowest-series"],
)
def test_an_availability_minute_is_down_time_times_the_calendar(
    up: str, bad_minute: str, total_minute: str
) -> None:
    slo = availability_slo(availability={"up": up, "during": "24x7"})
    minutes = {
        r["labels"]["result"]: r["expr"]
        for r in all_rules(config_with(slo))
        if r.get("record") == "slo:sli_minute:business"
    }
    assert minutes == {"bad": bad_minute, "total": total_minute}


@pytest.mark.parametrize(
    ("window", "result"),
    [("5m", "bad"), ("28d", "total")],
    ids=["bad-minutes-5m", "business-minutes-28d"],
)
def test_availability_events_are_the_minute_samples_summed_over_the_window(
    window: str, result: str
) -> None:
    [rule] = [
        r
        for r in all_rules(config_with(availability_slo()))
        if r.get("record") == f"slo:sli_events:increase{window}" and r["labels"]["result"] == result
    ]
    assert rule["expr"] == (
        "sum(sum_over_time(slo:sli_minute:business"
        f'{{slo="chat", service="support", result="{result}"}}[{window}])) or vector(0)'
    )


@pytest.mark.parametrize(
    ("up", "fed"),
    [
        ('probe_success{job="chat", instance="a"}', 'probe_success{job="chat", instance="a"}'),
        ("probe_success{job='say \"hi\"'}", 'probe_success{job="say \\"hi\\""}'),
        ("probe_success{job=`raw`}", 'probe_success{job="raw"}'),
        ("up", "up"),
        ('up{job=~"chat.*"}', None),
        ('avg(probe_success{job="chat"})', None),
        ('up{job="chat"} offset 5m', None),
    ],
    ids=["selector", "single-quotes", "backticks", "bare-name", "regex", "aggregation", "offset"],
)
def test_generated_tests_feed_an_up_query_that_is_one_series(up: str, fed: str | None) -> None:
    assert availability_input(AvailabilitySli(up=up, during="office")) == fed


@pytest.mark.parametrize(
    ("slo", "note"),
    [
        (
            availability_slo(window="month"),
            "slo chat: the exporter has no gauges for the calendar month of a kind: availability "
            "SLO; its period figures use a rolling 30d instead",
        ),
        (
            availability_slo(availability={"up": "avg(up)", "during": "24x7"}),
            "slo chat: its up query is not one series selector with = matchers",
        ),
    ],
    ids=["calendar-window-becomes-rolling", "tests-cannot-feed-an-aggregation"],
)
def test_availability_notes(slo: dict[str, Any], note: str) -> None:
    assert any(n.startswith(note) for n in plan_pack(config_with(slo)).notes)


@pytest.mark.parametrize(
    ("fmt", "top_keys"),
    [
        ("prometheus", ["groups"]),
        ("prometheus-operator", ["apiVersion", "kind", "metadata", "spec"]),
        ("mimir", ["namespace", "groups"]),
    ],
    ids=["prometheus", "prometheus-operator", "mimir"],
)
def test_formats_carry_the_same_groups(fmt: Any, top_keys: list[str]) -> None:
    plan = plan_pack(config_with(time_slo()))
    document = yaml.safe_load(render_rules(plan, fmt))
    assert list(document) == top_keys
    groups = document["spec"]["groups"] if fmt == "prometheus-operator" else document["groups"]
    assert groups == yaml.safe_load(render_rules(plan))["groups"]
    if fmt == "prometheus-operator":
        assert document["kind"] == "PrometheusRule"
        assert document["metadata"]["name"] == "helpdesk-slo-support"
    if fmt == "mimir":
        assert document["namespace"] == "helpdesk-slo-support"


def test_links_default_under_the_configured_bases() -> None:
    options = RuleOptions(runbook_base_url="https://git.example/runbooks/", grafana_url="https://g")
    plan = plan_pack(config_with(time_slo()), options)
    assert plan.slos[0].runbook_url == "https://git.example/runbooks/urgent-first-response.md"
    assert (
        plan.slos[0].dashboard_url
        == "https://g/d/helpdesk-slo-detail?var-slo=urgent-first-response"
    )


def test_exporter_down_uses_the_job_option() -> None:
    rules = list(all_rules(config_with(time_slo()), RuleOptions(job="support-exporter")))
    down = next(r for r in rules if r.get("alert") == "HelpdeskExporterDown")
    assert down["expr"] == 'up{job="support-exporter"} == 0\nor\nabsent(up{job="support-exporter"})'


# --- the helpdesk source alerts ---------------------------------------------------------------


def config_with_source(source: dict[str, Any]) -> Config:
    document = {
        "service": "support",
        "source": source,
        "slas": {"first_response": {"targets": {"urgent": "1h"}}},
        "slos": [time_slo()],
    }
    return parse_config(yaml.safe_dump(document, sort_keys=False))


def source_alerts(config: Config, options: RuleOptions | None = None) -> dict[str, Any]:
    return {
        rule["alert"]: rule
        for rule in all_rules(config, options)
        if str(rule.get("alert", "")).startswith("HelpdeskSource")
    }


def test_source_alerts_page_when_the_helpdesk_is_down_or_stale_and_ticket_when_it_lags() -> None:
    alerts = source_alerts(config_with_source({"type": "demo"}), RuleOptions(job="hd"))
    severities = {name: rule["labels"]["severity"] for name, rule in alerts.items()}
    assert severities == {
        "HelpdeskSourceDown": "page",
        "HelpdeskSourceStale": "page",
        "HelpdeskSourceLagging": "ticket",
    }
    down = alerts["HelpdeskSourceDown"]
    assert (
        down["expr"] == 'time() - helpdesk_last_successful_poll_timestamp_seconds{job="hd"} > 600'
    )
    assert LAST_ERROR in down["annotations"]["description"]
    stale = alerts["HelpdeskSourceStale"]["expr"]
    assert 'changes(helpdesk_source_watermark_timestamp_seconds{job="hd"}[10m]) == 0' in stale
    assert 'changes(helpdesk_last_successful_poll_timestamp_seconds{job="hd"}[10m]) > 1' in stale


@pytest.mark.parametrize(
    ("interval", "down_after", "noted"),
    [("15s", "10m", False), ("2m", "10m", False), ("150s", "750s", False), ("3m", "15m", True)],
    ids=["short", "two-minutes", "longest-in-time", "too-long-for-15-minutes"],
)
def test_source_down_limit_is_five_poll_intervals_and_at_least_ten_minutes(
    interval: str, down_after: str, noted: bool
) -> None:
    plan = plan_pack(config_with_source({"type": "demo", "poll_interval": interval}))
    assert plan.source_down_after.text == down_after
    notes = [note for note in plan.notes if "HelpdeskSourceDown" in note]
    assert bool(notes) is noted
    if noted:
        assert notes[0].startswith(f"source.poll_interval {interval}: ")


# --- the test generator's own pieces ----------------------------------------------------------
# --- the test generator's own pieces ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1, 2, 3], "0+1x3"),
        ([5, 5, 5], "5x2"),
        ([5, 5], "5x1"),
        ([9, 6, 3], "9-3x2"),
        ([None, None, 4], "_x2 4"),
        ([1, None, 3], "1 _ 3"),
        ([0.5, 0.25], "0.5 0.25"),
        ([-60, 0, 60], "-60+60x2"),
        ([0, 10, 20, 20, 20], "0+10x2 20x1"),
    ],
    ids=[
        "rising",
        "flat",
        "flat-pair",
        "falling",
        "missing",
        "gap",
        "fractions",
        "negative",
        "bend",
    ],
)
def test_expanding_notation(values: list[float | None], expected: str) -> None:
    assert expand(values) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-19.0, "-1900%"), (0.25, "25%"), (1.0 - 1 / 0.15, "-566.7%"), (0.123456, "12.35%")],
    ids=["overspent", "quarter", "inexact", "four-digits"],
)
def test_humanize_percentage_matches_prometheus(value: float, expected: str) -> None:
    assert humanize_percentage(value) == expected


def test_render_expands_values_labels_and_conditions() -> None:
    template = (
        '{{ printf "%.1f" $value }}x on {{ $labels.slo }}'
        "{{ if $labels.instance }} at {{ $labels.instance }}{{ else }} nowhere{{ end }}"
    )
    assert render(template, {"slo": "a"}, 20.0) == "20.0x on a nowhere"
    assert render(template, {"slo": "a", "instance": "h:1"}, 6.66) == "6.7x on a at h:1"
    with pytest.raises(ValueError, match="no rendering"):
        render("{{ $value | humanize }}", {}, 1.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "0s"), (30.0, "30s"), (960.0, "16m 0s"), (3725.0, "1h 2m 5s"), (90061.0, "1d 1h 1m 1s")],
    ids=["zero", "seconds", "minutes", "hours", "days"],
)
def test_humanize_duration_matches_prometheus(value: float, expected: str) -> None:
    assert humanize_duration(value) == expected


@pytest.mark.parametrize(
    ("last_error", "expected"),
    [("auth", "last error: auth."), (None, "last error: none recorded.")],
    ids=["a-reason", "no-failure-yet"],
)
def test_render_names_the_last_error(last_error: str | None, expected: str) -> None:
    template = "for {{ $value | humanizeDuration }}, last error: " + LAST_ERROR + "."
    assert render(template, {}, 660.0, last_error=last_error) == "for 11m 0s, " + expected


def test_source_series_publish_what_the_poller_does() -> None:
    events = {
        0: [Start(), Failed("connect")],  # a new store, the helpdesk does not answer
        2: [Answered(60.0)],
        3: [Stop()],
        5: [Start()],  # a restart: the stored watermark, the start as the last success
        6: [Failed("auth")],
    }
    data = source_series(events, 6)
    assert data.scraped == [True, True, True, False, False, True, True]
    assert data.up == [0.0, 0.0, 1.0, None, None, 0.0, 0.0]
    assert data.last_success == [0.0, 0.0, 120.0, None, None, 300.0, 300.0]
    assert data.watermark == [0.0, 0.0, 60.0, None, None, 60.0, 60.0]
    assert data.errors["connect"] == [0.0, 0.0, 0.0, None, None, None, None]
    assert data.errors["auth"][6] == 360.0
    assert data.last_error(1) == "connect" and data.last_error(6) == "auth"


def test_model_of_a_tier_needs_both_windows_and_the_guard() -> None:
    tier = plan_pack(config_with(time_slo())).slos[0].tiers[0]  # 14.4x on 1h/5m, guard 3
    quiet_then_bad = traffic([(60, 10, 0), (60, 0, 10)], 120)
    assert not tier_condition(tier, quiet_then_bad, 60 + 43)  # 1h ratio 43/60 < 0.72
    assert tier_condition(tier, quiet_then_bad, 60 + 44)  # 44/60 > 0.72, 5m all bad
    two_bad = traffic([(60, 0, 0), (2, 0, 1)], 70)
    assert not tier_condition(tier, two_bad, 63)  # ratio 1 everywhere, but 2 < 3 bad events
    assert MINUTE == 60


@pytest.mark.parametrize(
    ("alerting", "pace", "noted"),
    [
        ({"imminent_lead": "10m"}, "30m", False),
        ({"imminent_lead": "10m", "imminent_pace": "1h"}, "1h", False),
        ({"imminent_lead": "10m", "imminent_pace": "10m"}, "10m", False),
        ({"imminent_lead": "30m", "imminent_pace": "10m"}, "30m", True),
    ],
    ids=["three-leads-by-default", "configured", "the-lead-itself", "shorter-than-the-lead"],
)
def test_imminent_page_counts_answers_over_the_pace_window(
    alerting: dict[str, str], pace: str, noted: bool
) -> None:
    config = config_with(time_slo(alerting=alerting))
    plan = plan_pack(config)
    assert plan.slos[0].backlog_pace == parse_duration(pace).seconds
    assert any("imminent_pace" in n for n in plan.notes) is noted
    alert = next(r for r in all_rules(config) if r.get("alert") == "SupportSLOBacklogImminent")
    assert f'result="good"}}[{pace}])' in alert["expr"]
    assert f"in the last {pace}." in alert["annotations"]["description"]
