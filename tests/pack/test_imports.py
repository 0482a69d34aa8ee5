"""``generate --import``: each OpenSLO, Sloth and Pyrra spec imports into its ratio or is refused.

The examples are read from ``../shared/peers/openslo`` (README code blocks and
``examples/**``) and ``../shared/peers/sloth``; without them these tests skip,
unless ``HELPDESK_SLO_REQUIRE_SHARED=1`` (CI) makes that a failure.

An imported SLO is proven with promtool: its rules run on counters that grow by
98 good out of 100 events a minute for 31 days, and every
``slo:sli_error:ratio_rate<W>`` must read 2% while one hour holds 6000 events.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from exporter.cli import main
from exporter.config import ConfigError, load_config
from exporter.pack.generate import RULES_FILE, PackOptions, build_pack, import_specs
from exporter.pack.imports import ImportNote, read_specs, window_query
from exporter.units import parse_duration
from tests.tools import require_binary, require_shared

#: Two runs, because promtool loads at most 50,000 samples a query: a sample a minute for 78h (the
#: 5m window needs two) proves the windows up to 3d, a sample every 10 minutes for 31 days the rest.
RUNS = (("1m", 78 * 60, "78h", 3 * 86400), ("10m", 31 * 24 * 6, "744h", None))


def peer(*parts: str) -> Path:
    return require_shared("peers", *parts)


def readme_blocks() -> list[str]:
    """The YAML code blocks of the OpenSLO specification README, in order."""
    text = peer("openslo", "README.md").read_text(encoding="utf-8")
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def readme_block(number: int) -> str:
    return readme_blocks()[number]


@pytest.fixture
def base_config(tmp_path: Path) -> Path:
    path = tmp_path / "base.yml"
    path.write_text("service: support\n")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def ratio_slo(ratio_metric: str, window: str = "28d", extra: str = "") -> str:
    """An OpenSLO v1 SLO around a ``ratioMetric:`` block (README fragment or our own)."""
    indented = "\n".join("      " + line for line in ratio_metric.strip().splitlines())
    return (
        "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: readme-ratio\n"
        "spec:\n  service: foo\n  budgetingMethod: Occurrences\n"
        f"  timeWindow:\n    - duration: {window}\n      isRolling: true\n"
        f"  indicator:\n    metadata:\n      name: ratio\n    spec:\n{indented}\n"
        f"  objectives:\n    - target: 0.98\n{extra}"
    )


# --- the ratio, proven by promtool ----------------------------------------------------------------


def counter(series: str, per_minute: int) -> tuple[str, int, bool]:
    return series, per_minute, True


def gauge(series: str, value: float) -> tuple[str, float, bool]:
    return series, value, False


def input_series(series: list[Any], step: str, samples: int) -> list[dict[str, str]]:
    minutes = int(parse_duration(step).seconds // 60)
    return [
        {
            "series": name,
            "values": f"0+{value * minutes}x{samples}" if growing else f"{value}x{samples}",
        }
        for name, value, growing in series
    ]


README_GOOD = 'localhost_server_requests{code="2xx",host="*",instance="127.0.0.1:9090"}'
README_TOTAL = 'localhost_server_requests{code="total",host="*",instance="127.0.0.1:9090"}'
SLOTH_OK = 'http_request_duration_seconds_count{job="myservice",code="200"}'
SLOTH_ERROR = 'http_request_duration_seconds_count{job="myservice",code="500"}'
SLOTH_SERIES = [counter(SLOTH_OK, 98), counter(SLOTH_ERROR, 2)]

MULTI_DOCUMENT = """
apiVersion: openslo/v1
kind: DataSource
metadata: {name: thanos-main}
spec: {type: Thanos, connectionDetails: {url: "http://thanos:9090"}}
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: checkout-errors}
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        metricSourceRef: thanos-main
        spec: {query: 'sum by (job) (checkout_total{result="error"})'}
    total:
      metricSource:
        metricSourceRef: thanos-main
        spec: {query: 'sum(checkout_total{result="error"}) + sum(checkout_total{result="ok"})'}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: page-fast}
spec: {conditions: [], notificationTargets: []}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: shop
  indicatorRef: checkout-errors
  budgetingMethod: Occurrences
  timeWindow: [{duration: 1M, calendar: {startTime: "2024-01-01 00:00:00", timeZone: UTC}}]
  objectives: [{targetPercent: 98}]
  alertPolicies: [{alertPolicyRef: page-fast}]
