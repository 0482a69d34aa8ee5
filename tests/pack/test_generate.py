"""``helpdesk-slo generate``: real promtool on every generated file, --check, formats, imports.

promtool comes from Debian's ``prometheus`` package.  Without it these tests skip,
unless ``HELPDESK_SLO_REQUIRE_PROMETHEUS=1`` (CI) makes that a failure.  The Sloth
and OpenSLO specs are read from ``../shared/peers/sloth`` next to the repository.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import main
from exporter.config import load_config
from exporter.pack import GENERATED_MARKER
from exporter.pack.generate import (
    RULE_TESTS_FILE,
    RULES_FILE,
    PackContext,
    build_pack,
    check_pack,
    import_specs,
    write_pack,
)
from tests.tools import require_binary, require_shared

ROOT = Path(__file__).parents[2]
CONFIGS = sorted((Path(__file__).parent / "configs").glob("*.yml"))
EXAMPLE = ROOT / "examples" / "helpdesk-slo.yml"
SLOTH = ROOT / ".." / "shared" / "peers" / "sloth"


def _promtool() -> str:
    return require_binary("promtool")


def shared_file(name: str) -> Path:
    return require_shared("peers", "sloth", name)


def generate(*args: str) -> tuple[int, str, str]:
    """Run ``helpdesk-slo generate`` in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["generate", *args], out=out)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def promtool() -> str:
    return _promtool()


@pytest.fixture(scope="session")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test config (and the repository's example) generated once, by name."""
    out: dict[str, Path] = {}
    for config in [*CONFIGS, EXAMPLE]:
        target = tmp_path_factory.mktemp(config.stem)
        code, _, err = generate("--config", str(config), "--out", str(target))
        assert code == 0, err
        out[config.stem] = target
    return out


@pytest.fixture(scope="session")
def promtool_runs(
    promtool: str, packs: dict[str, Path]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """``promtool test rules`` on every generated test file, run side by side."""

    def run(directory: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [promtool, "test", "rules", Path(RULE_TESTS_FILE).name],
            cwd=directory / "rules",
            capture_output=True,
            text=True,
            timeout=900,
        )

    with ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2))) as pool:
        results = dict(zip(packs, pool.map(run, packs.values()), strict=True))
    return results


CONFIG_IDS = [c.stem for c in CONFIGS] + [EXAMPLE.stem]


