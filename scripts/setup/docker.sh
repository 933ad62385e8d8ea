#!/usr/bin/env bash
# Starts what the Docker tests need, idempotently, as root: a Docker engine (Debian's docker.io) unless one answers,
# the test base image (a debootstrapped Debian with python3, cached in the engine's data root), and a registry on
# 127.0.0.1 with htpasswd auth (Debian's docker-registry). Prints one line on success.
#
# The engine: $DOCKER_HOST when set and answering; else our own dockerd on unix://$run/docker.sock with data root
# $cache/docker (persistent, so the base image survives between runs). It runs with --bridge=none and no iptables:
# these machines have no container network beyond loopback, so containers use --network host or none.
set -euo pipefail

cache="${LIFTOFF_DOCKER_CACHE:-/var/cache/liftoff}"
run="${LIFTOFF_DOCKER_RUN:-/run/liftoff-docker}"
base_image="${LIFTOFF_DOCKER_BASE_IMAGE:-liftoff-test/python:bookworm}"
registry_port="${LIFTOFF_REGISTRY_PORT:-5055}"
registry_user=liftoff
registry_password=liftoff-registry-test

fail() { echo "scripts/setup/docker.sh: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  fail "must run as root (it installs Debian packages and starts dockerd)"
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  # policy-rc.d keeps the packages' own services (a system dockerd, a registry on :5000) from starting.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
docker_cli="$(command -v docker)" || fail "no docker CLI on PATH after installing docker.io"

engine_answers() { DOCKER_HOST="$1" timeout 10 "$docker_cli" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if [ -n "${DOCKER_HOST:-}" ] && engine_answers "$DOCKER_HOST"; then
  host="$DOCKER_HOST"
else
  host="unix://$run/docker.sock"
  if ! engine_answers "$host"; then
    mkdir -p "$run" "$cache/docker"
    rm -f "$run/docker.sock" "$run/docker.pid"
    nohup dockerd --host "$host" --data-root "$cache/docker" --exec-root "$run/exec" --pidfile "$run/docker.pid" \
      --bridge=none --iptables=false --ip6tables=false >"$run/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 120); do
      engine_answers "$host" && break
      sleep 0.5
    done
    engine_answers "$host" || { tail -n 30 "$run/dockerd.log" >&2; fail "dockerd did not answer on $host within 60 s; its log is above"; }
  fi
fi
export DOCKER_HOST="$host"

# The base image: no image registry is reachable here, so it is built from Debian's packages (about 40 s, once).
if ! "$docker_cli" image inspect "$base_image" >/dev/null 2>&1; then
  rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  mirror="$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  debootstrap --variant=minbase --include=python3-minimal,python3-venv,python3-pip bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" \
    >"$cache/debootstrap.log" 2>&1 || { tail -n 30 "$cache/debootstrap.log" >&2; fail "debootstrap failed; its log is above"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "$docker_cli" import --change 'CMD ["python3"]' - "$base_image" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi

# The registry: plain HTTP on loopback (Docker trusts 127.0.0.0/8 without TLS), basic auth from an htpasswd file.
registry_dir="$cache/registry"
mkdir -p "$registry_dir/data"
if [ ! -s "$registry_dir/htpasswd" ]; then
  htpasswd -Bbc "$registry_dir/htpasswd" "$registry_user" "$registry_password" >/dev/null 2>&1
fi
cat >"$registry_dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $registry_dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$registry_port
auth:
  htpasswd:
    realm: liftoff-test
    path: $registry_dir/htpasswd
YAML
registry_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$registry_port/v2/")" = 401 ]; }
if ! registry_answers; then
  nohup /usr/bin/docker-registry serve "$registry_dir/config.yml" >"$registry_dir/registry.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    registry_answers && break
    sleep 0.5
  done
  registry_answers || { tail -n 20 "$registry_dir/registry.log" >&2; fail "the registry did not answer on 127.0.0.1:$registry_port"; }
fi

echo "docker: engine $host ($("$docker_cli" version --format '{{.Server.Version}}')), base image $base_image, registry 127.0.0.1:$registry_port (user $registry_user)"
