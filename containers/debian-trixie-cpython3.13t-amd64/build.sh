#!/usr/bin/env bash
set -euo pipefail
exec bash "$HARNESS_LIB/cpython.sh" "$1" 3.13 trixie glibc x86_64 --disable-gil
