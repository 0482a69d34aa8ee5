"""``--web.config.file``: the Prometheus exporter-toolkit web config, as typed values.

:func:`load_web_config` reads the file into a :class:`WebConfig` or raises
:class:`~exporter.config.ConfigError` listing every problem, located like the
main config's (``web.yml:4: tls_server_config.client_auth_type: ...``).

Keys the exporter-toolkit defines but this exporter cannot honour are refused
by name, not ignored: ``cipher_suites``, ``curve_preferences`` (Python's TLS
defaults are used), ``prefer_server_cipher_suites: false`` (the server's order
is always preferred) and ``rate_limit``.  ``http2: true`` is accepted with a
note: HTTP/2 is negotiated, and clients fall back to the HTTP/1.1 served here.
Keys the exporter-toolkit does not know are refused as unknown.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from exporter.config import ConfigError, located_problems
from exporter.web.tls import TlsSettings, error_reason
from exporter.yamlfile import TextFileError, read_text, yaml_error_text
from exporter.yamlfile import load as load_yaml

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
_CLIENT_AUTH = {
    "": ssl.CERT_NONE,
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
#: Go's "request a certificate but do not verify it" modes have no equivalent in Python's ssl.
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
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


# --- value types ------------------------------------------------------------------------------


def _blank_is_none(value: Any) -> Any:
    """An empty value is an unset one, as in the exporter-toolkit."""
    return None if value == "" else value


def _empty_if_none(value: Any) -> Any:
    return {} if value is None else value


def _file_path(value: Any, info: ValidationInfo) -> Any:
    """A file name, relative to the web config file's directory (``context['base']``)."""
    if not isinstance(value, str):
        return value  # None, or a value the path type refuses with its own message
    if not value:
        return None
    path = Path(value)
    base = (info.context or {}).get("base")
    return path if path.is_absolute() or base is None else Path(base) / path


def _user_name(value: Any) -> Any:
    if not isinstance(value, str) or not value or ":" in value:
        raise ValueError("a user name is a non-empty string without ':'")
    return value


def _bcrypt_hash(value: Any) -> Any:
    if not isinstance(value, str) or not _BCRYPT_HASH.match(value):
        # never echo the value: it may be a password written by mistake
        raise ValueError(f"expected a bcrypt hash; {_HASH_HELP}")
    return value


def _refuse_unknown(*known: str) -> BeforeValidator:
    """For the keys a section does not define: each one is refused where it is written."""

    def refuse(value: Any) -> Any:
        raise ValueError(f"unknown key (known: {', '.join(known)})")

    return BeforeValidator(refuse)


Text = Annotated[str | None, BeforeValidator(_blank_is_none)]
FilePath = Annotated[Path | None, BeforeValidator(_file_path)]
UserName = Annotated[str, BeforeValidator(_user_name)]
BcryptHash = Annotated[str, BeforeValidator(_bcrypt_hash)]
_TLS_KEYS = (
    "cert",
    "key",
    "client_ca",
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "client_allowed_sans",
    "min_version",
    "max_version",
)


_UnknownTlsKey = Annotated[Any, _refuse_unknown(*_TLS_KEYS)]
_UnknownHttpKey = Annotated[Any, _refuse_unknown("http2", "headers")]
_UnknownKey = Annotated[
    Any, _refuse_unknown("tls_server_config", "http_server_config", "basic_auth_users")
]


class _Section(BaseModel):
    # unknown keys are refused one by one, with the known ones (see _refuse_unknown)
    model_config = ConfigDict(extra="allow", frozen=True)


# --- sections ---------------------------------------------------------------------------------


