#!/usr/bin/env bash
# Installs what the tests need beyond the .NET SDK, idempotently: python3 with venv and pip, git.
set -euo pipefail

need=()
command -v git >/dev/null 2>&1 || need+=(git)
if ! command -v python3 >/dev/null 2>&1; then
  need+=(python3 python3-venv python3-pip)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need+=(python3-venv python3-pip)
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/setup/prerequisites.sh: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 1
  fi
  echo "Installing ${need[*]} from Debian's packages..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

python3 -c 'import sys; assert sys.version_info >= (3, 9), "the Python SDK needs Python >= 3.9, found " + sys.version' 
