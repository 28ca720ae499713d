#!/usr/bin/env bash
# Runs the whole test suite (what `make test` and CI run) and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-results
npx ava --tap "$@" | node ci/tap-summary.js test-results/summary.txt
exit "${PIPESTATUS[0]}"
