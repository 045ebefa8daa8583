#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, checks style and types, starts the
# local stack (Kafka, Apicurio, Redis; ClickHouse is embedded), runs unit then integration tests, and
# stops the parts of the stack that this run started, also when a test fails or on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip

bash scripts/ensure-deps.sh

echo "== lint and format (biome)"
npx biome check .
echo "== typecheck (tsc)"
npx tsc --noEmit -p tsconfig.json

echo "== stack up"
started=$(node --import tsx services/platform/stack/cli.ts up | tail -n 1)
parts=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).started.join(","))' "$started")
stop_stack() {
  if [ -n "$parts" ] && [ -z "${FLYWHEEL_KEEP_STACK:-}" ]; then
    echo "== stack down ($parts)"
    node --import tsx services/platform/stack/cli.ts down "$parts" >/dev/null || true
  fi
}
trap stop_stack EXIT
trap 'exit 130' INT TERM

# Node 20's test runner does not expand globs: list the files here. Unit files first (fast), then the
# integration files one at a time (each owns a chDB folder; the machine has 2 cores).
mapfile -t unit < <(find test/unit -name '*.test.ts' | sort)
mapfile -t integration < <(find test/integration -name '*.test.ts' | sort)
echo "== tests: ${#unit[@]} unit files, ${#integration[@]} integration files"
node --import tsx --test --test-concurrency=1 --test-timeout=900000 --test-reporter=spec "${unit[@]}" "${integration[@]}"
