"""report.html in a real browser: headless Chromium (Debian's `chromium`, installed by
tests/engines.d/20-chromium.sh) loads the file, runs its script, and we read the DOM back
(--dump-dom) and keep screenshots under tests/artifacts/ for a human to look at.

No skip: CI installs Chromium, so a missing browser is a failure that says how to fix it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.report import write_report
from harness.report.model import Report, Run, RunStatus, Step

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 120
HOSTILE_SCRIPT = "<script>document.documentElement.setAttribute('data-pwned','script')</script>"
HOSTILE_IMG = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">"
SHA = "3f" * 32
ENVS = (
    ("debian-bullseye", "3.9.2", "linux-x86_64-glibc2.31"),
    ("debian-bookworm", "3.11.2", "linux-x86_64-glibc2.36"),
    ("debian-trixie", "3.13.5", "linux-x86_64-glibc2.41"),
    ("musl-cpython3.13", "3.13.5", "linux-x86_64-musl1.2"),
    ("arm64-bookworm", "3.11.2", "linux-aarch64-glibc2.36"),
)
WHEELS = (
    "yappi-1.7.6-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "yappi-1.7.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "yappi-1.7.6-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    "yappi-1.7.6-cp313-cp313-manylinux_2_28_x86_64.whl",
    "yappi-1.7.6-cp313-cp313-musllinux_1_2_x86_64.whl",
    "yappi-1.7.6-cp311-cp311-macosx_11_0_arm64.whl",
    f"evil{HOSTILE_SCRIPT}-1.0-py3-none-any.whl",
)


def _steps(status: RunStatus, tail: str) -> tuple[Step, ...]:
    ok = RunStatus.PASSED
    steps = [
        Step(
            name="venv", status=ok, duration_s=1.2, command="python3 -m venv /tmp/v", returncode=0
        ),
        Step(
            name="install",
            status=ok,
            duration_s=3.4,
            command="pip install --no-index --find-links /wheelhouse yappi",
            returncode=0,
            output_tail="Successfully installed yappi-1.7.6",
        ),
    ]
    if status is RunStatus.PASSED:
        steps.append(Step(name="smoke:profiler", status=ok, duration_s=2.0, returncode=0))
    else:
        steps.append(
            Step(
                name="smoke:profiler",
                status=status,
                duration_s=30.0,
                command=f"python -m harness.smoke profiler {HOSTILE_IMG}",
                returncode=-11 if status is RunStatus.FAILED else None,
                output_tail=tail,
            )
        )
    return tuple(steps)


def build_report() -> Report:
    """Every wheel x env pair where the tags fit gets a run with a status from a fixed
    pattern; the others are n/a. Hostile strings sit in names, reasons, commands, tails."""
    tail = (
        "\n".join(f"thread {i}: ok" for i in range(60)) + f"\nFatal Python error: {HOSTILE_SCRIPT}"
    )
    runs: list[Run] = []
    for w, wheel in enumerate(WHEELS):
        for e, (env, python, platform) in enumerate(ENVS):
            fits = (
                ("cp39" in wheel and env == "debian-bullseye")
                or ("cp311" in wheel and "x86_64" in wheel and env == "debian-bookworm")
                or ("aarch64" in wheel and env == "arm64-bookworm")
                or ("cp313" in wheel and "manylinux" in wheel and env == "debian-trixie")
                or ("musllinux" in wheel and env.startswith("musl"))
                or ("macosx" in wheel and env in ("debian-bookworm", "debian-trixie"))
                or ("py3-none-any" in wheel and e % 2 == 0)
            )
            if not fits:
                continue
            if "macosx" in wheel:
                status, reason = RunStatus.SKIPPED, "macOS wheel: static verification only here"
            elif "aarch64" in wheel:
                status, reason = RunStatus.ERROR, "container killed after 600 s (qemu)"
            elif "cp313" in wheel and "manylinux" in wheel:
                status, reason = RunStatus.FAILED, f"smoke:profiler crashed (SIGSEGV) {HOSTILE_IMG}"
            else:
                status, reason = RunStatus.PASSED, ""
            runs.append(
                Run(
                    env=env,
                    python=python,
                    platform=platform,
                    wheel_filename=wheel,
                    wheel_sha256=SHA,
                    status=status,
                    duration_s=6.6 + w + e,
                    steps=() if status is RunStatus.SKIPPED else _steps(status, tail),
                    reason=reason,
                )
            )
    findings = {
        WHEELS[3]: [
            {
                "code": "manylinux.symbol-too-new",
                "severity": "error",
                "message": f"yappi/_yappi.so needs GLIBC_2.34 > 2.28 {HOSTILE_SCRIPT}",
                "path": "yappi/_yappi.so",
                "evidence": {},
            },
            {
                "code": "wheel.root-is-purelib",
                "severity": "warning",
                "message": "Root-Is-Purelib: true in a wheel with binaries",
                "path": "yappi-1.7.6.dist-info/WHEEL",
                "evidence": {},
            },
        ]
    }
    return Report(
        harness_version="0.1.0",
        created="2024-05-01T12:00:00Z",
        config={"wheels": "dist/", "matrix": "linux", "note": HOSTILE_SCRIPT},
        inspect={
            "schema": "harness-inspect/1",
            "wheels": [
                {"filename": w, "sha256": SHA, "tags": [], "findings": findings.get(w, [])}
                for w in WHEELS
            ],
        },
        runs=tuple(runs),
        envs=tuple({"name": n, "python": p, "platform": pl} for n, p, pl in ENVS),
    )


# -- Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: install it with `bash tests/engines.sh` as root "
            "(tests/engines.d/20-chromium.sh apt-get installs Debian's chromium)"
        )
    return CHROMIUM


def run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run in its own process group, killed whole on timeout."""
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"chromium did not finish in {TIMEOUT_S} s: {' '.join(args)}\n{err[-2000:]}")
    finally:
        # renderer/zygote children left behind by a crashed browser
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{err[-3000:]}"
    return result


class DomTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def with_class(self, name: str) -> list[dict[str, str | None]]:
        return [a for _, a in self.tags if name in (a.get("class") or "").split()]

    def first(self, tag: str) -> dict[str, str | None]:
        return next(a for t, a in self.tags if t == tag)


def dump_dom(chromium: str, profile: Path, url: str) -> DomTags:
    result = run_chromium(chromium, profile, "--virtual-time-budget=5000", "--dump-dom", url)
    assert "</html>" in result.stdout, result.stderr[-2000:]
    dom = DomTags()
    dom.feed(result.stdout)
    dom.close()
    return dom


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    report = build_report()
    directory = tmp_path_factory.mktemp("report")
    paths = write_report(report, directory)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths["html"], ARTIFACTS / "report.html")
    return report, paths["html"]


def expected_cells(report: Report) -> dict[tuple[str, str], str]:
    cells = {(w, env): "n/a" for w in WHEELS for env, _, _ in ENVS}
    for run in report.runs:
        cells[(run.wheel_filename, run.env)] = str(run.status)
    return cells


def test_every_cell_in_the_rendered_dom(
    chromium: str, rendered: tuple[Report, Path], tmp_path: Path
) -> None:
    report, page = rendered
    dom = dump_dom(chromium, tmp_path / "profile", page.as_uri())
    root = dom.first("html")
    assert root.get("data-js") == "ready", "the page's script did not run to its end"
    assert "data-pwned" not in root, f"injected markup ran: {root}"
    cells = dom.with_class("cell")
    got = {(c.get("data-wheel"), c.get("data-env")): c.get("data-status") for c in cells}
    expected = expected_cells(report)
    assert len(cells) == len(expected) == len(WHEELS) * len(ENVS)
    assert got == expected
    statuses = [c.get("data-status") for c in cells]
    for status in ("passed", "failed", "error", "skipped", "n/a"):
        assert status in statuses, status
    assert sum(s != "n/a" for s in statuses) == len(report.runs)
    assert not [t for t, a in dom.tags if t == "img"], (
        "an <img> from the report was parsed as markup"
    )
    assert [t for t, _ in dom.tags].count("script") == 1


def test_hash_opens_the_run_details(
    chromium: str, rendered: tuple[Report, Path], tmp_path: Path
) -> None:
    _, page = rendered
    failed = next(c for c in _cells_from_file(page) if c.get("data-status") == "failed")
    run_id = failed.get("data-run")
    assert run_id
    dom = dump_dom(chromium, tmp_path / "profile", f"{page.as_uri()}#{run_id}")
    details = {a.get("id"): a for t, a in dom.tags if t == "details" and a.get("id")}
    assert "open" in details[run_id], "the script did not open the run named by the URL hash"
    others = [i for i, a in details.items() if i != run_id and "open" in a]
    assert others == []


def _cells_from_file(page: Path) -> list[dict[str, str | None]]:
    dom = DomTags()
    dom.feed(page.read_text(encoding="utf-8"))
    return dom.with_class("cell")


def test_screenshots(chromium: str, rendered: tuple[Report, Path], tmp_path: Path) -> None:
    """report-grid.png: the page as it opens. report-run.png: a one-run report of the failed
    run opened by its URL hash, in a window tall enough that nothing scrolls (headless
    screenshots of a scrolled page come out blank above the fold)."""
    report, page = rendered
    failed = next(r for r in report.runs if r.status is RunStatus.FAILED)
    inspect = {
        **report.inspect,
        "wheels": [w for w in report.inspect["wheels"] if w["filename"] == failed.wheel_filename],
    }
    single_report = replace(report, runs=(failed,), inspect=inspect, envs=report.envs[2:3])
    single = write_report(single_report, tmp_path / "single")["html"]
    run_id = next(c["data-run"] for c in _cells_from_file(single) if c.get("data-run"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = {
        ARTIFACTS / "report-grid.png": (page.as_uri(), "1400,900"),
        ARTIFACTS / "report-run.png": (f"{single.as_uri()}#{run_id}", "1400,1600"),
    }
    for i, (shot, (url, size)) in enumerate(shots.items()):
        shot.unlink(missing_ok=True)
        run_chromium(
            chromium,
            tmp_path / f"profile{i}",
            f"--screenshot={shot}",
            f"--window-size={size}",
            "--virtual-time-budget=5000",
            url,
        )
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), shot
        assert len(data) > 20_000, f"{shot} is suspiciously small ({len(data)} bytes)"
