#!/usr/bin/env bash
# The project's whole test run: system dependencies, lint, type check, then every vitest suite
# (unit, integration on local mode, e2e on network-namespace SSH hosts, infra).
# Ends with one summary line "tests: N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-deps.sh || exit 1
npx eslint . || exit 1
npx tsc --noEmit -p tsconfig.json || exit 1

report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
node -e '
const fs = require("fs");
try {
  const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
} catch (e) { console.log("tests: 0 passed, 1 failed"); }
' "$report"
rm -f "$report"
exit $status
