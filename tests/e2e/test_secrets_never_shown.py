"""The API token never shows in anything ``serve`` or ``evaluate`` puts out.

Every case runs ``serve --log-level debug`` (a child process) and
``evaluate`` against the fake helpdesks with a token that goes wrong in one
way:

* ``line-break``: the token file (or variable) holds a line break inside the
  token, which no HTTP header can carry; both commands must refuse it at
  start-up with one line that names the config line;
* ``rejected``: a well-formed token the fake answers with 401;
* ``unreachable``: a URL on 127.0.0.1 where nothing listens.

Each is run for every way a source signs in (Zendesk API token, OAuth bearer
token and password, Freshdesk API key, Intercom bearer token).  Then every output of the run is
searched for the token: stdout and stderr of both commands (serve's log),
``/metrics``, the landing page, ``/ready`` and ``/healthz``, and the bytes of
every file the run left in its directory (the store and its journal).  Not
the token, not any 8 characters of it, nor the base64 forms that basic auth
sends may appear.  All cases start at once (the unreachable ones spend about
20 s in retries) and the tests read what they recorded.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.process import command, free_port
from tests.fakes.freshdesk import FakeFreshdesk
from tests.fakes.intercom import FakeIntercom
from tests.fakes.zendesk import FakeZendesk

pytestmark = pytest.mark.slow

#: The token every case uses: random letters, so no 8 of them occur anywhere by chance.
TOKEN = "q7Xv2LmR9tKp4WzB8nHc3JdF6yGs"
#: The same token with a line break in the middle (what a pasted second line looks like).
BROKEN_TOKEN = f"{TOKEN[:14]}\n{TOKEN[14:]}"
EMAIL = "ops@acme.example"
#: How long serve may take to start, fail a poll (with retries) or stop.
TIMEOUT = 90.0

SLOS = """\
store: state.db
slas:
  first_response:
    targets: {urgent: 1h, high: 4h, normal: 8h, low: 24h}
slos:
  - name: first-response
    sla: first_response
    objective: 95%
    window: 28d
