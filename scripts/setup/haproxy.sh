#!/usr/bin/env bash
# Installs the load balancer the replica tests and benchmarks put in front of several `liftoff server` processes:
# Debian's haproxy, idempotently. Nothing is started here: each test writes its own configuration into a temp
# directory (listening on 127.0.0.1 only) and runs its own haproxy process. Prints one line on success.
set -euo pipefail

if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/setup/haproxy.sh: haproxy is not installed; run as root or apt-get install haproxy" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null
fi

# Debian's package starts a system-wide haproxy on install where a service manager runs; the tests never use it.
haproxy="$(command -v haproxy || echo /usr/sbin/haproxy)"
echo "haproxy: $("$haproxy" -v | head -n 1)"
