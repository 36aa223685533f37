#!/usr/bin/env bash
set -euo pipefail
exec bash "$HARNESS_LIB/debian.sh" trixie arm64 "$1"
