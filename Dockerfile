# syntax=docker/dockerfile:1
# API gateway image: compiled JavaScript and production dependencies on a distroless Node 24
# base: no shell, no package manager, no npm, a non-root user.
#   docker build -t api-gateway:0.1.0 .
#   docker run -p 8080:8080 -e JWT_SECRET=$(openssl rand -hex 32) api-gateway:0.1.0
# Config lives in /app/config (GATEWAY_CONFIG_DIR); mount your own folder over it. Check a
# folder with the image itself (node is the entrypoint):
#   docker run --rm -v "$PWD/config:/app/config:ro" api-gateway:0.1.0 dist/scripts/config-check.js

# ---- build: every dependency, then tsc into dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs a build step here (argon2 ships prebuilt binaries).
RUN npm ci --ignore-scripts --no-audit --no-fund
# The sources (src, demo, bench, scripts and the tsconfigs); .dockerignore keeps the rest out.
COPY . .
RUN npm run build

# ---- deps: production dependencies only, on the same Debian 12 and Node 24 as the runtime ----
FROM node:24-bookworm-slim AS deps
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The same --ignore-scripts; then make sure argon2's prebuilt binary (glibc, Node-API 10: Node
# >= 22.14) loads here before it ships. The gateway loads argon2 only for a client with a
# secretHash, so a failure here would otherwise surface at the first such token call.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node -e "require('argon2')"

# ---- runtime: distroless, node at /nodejs/bin/node is the entrypoint ----
FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    GATEWAY_CONFIG_DIR=/app/config
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
# The base image's unprivileged user (uid 65532); the files above stay root-owned and
# read-only to it.
USER nonroot
EXPOSE 8080 8081 9464
# Liveness through node itself: there is no shell, curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.PORT||8080)+'/health',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# The base image's ENTRYPOINT is node itself (no shell in between): node is PID 1 and gets
# SIGTERM / SIGINT itself, drains for server.shutdownTimeoutMs and exits 0. The flag is
# npm start's: V8's young generation sized for the gateway (docs/performance.md).
CMD ["--max-semi-space-size=8", "dist/src/main.js"]
