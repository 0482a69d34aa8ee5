"""``--web.config.file``: the Prometheus exporter-toolkit web config, read and checked."""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.config import ConfigError, _index_lines, _Lines
from exporter.web.tls import TlsSettings, error_reason
from exporter.yamlfile import TextFileError, read_text, shorten, shorten_quotes, yaml_error_text
from exporter.yamlfile import load as load_yaml

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "": ssl.CERT_NONE,
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
#: Go's "request a certificate but do not verify it" modes have no equivalent in Python's ssl.
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
_TLS_KEYS = (
    "cert",
    "key",
    "client_ca",
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "cipher_suites",
    "curve_preferences",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
)
#: Response headers http_server_config.headers may set, as in the exporter-toolkit.
_ALLOWED_HEADERS = {
    "strict-transport-security": "Strict-Transport-Security",
    "x-content-type-options": "X-Content-Type-Options",
    "x-frame-options": "X-Frame-Options",
    "x-xss-protection": "X-XSS-Protection",
    "content-security-policy": "Content-Security-Policy",
}
_BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$")
_HASH_HELP = (
    "make one with: python -c 'import bcrypt, getpass; "
    "print(bcrypt.hashpw(getpass.getpass().encode(), bcrypt.gensalt()).decode())'"
)


@dataclass(frozen=True)
class WebConfig:
    """What ``--web.config.file`` asks for; the default is plain HTTP without auth."""

    tls: TlsSettings | None = None
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    #: settings that are accepted but have no effect here, one line each
    notes: tuple[str, ...] = ()


class _Problems:
    """Problems of one web config, each located at its key's line (the config's line index)."""

    def __init__(self, file: Path, node: yaml.Node | None) -> None:
        self.file = file
        lines: dict[tuple[str | int, ...], int] = {}
        _index_lines(node, (), lines, [])
        self.lines = _Lines(lines)
        self.items: list[str] = []

    def add(self, path: tuple[str, ...], message: str) -> None:
        line = self.lines.line_of(path)
        where = f"{self.file}:{line}" if line else str(self.file)
        self.items.append(f"{where}: {'.'.join(path) or '(top level)'}: {message}")


def _mapping(value: Any, path: tuple[str, ...], problems: _Problems) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, "expected a mapping")
        return {}
    return value


def _text(value: Any, path: tuple[str, ...], problems: _Problems) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.add(path, "expected a string")
        return ""
    return value


def _parse_tls(
    data: dict[str, Any], base: Path, problems: _Problems, notes: list[str]
) -> TlsSettings | None:
    section = "tls_server_config"
    for key in data:
        if key not in _TLS_KEYS:
            problems.add((section, str(key)), f"unknown key (known: {', '.join(_TLS_KEYS)})")
    values = {k: _text(data.get(k), (section, k), problems) for k in _TLS_KEYS[:7]}
    if not any(values.values()):
        return None  # no TLS setting at all: plain HTTP, as the exporter-toolkit does

    def path_of(key: str) -> Path | None:
        text = values[key]
        if not text:
            return None
        path = Path(text)
        return path if path.is_absolute() else base / path

    if not values["cert"] and not values["cert_file"]:
        problems.add((section,), "missing one of cert or cert_file")
    if not values["key"] and not values["key_file"]:
        problems.add((section,), "missing one of key or key_file")
    auth_name = values["client_auth_type"]
    if auth_name in _UNVERIFIED_CLIENT_AUTH:
        problems.add(
            (section, "client_auth_type"),
            f"{auth_name} is not supported (client certificates are always verified here): "
            "use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file",
        )
        client_auth = ssl.CERT_REQUIRED
    elif auth_name not in _CLIENT_AUTH:
        known = ", ".join(k for k in _CLIENT_AUTH if k)
        problems.add((section, "client_auth_type"), f"must be one of {known} (got {auth_name!r})")
        client_auth = ssl.CERT_NONE
    else:
        client_auth = _CLIENT_AUTH[auth_name]
    has_ca = bool(values["client_ca_file"] or values["client_ca"])
    if has_ca and client_auth is ssl.CERT_NONE and auth_name not in _UNVERIFIED_CLIENT_AUTH:
        problems.add(
            (section, "client_auth_type"),
            "client CAs are configured without a client auth policy: set client_auth_type "
            "to RequireAndVerifyClientCert (or VerifyClientCertIfGiven)",
        )
    if client_auth is not ssl.CERT_NONE and not has_ca:
        problems.add((section, "client_ca_file"), f"{auth_name} needs client_ca_file or client_ca")

    versions = {}
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        name = _text(data.get(key), (section, key), problems) or default
        if name not in _TLS_VERSIONS:
            problems.add(
                (section, key), f"must be one of {', '.join(_TLS_VERSIONS)} (got {name!r})"
            )
            name = default
        versions[key] = _TLS_VERSIONS[name]
    if versions["min_version"] > versions["max_version"]:
        problems.add((section, "min_version"), "is above max_version")

    sans_value = data.get("client_allowed_sans")
    sans: tuple[str, ...] = ()
    if sans_value is not None:
        if not isinstance(sans_value, list) or not all(isinstance(s, str) for s in sans_value):
            problems.add((section, "client_allowed_sans"), "expected a list of strings")
        else:
            sans = tuple(sans_value)
            if client_auth is not ssl.CERT_REQUIRED:
                problems.add(
                    (section, "client_allowed_sans"),
                    "needs client_auth_type: RequireAndVerifyClientCert",
                )
    for key in ("cipher_suites", "curve_preferences"):
        if data.get(key):
            notes.append(
                f"{section}.{key} is not applied: Python's TLS defaults are used "
                "(modern ciphers and curves only)"
            )

    settings = TlsSettings(
        cert_file=path_of("cert_file"),
        key_file=path_of("key_file"),
        cert=values["cert"] or None,
        key=values["key"] or None,
        client_auth=client_auth,
        client_ca_file=path_of("client_ca_file"),
        client_ca=values["client_ca"] or None,
        min_version=versions["min_version"],
        max_version=versions["max_version"],
        client_allowed_sans=sans,
    )
    if not problems.items:
        try:
            settings.build_context()
        except (OSError, ssl.SSLError, ValueError) as exc:
            problems.add(
                (section,), f"cannot load the certificate, key or client CA: {error_reason(exc)}"
            )
    return settings


