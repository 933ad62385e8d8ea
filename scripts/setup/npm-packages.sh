#!/usr/bin/env bash
# Installs the npm packages the tests run in node, each pinned by its package-lock.json under tests/:
#   wandb-js           the real wandb JavaScript client (@wandb/sdk) the wandb compatibility tests run against the server
#   s3rver             the S3-compatible server the S3 blob store tests and the artifact benchmark start on 127.0.0.1
#   kubernetes-models  the validators the Kubernetes API stand-in checks every object the kubernetes runner sends with
# With names as arguments, only those. Idempotent: `npm ci` runs only when node_modules is missing or the lock file
# changed since the last install. Needs node >= 18 and npm, and reaches only the npm registry.
set -euo pipefail

tests="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests" && pwd)"

install() {
  local name="$1"
  shift
  local dir="$tests/$name"
  local stamp="$dir/node_modules/.liftoff-lock.sha256"
  local want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi

  for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "npm packages setup ($name): '$tool' is not installed (Debian: apt-get install nodejs npm; node >= 18)" >&2
      exit 1
    fi
  done

  (cd "$dir" && npm ci "$@" --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

packages=("$@")
if [[ ${#packages[@]} -eq 0 ]]; then
  packages=(wandb-js s3rver kubernetes-models)
fi

for name in "${packages[@]}"; do
  case "$name" in
    wandb-js | s3rver) install "$name" ;;
    # kubernetes-models needs none of its dependencies' install scripts.
    kubernetes-models) install "$name" --ignore-scripts ;;
    *) echo "npm packages setup: unknown package '$name' (wandb-js, s3rver, kubernetes-models)" >&2; exit 2 ;;
  esac
done
