"""The compose README's "A real helpdesk" steps, followed literally, give a valid stack.

The steps are read from ``deploy/compose/README.md`` itself: the config block
of step 1, and the ``docker compose -f ... -f ...`` command of step 3.  Every
compose file the command names must load with a YAML loader that refuses a
key given twice (what uncommenting lines of a service used to produce), and
the files merged the way compose merges them (``command`` replaced, volumes
and secrets added by their target) must run the exporter on the config and
token the README describes, with the store on its volume.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import COMPOSE_DIR, ROOT, STORE_DIR

README = COMPOSE_DIR / "README.md"


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping key given twice."""


def _unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{key!r} given twice (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,  # type: ignore[arg-type]
)


def load_unique(text: str) -> Any:
    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of ``language``, unindented."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^\1```", text, re.M | re.S)
    return ["\n".join(line[len(indent) :] for line in body.splitlines()) for indent, body in found]


def compose_files() -> list[Path]:
    """The ``-f`` files of the ``docker compose ... up`` command of the section."""
    for block in blocks(section("A real helpdesk"), "sh"):
        for command in block.replace("\\\n", " ").splitlines():
            words = shlex.split(command)
            if "compose" in words and "up" in words:
                files = [words[i + 1] for i, word in enumerate(words) if word == "-f"]
                return [ROOT / name for name in files]
    pytest.fail(f"{README}: no `docker compose ... up` command under 'A real helpdesk'")


def documented_config() -> dict[str, Any]:
    [config] = blocks(section("A real helpdesk"), "yaml")
    loaded = load_unique(config)
    assert isinstance(loaded, dict)
    return loaded


def _short_volume(entry: Any) -> dict[str, Any]:
    if isinstance(entry, dict):
        return entry
    source, target, *_ = str(entry).split(":")
    return {"source": source, "target": target}


def _secret(entry: Any) -> dict[str, Any]:
    if isinstance(entry, dict):
        return {"target": f"/run/secrets/{entry['source']}", **entry}
    return {"source": entry, "target": f"/run/secrets/{entry}"}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge of two files, for the keys these files use.

    Mappings merge key by key; ``volumes`` and ``secrets`` of a service merge
    by their target path; any other value (``command`` among them) is replaced.
    """
    merged = dict(base)
    for key, value in override.items():
        if key in ("volumes", "secrets") and isinstance(value, list):
            entry = _short_volume if key == "volumes" else _secret
            by_target = {entry(item)["target"]: entry(item) for item in merged.get(key, [])}
            by_target.update({entry(item)["target"]: entry(item) for item in value})
            merged[key] = list(by_target.values())
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merged_stack() -> dict[str, Any]:
    files = compose_files()
    stack: dict[str, Any] = {}
    for file in files:
        loaded = load_unique(file.read_text(encoding="utf-8"))
        assert isinstance(loaded, dict), file
        stack = merge(stack, loaded)
    return stack


@pytest.mark.parametrize(
    "text",
    ["a: 1\na: 2\n", "services:\n  exporter:\n    command: [serve]\n    command: [x]\n"],
    ids=["top-level", "inside-a-service"],
)
def test_the_loader_refuses_a_key_given_twice(text: str) -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="given twice"):
        load_unique(text)


def test_the_documented_command_names_the_base_file_and_the_helpdesk_file() -> None:
    assert [path.relative_to(ROOT).as_posix() for path in compose_files()] == [
        "deploy/compose/docker-compose.yml",
        "deploy/compose/docker-compose.helpdesk.yml",
    ]


@pytest.mark.parametrize(
    "name", ["docker-compose.yml", "docker-compose.helpdesk.yml"], ids=["base", "helpdesk"]
)
def test_each_compose_file_loads_with_no_key_given_twice(name: str) -> None:
    assert isinstance(load_unique((COMPOSE_DIR / name).read_text(encoding="utf-8")), dict)


def test_the_merged_exporter_reads_the_documented_config_file() -> None:
    exporter = merged_stack()["services"]["exporter"]
    command = exporter["command"]
    assert command[:2] == ["serve", "--config"]
    mounts = {m["target"]: m["source"] for m in exporter["volumes"]}
    # step 1 writes deploy/compose/helpdesk-slo.yml; compose paths are relative to deploy/compose
    assert mounts[command[2]] == "./helpdesk-slo.yml"


def test_the_merged_exporter_gets_the_token_where_the_config_reads_it() -> None:
    stack = merged_stack()
    [secret] = stack["services"]["exporter"]["secrets"]
    assert secret["target"] == documented_config()["source"]["token_file"]
    # step 2 puts the token in deploy/compose/secrets/helpdesk-token
    assert stack["secrets"][secret["source"]]["file"] == "./secrets/helpdesk-token"


def test_the_merged_exporter_keeps_its_store_on_the_volume() -> None:
    stack = merged_stack()
    mounts = {m["target"]: m["source"] for m in stack["services"]["exporter"]["volumes"]}
    store = PurePosixPath(documented_config()["store"])
    assert str(store.parent) == STORE_DIR
    assert mounts[STORE_DIR] in stack["volumes"]
