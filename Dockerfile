# The orchestrator image: the service alone (src/, machines/ and the npm
# packages src/main.ts loads), run as user deno; /app is owned by root and
# read-only for it. Configure it with environment variables; running it,
# compose, migrations and health checks: docs/deployment.md.
#
# A database is required: DATABASE_URL (or DATABASE_HOST/_PORT/_NAME/_USER/
# _PASSWORD). The embedded PostgreSQL of local runs is left out (its package
# carries 60 MB of binaries), and without a database the container exits 2
# with a line naming DATABASE_URL.
#
# BASE_IMAGE exists for building where Docker Hub is out of reach, with a
# local copy of the same image (tooling/image/check.sh); leave it as it is.
ARG BASE_IMAGE=denoland/deno:2.9.6

# --- Build stage: every dependency of the lockfile, then only what the service loads.
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY deno.json deno.lock ./
RUN deno install --frozen
# Keeps the packages src/main.ts reaches without a dynamic import() and what
# they depend on; drops playwright-core, fast-check, embedded-postgres and the
# rest (`deno install --entrypoint` would still install the whole lockfile).
COPY src/ src/
COPY machines/ machines/
COPY tooling/image/module_graph.ts tooling/image/prune_node_modules.ts tooling/image/
RUN deno run --allow-read --allow-write=node_modules --allow-run \
      tooling/image/prune_node_modules.ts

# --- The image.
FROM ${BASE_IMAGE}
WORKDIR /app
# Everything below is root's: the service user can read and run it, not change it.
COPY deno.json deno.lock ./
COPY --from=deps /app/node_modules/ node_modules/
COPY machines/ machines/
COPY src/ src/
# Compile every module into DENO_DIR now, as root: start-up compiles nothing,
# and the cache it runs is no more writable by the service than its sources.
RUN deno cache --node-modules-dir=manual src/main.ts \
  && chown -R root:root "$DENO_DIR" && chmod -R go-w "$DENO_DIR"

USER deno

# SHUTDOWN_GRACE_MS: how long in-flight steps may finish on SIGTERM before the
# leases are released. 8 s, under the 10 s Docker (and Kubernetes) wait before
# SIGKILL, leaves time to release the leases and close the pool; a kill
# before that leaves the sagas to other instances only when their leases
# expire. Raising it? Raise the stop timeout with it (docs/deployment.md).
ENV ADMIN_HOST=0.0.0.0 \
    ADMIN_PORT=3004 \
    SHUTDOWN_GRACE_MS=8000
EXPOSE 3004

# Liveness from inside the container on ADMIN_PORT, whatever it is set to:
# bash (Debian's, in the base image) sends GET /healthz over /dev/tcp and
# wants a 200 status line. No process but bash: a `deno eval` here would start
# a JavaScript runtime every interval. It needs the admin listener
# (ADMIN_ENABLED, the default) on 0.0.0.0 or 127.0.0.1; /healthz takes no token.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\"${ADMIN_PORT:-3004}\" && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r -t 2 status <&3 && [[ $status == HTTP/1.[01]\\ 200* ]]"]

# ADMIN_TOKEN (or ADMIN_TOKENS) is required while the admin API listens beyond loopback.
# --node-modules-dir=manual: use node_modules as built above, never install.
CMD ["deno", "run", "--node-modules-dir=manual", "--allow-net", "--allow-env", "--allow-read=/app", "--allow-sys=hostname,osRelease,uid,gid,networkInterfaces,homedir", "src/main.ts"]
