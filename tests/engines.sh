#!/usr/bin/env bash
# Installs and starts the engines the integration tests use. Idempotent; safe to re-run.
# Called by `tox -e test` (commands_pre). Needs root + apt (Debian), as on CI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for script in "$here"/engines.d/*.sh; do
    [ -e "$script" ] || continue
    bash "$script"
done
