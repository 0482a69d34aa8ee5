"""Runbook pages: one per SLO, each naming the alerts the rules generate for it.

The pages are checked against the rules' own plan, so a runbook cannot
describe a burn rate, a window or an alert that the rules do not have.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter import metrics
from exporter.config import Config, load_config, parse_config
from exporter.pack import GENERATED_MARKER, rules
from exporter.pack.alertmanager import DEFAULT_GRAFANA_URL
from exporter.pack.runbooks import (
    INDEX_FILE,
    default_runbook_url,
    runbook_files,
    runbook_path,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPORTER_PAGE = f"runbooks/{rules.EXPORTER_RUNBOOK}.md"

SMALL = """\
service: desk
calendars:
  always: 24x7
slas:
  first_response:
    calendar: always
    targets: {urgent: 1h, high: 3h}
slos:
  - name: quiet
    sla: first_response
    threshold: 45m
    objective: 99%
    window: 7d
    alerting: {page: false, ticket: false}
"""


@pytest.fixture(scope="module", params=["helpdesk-slo.yml", "file.yml"])
def config(request: pytest.FixtureRequest) -> Config:
    return load_config(EXAMPLES / str(request.param))


@pytest.fixture(scope="module")
def demo() -> Config:
    return load_config(EXAMPLES / "helpdesk-slo.yml")


@pytest.fixture(scope="module")
def demo_pages(demo: Config) -> dict[str, str]:
    return runbook_files(demo)


def test_one_page_per_slo_plus_the_exporter_and_the_index(config: Config) -> None:
    files = runbook_files(config)
    expected = {runbook_path(slo.name) for slo in config.slos} | {EXPORTER_PAGE, INDEX_FILE}
    assert set(files) == expected


def test_every_page_names_every_alert_the_rules_generate_for_its_slo(config: Config) -> None:
    files = runbook_files(config)
    plan = rules.plan_pack(config)
    for slo in plan.slos:
        alerts = {
            rule["alert"]
            for group in rules.slo_groups(slo)
            for rule in group["rules"]
            if "alert" in rule
        } | {"SupportSLOMetricsAbsent"}
        page = files[runbook_path(slo.name)]
        headings = set(re.findall(r"^### (\w+)", page, flags=re.MULTILINE))
        assert alerts <= headings, slo.name
        # and no heading for an alert this SLO does not have
        assert headings - {"Notes"} <= alerts | {"SupportSLOErrorBudgetBurn"}, slo.name


def test_every_burn_tier_is_listed_with_its_windows_and_rate(config: Config) -> None:
    files = runbook_files(config)
    for slo in rules.plan_pack(config).slos:
        page = files[runbook_path(slo.name)]
        for tier in slo.tiers:
            row = (
                f"| {tier.severity.value} | {tier.long.text} / {tier.short.text} "
                f"| {rules.number(tier.factor)}x"
            )
            assert row in page, (slo.name, row)


def test_time_and_csat_pages_show_the_evaluate_command(config: Config) -> None:
    files = runbook_files(config)
    name = config.path.name if config.path is not None else ""
    for slo in config.slos:
        page = files[runbook_path(slo.name)]
        command = f"helpdesk-slo evaluate --config {name} --format table"
        if slo.kind.value == "promql":
            assert command not in page  # the exporter does not compute a promql SLO
            assert slo.promql is not None and slo.promql.total in page
        elif slo.kind.value == "availability":
            assert command not in page  # nor an availability SLO
            assert slo.availability is not None and slo.availability.up in page
        else:
            assert command in page, slo.name
            assert f"jq '.slos[\"{slo.name}\"]'" in page


def test_every_page_links_its_detail_dashboard(config: Config) -> None:
    files = runbook_files(config)
    for slo in config.slos:
        page = files[runbook_path(slo.name)]
        assert f"<{DEFAULT_GRAFANA_URL}/d/helpdesk-slo-detail?var-slo={slo.name}>" in page
        assert f"<{DEFAULT_GRAFANA_URL}/d/helpdesk-slo-overview>" in page


def test_the_promise_is_spelled_out_per_priority(demo_pages: dict[str, str]) -> None:
    page = demo_pages[runbook_path("urgent-first-response")]
    assert (
        "**95% of first reply events** of tickets with priority urgent happen within\n"
        "**50% of the SLA target**, counted over a rolling 28d window."
    ) in page
    assert "| urgent | 1h | 30m |" in page
    assert "Europe/Paris: Mon-Fri 09:00-12:30, 13:30-18:00" in page
    assert "5% of the events may be bad, about 1 in 20" in page


def test_thresholds_on_business_calendars_are_written_in_hours(
    demo_pages: dict[str, str],
) -> None:
    page = demo_pages[runbook_path("resolution")]
    assert "| normal | 27h | 27h |" in page
    assert "| low | 45h | 45h |" in page


def test_rescaled_tiers_are_explained(demo_pages: dict[str, str]) -> None:
    page = demo_pages[runbook_path("first-response")]
    assert "| page | 1h / 5m | 10x (configured 13.44x) |" in page
    assert "fire only when **every** event in both windows was bad" in page
    assert "### Notes from the generator" in page


@pytest.mark.parametrize(
    ("slo", "present", "absent"),
    [
        (
            "urgent-first-response",
            ["1. **Find the backlog.**", "2. **Rebalance the queues.**", "3. **Escalate**"],
            ["Read the bad ratings"],
        ),
        ("resolution", ["6. **Check the paused states.**"], ["SupportSLOBacklogBreached (page)"]),
        ("csat", ["1. **Read the bad ratings.**"], ["--ticket 123", "SupportSLABreachImminent"]),
    ],
    ids=["first-response", "resolution", "csat"],
)
def test_what_to_do_fits_the_kind_of_slo(
    demo_pages: dict[str, str], slo: str, present: list[str], absent: list[str]
) -> None:
    page = demo_pages[runbook_path(slo)]
    for text in present:
        assert text in page
    for text in absent:
        assert text not in page
    assert "## When to silence" in page
    assert "**Pause automations**" in page


def test_an_availability_page_says_only_business_minutes_count(
    demo_pages: dict[str, str],
) -> None:
    page = demo_pages[runbook_path("chat-availability")]
    for text in (
        "**The service is available 99.5% of business hours**",
        "business hours of calendar `office` (Europe/Paris: Mon-Fri 09:00-12:30, 13:30-18:00)",
        "outside business hours nothing is measured\nand nothing burns",
        "a business week of 40h allows about\n  **12m** of downtime",
        "0.5% of the business minutes may be down",
        "1. **Confirm the outage from outside the probe.**",
        'helpdesk_calendar_open{calendar="office"}',
    ):
        assert text in page
    for text in ("SupportSLOBacklogBreached", "SupportSLABreachImminent", "evaluate --config"):
        assert text not in page


def test_the_index_links_every_page_it_lists(config: Config) -> None:
    files = runbook_files(config)
    index = files[INDEX_FILE]
    targets = re.findall(r"\]\(([^)]+)\)", index)
    assert sorted(targets) == sorted(
        [f"{slo.name}.md" for slo in config.slos] + [f"{rules.EXPORTER_RUNBOOK}.md"]
    )
    for target in targets:
        assert f"runbooks/{target}" in files


def test_relative_links_between_pages_resolve(config: Config) -> None:
    files = runbook_files(config)
    for path, text in files.items():
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert f"runbooks/{target}" in files, (path, target)


def test_the_exporter_page_covers_the_exporter_alerts(demo_pages: dict[str, str]) -> None:
    page = demo_pages[EXPORTER_PAGE]
    for heading in (
        "HelpdeskExporterDown (page)",
        "HelpdeskSourceDown (page)",
        "HelpdeskSourceStale (page)",
        "HelpdeskSourceLagging (ticket)",
    ):
        assert f"## {heading}" in page
    assert "curl -fsS http://<exporter-host>:9707/healthz" in page
    assert "helpdesk-slo check --config helpdesk-slo.yml" in page


def test_the_exporter_page_has_a_section_for_each_exporter_alert(config: Config) -> None:
    page = runbook_files(config)[EXPORTER_PAGE]
    plan = rules.plan_pack(config)
    for rule in rules.exporter_group(plan)["rules"]:
        if "alert" not in rule:
            continue  # the status-time recording rules
        severity = rule["labels"]["severity"]
        assert f"## {rule['alert']} ({severity})" in page


def test_the_exporter_page_says_what_the_source_series_mean_before_a_poll(
    demo_pages: dict[str, str],
) -> None:
    page = demo_pages[EXPORTER_PAGE]
    for name in (
        metrics.UP.name,
        metrics.LAST_SUCCESSFUL_POLL.name,
        metrics.WATERMARK.name,
        metrics.SOURCE_BACKOFF.name,
        metrics.POLL_LAST_ERROR.name,
    ):
        assert f"| `{name}" in page


def test_the_rules_link_pages_that_exist(config: Config) -> None:
    """Every runbook_url the rules default to is a page of the pack."""
    files = runbook_files(config)
    plan = rules.plan_pack(config)
    urls = {
        rule["annotations"]["runbook_url"]
        for rule in rules.exporter_group(plan)["rules"]
        if rule.get("alert", "").startswith("Helpdesk")  # the others are per SLO
    }
    for slo in plan.slos:
        if slo.slo.alerting.runbook_url is None:
            urls.add(slo.runbook_url)
    for url in urls:
        assert url.startswith("runbooks/") and url in files, url


def test_default_runbook_url_is_the_page_path(config: Config) -> None:
    plan = rules.plan_pack(config)
    for slo in plan.slos:
        assert default_runbook_url(config, slo.slo) == runbook_path(slo.name)
        assert default_runbook_url(config, slo.name) == runbook_path(slo.name)
        if slo.slo.alerting.runbook_url is None:
            assert slo.runbook_url == default_runbook_url(config, slo.slo)


def test_an_slo_without_burn_alerts_says_so() -> None:
    config = parse_config(SMALL)
    page = runbook_files(config)[runbook_path("quiet")]
    assert "Not generated for this SLO: `alerting.page` and `alerting.ticket` are both off." in page
    assert "Time is counted in round the clock (24x7, UTC)." in page
    assert "| urgent | 1h | 45m |" in page and "| high | 3h | 45m |" in page
    assert "### SupportSLOBacklogBreached (ticket)" in page


@pytest.mark.parametrize(
    ("start", "says_so"),
    [
        pytest.param("", False, id="start-created-by-default"),
        pytest.param("    start: assigned\n", True, id="start-assigned"),
    ],
)
def test_a_clock_from_the_assignment_says_where_the_unassigned_tickets_are(
    start: str, says_so: bool
) -> None:
    text = SMALL.replace("    calendar: always\n", "    calendar: always\n" + start)
    page = runbook_files(parse_config(text))[runbook_path("quiet")]
    assert ("It starts when the ticket is first assigned to an agent or a group" in page) is says_so
    assert ("`helpdesk_tickets_unassigned`" in page) is says_so


def test_pages_are_deterministic_and_marked(config: Config) -> None:
    files = runbook_files(config)
    assert runbook_files(config) == files
    for path, text in files.items():
        assert GENERATED_MARKER in text.splitlines()[0], path


def test_pages_are_clean_markdown(config: Config) -> None:
    for path, text in runbook_files(config).items():
        assert text.endswith("\n") and not text.endswith("\n\n"), path
        assert "\n\n\n" not in text, path
        assert "{%" not in text and "{#" not in text, path
        for number, line in enumerate(text.splitlines(), start=1):
            assert line == line.rstrip(), (path, number)


def test_links_follow_the_rules_options(demo: Config) -> None:
    """The pages link the Grafana and runbook locations the alerts themselves link."""
    options = rules.RuleOptions(
        grafana_url="https://grafana.example/", runbook_base_url="https://wiki.example/runbooks"
    )
    files = runbook_files(demo, rules.plan_pack(demo, options))
    assert (
        "<https://grafana.example/d/helpdesk-slo-detail?var-slo=csat>"
        in files[runbook_path("csat")]
    )
    index = files[INDEX_FILE]
    assert "link `https://wiki.example/runbooks/<slo>.md`." in index
    assert "cannot open" not in index
