# The orchestrator image. Point it at PostgreSQL with DATABASE_URL (or the
# DATABASE_HOST/_PORT/_NAME/_USER/_PASSWORD parts); the embedded server is for
# local use only.
FROM denoland/deno:2.9.6

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when they change.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY machines/ machines/
COPY src/ src/
RUN deno cache src/main.ts

# Run as the image's unprivileged user.
RUN chown -R deno:deno /app
USER deno

ENV ADMIN_HOST=0.0.0.0 \
    ADMIN_PORT=3004
EXPOSE 3004

# ADMIN_TOKEN is required when the admin API listens beyond loopback.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:3004/healthz'); if (!r.ok) Deno.exit(1);"]

CMD ["deno", "run", "--allow-net", "--allow-env", "--allow-read=/app", "--allow-sys=hostname,osRelease,uid,gid,networkInterfaces,homedir", "src/main.ts"]
