"""The Grafana dashboards: valid by Grafana's JSON schemas, stable, and every query valid PromQL.

The schemas live outside the project (``../shared/schemas/grafana``); without
them the schema tests are skipped, unless ``HELPDESK_SLO_REQUIRE_SHARED=1``
makes that a failure.  The PromQL check runs ``promtool check rules`` on a
rule file holding every query; without promtool it is skipped, unless
``HELPDESK_SLO_REQUIRE_PROMETHEUS=1``.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from exporter import metrics
from exporter.config import Config, default_config, load_config, parse_config
from exporter.pack import GENERATED_MARKER, dashboards, names
from exporter.pack.generate import MARKER_SCAN
from exporter.pack.rules import RuleOptions, plan_pack, rule_groups
from tests.tools import require_binary, require_shared

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT.parent / "shared" / "schemas" / "grafana"

#: Grafana's own variables and ours, as the PromQL check substitutes them.
SUBSTITUTIONS = (
    ("${datasource}", ""),
    ("$__rate_interval", "5m"),
    ("$__interval", "1m"),
    ("$__range", "1d"),
)

MINIMAL = """\
service: "team \\"blue\\""
slos:
  - name: chat-availability
    kind: promql
    promql:
      bad: sum(rate(chat_errors_total[{{window}}]))
      total: sum(rate(chat_requests_total[{{window}}]))
    objective: 99.5%
    window: week
    alerting:
      ticket: false
      tiers:
        - {severity: page, long_window: 2h, short_window: 10m, budget_percent: 4}
  - name: vip-replies
    sla: first_response
    match: {tags: [vip]}
    threshold: 30m
    objective: 80%
    window: 7d
    alerting: {page: false}
slas:
  first_response:
    targets: {urgent: 30m, high: 2h}
