#!/usr/bin/env bash
# Installs headless Chromium from Debian's packages, idempotently: the web app's end-to-end tests drive it through
# Playwright for .NET (which brings its own driver, so no browser download happens).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/setup/chromium.sh: /usr/bin/chromium is missing; install it (apt-get install chromium) or run as root" >&2
  exit 1
fi

echo "Installing chromium from Debian's packages..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version >&2