"""

RAW = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: raw-success}
spec:
  service: foo
  budgetingMethod: Occurrences
  timeWindow: [{duration: 4w, isRolling: true}]
  indicator:
    metadata: {name: raw}
    spec:
      ratioMetric:
        rawType: success
        raw: {metricSource: {type: Mimir, spec: {query: 'success_ratio{job="api"}'}}}
  objectives: [{target: 0.98}]
"""


def _readme_ratio(counter_kind: str) -> str:
    block = readme_block(8)
    assert block.startswith("ratioMetric:")
    return ratio_slo(block.replace("counter: true", f"counter: {counter_kind}"))


def _readme_bad_total() -> str:
    block = readme_block(8).replace("good:", "bad:").replace('code=~"2xx|3xx"', 'code="5xx"')
    return ratio_slo(block)


# (spec files as {name: text or peer path}, SLO name, input series, events in 1h or None)
IMPORTS: list[Any] = [
    pytest.param(
        lambda: {"s.yaml": _readme_ratio("true")},
        "readme-ratio",
        [counter(README_GOOD, 98), counter(README_TOTAL, 100)],
        6000,
        id="openslo-readme-ratio-counters",
    ),
    pytest.param(
        lambda: {"s.yaml": _readme_ratio("false")},
        "readme-ratio",
        [gauge(README_GOOD, 98), gauge(README_TOTAL, 100)],
        None,
        id="openslo-readme-ratio-gauges",
    ),
    pytest.param(
        lambda: {"s.yaml": _readme_bad_total()},
        "readme-ratio",
        [counter(README_GOOD.replace("2xx", "5xx"), 2), counter(README_TOTAL, 100)],
        6000,
        id="openslo-readme-ratio-bad-total",
    ),
    pytest.param(
        lambda: {"s.yaml": MULTI_DOCUMENT},
        "checkout",
        [
            counter('checkout_total{job="shop",result="error"}', 2),
            counter('checkout_total{job="shop",result="ok"}', 98),
        ],
        6000,
        id="openslo-sli-and-datasource-by-name",
    ),
    pytest.param(
        lambda: {"s.yaml": RAW},
        "raw-success",
        [gauge('success_ratio{job="api"}', 0.98)],
        None,
        id="openslo-raw-success-ratio",
    ),
    pytest.param(
        lambda: {"s.yml": peer("sloth", "openslo-getting-started.yml").read_text()},
        "sloth-slo-my-service",
        SLOTH_SERIES,
        6000,
        id="sloth-openslo-v1alpha",
    ),
    pytest.param(
        lambda: {"s.yml": peer("sloth", "getting-started.yml").read_text()},
        "myservice-requests-availability",
        SLOTH_SERIES,
        6000,
        id="sloth-prometheus-v1",
    ),
]


def ratio_test_file(rules: Path, slo: str, series: list[Any], events: int | None) -> str:
    """A promtool test: every error ratio of ``slo`` reads 2% (and 1h holds ``events``).

    promtool compares exactly, so ratios are read in per mille, rounded: 20.
    """
    document = yaml.safe_load(rules.read_text())
    windows = sorted(
        {
            str(rule["record"])
            for group in document["groups"]
            for rule in group["rules"]
            if str(rule.get("record", "")).startswith("slo:sli_error:ratio_rate")
            and rule["labels"]["slo"] == slo
        }
    )
    assert len(windows) >= 8, windows
    runs = []
    for step, samples, eval_time, longest in RUNS:
        tests = [
            {
                "expr": f'round(1000 * sum by (slo) ({name}{{slo="{slo}"}}))',
                "eval_time": eval_time,
                "exp_samples": [{"labels": f'{{slo="{slo}"}}', "value": 20}],
            }
            for name in windows
            if longest is None
            or parse_duration(name.removeprefix("slo:sli_error:ratio_rate")).seconds <= longest
        ]
        if longest is not None and events is not None:
            name = "slo:sli_events:increase1h"
            tests.append(
                {
                    "expr": f'round(sum by (slo) ({name}{{slo="{slo}",result="total"}}))',
                    "eval_time": eval_time,
                    "exp_samples": [{"labels": f'{{slo="{slo}"}}', "value": events}],
                }
            )
        elif longest is None:
            tests = [t for t in tests if "ratio_rate5m" not in t["expr"]]
        runs.append(
            {"interval": step, "input_series": input_series(series, step, samples),
             "promql_expr_test": tests}
        )  # fmt: skip
    return yaml.safe_dump(
        {"rule_files": [rules.name], "evaluation_interval": "6h", "tests": runs}, sort_keys=False
    )


