#!/usr/bin/env bash
set -euo pipefail
exec bash "$HARNESS_LIB/debian.sh" bookworm arm64 "$1"
