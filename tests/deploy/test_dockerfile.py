"""The Dockerfile and .dockerignore, parsed (no container engine runs here).

The ``dockerfile`` package parses the file with Docker's own parser; the tests
check the properties the image promises: multi-stage on python:3.11-slim, wheels
built in the first stage and installed offline in the second, a fixed non-root
user owning the store volume, port 9707, a health check on ``/healthz`` without
curl, the ``helpdesk-slo serve`` entry point, OCI labels, and no secret or
remote download anywhere.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import dockerfile
import pytest

from exporter import __version__
from exporter.config import DEFAULT_LISTEN_PORT
from tests.deploy.helpers import (
    DOCKERFILE,
    DOCKERIGNORE,
    ROOT,
    SECRET_NAME,
    STORE_DIR,
    project_version,
    pyproject,
    require_hadolint,
)

BASE_IMAGE = "python:3.11-slim"
OCI_LABELS = ("title", "description", "source", "licenses", "version")
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "python3-dev", "libc6-dev")


@dataclass(frozen=True)
class Stage:
    name: str | None
    base: str
    commands: tuple[dockerfile.Command, ...]

    def all(self, instruction: str) -> list[dockerfile.Command]:
        return [c for c in self.commands if c.cmd == instruction.upper()]

    def last(self, instruction: str) -> dockerfile.Command:
        found = self.all(instruction)
        assert found, f"the final stage has no {instruction.upper()}"
        return found[-1]

    def run_text(self) -> str:
        return "\n".join(" ".join(c.value) for c in self.all("RUN"))


def stages() -> list[Stage]:
    result: list[Stage] = []
    current: list[dockerfile.Command] = []
    base = name = None
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "FROM":
            if base is not None:
                result.append(Stage(name, base, tuple(current)))
            value = command.value
            base = value[0]
            name = value[2] if len(value) == 3 and value[1].upper() == "AS" else None
            current = []
        else:
            current.append(command)
    assert base is not None, "the Dockerfile has no FROM"
    result.append(Stage(name, base, tuple(current)))
    return result


def final() -> Stage:
    return stages()[-1]


def pairs(command: dockerfile.Command) -> dict[str, str]:
    """KEY value pairs of LABEL or ENV (both are given as key=value here)."""
    values = command.value
    return {values[i]: values[i + 1].strip('"') for i in range(0, len(values), 2)}


def arg_defaults(stage: Stage) -> dict[str, str]:
    defaults = {}
    for command in stage.all("ARG"):
        name, _, default = command.value[0].partition("=")
        defaults[name] = default
    return defaults


def expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables[m.group(1) or m.group(2)], text)


# --- stages --------------------------------------------------------------------------------------


def test_is_multi_stage_on_python_slim() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    assert [s.base for s in all_stages] == [BASE_IMAGE] * len(all_stages)
    assert all_stages[0].name, "the build stage is named, so the final stage can mount from it"


def test_build_stage_builds_wheels_of_the_project_and_its_dependencies() -> None:
    build = stages()[0]
    assert re.search(r"\bpip wheel\b.*--wheel-dir[ =](\S+)\s.*\.(\s|$)", build.run_text())


def test_final_stage_installs_only_the_built_wheels() -> None:
    build, last = stages()[0], final()
    wheel_dir = re.search(r"--wheel-dir[ =](\S+)", build.run_text())
    assert wheel_dir is not None
    installs = [c for c in last.all("RUN") if "pip install" in c.value[0]]
    assert installs, "the final stage installs nothing"
    for command in installs:
        text = command.value[0]
        assert "--no-index" in text, "the final stage must not reach a package index"
        assert re.search(r"--find-links[ =]" + re.escape(wheel_dir.group(1)), text)
        mounts = [f for f in command.flags if f.startswith("--mount=")]
        assert any(f"from={build.name}" in m for m in mounts), (
            "wheels come from the build stage through a build-time mount, not a COPY layer"
        )


def test_final_stage_has_no_build_tools_nor_source_tree() -> None:
    last = final()
    text = last.run_text()
    for tool in BUILD_TOOLS:
        assert not re.search(rf"apt-get install[^&]*\b{re.escape(tool)}\b", text), tool
    assert re.search(r"pip uninstall --yes[^&]*\bsetuptools\b[^&]*\bwheel\b", text)
    for command in last.all("COPY"):
        assert any(f.startswith("--from=") for f in command.flags), (
            f"the final stage copies from the build context: {command.original}"
        )


# --- runtime -------------------------------------------------------------------------------------


def test_runs_as_a_fixed_non_root_user() -> None:
    last = final()
    user = last.last("USER").value[0]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, f"USER {user}: numeric and not root (for runAsNonRoot)"
    assert gid.isdigit() and int(gid) > 0
    text = last.run_text()
    assert re.search(rf"useradd\b.*--uid {uid}\b", text)
    assert re.search(rf"groupadd\b.*--gid {gid}\b", text)
    users = [c.value[0] for c in dockerfile.parse_file(str(DOCKERFILE)) if c.cmd == "USER"]
    assert users[-1] == user, "nothing switches back to root after USER"


def test_store_directory_is_the_workdir_a_volume_and_owned_by_the_user() -> None:
    last = final()
    uid, _, gid = last.last("USER").value[0].partition(":")
    assert last.last("WORKDIR").value[0] == STORE_DIR
    volumes = [v for c in last.all("VOLUME") for v in c.value]
    assert STORE_DIR in volumes
    assert re.search(
        rf"install -d -o {uid} -g {gid}\b.*\s{re.escape(STORE_DIR)}\b", last.run_text()
    )


def test_exposes_the_default_listen_port() -> None:
    ports = [p.split("/")[0] for c in final().all("EXPOSE") for p in c.value]
    assert ports == [str(DEFAULT_LISTEN_PORT)]


def test_healthcheck_hits_healthz_with_python() -> None:
    check = final().last("HEALTHCHECK")
    assert check.json, "exec form: no shell needed"
    kind, *argv = check.value
    assert kind == "CMD"
    assert argv[0] in ("python", "python3")
    program = " ".join(argv)
    assert "urllib.request" in program
    assert f"127.0.0.1:{DEFAULT_LISTEN_PORT}/healthz" in program
    assert "timeout=" in program
    assert not {"curl", "wget"} & set(shlex.split(program)), "slim images have neither"
    flags = dict(f.lstrip("-").split("=", 1) for f in check.flags)
    assert {"interval", "timeout", "retries"} <= flags.keys()


def test_entrypoint_is_the_console_script_and_serve_is_the_default() -> None:
    last = final()
    entrypoint, cmd = last.last("ENTRYPOINT"), last.last("CMD")
    assert entrypoint.json and list(entrypoint.value) == ["helpdesk-slo"]
    assert cmd.json and list(cmd.value) == ["serve"]
    project = pyproject()["project"]
    assert isinstance(project, dict)
    assert "helpdesk-slo" in project["scripts"]


@pytest.mark.parametrize(
    ("name", "value"), [("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONUNBUFFERED", "1")]
)
def test_python_environment(name: str, value: str) -> None:
    env: dict[str, str] = {}
    for command in final().all("ENV"):
        env.update(pairs(command))
    assert env.get(name) == value


def test_oci_labels() -> None:
    last = final()
    labels: dict[str, str] = {}
    for command in last.all("LABEL"):
        labels.update(pairs(command))
    prefix = "org.opencontainers.image."
    assert {f"{prefix}{name}" for name in OCI_LABELS} <= labels.keys()
    assert all(labels[f"{prefix}{name}"] for name in OCI_LABELS)
    resolved = {k: expand(v, arg_defaults(last)) for k, v in labels.items()}
    project = pyproject()["project"]
    assert isinstance(project, dict)
    assert resolved[f"{prefix}version"] == project_version() == __version__
    assert resolved[f"{prefix}licenses"] == project["license"]  # an SPDX expression
    assert resolved[f"{prefix}source"].startswith("https://")


# --- hygiene -------------------------------------------------------------------------------------


def test_no_remote_add() -> None:
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "ADD":
            for source in command.value[:-1]:
                assert not re.match(r"(https?|git|ssh)://|git@", source), command.original


def test_no_secret_in_env_or_args() -> None:
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "ENV":
            names = list(pairs(command))
        elif command.cmd == "ARG":
            names = [command.value[0].partition("=")[0]]
        else:
            continue
        for name in names:
            assert not SECRET_NAME.search(name), f"{command.original}: secrets are mounted files"


def test_copied_sources_exist() -> None:
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "COPY" and not any(f.startswith("--from=") for f in command.flags):
            for source in command.value[:-1]:
                assert (ROOT / source).exists(), source
                assert not ignored(source), f"{source} is copied but .dockerignore excludes it"


# --- .dockerignore -------------------------------------------------------------------------------


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus ``**``) as a regex over a path."""
    pattern = str(PurePosixPath(text.strip("/")))
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def ignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out (last matching rule wins)."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = _pattern(line[1:] if negate else line)
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negate
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        ".pytest_cache/v/cache/lastfailed",
        ".mypy_cache/3.11/exporter/cli.data.json",
        ".ruff_cache/content",
        ".hypothesis/examples/abc",
        "helpdesk-slo-demo.db",
        "examples/helpdesk-slo-demo.db",
        "exporter/state.db-wal",
        "exporter/__pycache__/cli.cpython-311.pyc",
        "deploy/compose/secrets/slack-webhook-url",
        "tests/unit/test_calendar.py",
    ],
)
def test_dockerignore_excludes(path: str) -> None:
    assert ignored(path)


@pytest.mark.parametrize(
    "path",
    ["pyproject.toml", "README.md", "exporter/cli.py", "exporter/pack/templates/slack.tmpl"],
)
def test_dockerignore_keeps_what_the_build_needs(path: str) -> None:
    assert not ignored(path)


def test_dockerignore_keeps_every_package_file() -> None:
    files = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "exporter").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".db")
    ]
    assert files
    assert [f for f in files if ignored(f)] == []


# --- hadolint ---------------------------------------------------------------------------------


def test_hadolint_reports_nothing(tmp_path: Path) -> None:
    hadolint = require_hadolint()
    # HOME and XDG_CONFIG_HOME in tmp_path: no hadolint config of the person running the tests
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    linted = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_every_hadolint_ignore_says_why() -> None:
    """An inline ``# hadolint ignore=`` names each rule again in the comment above it, with why."""
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if not line.startswith("# hadolint ignore="):
            continue
        above = []
        for previous in reversed(lines[:number]):
            if not previous.startswith("#"):
                break
            above.append(previous)
        for rule in line.split("=", 1)[1].split(","):
            assert rule.strip() in " ".join(above), (
                f"Dockerfile:{number + 1}: why is {rule} ignored?"
            )
