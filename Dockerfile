# syntax=docker/dockerfile:1
# One image for every Flywheel service: `run <service>` picks one (ingest, features, serving, monitor,
# trainer, deployer), `start` runs them all in one process. TypeScript runs through tsx, so there is
# no build step and the image runs exactly the sources in the repo.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
# onnxruntime-node would otherwise download CUDA libraries at install time; the CPU build is in the
# package. (.npmrc says the same; the variable makes it hold even if .npmrc changes.)
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    FLYWHEEL_HTTP_HOST=0.0.0.0 \
    FLYWHEEL_CACHE_DIR=/data
# /data holds model artifacts and any local state; mount a volume there to keep it.
RUN mkdir -p /data && chown node:node /data
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY services ./services
COPY schemas ./schemas
USER node
VOLUME ["/data"]
EXPOSE 8700 8701 8702 8703
# Node can do the HTTP check itself; the slim image has neither curl nor wget. FLYWHEEL_HTTP_PORT
# is the port of the process's own HTTP server (set per service by compose and k8s).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FLYWHEEL_HTTP_PORT||8702)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--import", "tsx", "services/flywheel/cli.ts"]
CMD ["start"]
