# syntax=docker/dockerfile:1
# One image for every Flywheel service: `run <module>` picks one (ingest, features, serving, console;
# `flywheel modules` lists them), `apply` applies the project (run it once before the modules, which
# refuse a project that was never applied), `start` runs everything in one process. TypeScript runs
# through tsx, so there is no build step and the image runs exactly the sources in the repo.
#
# Project folder: the image contains the bundled example (examples/shop, named by package.json
# "flywheel.bundledProject"), which every command uses by default. A user's own project (its
# flywheel.config.ts and .avsc schemas) is mounted, e.g. read-only at /project, and selected with
# FLYWHEEL_PROJECT=/project (or `--project /project`):
#   docker run --rm -v "$PWD/my-project:/project:ro" -e FLYWHEEL_PROJECT=/project flywheel:dev plan
# or baked into a derived image: FROM flywheel:<tag> / COPY my-project /project / ENV FLYWHEEL_PROJECT=/project

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
# Least often changed first: an edit to services/ rebuilds only the last layer.
COPY schemas ./schemas
COPY examples ./examples
COPY services ./services
USER node
VOLUME ["/data"]
EXPOSE 8700 8701 8702 8703
# Node can do the HTTP check itself; the slim image has neither curl nor wget. FLYWHEEL_HTTP_PORT
# is the port of the process's own HTTP server (set per service by compose and k8s).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FLYWHEEL_HTTP_PORT||8702)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--import", "tsx", "services/flywheel/cli.ts"]
CMD ["start"]
