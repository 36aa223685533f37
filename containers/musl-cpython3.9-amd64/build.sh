#!/usr/bin/env bash
set -euo pipefail
exec bash "$HARNESS_LIB/cpython.sh" "$1" 3.9 bullseye musl x86_64