# --- promtool on what is generated ------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIG_IDS, ids=CONFIG_IDS)
def test_promtool_accepts_the_rules(promtool: str, packs: dict[str, Path], name: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(packs[name] / RULES_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("name", CONFIG_IDS, ids=CONFIG_IDS)
def test_generated_promtool_tests_pass(
    promtool_runs: dict[str, subprocess.CompletedProcess[str]], name: str
) -> None:
    result = promtool_runs[name]
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "SUCCESS" in result.stdout


def test_generated_tests_cover_every_scenario(packs: dict[str, Path]) -> None:
    document = yaml.safe_load((packs["objective-95-28d"] / RULE_TESTS_FILE).read_text())
    names = [group["name"].split(":")[0] for group in document["tests"]]
    assert names == [
        "quiet",
        "all bad",
        "outage",
        "spike",
        "aftermath",
        "slow burn",
        "restart",
        "guard",
        "forecast",
        "backlog",
        "SupportSLOBacklogImminent",
        "SupportSLOBacklogImminent",
        "SupportSLOBacklogImminent",
        "SupportSLOBacklogImminent",
        "SupportSLOBacklogImminent",
        "SupportSLOBacklogImminent",
        "SupportSLOBacklogImminent and SupportSLOBacklogBreached",
        "exporter",
        "status time",
        "exporter down",
        "exporter never scraped",
        "source never answered",
        "source stopped answering",
        "source watermark stuck",
        "source falls behind",
        "source no false page",
    ]


def test_generated_tests_fail_on_a_broken_rule(
    promtool: str, packs: dict[str, Path], tmp_path: Path
) -> None:
    """The tests have teeth: without the zero-traffic guard the quiet day reads NaN."""
    rules = (packs["objective-95-28d"] / RULES_FILE).read_text()
    broken = rules.replace(") > 0)\n      or on () vector(0)", "))")
    assert broken != rules
    (tmp_path / Path(RULES_FILE).name).write_text(broken)
    shutil.copy(packs["objective-95-28d"] / RULE_TESTS_FILE, tmp_path)
    result = subprocess.run(
        [promtool, "test", "rules", Path(RULE_TESTS_FILE).name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1
    assert "NaN" in result.stdout + result.stderr


SOURCE_RULE_BREAKS = [
    # (what is broken, text in the source rules, replacement, the alert whose test fails)
    (
        "down-counted-from-the-watermark-pages-a-first-sync",
        "time() - helpdesk_last_successful_poll_timestamp_seconds",
        "time() - helpdesk_source_watermark_timestamp_seconds",
        "HelpdeskSourceDown",
    ),
    (
        "down-after-20-minutes-is-too-late",
        'helpdesk_last_successful_poll_timestamp_seconds{job="helpdesk-slo"} > 600',
        'helpdesk_last_successful_poll_timestamp_seconds{job="helpdesk-slo"} > 1200',
        "HelpdeskSourceDown",
    ),
    (
        "stale-without-successful-polls-fires-on-a-dead-helpdesk",
        "\nand\nchanges(helpdesk_last_successful_poll_timestamp_seconds"
        '{job="helpdesk-slo"}[10m]) > 1',
        "",
        "HelpdeskSourceStale",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "alert"),
    [case[1:] for case in SOURCE_RULE_BREAKS],
    ids=[case[0] for case in SOURCE_RULE_BREAKS],
)
def test_generated_source_tests_fail_on_a_broken_source_rule(
    promtool: str, packs: dict[str, Path], tmp_path: Path, old: str, new: str, alert: str
) -> None:
    """The source tests have teeth: each of these mistakes fails them."""
    rules = yaml.safe_load((packs["objective-95-28d"] / RULES_FILE).read_text())
    [group] = [g for g in rules["groups"] if g["name"] == "helpdesk-slo-exporter"]
    source_rules = [r for r in group["rules"] if r.get("alert", "").startswith("HelpdeskSource")]
    assert any(old in rule["expr"] for rule in source_rules)
    for rule in source_rules:
        rule["expr"] = rule["expr"].replace(old, new)
    rules["groups"] = [group]
    (tmp_path / Path(RULES_FILE).name).write_text(yaml.safe_dump(rules))
    tests = yaml.safe_load((packs["objective-95-28d"] / RULE_TESTS_FILE).read_text())
    tests["tests"] = [t for t in tests["tests"] if t["name"].startswith("source")]
    (tmp_path / "source.test.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", "source.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1
    assert f"alertname: {alert}" in result.stdout + result.stderr


SLO_RULE_BREAKS = [
    # (what is broken, pattern in the SLO's rules, replacement, test group that fails)
    (
        "imminent-without-the-pace-pages-a-busy-team",
        r"\nand on \(\)\nmax\(helpdesk_slo_time_to_threshold_seconds_bucket",
        "\nor on ()\nmax(helpdesk_slo_time_to_threshold_seconds_bucket",
        "a burst of tickets near their threshold",
    ),
    (
        "imminent-with-a-lead-long-pace-pages-a-team-that-just-cleared-a-queue",
        r'(increase\(helpdesk_slo_events_total\{[^}]*result="good"\})\[\w+\]',
        r"\1[5m]",
        "slow ones stay in the lead",
    ),
    (
        "imminent-without-a-late-ticket-pages-on-chance",
        r"\nand on \(\)\n\(max\(min_over_time[^\n]*",
        "",
        "near the threshold at once, one late for a moment",
    ),
    (
        "imminent-on-a-ticket-late-for-a-moment-pages-on-chance",
        r"max\(min_over_time\((helpdesk_slo_time_to_threshold_seconds_bucket\{[^}]*\})\[\w+\]\)\)",
        r"max(\1)",
        "near the threshold at once, one late for a moment",
    ),
    (
        "imminent-right-after-opening-pages-the-nights-queue",
        r"\nand on \(\)\nmax\(min_over_time\(helpdesk_calendar_open[^\n]*$",
        "",
        "is in the lead at opening time",
    ),
    (
        "imminent-on-one-ticket-pages-a-quiet-hour",
        r">= \d+\nand on \(\)\nmax\(helpdesk_slo_time_to_threshold",
        ">= 1\nand on ()\nmax(helpdesk_slo_time_to_threshold",
        "SupportSLOBacklogImminent and SupportSLOBacklogBreached",
    ),
    (
        "burn-tier-without-the-short-window-guard-pages-again-after-an-incident",
        r"\nand ignoring \(result\)\nslo:sli_events:increase\w+\{[^}]*\} >= 2$",
        "",
        "aftermath",
    ),
    (
        "status-share-without-the-zero-guard-divides-a-quiet-priority-by-zero",
        r"\) > 0\)$",
        "))",
        "status time",
    ),
    (
        "status-share-matched-on-every-label-finds-nothing",
        r"/ on \(priority\) group_left \(\)",
        "/",
        "status time",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "failing"),
    [case[1:] for case in SLO_RULE_BREAKS],
    ids=[case[0] for case in SLO_RULE_BREAKS],
)
def test_generated_slo_tests_fail_on_a_broken_guard(
    promtool: str, packs: dict[str, Path], tmp_path: Path, old: str, new: str, failing: str
) -> None:
    """The imminent-backlog and aftermath tests have teeth: each of these mistakes fails them."""
    kept, result = _run_with_a_broken_rule(
        promtool, packs["objective-95-28d"], tmp_path, old, new, lambda name: failing in name
    )
    assert kept
    assert result.returncode == 1, result.stdout[-3000:]


def _run_with_a_broken_rule(
    promtool: str,
    pack: Path,
    tmp_path: Path,
    old: str,
    new: str,
    keep: Callable[[str], bool],
) -> tuple[list[Any], subprocess.CompletedProcess[str]]:
    """Rewrite every rule expression of ``pack`` with ``re.sub(old, new)`` (at least one must
    change) and run the pack's generated test groups whose name ``keep`` accepts on it."""
    rules = yaml.safe_load((pack / RULES_FILE).read_text())
    changed = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            expr = re.sub(old, new, rule["expr"])
            changed += expr != rule["expr"]
            rule["expr"] = expr
    assert changed
    (tmp_path / Path(RULES_FILE).name).write_text(yaml.safe_dump(rules))
    tests = yaml.safe_load((pack / RULE_TESTS_FILE).read_text())
    tests["tests"] = [t for t in tests["tests"] if keep(t["name"])]
    (tmp_path / "broken.test.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", "broken.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return tests["tests"], result


AVAILABILITY = "availability-business-hours"
AVAILABILITY_RULE_BREAKS = [
    # (what is broken, pattern in the SLO's rules, replacement, test group that fails)
    (
        "down-minutes-counted-outside-business-hours",
        r"max\(helpdesk_calendar_open\{[^}]*\}\)\n\* on \(\)\n",
        "",
        "availability after hours",
    ),
    (
        "down-minutes-counted-outside-business-hours-spend-the-budget",
        r"max\(helpdesk_calendar_open\{[^}]*\}\)\n\* on \(\)\n",
        "",
        "availability budget",
    ),
    (
        "up-minutes-counted-as-bad",
        r"\(1 - clamp\(",
        "(0 + clamp(",
        "availability outage",
    ),
    (
        "events-in-seconds-instead-of-minutes",
        r"(sum_over_time\(slo:sli_minute:business\{[^}]*\}\[\w+\]\)\))",
        r"\1 * 60",
        "availability budget",
    ),
    (
        "closed-minutes-counted-as-business-time",
        r"max\(helpdesk_calendar_open\{[^}]*\}\)\nand on \(\)\n",
        "",
        "availability budget",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "failing"),
    [case[1:] for case in AVAILABILITY_RULE_BREAKS],
    ids=[case[0] for case in AVAILABILITY_RULE_BREAKS],
)
def test_generated_availability_tests_fail_on_a_broken_rule(
    promtool: str, packs: dict[str, Path], tmp_path: Path, old: str, new: str, failing: str
) -> None:
    """The availability tests have teeth: each of these mistakes fails the named group."""
    kept, result = _run_with_a_broken_rule(
        promtool, packs[AVAILABILITY], tmp_path, old, new, lambda name: name.startswith(failing)
    )
    assert len(kept) == 1
    assert result.returncode == 1, result.stdout[-3000:]


def test_generated_availability_tests_cover_each_case(packs: dict[str, Path]) -> None:
    document = yaml.safe_load((packs[AVAILABILITY] / RULE_TESTS_FILE).read_text())
    names = [group["name"].split(":")[0] for group in document["tests"]]
    assert [name for name in names if name.startswith("availability")] == [
        "availability outage",
        "availability after hours",
        "availability blip",
        "availability budget",
    ]


PACK_DIRS = ["alertmanager", "dashboards", "rules", "runbooks"]


@pytest.mark.parametrize(
    ("fmt", "extra"),
    [
        ("prometheus", None),
        ("prometheus-operator", "rules/helpdesk-slo.prometheusrule.yml"),
        ("mimir", "rules/helpdesk-slo.mimir.yml"),
    ],
    ids=["prometheus", "prometheus-operator", "mimir"],
)
def test_formats(tmp_path: Path, fmt: str, extra: str | None) -> None:
    code, _, _ = generate("--config", str(CONFIGS[0]), "--out", str(tmp_path), "--format", fmt)
    assert code == 0
    written = sorted(
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "rules").rglob("*") if p.is_file()
    )
    assert written == sorted(filter(None, [RULES_FILE, RULE_TESTS_FILE, extra]))
    if extra is not None:
        document = yaml.safe_load((tmp_path / extra).read_text())
        plain = yaml.safe_load((tmp_path / RULES_FILE).read_text())
        groups = document["spec"]["groups"] if fmt == "prometheus-operator" else document["groups"]
        assert groups == plain["groups"]


# --- determinism and --check ------------------------------------------------------------------


def test_two_runs_are_byte_identical(tmp_path: Path) -> None:
    for target in ("a", "b"):
        code, _, _ = generate("--config", str(EXAMPLE), "--out", str(tmp_path / target))
        assert code == 0
    for name in (RULES_FILE, RULE_TESTS_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_the_repository_rules_match_the_example() -> None:
    """CI's drift check: rules/ is exactly what examples/helpdesk-slo.yml generates."""
    code, out, err = generate("--config", str(EXAMPLE), "--out", str(ROOT), "--check")
    assert code == 0, out + err


def _edit(path: Path) -> None:
    path.write_text(path.read_text().replace("SupportSLOErrorBudgetBurn", "Edited", 1))


def _delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    ("change", "expected"),
    [(None, None), (_edit, "differs"), (_delete, "missing")],
    ids=["in-sync", "edited", "deleted"],
)
def test_check_reports_drift(tmp_path: Path, change: object, expected: str | None) -> None:
    config = str(CONFIGS[0])
    assert generate("--config", config, "--out", str(tmp_path))[0] == 0
    if callable(change):
        change(tmp_path / RULES_FILE)
    code, out, err = generate("--config", config, "--out", str(tmp_path), "--check")
    if expected is None:
        files = len(build_pack(load_config(CONFIGS[0])).files)
        assert (code, out.strip()) == (0, f"{tmp_path}: up to date ({files} files)")
    else:
        assert code == 1
        assert out.strip() == f"drift: {tmp_path / RULES_FILE}: {expected}"
        assert "is not what" in err


def test_check_reports_a_generated_file_no_longer_produced(tmp_path: Path) -> None:
    config = str(CONFIGS[0])
    assert generate("--config", config, "--out", str(tmp_path), "--format", "mimir")[0] == 0
    code, out, _ = generate("--config", config, "--out", str(tmp_path), "--check")
    assert code == 1
    assert out.strip() == f"drift: {tmp_path}/rules/helpdesk-slo.mimir.yml: no longer generated"


def test_writing_keeps_hand_written_files_and_removes_stale_outputs(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "README.md").write_text("# hand-written\n")
    (rules / "old.rules.yml").write_text(f"# {GENERATED_MARKER} from x. DO NOT EDIT.\n")
    assert generate("--config", str(CONFIGS[0]), "--out", str(tmp_path))[0] == 0
    assert sorted(p.name for p in rules.iterdir()) == [
        "README.md",
        "helpdesk-slo.rules.test.yml",
        "helpdesk-slo.rules.yml",
    ]
    assert (rules / "README.md").read_text() == "# hand-written\n"
    # no staging directory left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == PACK_DIRS


def test_a_failed_write_leaves_the_previous_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(CONFIGS[0])
    write_pack(build_pack(config), tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def failing_writer(context: PackContext) -> dict[str, str]:
        return {"rules/zzz.yml": "x"}

    pack = build_pack(config, writers=[failing_writer])
    original = Path.write_text

    def write_text(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == "zzz.yml":
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(OSError, match="No space left"):
        write_pack(pack, tmp_path)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == PACK_DIRS


def test_dead_tiers_are_reported_on_stderr(tmp_path: Path) -> None:
    config = Path(__file__).parent / "configs" / "objective-90-month-percent.yml"
    code, _, err = generate("--config", str(config), "--out", str(tmp_path))
    assert code == 0
    assert err.splitlines() == [
        "warning: slo resolution-half: page tier 1h/5m: burn rate 14.4 can never fire "
        "(max 10 at objective 90%); rescaled to 10, firing when every event in both windows "
        "is bad"
    ]


# --- bad input --------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "helpdesk-slo.yml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "slos:\n  - {name: csat, kind: csat, objective: 100%}\n",
            "helpdesk-slo.yml:2: slos[0].objective: must be below 100% (got 100%)",
        ),
        (
            "slos:\n  - {name: csat, kind: csat, objective: 90%, labels: {result: x}}\n",
            "helpdesk-slo.yml:2: slos[0].labels: label 'result' is set by the pack itself",
        ),
        ("slos: [\n", "not valid YAML"),
    ],
    ids=["objective-100", "label-the-rules-use", "not-yaml"],
)
def test_bad_config_exits_2_with_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    out = tmp_path / "out"
    code, _, err = generate("--config", _write(tmp_path, text), "--out", str(out))
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err
    assert "Traceback" not in err
    assert not out.exists()


def test_missing_config_exits_2(tmp_path: Path) -> None:
    code, _, err = generate("--config", str(tmp_path / "nope.yml"), "--out", str(tmp_path))
    assert code == 2
    assert "cannot read config" in err


# --- importing Sloth and OpenSLO specs --------------------------------------------------------


@pytest.fixture
def base_config(tmp_path: Path) -> Path:
    path = tmp_path / "base.yml"
    path.write_text("service: support\n")
    return path


def test_sloth_spec_becomes_a_promql_slo(base_config: Path) -> None:
    config = import_specs(load_config(base_config), [shared_file("getting-started.yml")])
    (slo,) = config.slos
    assert (slo.name, slo.kind.value, str(slo.objective_ratio), slo.window) == (
        "myservice-requests-availability",
        "promql",
        "0.999",
        "30d",
    )
    assert slo.promql is not None and "{{.window}}" in slo.promql.total
    assert slo.labels == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2"}


def test_openslo_spec_becomes_a_promql_slo(base_config: Path) -> None:
    config = import_specs(load_config(base_config), [shared_file("openslo-getting-started.yml")])
    (slo,) = config.slos
    assert (slo.name, str(slo.objective_ratio), slo.window) == (
        "sloth-slo-my-service",
        "0.999",
        "30d",
    )
    assert slo.promql is not None and slo.promql.good is not None and slo.promql.bad is None


def test_imported_rules_print_exact_thresholds_where_sloth_prints_float_noise(
    promtool: str, base_config: Path, tmp_path: Path
) -> None:
    spec = shared_file("getting-started.yml")
    theirs = shared_file("generated-getting-started.yml").read_text()
    assert "0.0009999999999999432" in theirs
    out = tmp_path / "out"
    code, _, err = generate("--config", str(base_config), "--out", str(out), "--import", str(spec))
    assert code == 0, err
    ours = (out / RULES_FILE).read_text()
    assert "> 0.0144) / 0.001" in ours and "vector(0.999)" in ours
    assert "0.000999999" not in ours
    result = subprocess.run(
        [promtool, "check", "rules", str(out / RULES_FILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_a_name_twice_is_a_config_error(base_config: Path) -> None:
    spec = str(shared_file("getting-started.yml"))
    code, _, err = generate(
        "--config", str(base_config), "--out", str(base_config.parent / "o"),
        "--import", spec, "--import", spec,
    )  # fmt: skip
    assert code == 2
    assert "already has an SLO of that name" in err


def test_importing_something_else_is_a_config_error(base_config: Path) -> None:
    spec = base_config.parent / "other.yml"
    spec.write_text("apiVersion: v1\nkind: ConfigMap\n")
    code, _, err = generate(
        "--config", str(base_config), "--out", str(base_config.parent / "o"), "--import", str(spec)
    )
    assert code == 2
    assert "not a Sloth prometheus/v1 spec nor an OpenSLO document" in err


def _files(directory: Path) -> Iterator[Path]:
    return (p for p in directory.rglob("*") if p.is_file())


def test_check_pack_is_empty_right_after_write_pack(tmp_path: Path) -> None:
    pack = build_pack(load_config(EXAMPLE))
    write_pack(pack, tmp_path)
    assert check_pack(pack, tmp_path) == []
    assert sorted(p.relative_to(tmp_path).as_posix() for p in _files(tmp_path)) == sorted(
        pack.files
    )
