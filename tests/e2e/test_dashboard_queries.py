"""Every dashboard query evaluates on a real Prometheus fed by the demo exporter.

``helpdesk-slo serve`` (the built-in demo helpdesk) and Debian's
``prometheus`` run on 127.0.0.1 with free ports.  Prometheus uses the compose
stack's own config (``deploy/compose/prometheus/prometheus.yml``) with only the
scrape target, the rule file path and the intervals changed, and evaluates the
repository's generated rules (``rules/helpdesk-slo.rules.yml``, every group
sped up to 1s).  Then each query of the three checked-in dashboards, with
Grafana's variables filled in, is run through the HTTP API: none may fail, and
the ones on the SLO recording rules must return data.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.pack.dashboards import panel_queries
from tests.e2e.test_serve import Exporter, free_port
from tests.tools import REPO, require_binary

SUBSTITUTIONS = (
    ("${datasource}", ""),
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "1h"),
    ("${slo}", "urgent-first-response"),
    ("$slo", "urgent-first-response"),
)
DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
TIMEOUT = 90.0


def api(port: int, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


def fast_rules(target: Path) -> Path:
    document = yaml.safe_load((REPO / "rules" / "helpdesk-slo.rules.yml").read_text())
    for group in document["groups"]:
        group["interval"] = "1s"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def prometheus_config(target: Path, exporter_port: int, rules: Path) -> Path:
    config = yaml.safe_load(
        (REPO / "deploy" / "compose" / "prometheus" / "prometheus.yml").read_text()
    )
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    config.pop("alerting", None)
    (job,) = config["scrape_configs"]
    job["scrape_interval"] = "1s"
    job["static_configs"] = [{"targets": [f"127.0.0.1:{exporter_port}"]}]
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = require_binary("prometheus")
    directory = tmp_path_factory.mktemp("dashboards")
    exporter = Exporter(directory, [])  # no --config: the demo helpdesk
    process: subprocess.Popen[bytes] | None = None
    log = (directory / "prometheus.log").open("wb")
    try:
        exporter.wait_until("/ready")
        port = free_port()
        config = prometheus_config(
            directory / "prometheus.yml", exporter.port, fast_rules(directory / "rules.yml")
        )
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"prometheus exited:\n{(directory / 'prometheus.log').read_text()}")
            try:
                # the recording rules ran, and the exporter was scraped (Prometheus hands
                # new targets to the scrape loop every few seconds)
                answers = [
                    api(port, "/api/v1/query", query=query)
                    for query in ("slo:objective:ratio", "helpdesk_up == 1")
                ]
                if all(a["status"] == "success" and a["data"]["result"] for a in answers):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("no slo:objective:ratio, or the exporter was never scraped")
        time.sleep(3)  # a few more scrapes and evaluations for range functions
        yield port
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        log.close()
        exporter.kill()


def queries() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for query in panel_queries(json.loads(path.read_text())):
            for variable, value in SUBSTITUTIONS:
                query = query.replace(variable, value)
            found.append((path.stem, query))
    return found


def test_the_dashboards_have_queries() -> None:
    assert len(DASHBOARDS) == 3
    assert len(queries()) > 30


@pytest.mark.parametrize(
    ("dashboard", "query"), queries(), ids=[f"{d}-{i}" for i, (d, _) in enumerate(queries())]
)
def test_every_dashboard_query_evaluates(prometheus: int, dashboard: str, query: str) -> None:
    answer = api(prometheus, "/api/v1/query", query=query)
    assert answer["status"] == "success", (dashboard, query, answer.get("error"))
    if query.startswith("slo:") or query.startswith("max(slo:") or "slo:objective" in query:
        assert answer["data"]["result"], (dashboard, query, "no data")
