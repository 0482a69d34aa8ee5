"""Sources installed by other packages (entry point group ``helpdesk_slo.sources``).

Each test installs a real distribution: a package and its ``*.dist-info``
(``METADATA`` and ``entry_points.txt``) written into a temporary directory
that is put on ``sys.path`` (or on ``PYTHONPATH`` of a ``helpdesk-slo``
child process), so :mod:`importlib.metadata` finds it as it would any
installed package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from exporter.config import ConfigError, SourceType, load_config, parse_config
from exporter.plugins import PluginType
from exporter.sources import build_source
from exporter.sources.base import SourceUnavailable
from tests.e2e.process import command, free_port

#: The package of the tests' distribution: a source that serves the tickets in its options.
PACKAGE = '''\
"""A helpdesk source served from source.options (a test distribution)."""

from exporter.model import ticket_from_json
from exporter.sources.base import PollResult


class OptionsSource:
    name = "acme"

    def __init__(self, options):
        self.options = options

    def poll(self, cursor, now):
        tickets = [ticket_from_json(t) for t in self.options["tickets"]]
        return PollResult(tickets, cursor="read", watermark=now, requests=1)


def build(config):
    return OptionsSource(config.source.options)


def not_a_source(config):
    return 42
'''

TICKET = {
    "id": "A-1",
    "created_at": "2026-11-02T08:00:00Z",
    "status": "open",
    "priority": "urgent",
    "events": [{"at": "2026-11-02T08:20:00Z", "type": "agent_reply"}],
}


def install(root: Path, entries: str, package: str = PACKAGE) -> Path:
    """Write a distribution ``acme-helpdesk-slo`` with these entry points under ``root``."""
    (root / "acme_helpdesk_slo").mkdir(parents=True)
    (root / "acme_helpdesk_slo" / "__init__.py").write_text(package)
    info = root / "acme_helpdesk_slo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-helpdesk-slo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[helpdesk_slo.sources]\n{entries}\n")
    return root


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test distribution on ``sys.path`` for this test only."""
    site = install(
        tmp_path / "site",
        "acme = acme_helpdesk_slo:build\n"
        "broken = acme_helpdesk_slo_missing:build\n"
        "odd = acme_helpdesk_slo:not_a_source",
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "acme_helpdesk_slo", raising=False)
    return site


def config_text(options: str = "") -> str:
    return f"source:\n  type: acme\n  lookback: 7d\n{options}"


def test_an_installed_source_type_builds_through_its_entry_point_with_its_options_as_given(
    installed: Path, tmp_path: Path
) -> None:
    path = tmp_path / "helpdesk-slo.yml"
    path.write_text(config_text(f"  options:\n    tickets: [{json.dumps(TICKET)}]\n"))
    config = load_config(path)

    source = build_source(config)
    result = source.poll(None, 1793620800.0)

    assert config.source.type == PluginType("acme") and config.source.type.value == "acme"
    assert config.source.options == {"tickets": [TICKET]}
    assert (source.name, [t.id for t in result.tickets]) == ("acme", ["A-1"])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            "source:\n  type: acmee\n",
            "<config>:2: source.type: must be one of zendesk, freshdesk, jira, zammad, intercom, "
            "demo, file, acme, broken or odd (got 'acmee'; did you mean acme?); sources "
            "installed from other packages (entry point group helpdesk_slo.sources): acme, "
            "broken, odd",
            id="unknown-type-lists-built-in-and-installed",
        ),
        pytest.param(
            "source:\n  type: zendesk\n  url: https://a.zendesk.com\n  email: a@b.c\n"
            "  token_env: T\n  options: {x: 1}\n",
            "<config>:6: source.options: a zendesk source takes no options (only sources "
            "installed from other packages read source.options); remove it",
            id="options-refused-for-built-in",
        ),
        pytest.param(
            config_text("  email: ops@acme.example\n"),
            "<config>:4: source.email: acme is a source installed from another package: it "
            "does not use this key; put its own settings under source.options",
            id="vendor-key-refused-for-installed",
        ),
    ],
)
def test_check_refuses_what_no_source_reads(installed: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)

    assert caught.value.problems == [problem]


#: The test package plus a factory that declares its tickets carry assignment events.
ASSIGNING_PACKAGE = (
    PACKAGE
    + """

def build_assigning(config):
    return OptionsSource(config.source.options)


build_assigning.reports_assignments = True
"""
)

START_ASSIGNED = "slas:\n  first_response:\n    start: assigned\n    targets: {urgent: 1h}\n"


