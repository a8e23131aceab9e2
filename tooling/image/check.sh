#!/usr/bin/env bash
# Builds the image from the Dockerfile and checks it against a real PostgreSQL
# and the reference services (tooling/image/check.ts): health, readiness, a
# saga, the SIGTERM drain, ADMIN_PORT, instance ids, the refused embedded
# mode, a read-only root, what the image holds, and its size. A manual check:
# CI has no container engine.
#
#   tooling/image/check.sh                  ENGINE=docker for Docker; podman by default
#
# The base image: denoland/deno:2.9.6 when the engine has it or can pull it;
# else (no Docker Hub) a local stand-in built by tooling/image/standin_base.sh,
# passed to the build as BASE_IMAGE. Where containers cannot start with
# podman's defaults, it runs them with runc and lower ulimits (engine.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

ENGINE="${ENGINE:-podman}"
export ENGINE
TAG="${TAG:-localhost/orchestrator:check}"
OFFICIAL=denoland/deno:2.9.6
STANDIN=localhost/deno-standin:2.9.6
mkdir -p .data/image

has_image() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

base="${BASE_IMAGE:-}"
if [ -z "$base" ]; then
  if has_image "$OFFICIAL" || timeout 120 "$ENGINE" pull -q "docker.io/$OFFICIAL" >/dev/null 2>&1; then
    base="$OFFICIAL"
  else
    echo "No $OFFICIAL here and no registry to pull it from: using the stand-in $STANDIN"
    base="$STANDIN"
  fi
fi

if [ "$base" = "$STANDIN" ] && ! has_image "$STANDIN"; then
  # A TLS-intercepting egress proxy's CA, when this machine trusts one (SSL_CERT_FILE).
  EXTRA_CA="${EXTRA_CA:-${SSL_CERT_FILE:-}}" tooling/image/standin_base.sh "$STANDIN"
fi
# shellcheck source=tooling/image/engine.sh
. tooling/image/engine.sh
ensure_runnable "$base"

format=()
[ "$ENGINE" = podman ] && format=(--format docker) # OCI images drop HEALTHCHECK
echo "Building $TAG from $base"
"$ENGINE" build "${format[@]}" --build-arg "BASE_IMAGE=$base" -t "$TAG" . >.data/image/build.log 2>&1 ||
  { tail -30 .data/image/build.log; exit 1; }
grep -E "^node_modules: " .data/image/build.log || true
"$ENGINE" history "$TAG" | sed -n 1,12p # sed reads it all: no SIGPIPE under pipefail

deno run --allow-all tooling/image/check.ts --image "$TAG" --engine "$ENGINE"
