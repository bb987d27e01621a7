#!/usr/bin/env bash
# Set up a virtual environment (scripts/install.sh) and run the whole test suite (real recordings
# from ../shared/data).
# The service tests start a real PostgreSQL server: Debian's postgresql is installed when missing.
# The browser test drives the demo page in Debian's Chromium through playwright-core (Node.js).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    if command -v apt-get >/dev/null; then
        SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    else
        echo "PostgreSQL is not installed and there is no apt-get: its tests will be skipped" >&2
    fi
fi
if command -v apt-get >/dev/null || { [ -x /usr/bin/chromium ] && command -v npm >/dev/null; }; then
    bash scripts/install-browser.sh
else
    echo "Chromium and Node.js are not installed and there is no apt-get: the browser test will be skipped" >&2
fi
bash scripts/install.sh --system-packages --venv .venv --extras test,fuzz --editable
.venv/bin/python -m pytest "$@"
