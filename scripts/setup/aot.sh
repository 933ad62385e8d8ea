#!/usr/bin/env bash
# Installs what Native AOT needs to link the liftoff client on Linux: Debian's clang (the linker driver the ILCompiler
# package calls) and zlib's headers, idempotently. Prints one line on success.
set -euo pipefail

need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(zlib1g-dev)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/setup/aot.sh: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 1
  fi
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "scripts/setup/aot.sh: could not install ${need[*]} from Debian's packages" >&2
    exit 1
  fi
fi

echo "aot: $(clang --version | head -n 1), zlib1g-dev $(dpkg-query -W -f='${Version}\n' zlib1g-dev)"
