"""``generate --format openslo|pyrra``: valid documents, the pack unchanged, a lossless round trip.

The JSON schemas under ``schemas/`` are written down from the OpenSLO v1
specification and Pyrra's ServiceLevelObjective CRD (each names its source).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from exporter.config import Config, SloKind, load_config
from exporter.pack.generate import RULES_FILE, PackOptions, build_pack, import_specs
from exporter.pack.imports import ImportNote
from tests.pack.test_imports import counter, ratio_test_file
from tests.tools import require_binary

ROOT = Path(__file__).parents[2]
SCHEMAS = Path(__file__).parent / "schemas"
CONFIGS = [
    ROOT / "examples" / "helpdesk-slo.yml",
    *sorted((Path(__file__).parent / "configs").glob("*.yml")),
]


#: kinds the OpenSLO and Pyrra exports leave out (with a note)
NOT_EXPORTED = ("promql", "availability")


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return loaded


def exported(config: Config, export: str) -> dict[str, list[dict[str, Any]]]:
    pack = build_pack(config, PackOptions(export=export))  # type: ignore[arg-type]
    return {
        path: [d for d in yaml.safe_load_all(text) if d]
        for path, text in pack.files.items()
        if path.startswith(f"{export}/")
    }


@pytest.mark.parametrize(
    ("export", "schema_file"),
    [("openslo", "openslo-v1.schema.json"), ("pyrra", "pyrra-v1alpha1.schema.json")],
)
@pytest.mark.parametrize("config_file", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_exported_document_fits_the_published_schema(
    export: str, schema_file: str, config_file: Path
) -> None:
    config = load_config(config_file)
    files = exported(config, export)
    assert files or all(s.kind is SloKind.AVAILABILITY for s in config.slos)
    for path, documents in files.items():
        for document in documents:
            jsonschema.validate(document, schema(schema_file))
        assert path.endswith(".yaml")


@pytest.mark.parametrize(
    ("schema_file", "document"),
    [
        pytest.param("openslo-v1.schema.json", {"apiVersion": "openslo/v1", "kind": "SLO",
                     "metadata": {"name": "x"}, "spec": {"service": "s",
                     "budgetingMethod": "Occurrences", "objectives": [{"target": 1.5}],
                     "indicatorRef": "i"}}, id="openslo-target-above-1"),
        pytest.param("openslo-v1.schema.json", {"apiVersion": "openslo/v1", "kind": "SLO",
                     "metadata": {"name": "x"}, "spec": {"service": "s",
                     "budgetingMethod": "Occurrences", "objectives": [{"target": 0.9}]}},
                     id="openslo-no-indicator"),
        pytest.param("pyrra-v1alpha1.schema.json", {"apiVersion": "pyrra.dev/v1alpha1",
                     "kind": "ServiceLevelObjective", "metadata": {"name": "x"},
                     "spec": {"target": 99, "window": "4w", "indicator": {"ratio": {
                         "errors": {"metric": "a"}, "total": {"metric": "b"}}}}},
                     id="pyrra-target-as-number"),
        *[
            pytest.param("pyrra-v1alpha1.schema.json", {"apiVersion": "pyrra.dev/v1alpha1",
                         "kind": "ServiceLevelObjective", "metadata": {"name": "x"},
                         "spec": {"target": "99", "window": "28d", "indicator": {"ratio": {
                             "errors": {"metric": "a"}, "total": {"metric": "b"}}}} | change},
                         id=f"pyrra-{name}")
            for name, change in [
                ("target-above-100", {"target": "101"}),
                ("window-units-out-of-order", {"window": "30m1h"}),
                ("window-calendar-word", {"window": "1M"}),
                ("two-indicators", {"indicator": {"ratio": {"errors": {"metric": "a"},
                 "total": {"metric": "b"}}, "bool_gauge": {"metric": "c"}}}),
                ("no-indicator", {"indicator": {}}),
                ("partial-response-unknown", {"partial_response_strategy": "retry"}),
                ("latency-native-without-latency",
                 {"indicator": {"latencyNative": {"total": {"metric": "a"}}}}),
            ]
        ],
    ],
)  # fmt: skip
def test_schemas_refuse_documents_the_specifications_refuse(
    schema_file: str, document: dict[str, Any]
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema(schema_file))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"alerting": {"burnrates": False, "absentName": "Gone",
                      "severities": {"fastBurn": "page"}}}, id="alerting-fields"),
        pytest.param({"indicator": {"latencyNative": {"latency": "100ms",
                      "total": {"metric": "a"}}}}, id="latency-native"),
        pytest.param({"partial_response_strategy": "warn", "performanceOverAccuracy": True,
                      "ruleOutput": {"longRulesLabels": {"a": "b"}}}, id="rule-tuning"),
        pytest.param({"window": "1y2w3d4h5m6s7ms", "target": "100"}, id="window-every-unit"),
    ],
)  # fmt: skip
def test_pyrra_schema_takes_the_fields_pyrra_defines(change: dict[str, Any]) -> None:
    document = {"apiVersion": "pyrra.dev/v1alpha1", "kind": "ServiceLevelObjective",
                "metadata": {"name": "x"}, "spec": {"target": "99", "window": "28d",
                "indicator": {"bool_gauge": {"metric": "a"}}} | change}  # fmt: skip
    jsonschema.validate(document, schema("pyrra-v1alpha1.schema.json"))


@pytest.mark.parametrize("export", ["openslo", "pyrra"])
def test_export_adds_its_directory_and_leaves_the_pack_unchanged(export: str) -> None:
    config = load_config(CONFIGS[0])
    plain = build_pack(config, PackOptions()).files
    with_export = build_pack(config, PackOptions(export=export)).files  # type: ignore[arg-type]
    assert {p: t for p, t in with_export.items() if not p.startswith(f"{export}/")} == plain
    assert any(p.startswith(f"{export}/") for p in with_export)


def _without_slos(config_file: Path) -> Config:
    config = load_config(config_file)
    return config.model_copy(update={"slos": []})


def test_openslo_export_imports_back_to_the_same_slos(tmp_path: Path) -> None:
    config = load_config(CONFIGS[0])
    pack = build_pack(config, PackOptions(export="openslo"))
    paths = []
    for path, text in pack.files.items():
        if path.startswith("openslo/"):
            paths.append(tmp_path / Path(path).name)
            paths[-1].write_text(text)
    notes: list[ImportNote] = []
    back = import_specs(_without_slos(CONFIGS[0]), paths, notes)
    assert [n for n in notes if n.level == "warning"] == []

    def summary(c: Config) -> list[tuple[Any, ...]]:
        return sorted(
            (s.name, s.objective_ratio, s.window, s.labels, s.description)
            for s in c.slos
            if s.kind is not SloKind.AVAILABILITY  # not exported: see the test below
        )

    assert summary(back) == summary(config)
    for slo in back.slos:
        assert slo.promql is not None and slo.promql.bad is not None
        assert slo.promql.bad == (
            f'rate(helpdesk_slo_events_total{{slo="{slo.name}",result="bad"}}[{{{{window}}}}])'
        )


def test_round_trip_reads_the_counters_ratio_on_every_window(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    config = load_config(CONFIGS[0])
    name = config.slos[0].name
    text = build_pack(config, PackOptions(export="openslo")).files[f"openslo/{name}.yaml"]
    spec = tmp_path / "slo.yaml"
    spec.write_text(text)
    datasource = tmp_path / "datasource.yaml"
    datasource.write_text(
        build_pack(config, PackOptions(export="openslo")).files["openslo/datasource.yaml"]
    )
    back = import_specs(_without_slos(CONFIGS[0]), [spec, datasource])
    rules = tmp_path / "rules.yml"
    rules.write_text(
        build_pack(back, PackOptions()).files[RULES_FILE].replace("interval: 1m", "interval: 6h")
    )
    series = [
        counter(f'helpdesk_slo_events_total{{slo="{name}",result="good"}}', 98),
        counter(f'helpdesk_slo_events_total{{slo="{name}",result="bad"}}', 2),
    ]
    test = tmp_path / "rules.test.yml"
    test.write_text(ratio_test_file(rules, name, series, 6000))
    result = subprocess.run(
        [promtool, "test", "rules", str(test)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_pyrra_export_says_what_it_leaves_out_or_changes() -> None:
    config = load_config(ROOT / "tests" / "pack" / "configs" / "objective-995-30d-tiers.yml")
    pack = build_pack(config, PackOptions(export="pyrra"))
    promql = [s.name for s in config.slos if s.kind.value == "promql"]
    assert promql
    for name in promql:
        assert f"pyrra/{name}.yaml" not in pack.files
        assert any(f"slo {name}: not exported to Pyrra" in note for note in pack.notes)


@pytest.mark.parametrize("export", ["openslo", "pyrra"])
def test_an_availability_slo_is_left_out_of_exports_with_a_note(export: str) -> None:
    config = load_config(ROOT / "tests" / "pack" / "configs" / "availability-business-hours.yml")
    pack = build_pack(config, PackOptions(export=export))  # type: ignore[arg-type]
    names = [s.name for s in config.slos if s.kind is SloKind.AVAILABILITY]
    assert names
    for name in names:
        assert f"{export}/{name}.yaml" not in pack.files
        assert any(
            note.startswith(f"slo {name}: not exported to ") and "business minutes" in note
            for note in pack.notes
        )


def test_pyrra_export_turns_a_calendar_month_into_30d() -> None:
    config = load_config(CONFIGS[0])
    monthly = [s.name for s in config.slos if s.window == "month"]
    assert monthly
    files = exported(config, "pyrra")
    for name in monthly:
        (document,) = files[f"pyrra/{name}.yaml"]
        assert document["spec"]["window"] == "30d"


def _pyrra_paths(config: Config, tmp_path: Path) -> list[Path]:
    pack = build_pack(config, PackOptions(export="pyrra"))
    paths = []
    for path, text in pack.files.items():
        if path.startswith("pyrra/"):
            paths.append(tmp_path / Path(path).name)
            paths[-1].write_text(text)
    return paths


def _rolling(window: str) -> str:
    """Pyrra windows are rolling: the export writes a calendar week as 7d, a month as 30d."""
    return {"week": "7d", "month": "30d"}.get(window, window)


def test_pyrra_export_imports_back_to_the_same_slos(tmp_path: Path) -> None:
    config = load_config(CONFIGS[0])
    notes: list[ImportNote] = []
    back = import_specs(_without_slos(CONFIGS[0]), _pyrra_paths(config, tmp_path), notes)
    assert [n for n in notes if n.level == "warning"] == []
    exportable = [s for s in config.slos if s.kind.value not in NOT_EXPORTED]
    assert exportable

    def alerts(slo: Any) -> bool:
        """Pyrra has one switch for burn-rate alerts: on when the pack pages or tickets."""
        return bool(slo.alerting.page or slo.alerting.ticket)

    def summary(slos: Any, window: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (s.name, s.objective_ratio, window(s.window), s.labels, s.description, alerts(s))
            for s in slos
        )

    assert summary(back.slos, str) == summary(exportable, _rolling)
    for slo in back.slos:
        assert slo.promql is not None
        assert slo.promql.bad == (
            f'rate(helpdesk_slo_events_total{{slo="{slo.name}",result="bad"}}[{{{{window}}}}])'
        )


def test_pyrra_export_notes_one_alert_switch_for_page_and_ticket() -> None:
    config = load_config(CONFIGS[0])
    split = [s.name for s in config.slos if s.kind.value not in NOT_EXPORTED
             and s.alerting.page != s.alerting.ticket]  # fmt: skip
    assert split
    notes = build_pack(config, PackOptions(export="pyrra")).notes
    for name in split:
        assert any(f"slo {name}: Pyrra has one switch" in note for note in notes)


def test_pyrra_round_trip_reads_the_counters_ratio_on_every_window(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    config = load_config(CONFIGS[0])
    name = next(s.name for s in config.slos if s.kind.value not in NOT_EXPORTED)
    paths = [p for p in _pyrra_paths(config, tmp_path) if p.name == f"{name}.yaml"]
    back = import_specs(_without_slos(CONFIGS[0]), paths)
    rules = tmp_path / "rules.yml"
    rules.write_text(
        build_pack(back, PackOptions()).files[RULES_FILE].replace("interval: 1m", "interval: 6h")
    )
    series = [
        counter(f'helpdesk_slo_events_total{{slo="{name}",result="good"}}', 98),
        counter(f'helpdesk_slo_events_total{{slo="{name}",result="bad"}}', 2),
    ]
    test = tmp_path / "rules.test.yml"
    test.write_text(ratio_test_file(rules, name, series, 6000))
    result = subprocess.run(
        [promtool, "test", "rules", str(test)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize(
    ("page", "ticket", "alerting"),
    [
        pytest.param(False, False, {"burnrates": False}, id="both-off-burnrates-false"),
        pytest.param(True, True, None, id="both-on-pyrra-default"),
        pytest.param(False, True, None, id="ticket-only-alerts-on"),
    ],
)
def test_pyrra_export_sets_the_one_burn_rate_switch(
    page: bool, ticket: bool, alerting: dict[str, Any] | None
) -> None:
    config = load_config(CONFIGS[0])
    slo = next(s for s in config.slos if s.kind.value not in NOT_EXPORTED)
    changed = slo.model_copy(
        update={"alerting": slo.alerting.model_copy(update={"page": page, "ticket": ticket})}
    )
    config = config.model_copy(update={"slos": [changed]})
    (document,) = exported(config, "pyrra")[f"pyrra/{slo.name}.yaml"]
    assert document["spec"].get("alerting") == alerting
