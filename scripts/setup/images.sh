#!/usr/bin/env bash
# Builds the local stand-ins for the public .NET images that deploy/docker/Dockerfile starts from, idempotently, as root.
# No image registry is reachable here, so mcr.microsoft.com/dotnet/sdk:10.0 and .../aspnet:10.0 cannot be pulled: the
# stand-ins are the test base image (scripts/setup/docker.sh, Debian bookworm) with this host's .NET installed into it:
#   liftoff-test/dotnet-sdk:10.0     the whole SDK, plus clang, zlib1g-dev and npm (what the build stage installs
#                                    when missing) and the host's CA bundle, so restore and npm reach their registries
#                                    as the host does
#   liftoff-test/dotnet-aspnet:10.0  the dotnet host and the shared runtimes (Microsoft.NETCore.App, AspNetCore.App)
# Each carries the host's SDK version as a label and is rebuilt when the host's .NET changes. Prints one line on success.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sdk_image=liftoff-test/dotnet-sdk:10.0
runtime_image=liftoff-test/dotnet-aspnet:10.0
fail() { echo "scripts/setup/images.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (it uses the engine scripts/setup/docker.sh starts)"
bash "$root/scripts/setup/docker.sh" >/dev/null
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/liftoff-docker/docker.sock}"
# The engine's own builder: the CLI's BuildKit needs the buildx plugin, which Debian's docker.io does not ship.
export DOCKER_BUILDKIT=0

dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
version="$(dotnet --version)"
base_image="${LIFTOFF_DOCKER_BASE_IMAGE:-liftoff-test/python:bookworm}"

current() { [ "$(docker image inspect -f '{{ index .Config.Labels "liftoff.dotnet-sdk" }}' "$1" 2>/dev/null)" = "$version" ]; }

# build IMAGE FILE...: the context is a tar of the named files under $dotnet_root plus the Dockerfile on stdin.
build() {
  local image="$1" dockerfile="$2"
  shift 2
  local context names
  context="$(mktemp -d)"
  names="$(IFS='|'; echo "$*")"
  # Only the .NET files move under dotnet/ in the context.
  local prefix="s,^($names)(/|\$),dotnet/&,x"
  trap 'rm -rf "$context"' RETURN
  printf '%s' "$dockerfile" >"$context/Dockerfile"
  cp /etc/ssl/certs/ca-certificates.crt "$context/ca-certificates.crt"
  if ! tar -c -C "$context" Dockerfile ca-certificates.crt -C "$dotnet_root" --transform "$prefix" "$@" \
      | docker build --network host --label "liftoff.dotnet-sdk=$version" -t "$image" - >"$context/build.log" 2>&1; then
    tail -n 30 "$context/build.log" >&2
    fail "building $image failed; its log is above"
  fi
}

common='FROM '"$base_image"'
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
COPY dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet'

if ! current "$sdk_image"; then
  build "$sdk_image" "$common
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libicu72 libssl3 clang zlib1g-dev nodejs npm >/dev/null && rm -rf /var/lib/apt/lists/*
" dotnet LICENSE.txt ThirdPartyNotices.txt host shared sdk sdk-manifests packs templates
fi

if ! current "$runtime_image"; then
  build "$runtime_image" "$common
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libicu72 libssl3 >/dev/null && rm -rf /var/lib/apt/lists/*
" dotnet LICENSE.txt ThirdPartyNotices.txt host shared
fi

echo "images: $sdk_image and $runtime_image (the host's .NET SDK $version on $base_image)"