@pytest.mark.parametrize(("specs", "slo", "series", "events"), IMPORTS)
def test_imported_slo_reads_two_percent_errors_on_every_window(
    specs: Any, slo: str, series: list[Any], events: int | None,
    base_config: Path, tmp_path: Path,
) -> None:  # fmt: skip
    promtool = require_binary("promtool")
    paths = [write(tmp_path, name, text) for name, text in specs().items()]
    config = import_specs(load_config(base_config), paths)
    pack = build_pack(config, PackOptions())
    rules = tmp_path / "rules.yml"
    # every 6h instead of every minute: 31 days of rules stay fast, the expressions are the same
    text = pack.files[RULES_FILE].replace("interval: 1m", "interval: 6h")
    assert "interval: 6h" in text
    rules.write_text(text)
    test = write(tmp_path, "rules.test.yml", ratio_test_file(rules, slo, series, events))
    result = subprocess.run(
        [promtool, "test", "rules", str(test)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# --- what is refused, and why ---------------------------------------------------------------


def _datadog_readme_slo() -> str:
    block = readme_block(7)
    assert "type: Datadog" in block
    return block.replace("  objectives:", "  budgetingMethod: Occurrences\n  timeWindow:\n"
                         "    - duration: 28d\n      isRolling: true\n  objectives:")  # fmt: skip


REFUSED = [
    pytest.param(lambda: readme_block(0), "is not one of SLO, SLI", id="readme-general-schema"),
    pytest.param(lambda: readme_block(3), "budgetingMethod Occurrences | Timeslices",
                 id="readme-slo-schema"),
    pytest.param(lambda: readme_block(4), "not a Sloth prometheus/v1 spec nor an OpenSLO",
                 id="readme-objectives-fragment"),
    pytest.param(lambda: readme_block(7), "metric source Datadog is not Prometheus-compatible",
                 id="readme-datadog-slo-as-written"),
    pytest.param(_datadog_readme_slo, "metric source Datadog is not Prometheus-compatible",
                 id="readme-datadog-slo-with-window"),
    pytest.param(lambda: readme_block(8), "not a Sloth prometheus/v1 spec nor an OpenSLO",
                 id="readme-ratio-fragment-alone"),
    pytest.param(lambda: readme_block(9), "not a Sloth prometheus/v1 spec nor an OpenSLO",
                 id="readme-threshold-fragment"),
    pytest.param(lambda: readme_block(10), "not a Sloth prometheus/v1 spec nor an OpenSLO",
                 id="readme-threshold-fragment-inline-source"),
    pytest.param(
        lambda: peer("openslo", "examples", "budgeting-method", "occurences-slo.yaml").read_text(),
        "a thresholdMetric SLI", id="examples-occurrences-threshold",
    ),
    pytest.param(
        lambda: peer("openslo", "examples", "budgeting-method", "ratio-timeslices.yaml")
        .read_text(),
        "budgetingMethod RatioTimeslices (the average of each time slice's ratio)",
        id="examples-ratio-timeslices",
    ),
    pytest.param(
        lambda: peer("openslo", "examples", "budgeting-method", "timeslices-slo.yaml").read_text(),
        "budgetingMethod Timeslices (the share of time slices that met timeSliceTarget)",
        id="examples-timeslices",
    ),
    pytest.param(
        lambda: peer(
            "openslo", "examples", "treat-low-traffic-as-equally-important", "timeslices-slo.yaml"
        ).read_text(),
        "budgetingMethod Timeslices", id="examples-low-traffic-timeslices",
    ),
    pytest.param(lambda: peer("sloth", "google-28d-windows.yaml").read_text(),
                 "a Sloth AlertWindows document holds no SLOs", id="sloth-alert-windows-28d"),
    pytest.param(lambda: peer("sloth", "google-30d-windows.yaml").read_text(),
                 "a Sloth AlertWindows document holds no SLOs", id="sloth-alert-windows-30d"),
    pytest.param(lambda: peer("sloth", "generated-getting-started.yml").read_text(),
                 "a Prometheus rule file, not an SLO spec", id="sloth-generated-rules"),
    pytest.param(lambda: peer("sloth", "generated-openslo-getting-started.yml").read_text(),
                 "a Prometheus rule file, not an SLO spec", id="sloth-generated-openslo-rules"),
    pytest.param(
        lambda: ratio_slo(readme_block(8).replace("sum(localhost", "max(localhost")),
        "cannot put a window into 'max(", id="aggregation-that-cannot-be-windowed",
    ),
    pytest.param(
        lambda: ratio_slo(re.sub(r"\n *counter: true", "", readme_block(8))),
        "says neither counter: true", id="ratio-without-counter",
    ),
    pytest.param(
        lambda: ratio_slo(readme_block(8), window="1M"),
        "a rolling 1M window has no fixed length", id="rolling-month",
    ),
    pytest.param(
        lambda: ratio_slo(readme_block(8), window="30m"),
        "a rolling window must be whole hours (got 30m)", id="rolling-under-an-hour",
    ),
    pytest.param(
        lambda: ratio_slo(readme_block(8)).replace(
            "isRolling: true", "isRolling: false\n      calendar: {timeZone: America/New_York}"
        ).replace("28d", "1M"),
        "calendar time zone America/New_York", id="calendar-in-another-time-zone",
    ),
    pytest.param(
        lambda: ratio_slo(readme_block(8)).replace(
            "isRolling: true", "calendar: {startTime: '2022-01-01 12:00:00', timeZone: UTC}"
        ).replace("28d", "1M"),
        "calendar startTime 2022-01-01 12:00:00", id="calendar-starting-at-noon",
    ),
    pytest.param(
        lambda: ratio_slo(readme_block(8)).replace(
            "isRolling: true", "isRolling: false\n      calendar: {timeZone: UTC}"
        ).replace("28d", "1Q"),
        "a calendar window of 1Q", id="calendar-quarter",
    ),
    pytest.param(
        lambda: ratio_slo(readme_block(8).replace("type: Prometheus", "type: Any")),
        "metric source Any is not Prometheus-compatible", id="source-type-any",
    ),
    pytest.param(
        lambda: ratio_slo(re.sub(r"\n *type: Prometheus", "", readme_block(8))
                          .replace("prometheus-datasource", "nowhere")),
        "no DataSource named 'nowhere'", id="datasource-not-found",
    ),
    pytest.param(
        lambda: "version: prometheus/v1\nservice: s\nslos:\n- name: p\n  objective: 99\n"
        "  sli: {plugin: {id: sloth-common/kubernetes/apiserver/availability}}\n",
        "SLI plugin sloth-common/kubernetes/apiserver/availability", id="sloth-plugin",
    ),
    pytest.param(
        lambda: "version: prometheus/v1\nservice: s\nslos:\n- name: p\n  objective: 99\n"
        "  sli: {events: {error_query: 'sum(errors)', total_query: 'sum(total)'}}\n",
        "has no {{.window}}", id="sloth-query-without-window",
    ),
    pytest.param(
        lambda: "apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: {name: a}\nspec:\n"
        "  timeWindows: [{count: thirty, unit: Day}]\n  objectives: [{target: 0.9, ratioMetrics: "
        "{good: {source: prometheus, query: 'sum(rate(a[{{.window}}]))'}, "
        "total: {source: prometheus, query: 'sum(rate(b[{{.window}}]))'}}}]\n",
        "not a well-formed openslo-slo spec", id="malformed-count",
    ),
    pytest.param(
        lambda: "version: prometheus/v1\nservice: s\nslos: [just-a-name]\n",
        "not a well-formed sloth spec", id="malformed-sloth",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "reason"), REFUSED)
def test_spec_the_pack_cannot_express_is_refused_with_one_line(
    spec: Any, reason: str, base_config: Path, tmp_path: Path
) -> None:
    path = write(tmp_path, "spec.yaml", spec())
    with pytest.raises(ConfigError) as raised:
        import_specs(load_config(base_config), [path])
    (line,) = raised.value.problems
    assert reason in line and "\n" not in line
    assert str(path) in line


def test_refused_slo_beside_an_imported_one_is_a_warning(tmp_path: Path) -> None:
    good = ratio_slo(readme_block(8))
    bad = good.replace("readme-ratio", "other").replace("type: Prometheus", "type: Datadog")
    notes: list[ImportNote] = []
    entries, notes = read_specs([write(tmp_path, "two.yaml", f"{good}\n---\n{bad}")])
    assert [entry["name"] for entry in entries] == ["readme-ratio"]
    warnings = [note.text for note in notes if note.level == "warning"]
    assert len(warnings) == 1 and "SLO other" in warnings[0] and "Datadog" in warnings[0]


# --- what a query becomes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "counter", "expected"),
    [
        pytest.param("x_total{a=\"b\"}", True, 'rate(x_total{a="b"}[{{window}}])', id="counter"),
        pytest.param("x{a=\"b\"}", False, 'avg_over_time(x{a="b"}[{{window}}])', id="gauge"),
        pytest.param("sum by (job) (x)", True, "sum by (job) (rate(x[{{window}}]))", id="sum-by"),
        pytest.param("a + b", True, "(rate(a[{{window}}])) + (rate(b[{{window}}]))", id="plus"),
        pytest.param("sum(rate(x[{{.window}}]))", None, "sum(rate(x[{{.window}}]))",
                     id="template-kept"),
    ],
)  # fmt: skip
def test_openslo_query_gets_the_window_its_counter_flag_asks_for(
    query: str, counter: bool | None, expected: str
) -> None:
    assert window_query(query, counter)[0] == expected


def test_imported_notes_say_what_was_taken(tmp_path: Path) -> None:
    _, notes = read_specs([write(tmp_path, "m.yaml", MULTI_DOCUMENT)])
    texts = [str(note) for note in notes]
    assert any("note:" in t and "cumulative counters: rate over each window" in t for t in texts)
    assert any("alert policy page-fast" in t for t in texts)


def test_sloth_kubernetes_resource_imports_like_the_plain_spec(tmp_path: Path) -> None:
    plain = yaml.safe_load(peer("sloth", "getting-started.yml").read_text())
    resource = {
        "apiVersion": "sloth.slok.dev/v1",
        "kind": "PrometheusServiceLevel",
        "metadata": {"name": "myservice"},
        "spec": {key: value for key, value in plain.items() if key != "version"},
    }
    from_resource, _ = read_specs([write(tmp_path, "k.yaml", yaml.safe_dump(resource))])
    from_plain, _ = read_specs([peer("sloth", "getting-started.yml")])
    drop = {"_from"}
    assert [{k: v for k, v in e.items() if k not in drop} for e in from_resource] == [
        {k: v for k, v in e.items() if k not in drop} for e in from_plain
    ]


def test_generate_prints_each_import_decision_on_its_own_line(
    base_config: Path, tmp_path: Path
) -> None:
    good = ratio_slo(readme_block(8))
    bad = good.replace("readme-ratio", "other").replace("type: Prometheus", "type: Datadog")
    spec = write(tmp_path, "two.yaml", f"{good}\n---\n{bad}")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            ["generate", "--config", str(base_config), "--out", str(tmp_path / "o"),
             "--import", str(spec)],
            out=io.StringIO(),
        )  # fmt: skip
    assert code == 0
    lines = err.getvalue().splitlines()
    refused = [line for line in lines if line.startswith("warning: refused:")]
    assert len(refused) == 1 and "SLO other" in refused[0] and "Datadog" in refused[0]
    assert any(line.startswith("note: ") and "SLO readme-ratio" in line for line in lines)
    assert (tmp_path / "o" / RULES_FILE).is_file()


