#!/usr/bin/env bash
set -euo pipefail
exec bash "$HARNESS_LIB/debian.sh" sid riscv64 "$1"
