"""harness plan / --shard selection / merge / plan-coverage gate / ci generators (no daemon)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import junitparser
import pytest

from harness import matrix
from harness.__main__ import main
from harness.ci import plan as plan_mod
from harness.ci import settings as settings_mod
from harness.ci import workflow
from harness.ci.tags import RunnerKind, cpython_tag_list, manylinux_platforms
from harness.errors import InputError
from harness.promote.gate import evaluate, load_report
from harness.report import write_report
from harness.report.merge import merge
from harness.report.model import Report, Run, RunStatus

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / "tests" / "data" / "real"
DEFECTS = REPO / "tests" / "data" / "defects"


@pytest.fixture(scope="module")
def yappi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("yappi")
    for w in REAL.glob("yappi-1.7.6-*.whl"):
        shutil.copy2(w, d / w.name)
    return d


@pytest.fixture(scope="module")
def yappi_plan(yappi: Path) -> plan_mod.Plan:
    return _plan(yappi)


def _plan(wheels: Path, name: str = "nightly", shards: int = 2) -> plan_mod.Plan:
    return plan_mod.plan_for([wheels], matrix.load(name, REPO / "matrices"), shards)


# ------------------------------------------------------------------------------ plan


def test_yappi_plan_jobs_by_runner_kind_and_out_of_scope_reasons(
    yappi_plan: plan_mod.Plan,
) -> None:
    plan = yappi_plan
    kinds = {j.runner for j in plan.jobs}
    assert kinds == {RunnerKind.LINUX, *settings_mod.ARCHITECTURE} - {RunnerKind.LINUX_HOST}
    by_env = {c.env: c.wheel for c in plan.cells}
    assert by_env["macos-arm64-py3.12"] == "yappi-1.7.6-cp312-cp312-macosx_11_0_arm64.whl"
    assert by_env["macos-x86_64-py3.8"] == "yappi-1.7.6-cp38-cp38-macosx_10_9_x86_64.whl"
    assert by_env["windows-x86-py3.14"] == "yappi-1.7.6-cp314-cp314-win32.whl"
    assert by_env["bullseye"].startswith("yappi-1.7.6-cp39-cp39-manylinux2014_x86_64")
    assert by_env["musl"] == "yappi-1.7.6-cp313-cp313-musllinux_1_2_x86_64.whl"
    # every wheel is either in a cell or out of scope with a reason, never both
    planned = {c.wheel for c in plan.cells}
    scope = dict(plan.out_of_scope)
    assert planned | set(scope) == {f for f, _ in plan.wheels}
    assert not planned & set(scope)
    assert "setup-python has no CPython 3.9" in scope["yappi-1.7.6-cp39-cp39-win_arm64.whl"]
    # all 34 macOS/Windows wheels but the two old win_arm64 ones have a host cell
    host = [c for c in plan.cells if not c.job.startswith("linux-")]
    assert len(host) == 32


def test_plan_is_deterministic_and_balanced_by_cost(yappi: Path, yappi_plan: plan_mod.Plan) -> None:
    wheels = yappi
    a, b = yappi_plan, _plan(wheels)
    assert a.dumps() == b.dumps()
    assert a.id == b.id
    shards = [j for j in a.jobs if j.runner is RunnerKind.LINUX]
    # emulated cells (arm64, and the CPU-model baselines under qemu) cost 20, native 1:
    # LPT spreads them, so the shards' costs differ by less than one emulated cell + set-up
    costs = [j.cost for j in shards]
    assert max(costs) - min(costs) <= plan_mod.COST_QEMU + plan_mod.COST_ENV_SETUP
    emulated = [c for c in a.cells if c.cost == plan_mod.COST_QEMU]
    assert len(emulated) >= 2
    assert len({c.job for c in emulated}) == 2
    assert sum(j.cells for j in shards) == len([c for c in a.cells if c.job.startswith("linux-")])
    assert _plan(wheels, shards=3).id != a.id


def test_plan_json_round_trips_and_an_edited_plan_is_refused(yappi_plan: plan_mod.Plan) -> None:
    plan = yappi_plan
    doc = json.loads(plan.dumps())
    assert plan_mod.from_json(doc, "p").to_json() == plan.to_json()
    doc["cells"] = doc["cells"][1:]
    with pytest.raises(InputError, match="does not match the plan's content"):
        plan_mod.from_json(doc, "p")
    # a forged plan whose id was recomputed is still checked for consistency
    doc["cells"][0]["wheel"] = "other-1.0-py3-none-any.whl"
    body = {k: v for k, v in doc.items() if k not in ("schema", "id")}
    doc["id"] = plan_mod.plan_id(body)
    with pytest.raises(InputError, match=r"cells\[0\]\.wheel: 'other-1.0-py3-none-any.whl' is not"):
        plan_mod.from_json(doc, "p")


def test_universal2_is_planned_on_both_macos_kinds_when_it_is_what_pip_picks(
    tmp_path: Path,
) -> None:
    d = tmp_path / "u2"
    d.mkdir()
    shutil.copy2(next((DEFECTS / "good-macos-universal2-fat").glob("*.whl")), d)
    plan = _plan(d, "linux")
    assert {c.env for c in plan.cells} == {"macos-x86_64-py3.11", "macos-arm64-py3.11"}
    # with a thin arm64 wheel next to it, pip prefers the thin one on Apple silicon
    shutil.copy2(REAL / "yappi-1.7.6-cp311-cp311-macosx_11_0_arm64.whl", d)
    plan = _plan(d, "linux")
    cells = {c.env: c.wheel for c in plan.cells}
    assert cells["macos-arm64-py3.11"].endswith("macosx_11_0_arm64.whl")
    assert cells["macos-x86_64-py3.11"].endswith("universal2.whl")


def test_predicted_tags_follow_pips_order() -> None:
    plats = manylinux_platforms((2, 31), "x86_64")
    assert plats[0] == "manylinux_2_31_x86_64"
    assert plats.index("manylinux2014_x86_64") == plats.index("manylinux_2_17_x86_64") + 1
    assert plats[-1] == "manylinux1_x86_64"
    tags = cpython_tag_list("3.9", [*plats, "linux_x86_64"], "t")
    assert tags[0] == "cp39-cp39-manylinux_2_31_x86_64"
    assert "cp38-abi3-manylinux_2_17_x86_64" in tags
    assert tags[-1] == "py30-none-any"
    # every other arch stops at glibc 2.17, and pip (packaging) adds the manylinux2014 alias
    # whatever the arch: sid riscv64's probed tags have manylinux2014_riscv64 (not a name
    # PyPI takes, but a tag pip ranks, between manylinux_2_17 and linux_riscv64)
    for arch in ("aarch64", "ppc64le", "s390x", "riscv64"):
        plats = manylinux_platforms((2, 43), arch)
        assert plats[0] == f"manylinux_2_43_{arch}"
        assert plats[-2:] == [f"manylinux_2_17_{arch}", f"manylinux2014_{arch}"]
        assert len(plats) == 43 - 17 + 2


def test_shard_argument() -> None:
    assert plan_mod.parse_shard("2/3") == (2, 3)
    for bad in ("0/2", "3/2", "x", "1/"):
        with pytest.raises(InputError.__mro__[1]):
            plan_mod.parse_shard(bad)


def test_plan_command_formats(yappi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheels = yappi
    assert main(["plan", str(wheels), "--matrix", "nightly", "--format", "github"]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1
    include = json.loads(line)["include"]
    runners = {e["kind"]: e["runner"] for e in include}
    assert runners["macos-x86_64"] == "macos-15-intel"  # macos-13 is retired
    assert runners["windows-arm64"] == "windows-11-arm"
    assert {e["architecture"] for e in include if e["kind"] == "windows-x86"} == {"x86"}
    assert main(["plan", "--matrix", "nightly"]) == 2


# ------------------------------------------------------------------------------ merge

SHA = {"a-1.0-cp311-cp311-manylinux_2_17_x86_64.whl": "a" * 64}


def _tiny_plan(tmp_path: Path) -> tuple[plan_mod.Plan, Path]:
    d = tmp_path / "w"
    d.mkdir()
    for case in ("good-tiny-ok-manylinux_2_17", "good-limited-ok-abi3"):
        shutil.copy2(next((DEFECTS / case).glob("*.whl")), d)
    m = tmp_path / "two.toml"
    m.write_text(
        '[env.one]\nkind = "host"\npython = "3.11"\n[env.two]\nkind = "host"\npython = "3.11"\n'
    )
    return plan_mod.plan_for([d], matrix.load(str(m)), 1, str(m)), d


def _shard_report(
    plan: plan_mod.Plan, job: str, out: Path, status: RunStatus = RunStatus.PASSED
) -> Path:
    from harness.inspect import inspect_paths

    wheels_dir = out.parent / "w"
    sha = dict(plan.wheels)
    runs = tuple(
        Run(
            env=c.env,
            python="3.11.2",
            platform="linux-x86_64-glibc2.36",
            wheel_filename=c.wheel,
            wheel_sha256=sha[c.wheel],
            status=status,
            duration_s=1.0,
        )
        for c in plan.cells_of(job)
    )
    report = Report(
        harness_version="0",
        created="2026-11-25T00:00:00+00:00",
        config={},
        inspect=inspect_paths([wheels_dir]).to_json(),
        runs=runs,
        plan={**plan.to_json(), "job": job},
    )
    write_report(report, out)
    return out


def test_merge_of_all_shards_passes_and_promote_accepts_it(tmp_path: Path) -> None:
    plan, wheels = _tiny_plan(tmp_path)
    dirs = [_shard_report(plan, j.id, tmp_path / j.id) for j in plan.runnable_jobs()]
    assert len(dirs) == 2
    outcome = merge(dirs)
    assert outcome.missing == ()
    write_report(outcome.report, tmp_path / "merged")
    gate = evaluate(load_report(tmp_path / "merged"), dist=wheels)
    assert gate.ok, (gate.problems, [f.reasons for f in gate.files])
    # a single shard's report is not the release's report
    alone = evaluate(load_report(dirs[0]), dist=wheels)
    assert any("merged report" in p for p in alone.problems)
    # JUnit: one file, one testsuite per env, readable by junitparser
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "merged" / "junit.xml"))
    suites = {s.name: s for s in xml}
    assert {"one", "two"} <= set(suites)
    assert suites["one"].tests == 2  # one cell per project
    # the merged report says how much ran, like an unsharded one
    doc = json.loads((tmp_path / "merged" / "report.json").read_text())
    assert (doc["coverage"]["ran"], doc["coverage"]["of"]) == (2, 2)
    assert {w["filename"]: w["ran_in"] for w in doc["coverage"]["wheels"]} == {
        w: ["one", "two"] for w, _ in plan.wheels
    }
    assert "(2 of 2 wheels ran)" in (tmp_path / "merged" / "summary.md").read_text()


def test_merge_names_the_missing_cells_and_fails(tmp_path: Path) -> None:
    plan, _ = _tiny_plan(tmp_path)
    only = _shard_report(plan, "one", tmp_path / "one")
    assert main(["merge", str(only), "--report-dir", str(tmp_path / "m")]) == 1
    doc = json.loads((tmp_path / "m" / "report.json").read_text())
    missing = [r for r in doc["runs"] if r["reason"].startswith("untested:")]
    assert [(r["env"], r["status"]) for r in missing] == [("two", "error")] * 2
    assert doc["verdict"] == "fail"
    # coverage counts only cells a shard reported: env two's never ran
    assert {w["filename"]: w["ran_in"] for w in doc["coverage"]["wheels"]} == {
        w: ["one"] for w, _ in plan.wheels
    }


def test_merged_coverage_keeps_the_require_coverage_gate(tmp_path: Path) -> None:
    """A wheel no reported cell ran is untested in the merged report, with the lost job
    named, and `require-coverage = "linux"` from the shards' config fails the verdict."""
    plan, _ = _tiny_plan(tmp_path)
    one = _shard_report(plan, "one", tmp_path / "one")
    doc = json.loads((one / "report.json").read_text())
    doc["config"] = {"require_coverage": "linux"}
    doc["runs"] = [r for r in doc["runs"] if "abi3" not in r["wheel"]["filename"]]
    (one / "report.json").write_text(json.dumps(doc))
    outcome = merge([one])
    rows = {w["filename"]: w for w in outcome.report.to_json()["coverage"]["wheels"]}
    untested = [w for w in rows.values() if not w["ran_in"]]
    assert [w["family"] for w in untested] == ["linux"]
    assert untested[0]["reason"] == "no shard report has its cell(s): one (job one), two (job two)"
    assert outcome.report.uncovered == (untested[0]["filename"],)
    assert outcome.report.verdict_line.startswith("FAIL (1 of 2 wheels ran)")


