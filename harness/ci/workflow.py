"""`harness ci github|buildkite`: the user's CI pipeline, and the matrix/steps of one plan.

GitHub Actions (``.github/workflows/release.yml``)::

    plan     inspect the wheels (exit 1 stops here), `harness plan` -> plan.json + matrix
    verify   strategy.matrix = fromJSON(plan's matrix): one job per plan job, on its runner
             (Linux shards: containers; host jobs: setup-python's CPython + architecture)
    merge    always after verify (if the plan job passed): `harness merge` of every shard
    promote  only when merge passed (the merged verdict): protected environment, PyPI
             trusted publishing (id-token: write), `harness promote` re-checks every sha256

Buildkite: ``harness ci buildkite`` is the static pipeline (inspect + plan, which uploads
the dynamic part); ``harness plan --format buildkite`` is that dynamic part (a verify step
per job with ``agents: {queue}`` and ``artifact_paths``, then merge, then promote).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from harness import console
from harness.ci.plan import Plan
from harness.ci.settings import ARCHITECTURE, CISettings
from harness.ci.tags import RunnerKind
from harness.errors import UsageError

PLAN_FILE = "plan.json"
HARNESS_PYTHON = "3.12"
CHECKOUT = "actions/checkout@v4"
SETUP_PYTHON = "actions/setup-python@v5"
UPLOAD = "actions/upload-artifact@v4"
DOWNLOAD = "actions/download-artifact@v4"
INPUT_ARTIFACT = "harness-input"  # the wheels + plan.json, as the plan job saw them
SHARD_ARTIFACT = "harness-shard-"
REPORT_ARTIFACT = "harness-report"
# host tools the container images are built with, offline from Debian's archive (DESIGN)
IMAGE_TOOLS = (
    "mmdebstrap",
    "debian-archive-keyring",
    "arch-test",
    "qemu-user-static",
    "binfmt-support",
    "perl",
    "tcl",
    "busybox-static",
    "gcc",
    "make",
    "xz-utils",
)


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """Block style for multi-line strings (scripts read like scripts); no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(doc: Any, header: str = "") -> str:
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=False)
    return header + str(body)


# ------------------------------------------------------------------ plan -> CI matrices


def github_matrix(plan: Plan, ci: CISettings) -> str:
    """One line of JSON: {"include": [...]} for strategy.matrix (every job of the plan)."""
    include = []
    for job in plan.runnable_jobs():
        include.append(
            {
                "job": job.id,
                "runner": ci.runners[job.runner],
                "kind": str(job.runner),
                "python": job.python or "",
                "architecture": ARCHITECTURE.get(job.runner, ""),
                "cells": job.cells,
            }
        )
    return json.dumps({"include": include}, separators=(",", ":"))


def _host_interpreter(kind: RunnerKind, python: str) -> tuple[str, str]:
    """(shell, command prefix) that finds a Buildkite agent's CPython for a host job."""
    if kind in (RunnerKind.WINDOWS_X64, RunnerKind.WINDOWS_X86, RunnerKind.WINDOWS_ARM64):
        suffix = {"windows-x64": "-64", "windows-x86": "-32", "windows-arm64": "-arm64"}[kind]
        return "py", f"py -{python}{suffix}"
    return "posix", f"python{python}"


