# No `# syntax=` line: it makes BuildKit pull a frontend image first, which fails behind a registry mirror that
# lacks it; the engine's built-in frontend (Engine >= 23) understands everything below, RUN --mount included.
#
# One Dockerfile, two runtime targets (`api`, `worker`); migrations and seed run from the `api` image with another
# command (`node core/dist/cli/migrate.js`, `node core/dist/cli/seed.js`).
#
#   deps       all dependencies (npm ci over the workspaces), cached on the manifests only
#   build      tsc -b -> core/dist, api/dist, worker/dist
#   prod-deps  a fresh `npm ci --omit=dev`: no compiler, linters or test tools in the runtime image
#   runtime    node:24 slim + tini, non-root `node` user, prod deps + dist + db/init
#   api/worker runtime + command + HEALTHCHECK

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
# Manifests only, so the dependency layers are rebuilt when dependencies change, not on every source edit.
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY api/package.json api/
COPY worker/package.json worker/

FROM base AS deps
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.base.json tsconfig.json ./
COPY core/ core/
COPY api/ api/
COPY worker/ worker/
RUN npm run build

FROM base AS prod-deps
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (so the drain-then-exit path runs on `docker stop`) and reaps zombies.
# Baked into the image rather than compose's `init: true`, so plain `docker run` and swarm behave the same.
# The package lists and apt's binary caches (/var/cache/apt/*.bin, 80 MB measured) go in the same layer, or they
# would stay in the image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
WORKDIR /app
# Express and friends take their production paths with NODE_ENV=production; our own code never branches on it.
ENV NODE_ENV=production
# Files stay owned by root: the `node` user can read and run the app but not change it.
COPY --from=prod-deps /app/ ./
COPY --from=build /app/core/dist/ core/dist/
COPY --from=build /app/api/dist/ api/dist/
COPY --from=build /app/worker/dist/ worker/dist/
# Migrations (MIGRATIONS_DIR defaults to db/init, relative to /app).
COPY db/init/ db/init/
USER node
ENTRYPOINT ["/usr/bin/tini", "--"]

FROM runtime AS api
ENV PORT=3000 METRICS_PORT=9100
EXPOSE 3000 9100
# Liveness only (/healthz); readiness (/readyz) is for the load balancer and may be 503 while a dependency is down,
# which must not get the container restarted. No curl in the image: Node 24's fetch does it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "api/dist/main.js"]

FROM runtime AS worker
ENV WORKER_METRICS_PORT=9101
EXPOSE 9101
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_METRICS_PORT+'/healthz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "worker/dist/main.js"]
