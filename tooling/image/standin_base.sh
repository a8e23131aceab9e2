#!/usr/bin/env bash
# Builds a local stand-in for the base image denoland/deno:2.9.6, for machines
# that cannot pull from Docker Hub: Debian bookworm (debootstrap, trimmed like
# debian:bookworm-slim), this machine's deno 2.9.6 at /usr/bin/deno, a `deno`
# user and group with uid/gid 1993, DENO_DIR=/deno-dir/ owned by it, and tini
# plus the same entry point as the official image (denoland/deno_docker's
# debian.dockerfile). Needs root, podman (or ENGINE=docker), debootstrap and
# Debian's mirror.
#
#   [EXTRA_CA=ca.pem] tooling/image/standin_base.sh [tag]   default tag: localhost/deno-standin:2.9.6
#
# EXTRA_CA: certificate authorities (PEM) that Deno in the image trusts besides
# its own (DENO_CERT), for a machine whose egress to the npm registry goes
# through a TLS-intercepting proxy; the official image has none.
#
# Work files go to .data/image/ (the debootstrap root is kept for the next run).
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG="${1:-localhost/deno-standin:2.9.6}"
ENGINE="${ENGINE:-podman}"
DENO_VERSION=2.9.6
WORK=.data/image
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

deno_bin="$(readlink -f "$(command -v deno)")"
if ! "$deno_bin" --version | head -1 | grep -q "^deno ${DENO_VERSION} "; then
  echo "need deno ${DENO_VERSION} on PATH (npm install -g deno@${DENO_VERSION}), found: $("$deno_bin" --version | head -1)" >&2
  exit 1
fi

mkdir -p "$WORK"
if [ ! -x "$WORK/rootfs/usr/bin/tini-static" ]; then
  echo "debootstrap: Debian bookworm (minbase) into $WORK/rootfs"
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase --include=tini bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log"
fi

# What debian:bookworm-slim leaves out: documentation, manuals, translations, apt's caches.
rootfs="$WORK/rootfs"
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
tar -C "$rootfs" -c . | "$ENGINE" import - localhost/debian-bookworm-slim-standin:latest >/dev/null
# shellcheck source=tooling/image/engine.sh
. tooling/image/engine.sh
ensure_runnable localhost/debian-bookworm-slim-standin:latest

ctx="$WORK/base-context"
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$deno_bin" "$ctx/deno"
extra_ca=""
if [ -n "${EXTRA_CA:-}" ]; then
  cp "$EXTRA_CA" "$ctx/extra-ca.pem"
  extra_ca="COPY extra-ca.pem /usr/local/share/extra-ca.pem
ENV DENO_CERT=/usr/local/share/extra-ca.pem"
fi
# The official image's entry point: a deno subcommand runs deno, anything else runs as is.
cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e

case "$1" in
    bundle | cache | completions | doc | eval | fmt | help | info | link | repl | run | test | types )
    exec deno "$@";;
esac

exec "$@"
EOF
cat >"$ctx/Containerfile" <<EOF
FROM localhost/debian-bookworm-slim-standin:latest
RUN useradd --uid 1993 --user-group deno \\
  && mkdir /deno-dir/ \\
  && chown deno:deno /deno-dir/ \\
  && cp /usr/bin/tini-static /tini
ENV DENO_DIR=/deno-dir/
ENV DENO_INSTALL_ROOT=/usr/local
ENV DENO_VERSION=${DENO_VERSION}
COPY deno /usr/bin/deno
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["/tini", "--", "docker-entrypoint.sh"]
CMD ["eval", "console.log('Welcome to Deno!')"]
${extra_ca}
EOF
"$ENGINE" build -q -t "$TAG" "$ctx" >/dev/null
echo "$TAG: $("$ENGINE" image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"
