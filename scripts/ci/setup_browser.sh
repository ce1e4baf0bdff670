#!/usr/bin/env bash
# Make Debian's Chromium available for the browser tests (run as root; idempotent).
#
# The tests drive /usr/bin/chromium through the python playwright package (requirements-test.txt).
# Never run `playwright install`: it downloads Playwright's own browser build, and there is no
# outside network here beyond the Debian mirror.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "[setup_browser] $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version >&2
