"""``--web.config.file`` problems: each one located like the main config's, file:line: path."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest

from exporter.config import ConfigError
from exporter.web.config import WebConfig, parse_web_config
from tests.certs import make_certificates

HASH = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(4)).decode()


def problems_of(text: str, directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_web_config(text, directory / "web.yml")
    return [problem.replace(f"{directory}/", "") for problem in raised.value.problems]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "# web config\nbasic_auth_users: [prometheus]\n",
            "web.yml:2: basic_auth_users: expected a mapping (key: value lines), got a list",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: 3\n",
            "web.yml:3: tls_server_config.key_file: expected a file path, got 3",
        ),
        (
            "http_server_config:\n  http2: maybe\n",
            "web.yml:2: http_server_config.http2: expected true or false, got 'maybe'",
        ),
        (
            "http_server_config: {}\ntls_server_config:\n  cert_file: server.crt\n  cert_fil: x\n",
            "web.yml:4: tls_server_config.cert_fil: unknown key (known: cert, key, client_ca, "
            "cert_file, key_file, client_auth_type, client_ca_file, client_allowed_sans, "
            "min_version, max_version)",
        ),
        (
            "basic_auth_users: {}\nrate_limits: {}\n",
            "web.yml:2: rate_limits: unknown key (known: tls_server_config, http_server_config, "
            "basic_auth_users)",
        ),
        (
            "\ntls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
            "web.yml:2: tls_server_config: cannot load the certificate, key or client CA: "
            "No such file or directory",
        ),
        (
            f"basic_auth_users:\n  grafana: {HASH}\n  prometheus: hunter2\n",
            "web.yml:3: basic_auth_users.prometheus: expected a bcrypt hash; make one with:",
        ),
        (
            "basic_auth_users:\n  prometheus: 12345678\n",
            "web.yml:2: basic_auth_users.prometheus: expected a bcrypt hash; make one with:",
        ),
        (
            f"basic_auth_users:\n  'ops:team': {HASH}\n",
            "web.yml:2: basic_auth_users.ops:team: a user name is a non-empty string without ':'",
        ),
    ],
    ids=[
        "bad-yaml-type-section",
        "bad-yaml-type-file-name",
        "bad-yaml-type-boolean",
        "unknown-tls-key",
        "unknown-top-level-key",
        "missing-cert-file",
        "bad-bcrypt-hash",
        "number-instead-of-hash",
        "user-name-with-colon",
    ],
)
def test_web_config_problem_names_its_line_and_path(
    tmp_path: Path, text: str, problem: str
) -> None:
    make_certificates(tmp_path)
    found = problems_of(text, tmp_path)
    assert [line for line in found if line.startswith(problem)] == [found[0]]
    assert not any("hunter2" in line or "12345678" in line for line in found)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "web.yml:4: tls_server_config.cipher_suites: is not supported",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  curve_preferences: [X25519]\n",
            "web.yml:4: tls_server_config.curve_preferences: is not supported",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  prefer_server_cipher_suites: false\n",
            "web.yml:4: tls_server_config.prefer_server_cipher_suites: false is not supported",
        ),
        (
            "basic_auth_users: {}\nrate_limit:\n  interval: 1s\n  burst: 10\n",
            "web.yml:2: rate_limit: is not supported by this exporter",
        ),
    ],
    ids=["cipher-suites", "curve-preferences", "client-cipher-order", "rate-limit"],
)
def test_toolkit_settings_this_exporter_cannot_honour_are_refused(
    tmp_path: Path, text: str, problem: str
) -> None:
    make_certificates(tmp_path)
    assert any(line.startswith(problem) for line in problems_of(text, tmp_path))


@pytest.mark.parametrize(
    "text",
    [
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  cipher_suites: []\n  curve_preferences: []\n",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  prefer_server_cipher_suites: true\n",
        "rate_limit: {}\nhttp_server_config: {http2: false}\n",
    ],
    ids=["empty-lists-mean-defaults", "server-cipher-order", "no-rate-limit-no-http2"],
)
def test_toolkit_settings_that_ask_for_what_is_done_here_are_accepted(
    tmp_path: Path, text: str
) -> None:
    make_certificates(tmp_path)
    loaded = parse_web_config(text, tmp_path / "web.yml")
    assert loaded.notes == ()


def test_every_problem_is_listed_in_line_order(tmp_path: Path) -> None:
    text = "basic_auth_users:\n  prometheus: hunter2\ntls_config: {}\nhttp_server_config: []\n"
    found = problems_of(text, tmp_path)
    assert [line.split(":")[1] for line in found] == ["2", "3", "4"]


def test_sections_left_empty_are_plain_http_without_auth(tmp_path: Path) -> None:
    text = "tls_server_config:\nhttp_server_config:\nbasic_auth_users:\nrate_limit:\n"
    assert parse_web_config(text, tmp_path / "web.yml") == WebConfig()
