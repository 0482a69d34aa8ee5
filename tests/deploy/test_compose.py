"""The compose stack: services, mounts, the Prometheus config and Grafana provisioning.

No container engine runs here, so the files are parsed and cross-checked: every
bind mount names a file of the repository (files of the generated pack are
skipped when absent), each mount lands where the program expects it (the rule
file Prometheus loads, the webhook file Alertmanager reads, the dashboards
folder Grafana's provider watches), and the Prometheus config passes
``promtool check config`` with the repository's rule file.  Without promtool
that test skips, unless ``HELPDESK_SLO_REQUIRE_PROMETHEUS=1`` makes it fail.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from exporter.config import DEFAULT_LISTEN_PORT, NotifyConfig, SloKind, default_config
from exporter.pack.rules import RuleOptions
from tests.deploy.helpers import (
    COMPOSE_DIR,
    ROOT,
    SECRET_NAME,
    STORE_DIR,
    generated,
    interpolate_tree,
    is_generated,
    require_prometheus_tool,
)

COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
PROMETHEUS_CONFIG = COMPOSE_DIR / "prometheus" / "prometheus.yml"
DATASOURCES = COMPOSE_DIR / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = COMPOSE_DIR / "grafana" / "provisioning" / "dashboards" / "helpdesk-slo.yml"
RULES_FILE = ROOT / "rules" / "helpdesk-slo.rules.yml"
DEMO_PROBE = COMPOSE_DIR / "prometheus" / "demo-probe.rules.yml"
ALERTMANAGER_CONFIG = ROOT / "alertmanager" / "alertmanager.yml"
DASHBOARD_UIDS = {"helpdesk-slo-overview", "helpdesk-slo-detail", "helpdesk-slo-wallboard"}
SERVICES = ("exporter", "prometheus", "alertmanager", "grafana")


def compose(environment: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file with ``${VAR:-default}`` resolved (by default, with no variable set)."""
    data = interpolate_tree(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")), environment)
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    result = compose()["services"][name]
    assert isinstance(result, dict)
    return result


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def mounts(name: str) -> list[dict[str, Any]]:
    """The service's volumes in long form: type, source, target, read_only."""
    result = []
    for entry in service(name).get("volumes", []):
        if isinstance(entry, dict):
            result.append(entry)
            continue
        source, target, *options = entry.split(":")
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        result.append(
            {"type": kind, "source": source, "target": target, "read_only": "ro" in options}
        )
    return result


def mount_to(name: str, target: str) -> dict[str, Any]:
    found = [m for m in mounts(name) if m["target"] == target]
    assert len(found) == 1, f"{name}: no single mount at {target}: {mounts(name)}"
    return found[0]


def host_path(source: str) -> Path:
    return (COMPOSE_DIR / source).resolve()


def walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            items.append((f"{path}.{key}", value))
            items += walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            items += walk(value, f"{path}[{index}]")
    return items


# --- the compose file ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_service_exists(name: str) -> None:
    assert name in compose()["services"]


@pytest.mark.parametrize("name", SERVICES)
def test_images_are_pinned(name: str) -> None:
    image = service(name)["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and tag and tag != "latest", image


@pytest.mark.parametrize("name", SERVICES)
def test_ports_listen_on_localhost_only(name: str) -> None:
    for port in service(name).get("ports", []):
        assert str(port).startswith("127.0.0.1:"), port


def test_exporter_is_built_from_the_repository_and_runs_the_demo() -> None:
    exporter = service("exporter")
    context = host_path(exporter["build"]["context"])
    assert context == ROOT
    assert (context / exporter["build"].get("dockerfile", "Dockerfile")).is_file()
    assert exporter["command"] == ["serve"], "no --config: the built-in demo helpdesk"
    assert f"127.0.0.1:{DEFAULT_LISTEN_PORT}:{DEFAULT_LISTEN_PORT}" in exporter["ports"]


def test_exporter_store_is_a_named_volume() -> None:
    store = mount_to("exporter", STORE_DIR)
    assert store["type"] == "volume"
    assert store["source"] in compose()["volumes"]


def test_prometheus_data_is_a_named_volume_and_kept_400_days() -> None:
    prometheus = service("prometheus")
    data = mount_to("prometheus", "/prometheus")
    assert data["type"] == "volume" and data["source"] in compose()["volumes"]
    assert "--storage.tsdb.path=/prometheus" in prometheus["command"]
    assert "--storage.tsdb.retention.time=400d" in prometheus["command"]


def test_every_named_volume_is_declared() -> None:
    declared = set(compose()["volumes"])
    for name in SERVICES:
        for mount in mounts(name):
            if mount["type"] == "volume":
                assert mount["source"] in declared, (name, mount)


def test_bind_mounts_are_read_only_and_name_repository_files() -> None:
    missing_generated = []
    for name in SERVICES:
        for mount in mounts(name):
            if mount["type"] != "bind":
                continue
            assert mount["read_only"], f"{name}: {mount['source']} is mounted writable"
            path = host_path(mount["source"])
            assert path.is_relative_to(ROOT), f"{name}: {mount['source']} is outside the repository"
            if not path.exists():
                assert is_generated(path), f"{name}: {mount['source']} does not exist"
                missing_generated.append(str(path.relative_to(ROOT)))
    if missing_generated:
        pytest.skip(f"generated files missing (run helpdesk-slo generate): {missing_generated}")


def test_prometheus_loads_its_config_and_the_generated_rules() -> None:
    prometheus = service("prometheus")
    config_flag = next(f for f in prometheus["command"] if f.startswith("--config.file="))
    config_target = config_flag.partition("=")[2]
    assert host_path(mount_to("prometheus", config_target)["source"]) == PROMETHEUS_CONFIG
    mounted = [
        host_path(mount_to("prometheus", rule_file)["source"])
        for rule_file in load(PROMETHEUS_CONFIG)["rule_files"]
    ]
    assert mounted == [RULES_FILE, DEMO_PROBE]


def test_alertmanager_gets_the_generated_config_and_templates() -> None:
    alertmanager = service("alertmanager")
    config_flag = next(f for f in alertmanager["command"] if f.startswith("--config.file="))
    config_target = PurePosixPath(config_flag.partition("=")[2])
    assert host_path(mount_to("alertmanager", str(config_target))["source"]) == ALERTMANAGER_CONFIG
    templates = mount_to("alertmanager", str(config_target.parent / "templates"))
    assert host_path(templates["source"]) == ALERTMANAGER_CONFIG.parent / "templates"
    config = load(generated(ALERTMANAGER_CONFIG))
    for pattern in config.get("templates", []):
        assert PurePosixPath(pattern).parent == PurePosixPath("templates"), pattern
    assert any(f.startswith("--web.external-url=") for f in alertmanager["command"]), (
        "the Silence button links to this Alertmanager"
    )


def test_slack_webhook_url_is_a_secret_file_where_alertmanager_reads_it() -> None:
    secrets = service("alertmanager")["secrets"]
    assert len(secrets) == 1
    secret = secrets[0]
    assert secret["target"] == NotifyConfig().webhook_url_file
    source = compose()["secrets"][secret["source"]]
    assert set(source) == {"file"}, "a file, never an inline value or an environment variable"
    assert host_path(source["file"]).parent == COMPOSE_DIR / "secrets"
    config = load(generated(ALERTMANAGER_CONFIG))
    files = {v for k, v in walk(config) if k.endswith(".api_url_file")}
    assert files == {secret["target"]}


def test_secrets_directory_is_never_committed() -> None:
    ignore = (COMPOSE_DIR / "secrets" / ".gitignore").read_text(encoding="utf-8").split()
    assert "*" in ignore and "!.gitignore" in ignore


def test_no_inline_secrets() -> None:
    for key, value in walk(compose()):
        name = key.rsplit(".", 1)[-1]
        if ".environment." in key and SECRET_NAME.search(name):
            pytest.fail(f"{key}: secrets are mounted files, not environment values")
        if isinstance(value, str):
            assert "hooks.slack.com" not in value, key
    for path in (PROMETHEUS_CONFIG, DATASOURCES, DASHBOARD_PROVIDERS):
        text = path.read_text(encoding="utf-8")
        assert "hooks.slack.com" not in text and "password" not in text.lower(), path


def test_grafana_anonymous_access_is_off_by_default() -> None:
    environment = service("grafana")["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    grafana = compose({"GRAFANA_ANONYMOUS": "true"})["services"]["grafana"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"


# --- Prometheus config ---------------------------------------------------------------------------


def test_prometheus_config_shape() -> None:
    config = load(PROMETHEUS_CONFIG)
    assert config["global"] == {"scrape_interval": "15s", "evaluation_interval": "15s"}
    assert config["rule_files"] == [
        "/etc/prometheus/rules/helpdesk-slo.rules.yml",
        "/etc/prometheus/rules/demo-probe.rules.yml",
    ]
    alertmanagers = config["alerting"]["alertmanagers"]
    assert alertmanagers[0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == [RuleOptions.job], "the generated alerts select job=helpdesk-slo"
    job = jobs[RuleOptions.job]
    assert job.get("scrape_interval", config["global"]["scrape_interval"]) == "15s"
    assert job["static_configs"][0]["targets"] == [f"exporter:{DEFAULT_LISTEN_PORT}"]


def test_prometheus_targets_are_services_of_the_stack() -> None:
    config = load(PROMETHEUS_CONFIG)
    names = compose()["services"]
    groups = [*config["scrape_configs"], *config["alerting"]["alertmanagers"]]
    targets = [t for group in groups for s in group["static_configs"] for t in s["targets"]]
    for target in targets:
        host, _, port = target.rpartition(":")
        assert host in names and port.isdigit(), target


def rewrite_for_local_run(config: dict[str, Any], tmp_path: Path) -> Path:
    """What the end-to-end test does: other targets and the rule file path, nothing else."""
    config = json.loads(json.dumps(config))
    config["rule_files"] = [str(generated(RULES_FILE))]
    config["scrape_configs"][0]["static_configs"][0]["targets"] = ["127.0.0.1:19707"]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = ["127.0.0.1:19093"]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = require_prometheus_tool("promtool", "prometheus")
    path = rewrite_for_local_run(load(PROMETHEUS_CONFIG), tmp_path)
    result = subprocess.run(
        [promtool, "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


# --- Grafana provisioning ------------------------------------------------------------------------


def test_grafana_mounts_the_provisioning_files() -> None:
    for path in (DATASOURCES, DASHBOARD_PROVIDERS):
        kind = path.parent.name
        mount = mount_to("grafana", f"/etc/grafana/provisioning/{kind}")
        assert host_path(mount["source"]) == path.parent


def test_datasource_is_the_stacks_prometheus_and_the_default() -> None:
    provisioning = load(DATASOURCES)
    assert provisioning["apiVersion"] == 1
    (datasource,) = provisioning["datasources"]
    assert datasource["uid"] == "prometheus"
    assert datasource["type"] == "prometheus"
    assert datasource["isDefault"] is True
    assert datasource["access"] == "proxy"
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in compose()["services"]
    scrape_interval = load(PROMETHEUS_CONFIG)["global"]["scrape_interval"]
    assert datasource["jsonData"]["timeInterval"] == scrape_interval


def test_dashboard_provider_loads_the_generated_dashboards() -> None:
    provisioning = load(DASHBOARD_PROVIDERS)
    assert provisioning["apiVersion"] == 1
    (provider,) = provisioning["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    folder = provider["options"]["path"]
    mount = mount_to("grafana", folder)
    source = host_path(mount["source"])
    assert source == ROOT / "dashboards"
    uids = set()
    for file in generated(source).glob("*.json"):
        uids.add(json.loads(file.read_text(encoding="utf-8"))["uid"])
    assert uids >= DASHBOARD_UIDS
    home = service("grafana")["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    home_path = PurePosixPath(home)
    assert home_path.parent == PurePosixPath(folder)
    assert (source / home_path.name).is_file()


def test_grafana_data_is_a_named_volume() -> None:
    data = mount_to("grafana", "/var/lib/grafana")
    assert data["type"] == "volume" and data["source"] in compose()["volumes"]


def test_pack_directory_can_be_switched() -> None:
    """HELPDESK_SLO_PACK points every pack mount at another generated pack."""
    switched = compose({"HELPDESK_SLO_PACK": "./pack"})
    sources = [
        str(v).split(":")[0]
        for name in ("prometheus", "alertmanager", "grafana")
        for v in switched["services"][name]["volumes"]
    ]
    pack_sources = [s for s in sources if s.startswith("./pack/")]
    assert sorted(pack_sources) == [
        "./pack/alertmanager/alertmanager.yml",
        "./pack/alertmanager/templates",
        "./pack/dashboards",
        "./pack/rules/helpdesk-slo.rules.yml",
    ]


def test_the_demo_probe_records_the_series_the_demo_availability_slo_reads(tmp_path: Path) -> None:
    """The stack has no blackbox exporter: its stand-in must match the demo's `up:` query,
    or chat-availability would report its metrics absent in every demo."""
    promtool = require_prometheus_tool("promtool", "prometheus")
    (rule,) = load(DEMO_PROBE)["groups"][0]["rules"]
    ups = [
        slo.availability.up
        for slo in default_config().slos
        if slo.kind is SloKind.AVAILABILITY and slo.availability is not None
    ]
    assert ups, "the demo config has an availability SLO"
    tests = {
        "rule_files": [str(DEMO_PROBE)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [],
                "promql_expr_test": [
                    {"expr": f"min({up})", "eval_time": "1m", "exp_samples": [{"value": 1}]}
                    for up in ups
                ],
            }
        ],
    }
    assert rule["record"] == "probe_success"
    path = tmp_path / "probe.test.yml"
    path.write_text(yaml.safe_dump(tests), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