"""

NO_SLOS = "service: support\n"


def _configs() -> dict[str, Config]:
    return {
        "example": load_config(ROOT / "examples" / "helpdesk-slo.yml"),
        "file-example": load_config(ROOT / "examples" / "file.yml"),
        "demo": default_config(),
        "promql-and-custom-tiers": parse_config(MINIMAL),
        "no-slos": parse_config(NO_SLOS),
    }


CONFIGS = _configs()
DASHBOARD_CASES = [
    pytest.param(config_id, uid, id=f"{config_id}-{uid.removeprefix('helpdesk-slo-')}")
    for config_id in CONFIGS
    for uid in dashboards.UIDS
]


@functools.cache
def _files(config_id: str) -> dict[str, str]:
    return dashboards.dashboard_files(CONFIGS[config_id])


def _dashboard(config_id: str, uid: str) -> dict[str, Any]:
    """A fresh copy of one generated dashboard, parsed."""
    loaded: dict[str, Any] = json.loads(_files(config_id)[f"dashboards/{uid}.json"])
    return loaded


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data (rows left out, panels inside rows included)."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


# --- schemas ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    require_shared("schemas", "grafana", "dashboard.jsonschema.json")
    return {
        path.name.removesuffix(".jsonschema.json"): json.loads(path.read_text())
        for path in SCHEMAS.glob("*.jsonschema.json")
    }


def _errors(schema: dict[str, Any], definition: str | None, value: Any) -> list[str]:
    if definition is not None:
        schema = {**schema, "$ref": f"#/definitions/{definition}"}
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(value)
    ]


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_dashboard_validates_against_the_dashboard_schema(
    schemas: dict[str, dict[str, Any]], config_id: str, uid: str
) -> None:
    assert _errors(schemas["dashboard"], None, _dashboard(config_id, uid)) == []


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_each_panel_validates_against_its_panel_schema(
    schemas: dict[str, dict[str, Any]], config_id: str, uid: str
) -> None:
    problems = []
    for panel in _panels(_dashboard(config_id, uid)):
        where = f"{panel['type']} {panel['title']!r}"
        panel_schema = schemas.get(panel["type"])
        if panel_schema is not None:
            problems += [
                f"{where} options: {e}"
                for e in _errors(panel_schema, "Options", panel.get("options", {}))
            ]
            if "FieldConfig" in panel_schema["definitions"]:
                custom = panel["fieldConfig"]["defaults"].get("custom", {})
                problems += [
                    f"{where} custom: {e}" for e in _errors(panel_schema, "FieldConfig", custom)
                ]
        for target in panel.get("targets", []):
            problems += [
                f"{where} target: {e}" for e in _errors(schemas["prometheus"], None, target)
            ]
    assert problems == []


def test_every_panel_type_used_has_a_panel_schema(schemas: dict[str, dict[str, Any]]) -> None:
    used = {
        panel["type"]
        for config_id in CONFIGS
        for uid in dashboards.UIDS
        for panel in _panels(_dashboard(config_id, uid))
    }
    assert used - set(schemas) == set()


# --- data source, uids, links, output -----------------------------------------------------------


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_no_datasource_uid_is_hard_coded(config_id: str, uid: str) -> None:
    dashboard = _dashboard(config_id, uid)
    refs = [(path, value) for path, value in _walk(dashboard) if path.endswith(".datasource")]
    assert refs
    assert [
        path for path, ref in refs if ref != {"type": "prometheus", "uid": "${datasource}"}
    ] == []
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}"
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
    variable = dashboard["templating"]["list"][0]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_uid_tag_and_links_to_the_other_two(config_id: str, uid: str) -> None:
    dashboard = _dashboard(config_id, uid)
    assert dashboard["uid"] == uid
    assert dashboard["tags"] == ["helpdesk-slo"]
    linked = {link["url"].split("?")[0].removeprefix("/d/") for link in dashboard["links"]}
    assert linked == set(dashboards.UIDS) - {uid}


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_panel_ids_are_unique_and_in_reading_order(config_id: str, uid: str) -> None:
    ids = []
    for panel in _dashboard(config_id, uid)["panels"]:
        ids.append(panel["id"])
        ids += [inner["id"] for inner in panel.get("panels", [])]
    assert ids == list(range(1, len(ids) + 1))


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_panels_fit_the_grid_without_overlapping(config_id: str, uid: str) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in _dashboard(config_id, uid)["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_every_data_panel_sets_a_unit(config_id: str, uid: str) -> None:
    units = {
        panel["title"]: panel["fieldConfig"]["defaults"].get("unit")
        for panel in _panels(_dashboard(config_id, uid))
    }
    assert {
        title: unit for title, unit in units.items() if unit not in ("s", "percentunit", "short")
    } == {}


@pytest.mark.parametrize("config_id", list(CONFIGS))
def test_output_is_deterministic_pretty_and_sorted(config_id: str) -> None:
    first = dashboards.dashboard_files(CONFIGS[config_id])
    again = dashboards.dashboard_files(CONFIGS[config_id])
    assert first == again
    assert sorted(first) == [f"dashboards/{uid}.json" for uid in sorted(dashboards.UIDS)]
    for text in first.values():
        assert text.endswith("}\n")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("config_id", list(CONFIGS))
def test_dashboards_carry_the_generated_marker_where_generate_looks(config_id: str) -> None:
    for text in _files(config_id).values():
        head = text.encode()[:MARKER_SCAN]
        assert GENERATED_MARKER.encode() in head


def test_dashboards_follow_the_plan_the_rules_were_rendered_from() -> None:
    config = CONFIGS["example"]
    dropped = plan_pack(config, RuleOptions(dead_tiers="drop"))
    files = dashboards.dashboard_files(config, dropped)
    detail = json.loads(files[f"dashboards/{dashboards.DETAIL_UID}.json"])
    (fast_page,) = _by_title(_panels(detail), "Page: 1h and 5m windows")
    (threshold,) = [t["expr"] for t in fast_page["targets"] if t["refId"] == "T"]
    # 13.44x is out of reach at 90%: dropped for those SLOs, not rescaled to 10x
    assert threshold.startswith('(vector(13.44) and on() slo:objective:ratio{slo=~"urgent-first')
    assert "vector(10)" not in threshold
    assert "vector(10)" in json.dumps(_dashboard("example", dashboards.DETAIL_UID))


# --- content tied to the config -----------------------------------------------------------------


def _by_title(panels: Iterator[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    return [panel for panel in panels if panel["title"] == title]


def _steps(panel: dict[str, Any]) -> list[tuple[float | None, str]]:
    return [
        (step["value"], step["color"])
        for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    ]


@pytest.mark.parametrize("config_id", list(CONFIGS))
def test_overview_has_a_row_per_slo_with_the_objective_as_threshold(config_id: str) -> None:
    config = CONFIGS[config_id]
    overview = _dashboard(config_id, dashboards.OVERVIEW_UID)
    rows = [panel["title"] for panel in overview["panels"] if panel["type"] == "row"]
    assert [row.split(":")[0] for row in rows] == [slo.name for slo in config.slos] + [
        "Tickets and SLA outcomes",
        "Where the time goes (business hours)",
    ]
    compliance = [p for p in _panels(overview) if p["title"].startswith("Compliance")]
    assert [_steps(panel)[1] for panel in compliance] == [
        (float(slo.objective_ratio), "green") for slo in config.slos
    ]


@pytest.mark.parametrize("config_id", list(CONFIGS))
def test_overview_burn_rate_thresholds_are_the_alert_factors(config_id: str) -> None:
    plan = plan_pack(CONFIGS[config_id])
    panels = _by_title(_panels(_dashboard(config_id, dashboards.OVERVIEW_UID)), "Burn rate now")
    for slo, panel in zip(plan.slos, panels, strict=True):
        expected: dict[str, Decimal] = {}
        for tier in slo.tiers:
            colour = "red" if tier.severity.value == "page" else "orange"
            expected[colour] = min(expected.get(colour, tier.factor), tier.factor)
        assert {colour: Decimal(str(value)) for value, colour in _steps(panel)[1:]} == expected


def test_overview_burn_down_covers_each_slo_window() -> None:
    panels = _panels(_dashboard("file-example", dashboards.OVERVIEW_UID))
    burn_downs = [p for p in panels if p["title"].startswith("Error budget burn-down")]
    assert [panel["timeFrom"] for panel in burn_downs] == [
        "28d",
        "now/M",
        "28d",
        "now/w",
        "now/M",
        "28d",
    ]


@pytest.mark.parametrize(
    ("slo", "reads"),
    [
        ("urgent-first-response", metrics.SLO_EVENTS.name),
        ("chat-availability", names.PERIOD_BUDGET_REMAINING),
    ],
    ids=["time-from-the-exporter-counter", "availability-from-the-recorded-budget"],
)
def test_overview_burn_down_reads_what_the_slo_kind_has(slo: str, reads: str) -> None:
    panels = _panels(_dashboard("example", dashboards.OVERVIEW_UID))
    [burn_down] = [
        p
        for p in panels
        if p["title"].startswith("Error budget burn-down")
        and any(f'slo="{slo}"' in t["expr"] for t in p["targets"])
    ]
    assert [reads in t["expr"] for t in burn_down["targets"]] == [True]
    if slo == "chat-availability":
        assert metrics.SLO_EVENTS.name not in burn_down["targets"][0]["expr"]


def test_detail_selects_one_slo_from_the_recorded_objectives() -> None:
    detail = _dashboard("example", dashboards.DETAIL_UID)
    variable = detail["templating"]["list"][1]
    assert variable["name"] == "slo"
    assert variable["query"] == 'label_values(slo:objective:ratio{service="support"}, slo)'
    assert variable["current"]["value"] == "urgent-first-response"
    rule_queries = [q for q in dashboards.panel_queries(detail) if "slo:" in q]
    assert rule_queries
    assert [q for q in rule_queries if 'slo="$slo"' not in q] == []


def test_detail_thresholds_from_queries_point_at_their_query() -> None:
    panels = [
        panel
        for panel in _panels(_dashboard("example", dashboards.DETAIL_UID))
        if any(t["id"] == "configFromData" for t in panel.get("transformations", []))
    ]
    assert [panel["title"] for panel in panels] == [
        "Burn rate now",
        "Waiting past the threshold",
        "About to pass within the lead",
    ]
    for panel in panels:
        (transformation,) = panel["transformations"]
        (mapping,) = transformation["options"]["mappings"]
        assert mapping["handlerKey"] == "threshold1"
        legends = {t["refId"]: t.get("legendFormat") for t in panel["targets"]}
        assert legends[transformation["options"]["configRefId"]] == mapping["fieldName"]


def test_detail_about_to_pass_reads_each_slos_lead_bucket() -> None:
    plan = plan_pack(CONFIGS["example"])
    (panel,) = [
        p
        for p in _panels(_dashboard("example", dashboards.DETAIL_UID))
        if p["title"] == "About to pass within the lead"
    ]
    query = panel["targets"][0]["expr"]
    for slo in plan.slos:
        if slo.backlog_lead is None:
            continue
        lead = int(slo.backlog_lead)
        assert f'le=~"{lead}|{lead}\\\\.0"' in query
        assert slo.name in query


def test_detail_burn_rate_panels_follow_the_alert_tiers() -> None:
    plan = plan_pack(CONFIGS["example"])
    tiers = {
        f"{tier.severity.value.capitalize()}: {tier.long.text} and {tier.short.text} windows"
        for slo in plan.slos
        for tier in slo.tiers
    }
    titles = {panel["title"] for panel in _panels(_dashboard("example", dashboards.DETAIL_UID))}
    assert tiers <= titles
    assert len(tiers) == 4


def test_detail_time_percentiles_read_the_elapsed_histogram() -> None:
    queries = dashboards.panel_queries(_dashboard("example", dashboards.DETAIL_UID))
    percentiles = [q for q in queries if q.startswith("histogram_quantile")]
    for quantile in ("0.5", "0.9", "0.95"):
        for sla in ("first_response", "resolution"):
            assert any(
                q.startswith(f"histogram_quantile({quantile},")
                and f'helpdesk_sla_elapsed_business_seconds_bucket{{sla="{sla}"}}' in q
                for q in percentiles
            )


@pytest.mark.parametrize("config_id", ["example", "demo"])
def test_detail_shows_the_time_since_the_last_answer_against_the_source_down_limit(
    config_id: str,
) -> None:
    detail = _dashboard(config_id, dashboards.DETAIL_UID)
    (panel,) = _by_title(_panels(detail), "Since last successful poll")
    [target] = panel["targets"]
    assert "helpdesk_last_successful_poll_timestamp_seconds" in target["expr"]
    limit = plan_pack(CONFIGS[config_id]).source_down_after.seconds
    assert [value for value, _ in _steps(panel)] == [None, limit / 2, limit]


def test_wallboard_is_a_30s_tv_board_with_big_tiles() -> None:
    wallboard = _dashboard("example", dashboards.WALLBOARD_UID)
    assert wallboard["refresh"] == "30s"
    tiles = [panel for panel in _panels(wallboard) if panel["type"] == "stat"]
    assert [tile["title"] for tile in tiles] == [
        "Urgent: breaching in < 15 min",
        "Breached, still open",
        "Oldest unanswered ticket",
        "Error budget left",
        "First reply p90 today",
    ]
    assert all(tile["options"]["colorMode"] == "background_solid" for tile in tiles)
    assert all(tile["gridPos"]["h"] >= 8 for tile in tiles)
    urgent = tiles[0]["targets"][0]["expr"]
    assert (
        'helpdesk_sla_time_to_breach_seconds_bucket{priority="urgent", le=~"900|900\\\\.0"}'
        in urgent
    )
    assert tiles[4]["timeFrom"] == "now/d"


def test_wallboard_colours_each_priority_against_its_target() -> None:
    wallboard = _dashboard("example", dashboards.WALLBOARD_UID)
    (oldest,) = _by_title(_panels(wallboard), "Oldest unanswered ticket")
    overrides = {
        override["matcher"]["options"]["names"][0]: override["properties"][0]["value"]["steps"]
        for override in oldest["fieldConfig"]["overrides"]
    }
    assert overrides["urgent"] == [
        {"color": "green", "value": None},
        {"color": "orange", "value": 1800.0},
        {"color": "red", "value": 3600.0},
    ]
    assert sorted(overrides) == ["high", "low", "normal", "urgent"]


def test_wallboard_lists_the_tickets_closest_to_breach() -> None:
    wallboard = _dashboard("example", dashboards.WALLBOARD_UID)
    (closest,) = _by_title(_panels(wallboard), "Tickets closest to breach")
    target = closest["targets"][0]
    assert target["expr"] == "bottomk(10, helpdesk_sla_ticket_deadline_timestamp_seconds - time())"
    assert (target["format"], target["instant"]) == ("table", True)


# --- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_panel_queries_lists_every_target_and_annotation(config_id: str, uid: str) -> None:
    dashboard = _dashboard(config_id, uid)
    targets = [t["expr"] for panel in _panels(dashboard) for t in panel["targets"]]
    annotations = [a["expr"] for a in dashboard["annotations"].get("list", [])]
    assert dashboards.panel_queries(dashboard) == targets + annotations


@pytest.mark.parametrize(("config_id", "uid"), DASHBOARD_CASES)
def test_queries_use_only_declared_metrics_and_recorded_rules(config_id: str, uid: str) -> None:
    # with no SLO nothing is recorded; the detail dashboard still reads the rules' names
    config = CONFIGS[config_id] if CONFIGS[config_id].slos else CONFIGS["example"]
    declared = {spec.name for spec in metrics.ALL}
    declared |= {f"{spec.name}_{suffix}" for spec in metrics.ALL for suffix in ("bucket", "count")}
    recorded = {
        rule["record"]
        for group in rule_groups(plan_pack(config))
        for rule in group["rules"]
        if "record" in rule
    }
    used = set()
    for query in dashboards.panel_queries(_dashboard(config_id, uid)):
        used |= set(re.findall(r"\b(?:helpdesk_\w+|slo:[\w:]+)", query))
    assert {name for name in used if name not in declared | recorded} == set()


def _substituted(query: str, slo: str) -> str:
    for variable, value in SUBSTITUTIONS:
        query = query.replace(variable, value)
    return query.replace("$slo", slo)


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_binary("promtool")


@pytest.mark.parametrize("config_id", list(CONFIGS))
def test_every_query_is_valid_promql_for_promtool(
    promtool: str, config_id: str, tmp_path: Path
) -> None:
    config = CONFIGS[config_id]
    slo = config.slos[0].name if config.slos else "none"
    rules = []
    for uid in dashboards.UIDS:
        for index, query in enumerate(dashboards.panel_queries(_dashboard(config_id, uid))):
            expr = _substituted(query, slo)
            assert "$" not in expr, expr
            rules.append({"record": f"dashboard:{uid.replace('-', '_')}:{index}", "expr": expr})
    rule_file = tmp_path / "dashboard-queries.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout
