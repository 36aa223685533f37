"""`harness verify`: install each wheel in the environments its tags promise, smoke-test it
there, and write one report.

plan:  inspect (static) -> envs (prepare + probe) -> coverage (which file pip picks where)
run:   per (env, picked wheel), in parallel: fresh venv, `pip install --no-index` from a
       read-only wheelhouse holding every wheel of the release, check pip took exactly the
       expected file (name + sha256), then the smoke suites.

Modules: plan (envs, picks, staging, the verify() pipeline), cell (one env x wheel run),
pool (parallel execution), cli (the command)."""

from __future__ import annotations

from harness.verify.cell import Task, run_one
from harness.verify.plan import VerifyOutcome, static_only_reason, verify

__all__ = ["Task", "VerifyOutcome", "run_one", "static_only_reason", "verify"]
