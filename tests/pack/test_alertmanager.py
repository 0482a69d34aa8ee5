"""The generated Alertmanager config and Slack template, checked by the real ``amtool``.

The files are written to a temporary directory with the webhook URL file
pointed at a dummy file there, then ``amtool check-config`` loads them (which
parses the templates too), ``amtool config routes test`` routes each severity,
and ``amtool template render`` renders the Slack message for alerts shaped like
the ones the rules generate.  Without ``amtool`` (Debian's
``prometheus-alertmanager``) those tests are skipped, unless
``HELPDESK_SLO_REQUIRE_PROMETHEUS=1`` makes them fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config import Config, load_config
from exporter.pack import GENERATED_MARKER, dashboards, rules
from exporter.pack.alertmanager import (
    CONFIG_FILE,
    DEFAULT_GRAFANA_URL,
    DEFAULT_PAGES_CHANNEL,
    DEFAULT_RECEIVER,
    DEFAULT_SLO_CHANNEL,
    DEFAULT_WEBHOOK_URL_FILE,
    PAGES_RECEIVER,
    SLACK_TEMPLATE_FILE,
    SLO_RECEIVER,
    NotifySettings,
    alertmanager_files,
)
from tests.tools import require_binary

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DUMMY_WEBHOOK = "http://127.0.0.1:9/slack-webhook"
EXTERNAL_URL = "http://alertmanager.example:9093"

#: Fields of ``slack_config`` and of its ``actions`` documented for Alertmanager 0.25.
SLACK_FIELDS_0_25 = frozenset(
    {
        "send_resolved", "http_config", "api_url", "api_url_file", "channel", "username",
        "color", "title", "title_link", "pretext", "text", "fields", "short_fields", "footer",
        "fallback", "callback_id", "icon_emoji", "icon_url", "image_url", "thumb_url",
        "link_names", "mrkdwn_in", "actions",
    }
)  # fmt: skip
SLACK_ACTION_FIELDS_0_25 = frozenset({"type", "text", "url", "style", "name", "value", "confirm"})


# --- helpers ------------------------------------------------------------------------------------


def amtool() -> str:
    return require_binary("amtool")


def run_amtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # HOME in the temporary directory: no amtool.yml of the person running the tests applies
    env = {**os.environ, "HOME": str(cwd)}
    return subprocess.run(
        [amtool(), *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a YAML document, at any depth."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key), value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def slack_configs(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [config for receiver in document["receivers"] for config in receiver["slack_configs"]]


def receiver(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in document["receivers"] if r["name"] == name)
    return found


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLES / "helpdesk-slo.yml")


@pytest.fixture(scope="module")
def files(config: Config) -> dict[str, str]:
    return alertmanager_files(config)


@pytest.fixture(scope="module")
def document(files: dict[str, str]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(files[CONFIG_FILE])
    return loaded


@pytest.fixture
def pack(tmp_path: Path, files: dict[str, str]) -> Path:
    """The generated files in ``tmp_path``, reading a dummy webhook URL file next to them."""
    webhook = tmp_path / "slack-webhook-url"
    webhook.write_text(DUMMY_WEBHOOK + "\n", encoding="utf-8")
    for relative, text in files.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace(DEFAULT_WEBHOOK_URL_FILE, str(webhook)), encoding="utf-8")
    return tmp_path / CONFIG_FILE


# --- amtool -------------------------------------------------------------------------------------


def test_amtool_accepts_the_config_and_its_template(pack: Path) -> None:
    checked = run_amtool("check-config", str(pack), cwd=pack.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "3 receivers" in checked.stdout
    assert "2 inhibit rules" in checked.stdout
    assert "1 templates" in checked.stdout


def test_amtool_check_config_parses_the_template(pack: Path) -> None:
    """The check above is only worth something if a broken template fails it."""
    template = pack.parent / "templates" / "slack.tmpl"
    template.write_text(
        template.read_text(encoding="utf-8") + '{{ define "broken" }}{{ if }}{{ end }}\n',
        encoding="utf-8",
    )
    checked = run_amtool("check-config", str(pack), cwd=pack.parent)
    assert checked.returncode != 0
    assert "slack.tmpl" in checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            ["severity=page", "slo=x", "alertname=SupportSLOErrorBudgetBurn"],
            PAGES_RECEIVER,
        ),
        (
            ["severity=ticket", "slo=x", "alertname=SupportSLOErrorBudgetBurn"],
            SLO_RECEIVER,
        ),
        (["severity=page", "alertname=HelpdeskExporterDown", "service=support"], PAGES_RECEIVER),
        (["severity=page", "alertname=HelpdeskSourceDown", "service=support"], PAGES_RECEIVER),
        (["severity=ticket", "alertname=HelpdeskSourceLagging", "service=support"], SLO_RECEIVER),
        (["alertname=SomethingElse", "slo=x"], DEFAULT_RECEIVER),
        (["severity=info", "alertname=SomethingElse"], DEFAULT_RECEIVER),
    ],
    ids=[
        "burn-page",
        "burn-ticket",
        "exporter-down",
        "source-down",
        "source-lagging",
        "no-severity",
        "other",
    ],
)
def test_amtool_routes_each_severity_to_its_receiver(
    pack: Path, labels: list[str], expected: str
) -> None:
    routed = run_amtool(
        "config",
        "routes",
        "test",
        f"--config.file={pack}",
        f"--verify.receivers={expected}",
        *labels,
        cwd=pack.parent,
    )
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.strip() == expected


# --- the routing promises -----------------------------------------------------------------------


def test_pages_and_tickets_post_to_their_channels(document: dict[str, Any]) -> None:
    channels = {
        name: [c["channel"] for c in receiver(document, name)["slack_configs"]]
        for name in (PAGES_RECEIVER, SLO_RECEIVER, DEFAULT_RECEIVER)
    }
    assert channels == {
        PAGES_RECEIVER: [DEFAULT_PAGES_CHANNEL],
        SLO_RECEIVER: [DEFAULT_SLO_CHANNEL],
        DEFAULT_RECEIVER: [DEFAULT_SLO_CHANNEL],
    }


def test_routes_match_on_severity_under_a_default_receiver(document: dict[str, Any]) -> None:
    route = document["route"]
    assert route["receiver"] == DEFAULT_RECEIVER
    assert [(r["receiver"], r["matchers"]) for r in route["routes"]] == [
        (PAGES_RECEIVER, ['severity="page"']),
        (SLO_RECEIVER, ['severity="ticket"']),
    ]
    assert all("continue" not in r for r in route["routes"])


def test_alerts_are_grouped_by_alertname_and_slo(document: dict[str, Any]) -> None:
    assert document["route"]["group_by"] == ["alertname", "slo"]
    # child routes inherit the grouping instead of redefining it
    assert all("group_by" not in r for r in document["route"]["routes"])


def test_a_page_inhibits_tickets_of_the_same_slo(document: dict[str, Any]) -> None:
    assert document["inhibit_rules"][0] == {
        "source_matchers": ['severity="page"', 'slo=~".+"'],
        "target_matchers": ['severity="ticket"'],
        "equal": ["slo"],
    }
    # the legacy matcher fields are deprecated; only the matcher lists are used
    keys = {key for key, _ in walk(document["inhibit_rules"])}
    assert not keys & {"source_match", "source_match_re", "target_match", "target_match_re"}


def test_the_backlog_page_holds_back_the_predictive_page_of_the_same_slo(
    document: dict[str, Any],
) -> None:
    assert document["inhibit_rules"][1] == {
        "source_matchers": ['alertname="SupportSLOBacklogBreached"', 'slo=~".+"'],
        "target_matchers": ['alertname="SupportSLOBacklogImminent"'],
        "equal": ["slo"],
    }
    assert len(document["inhibit_rules"]) == 2


def test_the_webhook_url_is_read_from_a_file_never_inline(document: dict[str, Any]) -> None:
    keys = [key for key, _ in walk(document)]
    assert "api_url" not in keys
    assert "slack_api_url" not in keys
    assert all(c["api_url_file"] == DEFAULT_WEBHOOK_URL_FILE for c in slack_configs(document))
    assert "hooks.slack.com" not in yaml.safe_dump(document)


def test_every_receiver_sends_resolved(document: dict[str, Any]) -> None:
    assert [c["send_resolved"] for c in slack_configs(document)] == [True, True, True]


def test_slack_configs_use_only_fields_of_alertmanager_0_25(document: dict[str, Any]) -> None:
    for slack in slack_configs(document):
        assert set(slack) <= SLACK_FIELDS_0_25
        for action in slack["actions"]:
            assert set(action) <= SLACK_ACTION_FIELDS_0_25


def test_messages_have_runbook_dashboard_and_silence_buttons(document: dict[str, Any]) -> None:
    for slack in slack_configs(document):
        assert [(a["type"], a["text"]) for a in slack["actions"]] == [
            ("button", "Runbook"),
            ("button", "Dashboard"),
            ("button", "Silence"),
        ]
        assert [a["url"] for a in slack["actions"]] == [
            '{{ template "helpdesk_slo.slack.runbook_url" . }}',
            '{{ template "helpdesk_slo.slack.dashboard_url" . }}',
            '{{ template "helpdesk_slo.slack.silence_url" . }}',
        ]


def test_the_config_loads_its_templates_beside_it(document: dict[str, Any]) -> None:
    assert document["templates"] == ["templates/*.tmpl"]
    assert SLACK_TEMPLATE_FILE == "alertmanager/templates/slack.tmpl"


def test_settings_choose_channels_webhook_file_and_grafana(config: Config) -> None:
    settings = NotifySettings(
        pages_channel="#oncall",
        slo_channel="#support-quality",
        webhook_url_file="/run/secrets/slack",
        grafana_url="https://grafana.example/",
    )
    files = alertmanager_files(config, settings)
    document = yaml.safe_load(files[CONFIG_FILE])
    assert [c["channel"] for c in slack_configs(document)] == [
        "#oncall",
        "#support-quality",
        "#support-quality",
    ]
    assert {c["api_url_file"] for c in slack_configs(document)} == {"/run/secrets/slack"}
    template = files[SLACK_TEMPLATE_FILE]
    assert '{{ define "helpdesk_slo.grafana_url" }}https://grafana.example{{ end }}' in template


def test_output_is_deterministic(config: Config, files: dict[str, str]) -> None:
    again = alertmanager_files(load_config(EXAMPLES / "helpdesk-slo.yml"))
    assert again == files
    assert alertmanager_files(config) == files


def test_generated_files_carry_the_marker(files: dict[str, str]) -> None:
    assert sorted(files) == [CONFIG_FILE, SLACK_TEMPLATE_FILE]
    for text in files.values():
        assert GENERATED_MARKER in text.splitlines()[0]


# --- the Slack message --------------------------------------------------------------------------

BURN_LABELS = {
    "alertname": "SupportSLOErrorBudgetBurn",
    "severity": "page",
    "slo": "urgent-first-response",
    "service": "support",
    "team": "tier1",
    "long_window": "1h",
    "short_window": "5m",
    "burn_rate": "13.44",
}
BURN_ANNOTATIONS = {
    "summary": "urgent-first-response: error budget burning fast (over 13.44x for 1h)",
    "description": "20.0x error budget burn rate over the last 1h. Budget left: 42%.",
    "budget_left": "42%",
    "runbook_url": "https://wiki.example/support/runbooks/urgent-first-response",
    "dashboard_url": "https://grafana.example/d/helpdesk-slo-detail?var-slo=urgent-first-response",
}


def alert(
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    status: str = "firing",
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": dict(labels),
        "annotations": dict(annotations),
        "startsAt": "2026-11-02T09:40:00Z",
        "endsAt": "2026-11-02T10:25:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph",
        "fingerprint": "0123456789abcdef",
    }


def group(*alerts: dict[str, Any], receiver: str = PAGES_RECEIVER) -> dict[str, Any]:
    """Notification data as Alertmanager passes it to templates (grouped by alertname, slo)."""
    labels = [a["labels"] for a in alerts]
    common = {k: v for k, v in labels[0].items() if all(other.get(k) == v for other in labels)}
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": {k: common[k] for k in ("alertname", "slo") if k in common},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": EXTERNAL_URL,
    }


def render(pack: Path, definition: str, data: Mapping[str, Any]) -> str:
    data_file = pack.parent / "data.json"
    data_file.write_text(json.dumps(data), encoding="utf-8")
    rendered = run_amtool(
        "template",
        "render",
        f"--template.glob={pack.parent / 'templates' / '*.tmpl'}",
        f"--template.data={data_file}",
        "--template.text={{ template " + json.dumps(definition) + " . }}",
        cwd=pack.parent,
    )
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    return rendered.stdout


PAGE = alert(BURN_LABELS, BURN_ANNOTATIONS)
TICKET = alert(
    {**BURN_LABELS, "severity": "ticket", "long_window": "1d", "short_window": "2h"},
    BURN_ANNOTATIONS,
)
RESOLVED = alert(BURN_LABELS, BURN_ANNOTATIONS, status="resolved")
RELATIVE_LINKS = alert(
    BURN_LABELS, {**BURN_ANNOTATIONS, "runbook_url": "runbooks/urgent-first-response.md"}
)
NO_DASHBOARD = alert(BURN_LABELS, {k: v for k, v in BURN_ANNOTATIONS.items() if "url" not in k})
#: The detail dashboard as a link that picks no SLO (what examples/helpdesk-slo.yml sets).
DETAIL_LINK = "https://grafana.example/d/helpdesk-slo-detail"


def dashboard_link(url: str, labels: Mapping[str, str] = BURN_LABELS) -> dict[str, Any]:
    return alert(labels, {**BURN_ANNOTATIONS, "dashboard_url": url})


EXPORTER_DOWN = alert(
    {"alertname": "HelpdeskExporterDown", "severity": "page", "service": "support"},
    {"summary": "helpdesk-slo exporter is down", "description": "No target is scraped."},
)


@pytest.mark.parametrize(
    ("definition", "data", "expected"),
    [
        (
            "title",
            group(PAGE),
            "[FIRING:1] SupportSLOErrorBudgetBurn · SLO urgent-first-response (page)",
        ),
        (
            "title",
            group(PAGE, alert({**BURN_LABELS, "long_window": "6h"}, BURN_ANNOTATIONS)),
            "[FIRING:2] SupportSLOErrorBudgetBurn · SLO urgent-first-response (page)",
        ),
        (
            "title",
            group(RESOLVED),
            "[RESOLVED] SupportSLOErrorBudgetBurn · SLO urgent-first-response (page)",
        ),
        ("title", group(EXPORTER_DOWN), "[FIRING:1] HelpdeskExporterDown (page)"),
        ("color", group(PAGE), "danger"),
        ("color", group(TICKET, receiver=SLO_RECEIVER), "warning"),
        ("color", group(RESOLVED), "good"),
        ("dashboard_url", group(PAGE), BURN_ANNOTATIONS["dashboard_url"]),
        (
            "dashboard_url",
            group(NO_DASHBOARD),
            f"{DEFAULT_GRAFANA_URL}/d/helpdesk-slo-detail?var-slo=urgent-first-response",
        ),
        (
            "dashboard_url",
            group(EXPORTER_DOWN),
            f"{DEFAULT_GRAFANA_URL}/d/helpdesk-slo-overview",
        ),
        (
            "dashboard_url",
            group(dashboard_link(DETAIL_LINK)),
            f"{DETAIL_LINK}?var-slo=urgent-first-response",
        ),
        (
            "dashboard_url",
            group(dashboard_link(f"{DETAIL_LINK}/slo-detail?orgId=1")),
            f"{DETAIL_LINK}/slo-detail?orgId=1&var-slo=urgent-first-response",
        ),
        (
            "dashboard_url",
            group(dashboard_link(f"{DETAIL_LINK}?var-slo=csat")),
            f"{DETAIL_LINK}?var-slo=csat",
        ),
        (
            "dashboard_url",
            group(dashboard_link("https://grafana.example/d/helpdesk-slo-detailed-team-board")),
            "https://grafana.example/d/helpdesk-slo-detailed-team-board",
        ),
        (
            "dashboard_url",
            group(dashboard_link(DETAIL_LINK, EXPORTER_DOWN["labels"])),
            DETAIL_LINK,
        ),
        (
            "runbook_url",
            group(
                alert(
                    BURN_LABELS,
                    {
                        **BURN_ANNOTATIONS,
                        "runbook_url": "runbooks/x.md",
                        "dashboard_url": DETAIL_LINK,
                    },
                )
            ),
            f"{DETAIL_LINK}?var-slo=urgent-first-response",
        ),
        ("runbook_url", group(PAGE), BURN_ANNOTATIONS["runbook_url"]),
        # Slack only accepts absolute links: a path inside the pack opens the dashboard
        ("runbook_url", group(RELATIVE_LINKS), BURN_ANNOTATIONS["dashboard_url"]),
        (
            "silence_url",
            group(PAGE),
            f"{EXTERNAL_URL}/#/silences/new?filter=%7Balertname%3D%22SupportSLOErrorBudgetBurn%22"
            "%2C%20slo%3D%22urgent-first-response%22%2C%20service%3D%22support%22%7D",
        ),
        (
            "silence_url",
            group(EXPORTER_DOWN),
            f"{EXTERNAL_URL}/#/silences/new?filter=%7Balertname%3D%22HelpdeskExporterDown%22"
            "%2C%20service%3D%22support%22%7D",
        ),
        ("footer", group(PAGE), f"helpdesk-slo · service support · {PAGES_RECEIVER}"),
    ],
    ids=[
        "title-firing",
        "title-counts-firing-alerts",
        "title-resolved",
        "title-without-slo",
        "color-page",
        "color-ticket",
        "color-resolved",
        "dashboard-from-annotation",
        "dashboard-default-detail",
        "dashboard-default-overview",
        "dashboard-detail-link-gets-the-slo",
        "dashboard-detail-link-with-a-query-gets-the-slo",
        "dashboard-detail-link-keeps-its-slo",
        "dashboard-other-dashboard-unchanged",
        "dashboard-detail-link-without-slo-group-unchanged",
        "runbook-relative-falls-back-to-the-slo-detail",
        "runbook-from-annotation",
        "runbook-relative-falls-back",
        "silence-slo-group",
        "silence-exporter-group",
        "footer",
    ],
)
def test_slack_template_renders(
    pack: Path, definition: str, data: dict[str, Any], expected: str
) -> None:
    assert render(pack, f"helpdesk_slo.slack.{definition}", data) == expected


def test_slack_text_has_slo_burn_rate_budget_and_description(pack: Path) -> None:
    text = render(pack, "helpdesk_slo.slack.text", group(PAGE))
    lines = text.strip().splitlines()
    assert lines == [
        f":rotating_light: *{BURN_ANNOTATIONS['summary']}*",
        "*SLO:* `urgent-first-response` · *severity:* page · *service:* support",
        "*Burn rate:* alerting above 13.44x over 1h and 5m",
        "*Budget left:* 42%",
        BURN_ANNOTATIONS["description"],
        "*Since:* 2026-11-02 09:40 UTC",
    ]


def test_slack_text_lists_firing_alerts_before_resolved_ones(pack: Path) -> None:
    text = render(pack, "helpdesk_slo.slack.text", group(RESOLVED, TICKET))
    blocks = text.strip().split("\n\n")
    assert [block.splitlines()[0].split(" ")[0] for block in blocks] == [
        ":warning:",
        ":white_check_mark:",
    ]
    assert "*Resolved at:* 2026-11-02 10:25 UTC" in blocks[1]


def test_slack_text_names_a_runbook_path_that_is_not_a_link(pack: Path) -> None:
    text = render(pack, "helpdesk_slo.slack.text", group(RELATIVE_LINKS))
    assert "*Runbook:* `runbooks/urgent-first-response.md` (in the generated pack)" in text


def test_the_template_reads_what_the_burn_alert_carries(config: Config) -> None:
    """Labels and annotations the message shows are the ones the rules put on the alert."""
    plan = rules.plan_pack(config)
    slo = plan.slos[0]
    burn = rules.burn_alert(slo, slo.tiers[0])
    assert {"alertname", *burn["labels"]} >= {
        "alertname",
        "severity",
        "slo",
        "service",
        "burn_rate",
        "long_window",
        "short_window",
    }
    assert set(burn["annotations"]) >= {"summary", "description", "runbook_url", "dashboard_url"}


def test_the_template_links_the_detail_dashboard_by_its_uid_and_slo_variable(
    files: dict[str, str],
) -> None:
    """The dashboard button's link names what dashboards.py generates (uid and variable)."""
    template = files[SLACK_TEMPLATE_FILE]
    assert f"/d/{dashboards.DETAIL_UID}([/?]|$)" in template
    assert f"var-{dashboards.SLO_VARIABLE}=" in template
    assert f"/d/{dashboards.OVERVIEW_UID}" in template


def test_the_examples_dashboard_button_opens_the_alerting_slo(pack: Path, config: Config) -> None:
    """examples/helpdesk-slo.yml links the detail dashboard; the button picks the SLO."""
    plan = rules.plan_pack(config)
    slo = plan.slos[0]
    burn = rules.burn_alert(slo, slo.tiers[0])
    labels = {"alertname": burn["alert"], **burn["labels"], "slo": slo.name}
    annotations = {key: str(value) for key, value in burn["annotations"].items()}
    url = render(pack, "helpdesk_slo.slack.dashboard_url", group(alert(labels, annotations)))
    assert url.startswith(annotations["dashboard_url"])
    assert url.endswith(f"var-{dashboards.SLO_VARIABLE}={slo.name}")
