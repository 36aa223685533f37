#!/usr/bin/env bash
# Headless Chromium for tests/integration/test_report_html.py (renders report.html, checks
# the DOM after scripts ran, keeps a screenshot). Idempotent: installs only when missing.
# Needs root + apt (Debian), as on CI.
set -euo pipefail

log() { echo "engines/chromium: $*" >&2; }

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
log "installing chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
# fonts-dejavu-core: readable glyphs in screenshots; fonts-noto-color-emoji is not needed
# (the HTML report draws no emoji).
apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
if [ ! -x /usr/bin/chromium ]; then
    log "chromium was installed but /usr/bin/chromium is missing"
    exit 1
fi
log "installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
