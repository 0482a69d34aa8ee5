"""A helpdesk that never answers pages within 15 minutes: the real exporter, the generated rules.

Each case starts ``serve`` as a child process (:class:`~tests.e2e.process.ServeProcess`)
and scrapes its ``/metrics``; the scraped series become promtool ``input_series`` that
are evaluated by the rules ``helpdesk-slo generate`` writes for the same config, with
``promtool test rules``:

* **Dead helpdesks** (a Zendesk source on a closed 127.0.0.1 port, and a fake Zendesk
  that answers 401 to the exporter's token): one scrape, taken after the first failed
  poll, held for 40 minutes — what Prometheus would see if nothing changed.  Time 0 of
  the test is the moment of that scrape (``*_timestamp_seconds`` values are shifted by
  it).  ``HelpdeskSourceDown`` must fire by minute 15, naming the reason the exporter
  published for its last failed poll; ``HelpdeskSourceStale`` must not.  ``/ready``
  must be 503 and say the helpdesk never answered.
* **A healthy exporter** (the file source, polling every second): 41 scrapes one second
  apart, replayed one per test minute, with timestamps on the same compressed clock (a
  real second is a test minute, so the exporter polls once a test minute).  No source
  alert may fire in those 40 minutes, and the replay must show fresh polls (so the
  silence is not for want of series).

Every process started here is stopped in a ``finally``.  Without promtool the module
is skipped, unless ``HELPDESK_SLO_REQUIRE_PROMETHEUS=1`` makes it fail.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from exporter.pack.ruletests import expand, expected_alert
from tests.e2e.process import ServeProcess, command, free_port
from tests.fakes.zendesk import FakeZendesk
from tests.tools import require_binary

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "file_source" / "office_week.jsonl"
START_TIMEOUT = 30.0
#: A poll of a closed port retries its connection a few times before it fails.
FAILURE_TIMEOUT = 90.0
JOB = "helpdesk-slo"
SPAN_MINUTES = 40
#: The page must fire by then (minutes after the scrape).
PAGE_BY = 15
HEALTHY_SCRAPES = 41

SLOS = """\
slas:
  first_response:
    targets: {urgent: 1h, high: 4h, normal: 8h, low: 24h}
slos:
  - name: urgent-first-response
    sla: first_response
    match: {priority: [urgent]}
    threshold: 30m
    objective: 90%
    window: 28d
"""

ZENDESK = """\
service: support
source:
  type: zendesk
  url: {url}
  email: ops@acme.example
  token_file: zendesk-token
  poll_interval: 1s
store: state.db
"""

FILE = """\
service: support
source: {{type: file, path: "{tickets}", poll_interval: 1s}}
store: state.db
"""

Series = dict[str, list[float | None]]
#: one scraped series: metric name and sorted labels
Key = tuple[str, tuple[tuple[str, str], ...]]


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_binary("promtool")


# --- the exporter -------------------------------------------------------------------------------


def write_config(directory: Path, head: str) -> Path:
    config = directory / "helpdesk-slo.yml"
    config.write_text(head + SLOS, encoding="utf-8")
    return config


@contextmanager
def serving(directory: Path, config: Path) -> Iterator[ServeProcess]:
    exporter = ServeProcess(directory, config)
    try:
        yield exporter
    finally:
        exporter.stop()


def samples(text: str) -> dict[Key, float]:
    """Every sample of a scrape."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def failed_once(exporter: ServeProcess) -> bool:
    return "helpdesk_poll_errors_total{" in exporter.metrics_text()


# --- promtool -----------------------------------------------------------------------------------


def target(key: Key, port: int) -> str:
    """A scraped series as Prometheus stores it (with ``job`` and ``instance``), for promtool."""
    name, labels = key
    stored = {**dict(labels), "job": JOB, "instance": f"127.0.0.1:{port}"}
    return name + "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(stored.items())) + "}"


def is_timestamp(key: Key) -> bool:
    return key[0].endswith("_timestamp_seconds")


def generated_rules(promtool: str, config: Path, out: Path) -> dict[str, Any]:
    """``helpdesk-slo generate`` for ``config``; the alerting rules by name."""
    result = subprocess.run(
        [*command(), "generate", "--config", str(config), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load((out / "rules" / "helpdesk-slo.rules.yml").read_text("utf-8"))
    return {
        rule["alert"]: rule
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def promtool_test(
    promtool: str, directory: Path, series: Series, test: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    document = {
        "rule_files": [str(directory / "pack" / "rules" / "helpdesk-slo.rules.yml")],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": name, "values": expand(values)} for name, values in series.items()
                ],
                **test,
            }
        ],
    }
    path = directory / "scraped.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=300
    )


# --- a helpdesk that never answers --------------------------------------------------------------


def held(scrape: dict[Key, float], at: float, port: int) -> Series:
    """One scrape held for SPAN_MINUTES; timestamps relative to ``at`` (test time 0)."""
    series: Series = {target(("up", ()), port): [1.0] * (SPAN_MINUTES + 1)}
    for key, value in scrape.items():
        if is_timestamp(key):
            value = float(round(value - at))
        series[target(key, port)] = [value] * (SPAN_MINUTES + 1)
    return series


@contextmanager
def closed_port(directory: Path) -> Iterator[str]:
    """A Zendesk URL where nothing listens."""
    (directory / "zendesk-token").write_text("any-token\n", encoding="utf-8")
    yield ZENDESK.format(url=f"http://127.0.0.1:{free_port()}")