def _parse_users(value: Any, problems: _Problems) -> dict[str, str]:
    section = "basic_auth_users"
    users: dict[str, str] = {}
    for user, hashed in _mapping(value, (section,), problems).items():
        name = str(user)
        if not isinstance(user, str) or not user or ":" in user:
            problems.add((section, name), "a user name is a non-empty string without ':'")
        elif not isinstance(hashed, str) or not _BCRYPT_HASH.match(hashed):
            # never echo the value: it may be a password written by mistake
            problems.add((section, name), f"expected a bcrypt hash; {_HASH_HELP}")
        else:
            users[user] = hashed
    return users


def _parse_http(value: Any, problems: _Problems, notes: list[str]) -> dict[str, str]:
    section = "http_server_config"
    data = _mapping(value, (section,), problems)
    headers: dict[str, str] = {}
    for key, item in data.items():
        if key == "http2":
            if item:
                notes.append(f"{section}.http2 has no effect: the exporter speaks HTTP/1.1")
        elif key == "headers":
            for name, text in _mapping(item, (section, "headers"), problems).items():
                canonical = _ALLOWED_HEADERS.get(str(name).lower())
                if canonical is None:
                    allowed = ", ".join(_ALLOWED_HEADERS.values())
                    problems.add(
                        (section, "headers"), f"header {name!r} cannot be set (allowed: {allowed})"
                    )
                elif not isinstance(text, str) or not text or "\n" in text or "\r" in text:
                    problems.add((section, "headers"), f"header {name}: expected a one-line string")
                else:
                    headers[canonical] = text
        else:
            problems.add((section, str(key)), "unknown key (known: http2, headers)")
    if headers.get("X-Content-Type-Options", "nosniff").lower() != "nosniff":
        problems.add((section, "headers"), "X-Content-Type-Options must be nosniff")
    if headers.get("X-Frame-Options", "deny").lower() not in ("deny", "sameorigin"):
        problems.add((section, "headers"), "X-Frame-Options must be deny or sameorigin")
    return headers


def load_web_config(path: str | Path) -> WebConfig:
    """Read an exporter-toolkit web config; raise :class:`ConfigError` listing every problem."""
    file = Path(path)
    try:
        text = read_text(file, "web config")
    except TextFileError as exc:
        where = f"{file}:{exc.line}" if exc.line is not None else str(file)
        raise ConfigError([f"{where}: {exc.message}"]) from None
    return parse_web_config(text, file)


def parse_web_config(text: str, file: Path) -> WebConfig:
    try:
        node, data = load_yaml(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_text(exc, text)
        where = f"{file}:{line}" if line is not None else str(file)
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    problems = _Problems(file, node)
    notes: list[str] = []
    data = _mapping(data, (), problems)
    for key in data:
        if key not in ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"):
            problems.add(
                (str(key),),
                "unknown key (known: tls_server_config, http_server_config, basic_auth_users)",
            )
    if data.get("rate_limit"):
        notes.append("rate_limit is not applied by this exporter")
    base = file.parent.resolve()
    users = _parse_users(data.get("basic_auth_users"), problems)
    headers = _parse_http(data.get("http_server_config"), problems, notes)
    tls_data = _mapping(data.get("tls_server_config"), ("tls_server_config",), problems)
    tls = _parse_tls(tls_data, base, problems, notes)
    if problems.items:
        raise ConfigError([shorten(shorten_quotes(item), 400) for item in problems.items])
    return WebConfig(tls=tls, users=users, headers=headers, notes=tuple(notes))
