#!/usr/bin/env bash
# Installs s3rver, the S3-compatible server (pinned by tests/s3rver/package-lock.json) that the S3 blob store tests and
# the artifact benchmark start on 127.0.0.1 with a data directory of their own. Idempotent: `npm ci` runs only when
# node_modules is missing or the lock file changed since the last install. Needs node >= 18 and npm, and reaches only
# the npm registry.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/s3rver" && pwd)"
stamp="$dir/node_modules/.liftoff-lock.sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "s3 setup: '$tool' is not installed (Debian: apt-get install nodejs npm; node >= 18)" >&2
    exit 1
  fi
done

cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
