#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than the lockfile. The onnxruntime
# install step would download CUDA parts from outside the npm registry: it is skipped. `npm install`
# (which follows the lockfile) rather than `npm ci`: chdb lists optional native packages for other
# platforms that the registry does not serve, and `npm ci` refuses a lockfile without them.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm install (from the lockfile)"
  npm install --no-audit --no-fund --loglevel=error
fi
