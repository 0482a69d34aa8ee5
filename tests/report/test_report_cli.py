"""``helpdesk-slo report``: formats, --since/--until, --out, errors, and what the pages hold."""

from __future__ import annotations

import errno
import importlib.util
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main
from exporter.report.render import SECTIONS
from tests.report.history import SINCE, UNTIL, write

TICKET_URL = "https://help.acme.test/tickets/{id}"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        code = main(list(argv), out=out)
    except SystemExit as exc:  # argparse refusing an argument
        code = int(exc.code or 0)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("report")
    path = write(directory)
    text = path.read_text().replace(
        "source: {type: file, path: tickets.jsonl}",
        f"source: {{type: file, path: tickets.jsonl, ticket_url: '{TICKET_URL}'}}",
    )
    path.write_text(text)
    return path


def report(config: Path, *extra: str) -> tuple[int, str]:
    return run("report", "--config", str(config), "--since", SINCE, "--until", UNTIL, *extra)


@pytest.fixture(scope="module")
def html(config: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("html") / "report.html"
    code, text = report(config, "--out", str(out))
    assert code == 0, text
    assert text == ""  # the page goes to the file, progress to stderr
    return out.read_text()


@pytest.fixture(scope="module")
def markdown(config: Path) -> str:
    code, text = report(config, "--format", "markdown")
    assert code == 0
    return text


def test_json_goes_to_stdout_by_default(config: Path) -> None:
    code, text = report(config, "--format", "json")
    assert code == 0
    document = json.loads(text)
    assert (document["schema"], document["tickets"], document["from"], document["to"]) == (
        "helpdesk-slo-report/1",
        6,
        SINCE,
        UNTIL,
    )


@pytest.mark.parametrize(
    ("until", "tickets"),
    [(UNTIL, 6), ("2026-11-09T00:00:00Z", 4)],
    ids=["whole-history", "until-cuts-the-second-week"],
)
def test_until_ends_the_history(config: Path, until: str, tickets: int) -> None:
    code, text = run(
        "report", "--config", str(config), "--since", SINCE, "--until", until, "--format", "json"
    )
    assert code == 0
    assert json.loads(text)["tickets"] == tickets


def test_since_as_a_duration_back_from_until(config: Path) -> None:
    code, text = run(
        "report", "--config", str(config), "--since", "7d", "--until", UNTIL, "--format", "json"
    )
    assert code == 0
    assert json.loads(text)["tickets"] == 2  # only the second week's e and f


@pytest.mark.parametrize(
    ("title"), [title for _, title in SECTIONS], ids=[anchor for anchor, _ in SECTIONS]
)
def test_html_and_markdown_have_every_section(html: str, markdown: str, title: str) -> None:
    assert f"<h2>{title}</h2>" in html
    assert f"\n## {title}\n" in markdown


@pytest.mark.parametrize(
    "chart",
    [
        "sla-weeks-first_response",
        "sla-weeks-resolution",
        "compliance-urgent-first-response",
        "budget-urgent-first-response",
        "first-reply",
        "time-split",
        "heatmap",
    ],
)
def test_html_inlines_every_chart_as_svg(html: str, chart: str) -> None:
    figure = re.search(rf'<figure class="chart" data-chart="{chart}">(.*?)</figure>', html, re.S)
    assert figure is not None
    assert figure.group(1).lstrip().startswith("<svg")
    assert "<metadata>" not in figure.group(1)
    assert "font-family" in figure.group(1) or "<text" in figure.group(1)  # text stays text


def test_markdown_embeds_the_charts_as_data_images(markdown: str) -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]*)\)", markdown)
    assert len(images) == 7
    assert all(image.startswith("data:image/svg+xml;base64,") for image in images)


def _references(text: str) -> list[str]:
    """Every URL a page loads or links to."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", text)
    found += re.findall(r"url\(\s*['\"]?([^)'\"]+)", text)
    found += re.findall(r"@import\s+['\"]?([^'\";]+)", text)
    found += re.findall(r"\]\((https?://[^)]*)\)", text)
    return found


@pytest.mark.parametrize("page", ["html", "markdown"])
def test_pages_reference_nothing_outside_but_ticket_links(
    page: str, request: pytest.FixtureRequest
) -> None:
    text = request.getfixturevalue(page)
    external = [ref for ref in _references(text) if re.match(r"(https?:)?//", ref)]
    assert external == [TICKET_URL.format(id="c")]


def test_breached_ticket_links_to_the_helpdesk(html: str) -> None:
    assert f'<a href="{TICKET_URL.format(id="c")}">c</a>' in html


def test_html_default_out_is_report_html(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.html").write_text("old")
    code, text = report(config)
    assert (code, text) == (0, "")
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_out_dash_writes_html_to_stdout(config: Path) -> None:
    code, text = report(config, "--out", "-")
    assert code == 0
    assert text.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--since", "abc"], 2, "error: --since:"),
        (["--since", "2026-11-20T00:00:00Z"], 2, "is not before --until"),
        (["--since", "0d"], 2, "--since must be longer than zero"),
        (["--until", "yesterday"], 2, "--at"),
        (["--out", "missing-dir/report.html"], 2, "the directory missing-dir does not exist"),
        (["--out", "."], 2, "is a directory"),
        (["--format", "pdf"], 2, "invalid choice"),
        (["--since", "2026-10-01T00:00:00Z", "--until", "2026-10-20T00:00:00Z"], 1,
         "no history to report on"),
    ],
    ids=["bad-since", "since-after-until", "zero-since", "bad-until", "out-dir-missing",
         "out-is-a-directory", "unknown-format", "empty-history"],
)  # fmt: skip
def test_errors_are_one_line(
    config: Path,
    argv: list[str],
    code: int,
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    defaults = {"--since": SINCE, "--until": UNTIL}
    for flag in argv[::2]:
        defaults.pop(flag, None)
    args = [item for pair in defaults.items() for item in pair]
    returned, out = run("report", "--config", str(config), *args, *argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert returned == code
    assert out == ""
    assert message in err[-1]
    assert err[-1].startswith("error: ")
    assert "Traceback" not in "\n".join(err)


def test_out_under_a_file_is_refused_before_the_work(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").write_text("")
    code, _ = report(config, "--out", str(tmp_path / "plain" / "report.html"))
    err = capsys.readouterr().err
    assert code == 2
    assert "is not a directory" in err
    assert "report: reading" not in err


def test_failed_write_keeps_the_old_file_and_leaves_no_tmp(
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")

    def full(self: Path, *args: Any, **kwargs: Any) -> int:
        self.open("w").write("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    code, _ = report(config, "--format", "json", "--out", str(target))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == f"error: --out {target}: cannot write: No space left on device"
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_report_without_matplotlib_says_how_to_install_it(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "matplotlib" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    code, _ = report(config, "--out", "-")
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "error: report needs matplotlib: pip install 'helpdesk-slo-exporter[report]'"
    )


def test_progress_lines_go_to_stderr(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = report(config, "--format", "json")
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    assert err[0].startswith("report: reading the history of ")
    assert err[-1].startswith("report: 6 tickets replayed in ")