def test_merge_refuses_tampered_or_foreign_or_conflicting_shards(tmp_path: Path) -> None:
    plan, _ = _tiny_plan(tmp_path)
    one = _shard_report(plan, "one", tmp_path / "one")
    two = _shard_report(plan, "two", tmp_path / "two")
    # a run's sha256 edited: refused
    doc = json.loads((two / "report.json").read_text())
    doc["runs"][0]["wheel"]["sha256"] = "0" * 64
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "report.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="ran sha256 000000000000"):
        merge([one, tmp_path / "t"])
    # another plan (3 shards instead of 1): refused
    other = replace(plan, shards=3)
    other = replace(other, id=plan_mod.plan_id(plan_mod._body(other)))
    foreign = _shard_report(other, "two", tmp_path / "foreign")
    assert main(["merge", str(one), str(foreign), "--report-dir", str(tmp_path / "m")]) == 2
    # the same cell twice with different results: refused
    again = _shard_report(plan, "two", tmp_path / "again", RunStatus.FAILED)
    with pytest.raises(InputError, match="reported twice with different results"):
        merge([one, two, again])
    # the same cell twice with the same result is fine (a re-run job)
    assert merge([one, two, two]).missing == ()


# ------------------------------------------------------------------------------ ci


def _check_jsonschema(schema: str, path: Path) -> None:
    exe = Path(sys.executable).with_name("check-jsonschema")
    r = subprocess.run(
        [str(exe), "--builtin-schema", schema, str(path)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_generated_pipelines_validate_against_their_published_schemas(
    tmp_path: Path, yappi_plan: plan_mod.Plan
) -> None:
    ci = settings_mod.CISettings()
    files = {
        "vendor.github-workflows": workflow.github_workflow(ci),
        "vendor.buildkite": workflow.buildkite_pipeline(ci),
        "vendor.github-actions": workflow.ACTION_YML,
    }
    for schema, text in files.items():
        path = tmp_path / f"{schema}.yml"
        path.write_text(text)
        _check_jsonschema(schema, path)
    dyn = tmp_path / "dynamic.yml"
    dyn.write_text(workflow.buildkite_steps(yappi_plan, ci))
    _check_jsonschema("vendor.buildkite", dyn)
    # the action.yml at the repository root is the one `harness ci action` writes
    assert (REPO / "action.yml").read_text() == workflow.ACTION_YML


def test_workflow_promotes_only_after_a_passing_merge_with_trusted_publishing() -> None:
    import yaml

    doc = yaml.safe_load(workflow.github_workflow(settings_mod.CISettings()))
    jobs = doc["jobs"]
    assert jobs["verify"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert jobs["merge"]["needs"] == ["plan", "verify"]
    promote = jobs["promote"]
    assert promote["needs"] == "merge"
    assert promote["permissions"]["id-token"] == "write"
    assert promote["environment"]["name"] == "pypi"
    assert doc["permissions"] == {"contents": "read", "actions": "read"}
    # every script is valid bash (the token exchange included)
    scripts = [st["run"] for job in jobs.values() for st in job["steps"] if "run" in st]
    assert any("oidc/mint-token" in sc for sc in scripts)
    for script in scripts:
        r = subprocess.run(
            ["bash", "-n"], input=script, check=False, capture_output=True, text=True
        )
        assert r.returncode == 0, (script, r.stderr)


def test_ci_settings_from_pyproject(tmp_path: Path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text(
        '[tool.harness.ci]\nshards = 4\n[tool.harness.ci.runners]\nmacos-arm64 = "macos-26"\n'
    )
    ci = settings_mod.load(p)
    assert ci.shards == 4
    assert ci.runners[RunnerKind.MACOS_ARM64] == "macos-26"
    assert ci.runners[RunnerKind.MACOS_X86_64] == "macos-15-intel"
    p.write_text('[tool.harness.ci.runners]\nplan9 = "x"\n')
    with pytest.raises(InputError, match="plan9: unknown runner kind"):
        settings_mod.load(p)