# --- Pyrra ServiceLevelObjective resources --------------------------------------------------------


def pyrra_slo(indicator: str, spec: str = "", window: str = "4w", target: str = '"99.5"') -> str:
    """A Pyrra ServiceLevelObjective shaped like Pyrra's examples, around an indicator block."""
    body = "\n".join("    " + line for line in indicator.strip().splitlines())
    extra = "\n".join("  " + line for line in spec.strip().splitlines())
    return (
        "apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\n"
        "metadata:\n  name: api-errors\n  namespace: monitoring\n  labels: {team: web}\n"
        f"spec:\n  target: {target}\n  window: {window}\n  description: API  errors\n"
        f"  indicator:\n{body}\n{extra}\n"
    )


PYRRA_RATIO = """
ratio:
  errors:
    metric: http_requests_total{job="api",code=~"5.."}
  total:
    metric: http_requests_total{job="api"}
"""
PYRRA_LATENCY = """
latency:
  success:
    metric: http_request_duration_seconds_bucket{job="api",code!~"5..",le="0.25"}
  total:
    metric: http_request_duration_seconds_count{job="api"}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            pyrra_slo(PYRRA_RATIO),
            {"objective": "99.5%", "window": "28d", "promql": {
                "bad": 'rate(http_requests_total{job="api",code=~"5.."}[{{window}}])',
                "total": 'rate(http_requests_total{job="api"}[{{window}}])'}},
            id="ratio-errors-over-total",
        ),
        pytest.param(
            pyrra_slo(PYRRA_LATENCY, window="2w", target='"99"'),
            {"objective": "99%", "window": "14d", "promql": {
                "good": 'rate(http_request_duration_seconds_bucket{job="api",code!~"5..",le="0.25"}'
                        "[{{window}}])",
                "total": 'rate(http_request_duration_seconds_count{job="api"}[{{window}}])'}},
            id="latency-success-over-total",
        ),
        pytest.param(pyrra_slo(PYRRA_RATIO, window="36h"), {"window": "36h"}, id="window-hours"),
        pytest.param(
            pyrra_slo(PYRRA_RATIO), {"labels": {"team": "web"}, "description": "API errors"},
            id="labels-and-description",
        ),
        pytest.param(
            pyrra_slo(PYRRA_RATIO, "alerting: {burnrates: false}"),
            {"alerting": {"page": False, "ticket": False}}, id="burnrates-off",
        ),
        pytest.param(
            pyrra_slo(PYRRA_RATIO, "alerting: {disabled: true}"),
            {"alerting": {"page": False, "ticket": False}}, id="alerting-disabled",
        ),
        pytest.param(
            pyrra_slo(PYRRA_RATIO, "alerting: {name: ApiBurn}"),
            {"alerting": {"page": True, "ticket": True}}, id="alerting-on",
        ),
    ],
)  # fmt: skip
def test_pyrra_slo_imports_as_the_promql_ratio_it_means(
    text: str, expected: dict[str, Any], tmp_path: Path
) -> None:
    schema = json.loads(
        (Path(__file__).parent / "schemas" / "pyrra-v1alpha1.schema.json").read_text()
    )
    jsonschema.validate(yaml.safe_load(text), schema)  # the fixture is a valid Pyrra resource
    (entry,), notes = read_specs([write(tmp_path, "slo.yaml", text)])
    assert [n for n in notes if n.level == "warning"] == []
    assert entry["name"] == "api-errors" and entry["kind"] == "promql"
    assert {key: entry[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(pyrra_slo(PYRRA_RATIO + '  grouping: ["handler"]'),
                     "grouping ['handler'] makes one SLO per group", id="grouping"),
        pytest.param(pyrra_slo('latencyNative:\n  latency: 100ms\n  total:\n    metric: x{a="b"}'),
                     "latencyNative: a native-histogram latency SLI", id="latency-native"),
        pytest.param(pyrra_slo('bool_gauge:\n  metric: up{job="api"}'),
                     "bool_gauge: a bool_gauge SLI counts samples", id="bool-gauge"),
        pytest.param(pyrra_slo(PYRRA_LATENCY.replace(',le="0.25"', "")),
                     'needs an le="..." bucket matcher', id="latency-without-le"),
        pytest.param(pyrra_slo(PYRRA_RATIO.replace('metric: http_requests_total{job="api"}',
                                                   "metric: sum(y)")),
                     "ratio.total.metric must be a vector selector", id="ratio-not-a-selector"),
        pytest.param(pyrra_slo(PYRRA_RATIO, window="90m"),
                     "window 90m: the pack's rolling windows are whole hours", id="window-minutes"),
        pytest.param(pyrra_slo(PYRRA_RATIO, window="a month"),
                     "is not a Prometheus duration", id="window-not-a-duration"),
        pytest.param(pyrra_slo(PYRRA_RATIO, target='"100"'),
                     "must be above 0 and below 100", id="target-100"),
        pytest.param(pyrra_slo(PYRRA_RATIO, target='"high"'),
                     "is not a percentage", id="target-not-a-number"),
        pytest.param(pyrra_slo(""), "needs exactly one of ratio, latency", id="no-indicator"),
    ],
)  # fmt: skip
def test_pyrra_slo_the_pack_cannot_express_is_refused_with_one_line(
    text: str, reason: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "slo.yaml", text)
    with pytest.raises(ConfigError) as caught:
        read_specs([path])
    (message,) = caught.value.problems
    assert reason in message and "\n" not in message


def test_pyrra_rule_tuning_fields_are_noted_not_imported(tmp_path: Path) -> None:
    text = pyrra_slo(PYRRA_RATIO, "performanceOverAccuracy: true\npartial_response_strategy: warn")
    _, notes = read_specs([write(tmp_path, "slo.yaml", text)])
    assert any(
        n.level == "note" and "partial_response_strategy, performanceOverAccuracy" in n.text
        for n in notes
    )
