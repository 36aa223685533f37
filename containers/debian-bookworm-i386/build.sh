#!/usr/bin/env bash
set -euo pipefail
exec bash "$HARNESS_LIB/debian.sh" bookworm i386 "$1"