@pytest.mark.parametrize(
    ("kind", "problems"),
    [
        pytest.param("assigning", [], id="declared-on-the-factory-accepted"),
        pytest.param(
            "acme",
            [
                "<config>:6: slas.first_response.start: the acme source (installed from another "
                "package) does not declare that its tickets carry assignment events "
                "(`reports_assignments = True` on its factory); remove `start: assigned` or ask "
                "its maintainers to report assignments"
            ],
            id="undeclared-refused",
        ),
        pytest.param(
            "broken",
            [
                "<config>:6: slas.first_response.start: the broken source (installed from "
                "another package) does not declare that its tickets carry assignment events "
                "(`reports_assignments = True` on its factory); remove `start: assigned` or ask "
                "its maintainers to report assignments"
            ],
            id="unloadable-declares-nothing",
        ),
    ],
)
def test_start_assigned_needs_an_installed_source_that_declares_assignments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, problems: list[str]
) -> None:
    site = install(
        tmp_path / "site",
        "acme = acme_helpdesk_slo:build\n"
        "assigning = acme_helpdesk_slo:build_assigning\n"
        "broken = acme_helpdesk_slo_missing:build",
        ASSIGNING_PACKAGE,
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "acme_helpdesk_slo", raising=False)
    text = f"source:\n  type: {kind}\n  lookback: 7d\n{START_ASSIGNED}"

    try:
        found = [] if parse_config(text).slas["first_response"].start.value == "assigned" else None
    except ConfigError as refused:
        found = refused.problems
    assert found == problems


def test_without_the_package_the_type_is_unknown_and_says_none_is_installed() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text())

    assert caught.value.problems == [
        "<config>:2: source.type: must be one of zendesk, freshdesk, jira, zammad, intercom, "
        "demo or file (got 'acme'); sources installed from other packages (entry point group "
        "helpdesk_slo.sources): none"
    ]


def test_a_built_in_name_wins_over_an_installed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = install(tmp_path / "site", "demo = acme_helpdesk_slo:build")
    monkeypatch.syspath_prepend(str(site))

    assert parse_config("source:\n  type: demo\n").source.type is SourceType.DEMO


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "broken",
            "source.type: broken: cannot load acme_helpdesk_slo_missing:build "
            "(ModuleNotFoundError: No module named 'acme_helpdesk_slo_missing'); check that its "
            "package is installed whole",
            id="factory-import-fails",
        ),
        pytest.param(
            "odd",
            "source.type: odd: acme_helpdesk_slo:not_a_source returned int, which is not a "
            "source (it needs a `name` and a `poll(cursor, now)` method)",
            id="factory-returns-no-source",
        ),
    ],
)
def test_a_broken_installed_source_is_one_clear_error(
    installed: Path, name: str, message: str
) -> None:
    config = parse_config(f"source:\n  type: {name}\n")

    with pytest.raises(SourceUnavailable) as caught:
        build_source(config)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("entries", "args", "code", "expect"),
    [
        pytest.param(
            "acme = acme_helpdesk_slo:build",
            ["evaluate", "--at", "2026-11-02T12:00:00Z", "--format", "json"],
            0,
            '"id": "A-1"',
            id="evaluate-reads-the-installed-source",
        ),
        pytest.param(
            "acme = acme_helpdesk_slo:build",
            ["check"],
            0,
            "ok — source acme",
            id="check-accepts-the-installed-type",
        ),
        pytest.param(
            "other = acme_helpdesk_slo:build",
            ["check"],
            2,
            "helpdesk-slo.yml:2: source.type: must be one of",
            id="check-refuses-a-type-not-installed-naming-the-line",
        ),
    ],
)
def test_the_cli_finds_installed_sources_on_the_python_path(
    tmp_path: Path, entries: str, args: list[str], code: int, expect: str
) -> None:
    site = install(tmp_path / "site", entries)
    config = tmp_path / "helpdesk-slo.yml"
    config.write_text(
        config_text(f"  options:\n    tickets: [{json.dumps(TICKET)}]\n")
        + "store: state.db\nslas:\n  first_response:\n    targets: {urgent: 1h}\n"
    )
    paths = [str(site), os.environ.get("PYTHONPATH", ""), str(Path(__file__).parents[2])]
    done = subprocess.run(
        [*command(), *args[:1], "--config", str(config), *args[1:]],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == code, done.stderr
    assert expect in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_serve_polls_an_installed_source_and_publishes_its_tickets(tmp_path: Path) -> None:
    """``serve`` on the installed type: ready after its first poll, its ticket counted."""
    site = install(tmp_path / "site", "acme = acme_helpdesk_slo:build")
    config = tmp_path / "helpdesk-slo.yml"
    config.write_text(
        config_text(f"  options:\n    tickets: [{json.dumps(TICKET)}]\n")
        + "store: state.db\nslas:\n  first_response:\n    targets: {urgent: 1h}\n"
    )
    paths = [str(site), os.environ.get("PYTHONPATH", ""), str(Path(__file__).parents[2])]
    port = free_port()
    process = subprocess.Popen(
        [*command(), "serve", "--config", str(config), "--web.listen-address", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        metrics = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5):
                    pass
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    metrics = r.read().decode()
                break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.3)
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate(timeout=10)
    assert 'helpdesk_up{source="acme"} 1.0' in metrics, stderr.decode(errors="replace")[-2000:]
    assert 'helpdesk_tickets_open{priority="urgent",status="open"} 1.0' in metrics
    assert b"Traceback" not in stderr
