#!/usr/bin/env bash
# Installs Debian's Prometheus (the server and promtool) for the metrics tests, idempotently, as root. Nothing is
# started here: each test runs its own Prometheus on a free port with a configuration that scrapes its own server, so
# tests share no state. Prints one line on success; names what failed otherwise.
set -euo pipefail

fail() { echo "scripts/setup/prometheus.sh: $*" >&2; exit 1; }

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || fail "prometheus or promtool is missing, and installing Debian's prometheus package needs root"
  apt-get update -qq
  # policy-rc.d keeps the package's own service from starting: the tests start Prometheus themselves.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
    || { rm -f /usr/sbin/policy-rc.d; fail "apt-get install prometheus failed"; }
  rm -f /usr/sbin/policy-rc.d
fi

version="$(prometheus --version 2>&1 | head -1)" || fail "prometheus --version failed"
promtool --version >/dev/null 2>&1 || fail "promtool --version failed"
echo "prometheus: ${version} (with promtool); the metrics tests start their own"
