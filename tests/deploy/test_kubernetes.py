"""The Kubernetes manifests: parsed, cross-checked, and the PrometheusRule regenerated.

No cluster runs here.  Every manifest must parse with the kind and apiVersion
its file name promises; the Deployment must match the image (uid, port, store
directory) and the ConfigMap's config (the paths where the Secret and the store
are mounted); the ConfigMap's SLOs must be those of ``examples/helpdesk-slo.yml``
so that ``prometheusrule.yaml``, which ``helpdesk-slo generate --format
prometheus-operator`` writes from that example, watches what the exporter
publishes.  ``kubectl kustomize`` builds the whole set when kubectl is installed.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import main
from exporter.config import DEFAULT_LISTEN_PORT, load_config, parse_config
from exporter.pack.rules import FORMATS, RuleOptions, format_file_name
from tests.deploy.helpers import (
    EXAMPLE_CONFIG,
    KUBERNETES_DIR,
    SECRET_NAME,
    STORE_DIR,
    image_user,
    project_version,
)

NAMESPACE = "helpdesk-slo"
PLACEHOLDER = "REPLACE_WITH_HELPDESK_API_TOKEN"
#: Left out of the kustomization on purpose: applying it would overwrite the real token.
NOT_IN_KUSTOMIZATION = {"secret-example.yaml"}

EXPECTED = {
    "namespace.yaml": ("v1", "Namespace"),
    "configmap.yaml": ("v1", "ConfigMap"),
    "secret-example.yaml": ("v1", "Secret"),
    "pvc.yaml": ("v1", "PersistentVolumeClaim"),
    "deployment.yaml": ("apps/v1", "Deployment"),
    "service.yaml": ("v1", "Service"),
    "servicemonitor.yaml": ("monitoring.coreos.com/v1", "ServiceMonitor"),
    "prometheusrule.yaml": ("monitoring.coreos.com/v1", "PrometheusRule"),
}


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def manifest(name: str) -> dict[str, Any]:
    documents = [d for d in yaml.safe_load_all((KUBERNETES_DIR / name).read_text("utf-8")) if d]
    assert len(documents) == 1, f"{name}: one object per file"
    document = documents[0]
    assert isinstance(document, dict)
    return document


def kustomization() -> dict[str, Any]:
    data = yaml.safe_load((KUBERNETES_DIR / "kustomization.yaml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def pod_spec() -> dict[str, Any]:
    spec = manifest("deployment.yaml")["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def container() -> dict[str, Any]:
    (only,) = pod_spec()["containers"]
    assert isinstance(only, dict)
    return only


def volume(name: str) -> dict[str, Any]:
    (found,) = [v for v in pod_spec()["volumes"] if v["name"] == name]
    assert isinstance(found, dict)
    return found


def mount_path(volume_name: str) -> str:
    (found,) = [m for m in container()["volumeMounts"] if m["name"] == volume_name]
    path = found["mountPath"]
    assert isinstance(path, str)
    return path


def volume_of_kind(kind: str) -> str:
    (name,) = [v["name"] for v in pod_spec()["volumes"] if kind in v]
    assert isinstance(name, str)
    return name


def configmap_text() -> str:
    (key,) = manifest("configmap.yaml")["data"]
    text = manifest("configmap.yaml")["data"][key]
    assert isinstance(text, str)
    return text


def configmap_key() -> str:
    (key,) = manifest("configmap.yaml")["data"]
    assert isinstance(key, str)
    return key


# --- every file ----------------------------------------------------------------------------------


def test_every_manifest_is_known() -> None:
    assert [p.name for p in manifest_files()] == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_manifest_parses_with_its_kind(name: str, expected: tuple[str, str]) -> None:
    document = manifest(name)
    assert (document["apiVersion"], document["kind"]) == expected
    assert document["metadata"]["name"]
    labels = document["metadata"].get("labels", {})
    assert labels.get("app.kubernetes.io/part-of") == "helpdesk-slo"


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    data = kustomization()
    assert data["namespace"] == NAMESPACE == manifest("namespace.yaml")["metadata"]["name"]
    resources = data["resources"]
    assert len(resources) == len(set(resources))
    expected = {p.name for p in manifest_files()} - NOT_IN_KUSTOMIZATION
    assert set(resources) == expected
    assert not NOT_IN_KUSTOMIZATION & set(resources), (
        "applying the example Secret would overwrite the real token with the placeholder"
    )


def test_kustomization_image_is_the_deployments_and_the_project_version() -> None:
    (image,) = kustomization()["images"]
    name, _, tag = container()["image"].partition(":")
    assert image["name"] == name
    assert image["newTag"] == tag == project_version()


# --- Deployment ----------------------------------------------------------------------------------


def test_single_replica_recreated() -> None:
    spec = manifest("deployment.yaml")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}, "a single SQLite writer: never two pods"
    lines = (KUBERNETES_DIR / "deployment.yaml").read_text("utf-8").splitlines()
    above = lines[: next(i for i, line in enumerate(lines) if line.strip() == "strategy:")]
    comment = []
    for line in reversed(above):
        if not line.strip().startswith("#"):
            break
        comment.append(line)
    assert "SQLite" in " ".join(comment), "the reason for Recreate is written above it"


def test_runs_as_the_images_non_root_user() -> None:
    uid, gid = image_user()
    pod = pod_spec()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == uid != 0
    assert pod["runAsGroup"] == gid
    assert pod["fsGroup"] == gid, "the store volume is writable by the image's group"
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_spec()["automountServiceAccountToken"] is False


def test_container_is_locked_down() -> None:
    security = container()["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security.get("privileged", False) is False


def test_store_is_on_the_claim_at_the_images_store_directory() -> None:
    claim = volume("store")["persistentVolumeClaim"]["claimName"]
    pvc = manifest("pvc.yaml")
    assert claim == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert mount_path("store") == STORE_DIR


def test_writable_paths_are_volumes() -> None:
    """With a read-only root, the store and /tmp are the only writable places."""
    writable = {m["mountPath"] for m in container()["volumeMounts"] if not m.get("readOnly")}
    assert writable == {STORE_DIR, "/tmp"}
    assert "emptyDir" in volume("tmp")


@pytest.mark.parametrize(
    ("probe", "path"), [("livenessProbe", "/healthz"), ("readinessProbe", "/ready")]
)
def test_probes(probe: str, path: str) -> None:
    get = container()[probe]["httpGet"]
    assert get["path"] == path
    (port,) = [p for p in container()["ports"] if p["name"] == get["port"]]
    assert port["containerPort"] == DEFAULT_LISTEN_PORT


def test_resources_are_set() -> None:
    resources = container()["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]


def test_serves_the_mounted_config() -> None:
    args = container()["args"]
    assert args[0] == "serve"
    config_path = args[args.index("--config") + 1]
    config_volume = volume_of_kind("configMap")
    assert (
        volume(config_volume)["configMap"]["name"] == manifest("configmap.yaml")["metadata"]["name"]
    )
    assert config_path == f"{mount_path(config_volume)}/{configmap_key()}"


def test_no_inline_secrets_in_the_deployment() -> None:
    for variable in container().get("env", []):
        if SECRET_NAME.search(variable["name"]):
            assert "value" not in variable, f"{variable['name']}: take it from a Secret"


# --- ConfigMap and Secret ------------------------------------------------------------------------


def test_config_is_valid_and_its_paths_are_the_mounts() -> None:
    config_volume = volume_of_kind("configMap")
    config = parse_config(configmap_text(), base_dir=Path(mount_path(config_volume)))
    secret_volume = volume_of_kind("secret")
    secret = manifest("secret-example.yaml")
    assert volume(secret_volume)["secret"]["secretName"] == secret["metadata"]["name"]
    (key,) = secret["stringData"]
    assert str(config.source.token_file) == f"{mount_path(secret_volume)}/{key}"
    assert config.store.is_absolute() and config.store.parent == Path(STORE_DIR), (
        "the store must be on the volume, not under the read-only config mount"
    )


def test_config_has_the_slos_of_the_example() -> None:
    """prometheusrule.yaml is generated from the example: the ConfigMap must match it."""
    ours = parse_config(configmap_text(), base_dir=Path("/etc/helpdesk-slo"))
    example = load_config(EXAMPLE_CONFIG)
    keep = {"service", "calendars", "slas", "slos", "exporter", "notify"}
    assert ours.model_dump(include=keep) == example.model_dump(include=keep)


def test_secret_example_holds_only_the_placeholder() -> None:
    secret = manifest("secret-example.yaml")
    assert secret["type"] == "Opaque"
    assert "data" not in secret, "base64 is not encryption: no real value in the repository"
    assert set(secret["stringData"].values()) == {PLACEHOLDER}
    for path in manifest_files():
        if path.name == "secret-example.yaml":
            continue
        text = path.read_text("utf-8")
        assert "kind: Secret" not in text, path.name
        assert PLACEHOLDER not in text, path.name


def test_config_names_no_inline_secret() -> None:
    data = yaml.safe_load(configmap_text())
    source = data["source"]
    assert "token_file" in source
    assert not {k for k in source if SECRET_NAME.search(k)} - {"token_file", "token_env"}


# --- Service, ServiceMonitor ---------------------------------------------------------------------


def test_service_selects_the_pods_on_the_metrics_port() -> None:
    service = manifest("service.yaml")
    pod_labels = manifest("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port == {
        "name": "http-metrics",
        "port": DEFAULT_LISTEN_PORT,
        "targetPort": "http-metrics",
        "protocol": "TCP",
    }


def test_service_keeps_an_unready_exporter_scraped() -> None:
    # /ready fails while the helpdesk does not answer; the page about it needs the scrape
    service = manifest("service.yaml")
    assert service["spec"]["publishNotReadyAddresses"] is True
    probe = manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    assert probe["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_servicemonitor_scrapes_the_service_as_the_alerts_job() -> None:
    monitor = manifest("servicemonitor.yaml")
    service = manifest("service.yaml")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http-metrics"
    assert endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "30s"
    job = [r for r in endpoint.get("relabelings", []) if r.get("targetLabel") == "job"]
    # prometheus-operator names the job after the Service unless a relabeling sets it
    effective = job[-1]["replacement"] if job else service["metadata"]["name"]
    assert effective == RuleOptions.job


# --- PrometheusRule ------------------------------------------------------------------------------


def generate_operator_rules(config: Path, out: Path) -> Path:
    if "prometheus-operator" not in FORMATS:
        pytest.skip("helpdesk-slo generate has no --format prometheus-operator yet")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr):
        argv = ["generate", "--config", str(config), "--out", str(out)]
        code = main([*argv, "--format", "prometheus-operator"], out=stdout)
    assert code == 0, stderr.getvalue()
    name = format_file_name("prometheus-operator")
    assert name is not None
    return out / "rules" / name


def test_prometheusrule_is_what_generate_writes_for_the_example(tmp_path: Path) -> None:
    written = generate_operator_rules(EXAMPLE_CONFIG, tmp_path)
    shipped = (KUBERNETES_DIR / "prometheusrule.yaml").read_text("utf-8")
    assert shipped == written.read_text("utf-8"), (
        "deploy/kubernetes/prometheusrule.yaml is stale: run helpdesk-slo generate --config "
        "examples/helpdesk-slo.yml --out <tmp> --format prometheus-operator and copy "
        "<tmp>/rules/" + written.name
    )


def test_prometheusrule_is_also_what_the_configmap_generates(tmp_path: Path) -> None:
    config = tmp_path / "config" / EXAMPLE_CONFIG.name
    config.parent.mkdir()
    config.write_text(configmap_text(), encoding="utf-8")
    written = generate_operator_rules(config, tmp_path / "out")
    shipped = (KUBERNETES_DIR / "prometheusrule.yaml").read_text("utf-8")
    assert shipped == written.read_text("utf-8")


def test_prometheusrule_selects_the_scraped_job() -> None:
    text = (KUBERNETES_DIR / "prometheusrule.yaml").read_text("utf-8")
    jobs = set(re.findall(r'job="([^"]*)"', text))
    assert jobs == {RuleOptions.job}


# --- kustomize -----------------------------------------------------------------------------------


def test_kustomize_builds_every_resource_in_the_namespace() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH (it builds the kustomization offline)")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES_DIR)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == sorted(
        kind for name, (_, kind) in EXPECTED.items() if name != "secret-example.yaml"
    )
    for document in documents:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == NAMESPACE, document["kind"]
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f":{project_version()}")
