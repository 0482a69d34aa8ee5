"""``read_secret``: a token is checked when it is read, and problems never quote it."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import MAX_TOKEN_LENGTH, ConfigError, load_config, read_secret

TOKEN = "q7Xv2LmR9tKp4WzB8nHc3JdF6yGs"
ENV = "HELPDESK_SLO_TEST_TOKEN"

CONFIG = """\
service: support
source:
  type: zendesk
  url: https://acme.zendesk.com
  auth: oauth
  {secret}
"""


def _load(tmp_path: Path, secret_key: str) -> Path:
    config = tmp_path / "helpdesk-slo.yml"
    secret = f"token_env: {ENV}" if secret_key == "token_env" else "token_file: api-token"
    config.write_text(CONFIG.format(secret=secret), encoding="utf-8")
    return config


def _read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_key: str, value: str) -> str:
    if secret_key == "token_env":
        monkeypatch.setenv(ENV, value)
    else:
        (tmp_path / "api-token").write_text(value, encoding="utf-8", newline="")
    token = read_secret(load_config(_load(tmp_path, secret_key)).source)
    assert token is not None
    return token


@pytest.mark.parametrize("secret_key", ["token_file", "token_env"])
@pytest.mark.parametrize(
    "value",
    [TOKEN, f"{TOKEN}\n", f"{TOKEN}\r\n", f"  {TOKEN}\t\n\n", f"\n{TOKEN}"],
    ids=["bare", "final-newline", "crlf", "blanks-around", "leading-newline"],
)
def test_whitespace_around_the_token_is_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_key: str, value: str
) -> None:
    assert _read(tmp_path, monkeypatch, secret_key, value) == TOKEN


@pytest.mark.parametrize("secret_key", ["token_file", "token_env"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"{TOKEN[:14]}\n{TOKEN[14:]}\n", "holds a line break inside the token"),
        (f"{TOKEN[:14]}\r{TOKEN[14:]}", "holds a line break inside the token"),
        (f"Authorization: Bearer {TOKEN}\nX-Other: 1", "holds a line break inside the token"),
        (f"{TOKEN[:14]}\x07{TOKEN[14:]}", "holds a control character"),
        (f"{TOKEN[:14]}\x1b[0m{TOKEN[14:]}", "holds a control character"),
        (f"{TOKEN[:14]}\x85{TOKEN[14:]}", "holds a line break inside the token"),
        (f"{TOKEN[:14]}\u2028{TOKEN[14:]}", "holds a line break inside the token"),
        (f"{TOKEN}\u20ac", "cannot carry"),
        (TOKEN * (MAX_TOKEN_LENGTH // len(TOKEN) + 1), f"longer than {MAX_TOKEN_LENGTH}"),
    ],
    ids=[
        "line-break",
        "carriage-return",
        "pasted-headers",
        "bell",
        "escape-sequence",
        "c1-next-line",
        "unicode-line-separator",
        "euro-sign",
        "too-long",
    ],
)
def test_an_unusable_token_is_refused_naming_the_config_line_not_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_key: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _read(tmp_path, monkeypatch, secret_key, value)
    [message] = caught.value.problems
    assert message.startswith(f"{tmp_path / 'helpdesk-slo.yml'}:6: source.{secret_key}: ")
    assert problem in message
    pieces = [TOKEN[i : i + 8] for i in range(len(TOKEN) - 7)]
    assert not [piece for piece in pieces if piece in message], message


@pytest.mark.parametrize(
    "length", [MAX_TOKEN_LENGTH - 1, MAX_TOKEN_LENGTH], ids=["under-limit", "at-limit"]
)
def test_a_long_token_within_the_limit_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    value = (TOKEN * (length // len(TOKEN) + 1))[:length]
    assert _read(tmp_path, monkeypatch, "token_file", value) == value