def buildkite_steps(plan: Plan, ci: CISettings) -> str:
    """The dynamic pipeline of one plan, for `buildkite-agent pipeline upload`."""
    verify_steps: list[dict[str, Any]] = []
    keys = []
    for job in plan.runnable_jobs():
        key = f"verify-{job.id}".replace(".", "_")
        keys.append(key)
        out = f"shards/{job.id}"
        common = (
            f"buildkite-agent artifact download {PLAN_FILE} . && "
            f'buildkite-agent artifact download "{ci.wheels}/*.whl" . && '
            f'pip install "{ci.harness}" && '
        )
        verify = (
            f"harness verify {ci.wheels}/ --plan {PLAN_FILE} --shard {job.id} --report-dir {out}"
        )
        if job.runner is RunnerKind.LINUX:
            command = common + verify
        else:
            assert job.python is not None
            _, finder = _host_interpreter(job.runner, job.python)
            command = (
                common
                + f"{verify} --interpreter "
                + f'"$$({finder} -c "import sys; print(sys.executable)")"'
            )
        verify_steps.append(
            {
                "label": f":test_tube: verify {job.id} ({job.cells} cells)",
                "key": key,
                "command": command,
                "agents": {"queue": ci.queues[job.runner]},
                "artifact_paths": [f"{out}/*"],
                "soft_fail": False,
            }
        )
    steps: list[Any] = [
        {"group": ":test_tube: verify", "key": "verify", "steps": verify_steps},
        {
            "label": ":card_index_dividers: merge",
            "key": "merge",
            "depends_on": keys,
            "allow_dependency_failure": True,
            "command": (
                f"buildkite-agent artifact download {PLAN_FILE} . && "
                'buildkite-agent artifact download "shards/*" . && '
                f'pip install "{ci.harness}" && '
                "harness merge shards/*/ --report-dir merged"
            ),
            "agents": {"queue": ci.queues[RunnerKind.LINUX]},
            "artifact_paths": ["merged/*"],
        },
    ]
    if ci.publish == "pypi":
        steps += [
            {"block": ":rocket: promote to PyPI?", "key": "approve", "depends_on": "merge"},
            {
                "label": ":rocket: promote",
                "key": "promote",
                "depends_on": "approve",
                "command": (
                    'buildkite-agent artifact download "merged/*" . && '
                    f'buildkite-agent artifact download "{ci.wheels}/*.whl" . && '
                    f'pip install "{ci.harness}" && '
                    f"harness promote merged/ --dist {ci.wheels}/ --to pypi"
                ),
                "agents": {"queue": ci.queues[RunnerKind.LINUX]},
            },
        ]
    return dump_yaml({"steps": steps}, f"# plan {plan.id} ({plan.matrix}, {plan.shards} shards)\n")


# ------------------------------------------------------------------ static pipelines

_HEADER = (
    "# Generated by `harness ci {what}` (wheel-harness). Settings: [tool.harness.ci] in\n"
    "# pyproject.toml; regenerate instead of editing. Docs: README, 'Beyond one machine'.\n"
)


def _install(ci: CISettings) -> dict[str, Any]:
    return {
        "name": "install the harness",
        "shell": "bash",
        "env": {"HARNESS_REQUIREMENT": ci.harness},
        "run": 'python -m pip install "$HARNESS_REQUIREMENT"',
    }


# PyPI trusted publishing, the documented manual exchange: the job's OIDC token (audience
# from PyPI) -> POST /_/oidc/mint-token -> a short-lived API token, masked, given to the
# harness as TWINE_PASSWORD for this one command only.
TRUSTED_PUBLISHING = """\
set -euo pipefail
json() { python -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
audience="$(curl -fsS https://pypi.org/_/oidc/audience | json audience)"
oidc="$(curl -fsS -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \\
  "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=$audience" | json value)"
token="$(python -c "import json, sys; print(json.dumps({'token': sys.argv[1]}))" "$oidc" \\
  | curl -fsS -X POST --data @- https://pypi.org/_/oidc/mint-token | json token)"
echo "::add-mask::$token"
export TWINE_PASSWORD="$token"
"""


