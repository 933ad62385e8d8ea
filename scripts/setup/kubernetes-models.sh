#!/usr/bin/env bash
# Installs kubernetes-models (pinned by tests/kubernetes-models/package-lock.json), which the Kubernetes API stand-in
# runs in a node process to check every object the kubernetes runner sends against the Kubernetes OpenAPI schemas.
# Idempotent: `npm ci` runs only when node_modules is missing or the lock file changed since the last install. Needs
# node >= 18 and npm, and reaches only the npm registry.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/kubernetes-models" && pwd)"
stamp="$dir/node_modules/.liftoff-lock.sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "kubernetes-models setup: '$tool' is not installed (Debian: apt-get install nodejs npm; node >= 18)" >&2
    exit 1
  fi
done

cd "$dir"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