@contextmanager
def refused_token(directory: Path) -> Iterator[str]:
    """A fake Zendesk that answers 401: the exporter's token is not the account's."""
    with FakeZendesk() as fake:
        (directory / "zendesk-token").write_text(fake.token + "-revoked\n", encoding="utf-8")
        yield ZENDESK.format(url=fake.url)


DEAD: list[tuple[str, Callable[[Path], AbstractContextManager[str]]]] = [
    ("closed-port", closed_port),
    ("token-refused-401", refused_token),
]


@pytest.mark.parametrize("helpdesk", [case[1] for case in DEAD], ids=[case[0] for case in DEAD])
def test_a_helpdesk_that_never_answers_pages_within_15_minutes(
    promtool: str, tmp_path: Path, helpdesk: Callable[[Path], AbstractContextManager[str]]
) -> None:
    with helpdesk(tmp_path) as head:
        config = write_config(tmp_path, head)
        with serving(tmp_path, config) as exporter:
            exporter.wait_until("a failed poll", lambda: failed_once(exporter), FAILURE_TIMEOUT)
            at = time.time()
            scrape = samples(exporter.metrics_text())
            ready, body = exporter.get("/ready")
            landing = exporter.get("/")[1].decode()
            port = exporter.port
    assert ready == 503, body
    assert body.decode().startswith("not ready: the helpdesk (zendesk) has never answered")
    assert "never answered" in landing

    source = (("source", "zendesk"),)
    assert scrape[("helpdesk_up", source)] == 0
    last_success = scrape[("helpdesk_last_successful_poll_timestamp_seconds", source)]
    assert last_success <= at
    errors = {
        dict(labels)["reason"]: value
        for (name, labels), value in scrape.items()
        if name == "helpdesk_poll_last_error_timestamp_seconds"
    }
    assert errors, "the exporter publishes when each reason last failed"
    reason = max(errors, key=lambda r: errors[r])
    assert scrape[("helpdesk_poll_errors_total", (("reason", reason), *source))] >= 1

    rules = generated_rules(promtool, config, tmp_path / "pack")
    labels = {"source": "zendesk", "job": JOB, "instance": f"127.0.0.1:{port}"}
    page = expected_alert(
        rules["HelpdeskSourceDown"],
        PAGE_BY * 60 - round(last_success - at),
        labels,
        last_error=reason,
    )
    tests = [
        ("5m", "HelpdeskSourceDown", []),
        (f"{PAGE_BY}m", "HelpdeskSourceDown", [page]),
        (f"{PAGE_BY}m", "HelpdeskSourceStale", []),
        ("40m", "HelpdeskSourceStale", []),
    ]
    result = promtool_test(
        promtool,
        tmp_path,
        held(scrape, at, port),
        {
            "alert_rule_test": [
                {"eval_time": when, "alertname": alert, "exp_alerts": expected}
                for when, alert, expected in tests
            ]
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- a healthy exporter -------------------------------------------------------------------------


def replayed(scrapes: list[tuple[float, dict[Key, float]]], port: int) -> Series:
    """Scrape i at test minute i; timestamps on the same clock (one real second a minute)."""
    start, last = scrapes[0][0], scrapes[-1][0]
    scale = 60.0 * (len(scrapes) - 1) / (last - start)  # test seconds per real second
    keys = sorted({key for _, scrape in scrapes for key in scrape})
    series: Series = {target(("up", ()), port): [1.0] * len(scrapes)}
    for key in keys:
        values: list[float | None] = []
        for _, scrape in scrapes:
            value = scrape.get(key)
            if value is not None and is_timestamp(key):
                value = float(round((value - start) * scale))
            values.append(value)
        series[target(key, port)] = values
    return series


def test_a_healthy_exporter_does_not_page(promtool: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, FILE.format(tickets=FIXTURE))
    scrapes: list[tuple[float, dict[Key, float]]] = []
    with serving(tmp_path, config) as exporter:
        exporter.wait_until("/ready", lambda: exporter.get("/ready")[0] == 200, START_TIMEOUT)
        for _ in range(HEALTHY_SCRAPES):
            scrapes.append((time.time(), samples(exporter.metrics_text())))
            time.sleep(1.0)
        assert exporter.get("/ready")[0] == 200
        port = exporter.port

    rules = generated_rules(promtool, config, tmp_path / "pack")
    alerts = ("HelpdeskSourceDown", "HelpdeskSourceStale", "HelpdeskSourceLagging")
    assert set(alerts) <= set(rules)
    job = '{job="' + JOB + '"}'
    # the replay is not empty: polls are fresh and the watermark moves
    checks = [
        f"count(time() - helpdesk_last_successful_poll_timestamp_seconds{job} < 180)",
        f"count(changes(helpdesk_source_watermark_timestamp_seconds{job}[10m]) > 5)",
    ]
    result = promtool_test(
        promtool,
        tmp_path,
        replayed(scrapes, port),
        {
            "alert_rule_test": [
                {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": []}
                for alert in alerts
                for minute in range(5, SPAN_MINUTES + 1, 5)
            ],
            "promql_expr_test": [
                {"expr": expr, "eval_time": "30m", "exp_samples": [{"labels": "{}", "value": 1}]}
                for expr in checks
            ],
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
