#!/usr/bin/env bash
# What the browser test (tests/service/test_demo_browser.py) needs: Debian's Chromium and Node.js,
# and playwright-core in tests/service/node. Run it again at will: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# The last playwright-core that runs on Node.js 18, Debian 12's.
PLAYWRIGHT=1.61.1
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")

apt_install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
        { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi

installed=$(node -p "require('./tests/service/node/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$PLAYWRIGHT" ]; then
    npm install --no-save --no-audit --no-fund --prefix tests/service/node "playwright-core@$PLAYWRIGHT"
fi
