#!/usr/bin/env bash
# The main job: the whole loop all-in-one. Installs what is missing, then `flywheel start` brings up the
# local stack (stopping on exit what it started), the services, demo traffic and the console.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip
bash scripts/ensure-deps.sh
exec node --import tsx services/flywheel/cli.ts start
