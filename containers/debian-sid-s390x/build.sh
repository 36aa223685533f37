#!/usr/bin/env bash
set -euo pipefail
exec bash "$HARNESS_LIB/debian.sh" sid s390x "$1"
