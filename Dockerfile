# syntax=docker/dockerfile:1
# API gateway image: Node 24 LTS, compiled JavaScript only, production dependencies only.
#   docker build -t api-gateway .
#   docker run -p 8080:8080 -e JWT_SECRET=... api-gateway
# Config lives in /app/config (GATEWAY_CONFIG_DIR); mount your own folder over it.

# ---- build: every dependency, then tsc into dist/ ----
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs a build step here. argon2 loads its prebuilt binary
# (prebuilds/linux-x64, glibc) through node-gyp-build at run time, so no compiler is needed.
RUN npm ci --ignore-scripts --no-audit --no-fund
# The sources (src, demo, bench, scripts and the tsconfigs); .dockerignore keeps the rest out.
COPY . .
RUN npm run build

# ---- runtime: production dependencies, dist/ and the shipped config ----
FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The same --ignore-scripts; then make sure argon2's prebuilt binary loads on this Node (its
# prebuilds declare Node-API 10: Node >= 22.14, which node:24 is) before anything ships.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node -e "require('argon2')" \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
# The image's unprivileged user (uid 1000); the files above stay root-owned and read-only to it.
USER node
ENV PORT=8080 \
    HOST=0.0.0.0 \
    GATEWAY_CONFIG_DIR=/app/config
EXPOSE 8080
# Liveness through node itself: the slim image has no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.PORT||8080)+'/health',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# Exec form, no npm and no shell of ours: the base image's docker-entrypoint.sh execs it, so
# node is PID 1 and gets SIGTERM / SIGINT / SIGHUP itself, drains for
# server.shutdownTimeoutMs and exits 0.
CMD ["node", "dist/src/main.js"]
