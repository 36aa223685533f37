"""Per-target promote policy: selectors, include/exclude precedence, the reasons --dry-run
prints, and the validation of every way to write one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from harness.errors import InputError, UsageError
from harness.promote.cli import config_policy
from harness.promote.policy import Policy, Selector, build, is_final

TODAY = date(2026, 11, 25)
CP313 = "demo-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"
CP314T = "demo-1.0-cp314-cp314t-musllinux_1_2_aarch64.whl"
CP316 = "demo-1.0-cp316-cp316-manylinux_2_28_x86_64.whl"
ABI3 = "demo-1.0-cp39-abi3-win_arm64.whl"
PURE = "demo-1.0-py3-none-any.whl"
RC = "demo-1.1rc1-cp313-cp313-win_amd64.whl"
ALL = (CP313, CP314T, CP316, ABI3, PURE, RC)


def matching(selector: str, today: date = TODAY) -> set[str]:
    policy = build(["t"], cli_include=[f"t={selector}"], today=today)
    return {f for f in ALL if policy.goes("t", f)}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("free-threaded", {CP314T}),
        ("prerelease-python", {CP316}),
        ("abi3", {ABI3}),
        ("pure", {PURE}),
        ("python:3.13", {CP313, RC}),
        ("python:>=3.14", {CP314T, CP316}),
        ("python:<3.10", {ABI3}),  # abi3 by its floor
        ("platform:musllinux_*", {CP314T}),
        ("platform:win_*", {ABI3, RC}),
        ("abi:cp31?t", {CP314T}),
        ("prerelease", {RC}),
        ("*rc*", {RC, CP314T}),  # a glob is a glob: "aaRCh64" too (use prerelease)
        ("name:*-py3-none-any.whl", {PURE}),
        (PURE, {PURE}),
    ],
)
def test_selectors(selector: str, expected: set[str]) -> None:
    assert matching(selector) == expected


def test_prerelease_python_follows_the_calendar() -> None:
    # CPython 3.15's final release is scheduled for 2026-10-01 (PEP 790)
    assert not is_final((3, 15), date(2026, 9, 30))
    assert is_final((3, 15), date(2026, 10, 1))
    assert is_final((2, 7), TODAY)
    cp315 = "demo-1.0-cp315-cp315-manylinux_2_28_x86_64.whl"
    before = build(["t"], cli_exclude=["t=prerelease-python"], today=date(2026, 6, 1))
    assert not before.goes("t", cp315)
    after = build(["t"], cli_exclude=["t=prerelease-python"], today=TODAY)
    assert after.goes("t", cp315)


def test_exclude_wins_and_every_decision_says_why() -> None:
    policy = build(
        ["pypi", "s3://b-x/m"],
        cli_exclude=["pypi=free-threaded"],
        cli_include=["s3://b-x/m=python:>=3.13"],
        configured={"exclude": {"pypi": ["prerelease-python"], "elsewhere": ["*"]}},
        today=TODAY,
    )
    ft = policy.decide("pypi", CP314T)
    assert not ft.goes
    assert ft.why == "excluded by free-threaded from --exclude: ABI cp314t"
    pre = policy.decide("pypi", CP316)
    assert pre.why == (
        "excluded by prerelease-python from pyproject.toml: CPython 3.16 has no final release"
    )
    assert policy.decide("pypi", CP313) == policy.decide("pypi", CP313)
    assert policy.decide("pypi", CP313).goes
    assert policy.decide("pypi", CP313).why == ""
    abi3 = policy.decide("s3://b-x/m", ABI3)
    assert (abi3.goes, abi3.why) == (False, "matches no include (python:>=3.13 from --include)")
    assert policy.decide("s3://b-x/m", CP316).why == (
        "included by python:>=3.13 from --include: CPython 3.16"
    )
    assert policy.describe("pypi") == "exclude prerelease-python, free-threaded"
    assert policy.describe("s3://b-x/m") == "include python:>=3.13"
    both = build(["t"], cli_include=["t=python:3.14"], cli_exclude=["t=free-threaded"])
    assert not both.goes("t", CP314T)  # included and excluded: exclude wins


def test_target_spec_takes_the_longest_label_and_selectors_with_equals() -> None:
    labels = ["https://idx.example/legacy/", "https://idx.example/legacy/x=1/"]
    policy = build(labels, cli_exclude=["https://idx.example/legacy/x=1/=python:>=3.15"])
    assert policy.describe(labels[1]) == "exclude python:>=3.15"
    assert policy.describe(labels[0]) == ""


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("pypi=free-thread", "unknown selector 'free-thread'"),
        ("pypi=python:three", "expected python:X.Y"),
        ("pypi=platform:", "nothing after platform:"),
        ("pypi=", "expected TARGET=SELECTOR"),
        ("free-threaded", "expected TARGET=SELECTOR"),
        ("pypy=free-threaded", "pypy is not a --to target (pypi)"),
    ],
)
def test_bad_specs_are_usage_errors(spec: str, says: str) -> None:
    with pytest.raises(UsageError, match=r".*") as caught:
        build(["pypi"], cli_exclude=[spec])
    assert says in str(caught.value)
    assert str(caught.value).startswith(f"--exclude {spec!r}")


def test_configured_selectors_are_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(
        '[tool.harness.promote]\ninclude = {pypi = ["python:>=3.9"]}\n'
        'exclude = {pypi = ["free-threaded", "platform:linux_*"]}\n'
    )
    configured = config_policy(cfg)
    assert configured == {
        "include": {"pypi": ["python:>=3.9"]},
        "exclude": {"pypi": ["free-threaded", "platform:linux_*"]},
    }
    assert build(["pypi"], configured=configured).describe("pypi") == (
        "include python:>=3.9; exclude free-threaded, platform:linux_*"
    )
    cfg.write_text('[tool.harness.promote]\nexclude = {pypi = ["freethreaded"]}\n')
    with pytest.raises(UsageError, match=r"pyproject.toml: \[tool.harness.promote\] exclude"):
        build(["pypi"], configured=config_policy(cfg))
    cfg.write_text('[tool.harness.promote]\nonly = {pypi = ["pure"]}\n')
    with pytest.raises(InputError, match="unknown key"):
        config_policy(cfg)


def test_no_rules_means_everything_goes() -> None:
    policy = Policy()
    assert all(policy.goes("pypi", f) for f in ALL)
    assert Selector.parse("  pure ").text == "pure"
