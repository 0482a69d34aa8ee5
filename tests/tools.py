"""Real binaries and shared files the tests use, found once.

On a plain clone a missing ``promtool``/``amtool``/``prometheus`` or a missing
``../shared`` skips the test that needs it, with the reason.  CI sets
``HELPDESK_SLO_REQUIRE_PROMETHEUS=1`` and ``HELPDESK_SLO_REQUIRE_SHARED=1``
(see ``.ci/run``), which turns those skips into failures.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def require_binary(name: str) -> str:
    """The path of a Prometheus-project binary, or skip (fail in CI) without it."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not on PATH (Debian packages prometheus / prometheus-alertmanager)"
        if os.environ.get("HELPDESK_SLO_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(f"{message}, and HELPDESK_SLO_REQUIRE_PROMETHEUS=1 requires it")
        pytest.skip(message)
    return found


def require_shared(*parts: str) -> Path:
    """A path under ``../shared`` beside the repository, or skip (fail in CI) without it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is not here (it sits beside the repository in CI only)"
        if os.environ.get("HELPDESK_SLO_REQUIRE_SHARED") == "1":
            pytest.fail(f"{message}, and HELPDESK_SLO_REQUIRE_SHARED=1 requires it")
        pytest.skip(message)
    return path