def github_workflow(ci: CISettings) -> str:
    wheels = ci.wheels
    fetch_wheels = {
        "name": "the wheels (artifacts of this run, or of inputs.run-id)",
        "uses": DOWNLOAD,
        "with": {
            "pattern": ci.wheels_artifact,
            "merge-multiple": True,
            "path": wheels,
            "run-id": "${{ inputs.run-id || github.run_id }}",
            "github-token": "${{ github.token }}",
        },
    }
    plan_job = {
        "name": "inspect + plan",
        "runs-on": ci.runners[RunnerKind.LINUX],
        "outputs": {"matrix": "${{ steps.plan.outputs.matrix }}"},
        "steps": [
            {"uses": CHECKOUT, "with": {"persist-credentials": False}},
            fetch_wheels,
            {"uses": SETUP_PYTHON, "with": {"python-version": HARNESS_PYTHON}},
            _install(ci),
            {"name": "inspect", "shell": "bash", "run": f"harness inspect {wheels}/"},
            {
                "name": "plan",
                "id": "plan",
                "shell": "bash",
                "run": (
                    f"mkdir -p {INPUT_ARTIFACT}\n"
                    f"cp -r {wheels} {INPUT_ARTIFACT}/\n"
                    f"harness plan {wheels}/ --format json --output {INPUT_ARTIFACT}/{PLAN_FILE}\n"
                    f'echo "matrix=$(harness plan {wheels}/ --format github)" >> "$GITHUB_OUTPUT"\n'
                ),
            },
            {"uses": UPLOAD, "with": {"name": INPUT_ARTIFACT, "path": f"{INPUT_ARTIFACT}/"}},
        ],
    }
    verify_cmd = (
        f"args=({INPUT_ARTIFACT}/{wheels}/ --plan {INPUT_ARTIFACT}/{PLAN_FILE}"
        ' --shard "$JOB" --report-dir shard-report)\n'
        'if [ -n "$TARGET_PYTHON" ]; then args+=(--interpreter "$TARGET_PYTHON"); fi\n'
        'if [ "$KIND" = linux ]; then\n'
        "  # what the harness builds its images with (README: environments)\n"
        f"  sudo apt-get update -q && sudo apt-get install -yq {' '.join(IMAGE_TOOLS)}\n"
        '  sudo -E env "PATH=$PATH" harness verify "${args[@]}"\n'
        "else\n"
        '  harness verify "${args[@]}"\n'
        "fi\n"
    )
    verify_job = {
        "name": "verify ${{ matrix.job }}",
        "needs": "plan",
        "runs-on": "${{ matrix.runner }}",
        "strategy": {"fail-fast": False, "matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"},
        "steps": [
            {"uses": CHECKOUT, "with": {"persist-credentials": False}},
            {"uses": DOWNLOAD, "with": {"name": INPUT_ARTIFACT, "path": INPUT_ARTIFACT}},
            {
                "name": "the CPython under test",
                "id": "target",
                "if": "matrix.python != ''",
                "uses": SETUP_PYTHON,
                "with": {
                    "python-version": "${{ matrix.python }}",
                    "architecture": "${{ matrix.architecture }}",
                },
            },
            {"uses": SETUP_PYTHON, "with": {"python-version": HARNESS_PYTHON}},
            _install(ci),
            {
                "name": "verify this job's cells",
                "shell": "bash",
                "env": {
                    "JOB": "${{ matrix.job }}",
                    "KIND": "${{ matrix.kind }}",
                    "TARGET_PYTHON": "${{ steps.target.outputs.python-path }}",
                },
                "run": verify_cmd,
            },
            {
                "if": "always()",
                "uses": UPLOAD,
                "with": {"name": f"{SHARD_ARTIFACT}${{{{ matrix.job }}}}", "path": "shard-report/"},
            },
        ],
    }
    merge_job = {
        "name": "merge",
        "needs": ["plan", "verify"],
        "if": "${{ always() && needs.plan.result == 'success' }}",
        "runs-on": ci.runners[RunnerKind.LINUX],
        "steps": [
            {"uses": CHECKOUT, "with": {"persist-credentials": False}},
            {"uses": DOWNLOAD, "with": {"pattern": f"{SHARD_ARTIFACT}*", "path": "shards"}},
            {"uses": SETUP_PYTHON, "with": {"python-version": HARNESS_PYTHON}},
            _install(ci),
            {
                "name": "merge",
                "shell": "bash",
                "run": "harness merge shards/*/ --report-dir merged",
            },
            {
                "if": "always()",
                "uses": UPLOAD,
                "with": {"name": REPORT_ARTIFACT, "path": "merged/"},
            },
        ],
    }
    jobs: dict[str, Any] = {"plan": plan_job, "verify": verify_job, "merge": merge_job}
    if ci.publish == "pypi":
        jobs["promote"] = {
            "name": "promote to PyPI",
            "needs": "merge",
            "if": "${{ needs.merge.result == 'success' }}",
            "runs-on": ci.runners[RunnerKind.LINUX],
            "environment": {"name": ci.environment},
            "permissions": {"contents": "read", "id-token": "write"},
            "steps": [
                {"uses": DOWNLOAD, "with": {"name": REPORT_ARTIFACT, "path": "merged"}},
                {"uses": DOWNLOAD, "with": {"name": INPUT_ARTIFACT, "path": INPUT_ARTIFACT}},
                {"uses": SETUP_PYTHON, "with": {"python-version": HARNESS_PYTHON}},
                _install(ci),
                {
                    "name": "promote (PyPI trusted publishing: a short-lived token from OIDC)",
                    "shell": "bash",
                    "run": TRUSTED_PUBLISHING
                    + f"harness promote merged/ --dist {INPUT_ARTIFACT}/{wheels}/ --to pypi\n",
                },
            ],
        }
    run_id = {
        "description": "the run whose wheel artifacts to verify (default: this run)",
        "required": False,
        "type": "string",
        "default": "",
    }
    doc = {
        "name": "release gate",
        "on": {
            "workflow_call": {"inputs": {"run-id": run_id}},
            "workflow_dispatch": {"inputs": {"run-id": run_id}},
        },
        "permissions": {"contents": "read", "actions": "read"},
        "concurrency": {"group": "harness-release-${{ github.ref }}", "cancel-in-progress": False},
        "jobs": jobs,
    }
    return dump_yaml(doc, _HEADER.format(what="github"))


def buildkite_pipeline(ci: CISettings) -> str:
    step = {
        "label": ":mag: inspect + plan",
        "key": "plan",
        "command": (
            f'buildkite-agent artifact download "{ci.wheels}/*.whl" .\n'
            f'pip install "{ci.harness}"\n'
            f"harness inspect {ci.wheels}/\n"
            f"harness plan {ci.wheels}/ --format json --output {PLAN_FILE}\n"
            f"harness plan {ci.wheels}/ --format buildkite | buildkite-agent pipeline upload\n"
        ),
        "agents": {"queue": ci.queues[RunnerKind.LINUX]},
        "artifact_paths": [PLAN_FILE],
    }
    return dump_yaml({"steps": [step]}, _HEADER.format(what="buildkite"))


ACTION_YML = """\
# wheel-harness as a composite action:
#   - uses: OWNER/wheel-harness@v1
#     with:
#       args: verify dist/ --plan plan.json --shard linux-1 --report-dir shard-report
name: wheel-harness
description: >-
  Release gate for compiled Python wheels: inspect, install in the environments their
  tags promise, smoke-test, report (json/junit/md/html), merge shards, promote.
branding:
  icon: check-circle
  color: green
inputs:
  args:
    description: arguments of `harness` (split on whitespace), e.g. "inspect dist/"
    required: true
  python-version:
    description: the Python that runs the harness (3.11 or newer)
    required: false
    default: "3.12"
  requirement:
    description: pip requirement that installs the harness
    required: false
    default: wheel-harness
runs:
  using: composite
  steps:
    - uses: actions/setup-python@v5
      with:
        python-version: ${{ inputs.python-version }}
    - name: install the harness
      shell: bash
      env:
        HARNESS_REQUIREMENT: ${{ inputs.requirement }}
      run: python -m pip install "$HARNESS_REQUIREMENT"
    - name: harness
      shell: bash
      env:
        HARNESS_ARGS: ${{ inputs.args }}
      run: |
        read -r -a args <<< "$HARNESS_ARGS"
        harness "${args[@]}"
"""


# ------------------------------------------------------------------ `harness ci`

HELP = "write the CI pipeline: GitHub Actions workflow or Buildkite pipeline"
DESCRIPTION = """\
Print (or --output) a complete release pipeline for this project:
inspect -> plan -> verify (Linux container shards; an Intel and an Apple-silicon macOS
runner; Windows x64, x86 and arm64) -> merge -> promote, the last only on a passing
merged report (GitHub: a protected environment with PyPI trusted publishing).
Runner labels, queues, shards and the matrix come from [tool.harness.ci].

  github     .github/workflows/release.yml (call it from the workflow that builds the
             wheels: `uses: ./.github/workflows/release.yml`, or run it by hand with the
             build run's id)
  buildkite  .buildkite/pipeline.yml (the plan step uploads the verify/merge/promote steps)
  action     action.yml, a composite action that runs `harness ARGS`

exit codes: 0 written, 2 bad config.

examples:
  harness ci github --output .github/workflows/release.yml
  harness ci buildkite --output .buildkite/pipeline.yml
  harness ci action --output action.yml
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("system", choices=("github", "buildkite", "action"))
    parser.add_argument("--output", type=Path, metavar="FILE", help="write here (atomically)")
    parser.add_argument("--config", type=Path, default=Path("pyproject.toml"), metavar="FILE")


def run(args: argparse.Namespace) -> int:
    from harness.ci import settings as settings_mod
    from harness.fsutil import atomic_write_text

    ci = settings_mod.load(args.config if args.config.is_file() else None)
    if args.system == "github":
        text = github_workflow(ci)
    elif args.system == "buildkite":
        text = buildkite_pipeline(ci)
    else:
        text = ACTION_YML
    if args.output is None:
        console.write_stdout(text)
        return 0
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.output, text)
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    console.info(f"wrote {args.output}")
    return 0