class TlsServerConfig(_Section):
    """``tls_server_config``: the server certificate and the client certificate policy."""

    __pydantic_extra__: dict[str, _UnknownTlsKey] = Field(init=False)

    cert: Text = Field(default=None, repr=False)
    key: Text = Field(default=None, repr=False)
    client_ca: Text = Field(default=None, repr=False)
    cert_file: FilePath = None
    key_file: FilePath = None
    client_ca_file: FilePath = None
    #: checked against the client CAs above, hence declared after them
    client_auth_type: str = Field(default="", validate_default=True)
    client_allowed_sans: tuple[str, ...] | None = None
    max_version: Annotated[TlsVersion | None, BeforeValidator(_blank_is_none)] = None
    #: checked against max_version, even when not written (it defaults to TLS12)
    min_version: Annotated[TlsVersion | None, BeforeValidator(_blank_is_none)] = Field(
        default=None, validate_default=True
    )
    cipher_suites: tuple[str, ...] | None = None
    curve_preferences: tuple[str, ...] | None = None
    prefer_server_cipher_suites: bool = True

    @field_validator("client_auth_type", mode="before")
    @classmethod
    def _client_auth(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return ""
        if not isinstance(value, str):
            return value  # refused as "expected a string"
        if value in _UNVERIFIED_CLIENT_AUTH:
            raise ValueError(
                f"{value} is not supported (client certificates are always verified here): "
                "use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
            )
        if value not in _CLIENT_AUTH:
            known = ", ".join(k for k in _CLIENT_AUTH if k)
            raise ValueError(f"must be one of {known} (got {value!r})")
        if "client_ca" not in info.data or "client_ca_file" not in info.data:
            return value  # a CA setting is wrong itself: that is the problem to fix first
        has_ca = bool(info.data["client_ca"] or info.data["client_ca_file"])
        if has_ca and _CLIENT_AUTH[value] is ssl.CERT_NONE:
            raise ValueError(
                "client CAs are configured without a client auth policy: set client_auth_type "
                "to RequireAndVerifyClientCert (or VerifyClientCertIfGiven)"
            )
        if _CLIENT_AUTH[value] is not ssl.CERT_NONE and not has_ca:
            raise ValueError(f"{value} needs client_ca_file or client_ca")
        return value

    @field_validator("client_allowed_sans")
    @classmethod
    def _sans_need_verified_clients(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        auth = info.data.get("client_auth_type")
        if value is not None and auth is not None and _CLIENT_AUTH[auth] is not ssl.CERT_REQUIRED:
            raise ValueError("needs client_auth_type: RequireAndVerifyClientCert")
        return value

    @field_validator("min_version")
    @classmethod
    def _min_below_max(cls, value: TlsVersion | None, info: ValidationInfo) -> TlsVersion | None:
        highest = info.data.get("max_version") or "TLS13"
        if _TLS_VERSIONS[value or "TLS12"] > _TLS_VERSIONS[highest]:
            raise ValueError("is above max_version")
        return value

    @field_validator("cipher_suites", "curve_preferences")
    @classmethod
    def _go_defaults_only(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        if value:
            what = "ciphers" if info.field_name == "cipher_suites" else "curves"
            raise ValueError(
                f"is not supported: this exporter uses Python's TLS defaults (modern {what} "
                "only); remove it"
            )
        return value

    @field_validator("prefer_server_cipher_suites")
    @classmethod
    def _server_order(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "false is not supported: the server's cipher order is always preferred here; "
                "remove it"
            )
        return value

    @model_validator(mode="after")
    def _usable(self) -> TlsServerConfig:
        settings = self.settings()
        if settings is None:
            return self
        missing = [
            f"missing one of {inline} or {inline}_file"
            for inline in ("cert", "key")
            if getattr(self, inline) is None and getattr(self, f"{inline}_file") is None
        ]
        if missing:
            raise ValueError("; ".join(missing))
        try:
            settings.build_context()
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ValueError(
                f"cannot load the certificate, key or client CA: {error_reason(exc)}"
            ) from None
        return self

    def settings(self) -> TlsSettings | None:
        """What the server uses; None without any certificate setting (plain HTTP, as the
        exporter-toolkit does)."""
        given = (self.cert, self.key, self.client_ca, self.cert_file, self.key_file)
        if not any(given) and not self.client_auth_type and self.client_ca_file is None:
            return None
        return TlsSettings(
            cert_file=self.cert_file,
            key_file=self.key_file,
            cert=self.cert,
            key=self.key,
            client_auth=_CLIENT_AUTH[self.client_auth_type],
            client_ca_file=self.client_ca_file,
            client_ca=self.client_ca,
            min_version=_TLS_VERSIONS[self.min_version or "TLS12"],
            max_version=_TLS_VERSIONS[self.max_version or "TLS13"],
            client_allowed_sans=self.client_allowed_sans or (),
        )


def _headers(value: Any) -> Any:
    """Header names as the exporter-toolkit allows them, in their canonical spelling."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return value  # refused as "expected a mapping"
    headers: dict[str, str] = {}
    problems: list[str] = []
    for name, text in value.items():
        canonical = _ALLOWED_HEADERS.get(str(name).lower())
        if canonical is None:
            allowed = ", ".join(_ALLOWED_HEADERS.values())
            problems.append(f"header {name!r} cannot be set (allowed: {allowed})")
        elif not isinstance(text, str) or not text or "\n" in text or "\r" in text:
            problems.append(f"header {name}: expected a one-line string")
        else:
            headers[canonical] = text
    if headers.get("X-Content-Type-Options", "nosniff").lower() != "nosniff":
        problems.append("X-Content-Type-Options must be nosniff")
    if headers.get("X-Frame-Options", "deny").lower() not in ("deny", "sameorigin"):
        problems.append("X-Frame-Options must be deny or sameorigin")
    if problems:
        raise ValueError("; ".join(problems))
    return headers


class HttpServerConfig(_Section):
    """``http_server_config``: response headers; ``http2`` is negotiated down to HTTP/1.1."""

    __pydantic_extra__: dict[str, _UnknownHttpKey] = Field(init=False)

    http2: bool | None = None
    headers: Annotated[dict[str, str], BeforeValidator(_headers)] = Field(default_factory=dict)


class WebConfig(_Section):
    """What ``--web.config.file`` asks for; the default is plain HTTP without auth."""

    __pydantic_extra__: dict[str, _UnknownKey] = Field(init=False)

    tls_server_config: TlsServerConfig = Field(default_factory=TlsServerConfig)
    http_server_config: HttpServerConfig = Field(default_factory=HttpServerConfig)
    #: user name -> bcrypt hash, checked by :class:`~exporter.web.auth.BasicAuthChecker`
    basic_auth_users: dict[UserName, BcryptHash] = Field(default_factory=dict, repr=False)
    rate_limit: Any = None

    @field_validator("tls_server_config", "http_server_config", "basic_auth_users", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return _empty_if_none(value)

    @field_validator("rate_limit")
    @classmethod
    def _no_rate_limit(cls, value: Any) -> Any:
        if value:
            raise ValueError(
                "is not supported by this exporter: remove it (limit requests in a reverse "
                "proxy in front of the exporter)"
            )
        return value

    @property
    def tls(self) -> TlsSettings | None:
        return self.tls_server_config.settings()

    @property
    def users(self) -> Mapping[str, str]:
        return self.basic_auth_users

    @property
    def headers(self) -> Mapping[str, str]:
        return self.http_server_config.headers

    @property
    def notes(self) -> tuple[str, ...]:
        """Settings that are accepted but have no effect here, one line each."""
        return tuple(self._notes())

    def _notes(self) -> Iterator[str]:
        if self.http_server_config.http2:
            yield "http_server_config.http2 has no effect: the exporter speaks HTTP/1.1"


# --- reading ----------------------------------------------------------------------------------


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
    """Validate a web config document; relative paths are relative to ``file``'s directory."""
    try:
        node, data = load_yaml(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_text(exc, text)
        where = f"{file}:{line}" if line is not None else str(file)
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    data = _empty_if_none(data)
    try:
        return WebConfig.model_validate(data, context={"base": file.parent.resolve()})
    except ValidationError as exc:
        raise ConfigError(located_problems(exc, data, node, str(file), WebConfig)) from None
