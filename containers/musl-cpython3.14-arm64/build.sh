#!/usr/bin/env bash
set -euo pipefail
exec bash "$HARNESS_LIB/cpython.sh" "$1" 3.14 sid musl aarch64
