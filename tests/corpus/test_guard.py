"""The last line of defence in ``main()``: an unexpected failure or a failing stdout is one line."""

from __future__ import annotations

import errno
import io
import subprocess
import sys
from pathlib import Path

import pytest

from exporter import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "file.yml"


class FailingOutput(io.StringIO):
    """Standard output whose writes fail with ``errno`` (a full disk, a closed pipe)."""

    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def write(self, text: str) -> int:
        raise OSError(self.code, "No space left on device" if self.code == errno.ENOSPC else "")


def _explode(args: object, out: object) -> int:
    raise RuntimeError("the engine met a case nobody planned for")


def test_an_unexpected_failure_is_one_error_line_with_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.setattr(cli, "cmd_check", _explode)
    code = cli.main(["check", "--config", str(EXAMPLE)], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "error: helpdesk-slo check failed unexpectedly (RuntimeError: the engine met a case "
        "nobody planned for); run it again with HELPDESK_SLO_DEBUG=1 for the traceback, "
        "and report it\n"
    )


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["check", "--config", str(EXAMPLE)], "1"),
        (["serve", "--log-level", "debug"], ""),
    ],
    ids=["debug-variable", "serve-log-level-debug"],
)
def test_debugging_prints_the_traceback_for_a_bug_report(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: str,
) -> None:
    monkeypatch.setenv(cli.DEBUG_ENV, env)
    monkeypatch.setattr(cli, "cmd_check", _explode)
    monkeypatch.setattr(cli, "cmd_serve", _explode)
    code = cli.main(argv, out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("Traceback (most recent call last):")
    assert "RuntimeError: the engine met a case nobody planned for" in err
    assert err.splitlines()[-1].startswith(f"error: helpdesk-slo {argv[0]} failed unexpectedly")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (errno.ENOSPC, "error: cannot write the output: No space left on device\n"),
        (errno.EPIPE, ""),
    ],
    ids=["full-disk", "reader-gone"],
)
def test_a_failing_stdout_is_one_line_or_silence(
    capsys: pytest.CaptureFixture[str], code: int, message: str
) -> None:
    exit_code = cli.main(["check", "--config", str(EXAMPLE)], out=FailingOutput(code))
    assert exit_code == 1
    assert capsys.readouterr().err == message


def test_argparse_complaints_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["evaluate", "--config", str(EXAMPLE), "--format", "xml"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: helpdesk-slo evaluate: argument --format: invalid choice: 'xml'")


def test_a_closed_pipe_leaves_no_exit_time_complaint() -> None:
    # Python flushes stdout again at exit; that flush must not print "Exception ignored"
    script = (
        "import os, sys\n"
        "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
        "from exporter.cli import main\n"
        f"sys.exit(main(['evaluate', '--config', {str(EXAMPLE)!r}, "
        "'--at', '2026-11-06T18:00:00Z']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (1, "")