"""

#: How each kind of source signs in: its `source:` lines (``{url}`` and ``{secret}``
#: filled in) and what basic auth would send for the token.
AUTHS = {
    "zendesk-token": (
        "  type: zendesk\n  url: {url}\n  email: " + EMAIL + "\n  {secret}\n",
        f"{EMAIL}/token:{{token}}",
    ),
    "zendesk-oauth": ("  type: zendesk\n  url: {url}\n  auth: oauth\n  {secret}\n", "{token}"),
    "zendesk-password": (
        "  type: zendesk\n  url: {url}\n  email: " + EMAIL + "\n  auth: basic\n  {secret}\n",
        f"{EMAIL}:{{token}}",
    ),
    "freshdesk": ("  type: freshdesk\n  url: {url}\n  {secret}\n", "{token}:X"),
    "intercom": ("  type: intercom\n  url: {url}\n  {secret}\n", "{token}"),
}
FAULTS = ("line-break", "rejected", "unreachable")


@dataclass
class Case:
    """One run: its settings, and everything it put out."""

    auth: str
    fault: str
    directory: Path
    via_env: bool = False
    serve_output: str = ""
    serve_code: int | None = None
    evaluate_output: str = ""
    evaluate_code: int | None = None
    pages: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.auth}-{self.fault}" + ("-env" if self.via_env else "")

    @property
    def token(self) -> str:
        return BROKEN_TOKEN if self.fault == "line-break" else TOKEN

    def outputs(self) -> dict[str, bytes]:
        """Every output of the run, by where it came from."""
        found = {
            "serve stdout+stderr": self.serve_output.encode(),
            "evaluate stdout+stderr": self.evaluate_output.encode(),
        }
        found.update({f"GET {path}": body for path, body in self.pages.items()})
        found.update({f"file {name}": data for name, data in self.files.items()})
        return found


def forbidden(token: str, basic_form: str) -> list[bytes]:
    """The token, every 8 characters of it, and its base64 forms (basic auth, bare)."""
    pieces = {token[i : i + 8] for i in range(len(token) - 7) if "\n" not in token[i : i + 8]}
    pieces.add(token)
    for plain in (basic_form.format(token=token), token):
        pieces.add(base64.b64encode(plain.encode()).decode())
    return sorted(piece.encode() for piece in pieces)


def _cases(root: Path) -> list[Case]:
    cases = [Case(auth, fault, root / f"{auth}-{fault}") for auth in AUTHS for fault in FAULTS]
    cases.append(Case("zendesk-token", "line-break", root / "env-line-break", via_env=True))
    return cases


def _write_config(case: Case, url: str) -> Path:
    case.directory.mkdir()
    if case.via_env:
        secret = "token_env: HELPDESK_SLO_TEST_TOKEN"
    else:
        secret = "token_file: api-token"
        (case.directory / "api-token").write_text(case.token + "\n", encoding="utf-8")
    source = AUTHS[case.auth][0].format(url=url, secret=secret)
    config = case.directory / "helpdesk-slo.yml"
    config.write_text(f"source:\n{source}  poll_interval: 2s\n{SLOS}", encoding="utf-8")
    return config


def _get(port: int, path: str) -> bytes:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().read()
    finally:
        connection.close()


def _poll_failed(port: int) -> bool:
    try:
        metrics = _get(port, "/metrics").decode()
    except OSError:
        return False
    return any(
        line.startswith("helpdesk_poll_errors_total{") and not line.endswith(" 0.0")
        for line in metrics.splitlines()
    )


def _run_all(cases: list[Case], urls: dict[str, str]) -> None:
    """Start serve and evaluate for every case at once; record what each put out."""
    with ExitStack() as stack:
        running = []
        for case in cases:
            url = urls["unreachable"] if case.fault == "unreachable" else urls[case.auth]
            config = _write_config(case, url)
            env = {**os.environ, "HELPDESK_SLO_TEST_TOKEN": case.token}
            port = free_port()
            serve_log = (case.directory / "serve.out").open("wb")
            stack.callback(serve_log.close)
            listen = f"127.0.0.1:{port}"
            serve = subprocess.Popen(
                [
                    *command(),
                    "serve",
                    "--config",
                    str(config),
                    "--log-level",
                    "debug",
                    "--web.listen-address",
                    listen,
                ],
                cwd=case.directory,
                env=env,
                stdout=serve_log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, serve)
            evaluate_log = (case.directory / "evaluate.out").open("wb")
            stack.callback(evaluate_log.close)
            evaluate = subprocess.Popen(
                [*command(), "evaluate", "--config", str(config)],
                cwd=case.directory,
                env=env,
                stdout=evaluate_log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, evaluate)
            running.append((case, port, serve, evaluate))
        deadline = time.monotonic() + TIMEOUT
        for case, port, serve, evaluate in running:
            while serve.poll() is None and not _poll_failed(port):
                if time.monotonic() > deadline:
                    pytest.fail(f"{case.name}: serve neither failed a poll nor exited")
                time.sleep(0.2)
            if serve.poll() is None:
                for path in ("/", "/metrics", "/ready", "/healthz"):
                    case.pages[path] = _get(port, path)
            case.serve_code = _stop(serve)
            case.evaluate_code = evaluate.wait(max(1.0, deadline - time.monotonic()))
    for case in cases:
        case.serve_output = (case.directory / "serve.out").read_text(errors="replace")
        case.evaluate_output = (case.directory / "evaluate.out").read_text(errors="replace")
        for path in sorted(case.directory.rglob("*")):
            if path.is_file() and path.name not in ("api-token", "serve.out", "evaluate.out"):
                case.files[str(path.relative_to(case.directory))] = path.read_bytes()


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Case]]:
    root = tmp_path_factory.mktemp("secrets")
    cases = _cases(root)
    # a well-formed token, but not the one either fake accepts
    with (
        FakeZendesk(email=EMAIL, token="the-account-token") as zendesk,
        FakeFreshdesk("the-account-key") as freshdesk,
        FakeIntercom("the-workspace-token") as intercom,
    ):
        urls = {auth: zendesk.url for auth in AUTHS if auth.startswith("zendesk")}
        urls["freshdesk"] = freshdesk.url
        urls["intercom"] = intercom.url
        urls["unreachable"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        _run_all(cases, urls)
    yield {case.name: case for case in cases}


CASE_NAMES = [case.name for case in _cases(Path("."))]


@pytest.mark.parametrize("name", CASE_NAMES, ids=CASE_NAMES)
def test_no_output_of_the_run_shows_the_token(runs: dict[str, Case], name: str) -> None:
    case = runs[name]
    pieces = forbidden(case.token, AUTHS[case.auth][1])
    leaks = [
        f"{where} shows {piece.decode()!r}"
        for where, data in case.outputs().items()
        for piece in pieces
        if piece in data
    ]
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("name", CASE_NAMES, ids=CASE_NAMES)
def test_each_run_failed_the_way_it_was_set_up_to(runs: dict[str, Case], name: str) -> None:
    """The search above only means something if the token was really read and used."""
    case = runs[name]
    if case.fault == "line-break":
        key = "token_env" if case.via_env else "token_file"
        lines = (case.directory / "helpdesk-slo.yml").read_text().splitlines()
        line = next(n for n, text in enumerate(lines, 1) if text.strip().startswith(key))
        expected = f"helpdesk-slo.yml:{line}"
        for output, code in (
            (case.serve_output, case.serve_code),
            (case.evaluate_output, case.evaluate_code),
        ):
            assert code == 2, output
            assert f"{expected}: source.{key}: " in output, output
            assert "holds a line break" in output, output
            assert "Traceback" not in output, output
        return
    assert case.evaluate_code == 1, case.evaluate_output
    assert "Traceback" not in case.evaluate_output + case.serve_output
    metrics = case.pages["/metrics"].decode()
    reason = {"rejected": "auth", "unreachable": "connect"}[case.fault]
    assert f'helpdesk_poll_errors_total{{reason="{reason}' in metrics, metrics
    assert "helpdesk_up" in metrics and "1.0" not in _sample(metrics, "helpdesk_up"), metrics


def _sample(metrics: str, name: str) -> str:
    return next(line for line in metrics.splitlines() if line.startswith(name + "{"))
