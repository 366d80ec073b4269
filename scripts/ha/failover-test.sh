#!/usr/bin/env bash
# `npm run test:failover`: the formation lives in HA_DIR for the test's run and is stopped and removed on
# any exit (test/failover/failover.test.ts also tears it down in afterAll).
set -euo pipefail
cd "$(dirname "$0")/../.."
export HA_DIR="${HA_DIR:-/tmp/jiangbu-failover-$$}"
trap 'bash scripts/ha/cluster.sh down "$HA_DIR" >/dev/null 2>&1 || true' EXIT
npx vitest run -c vitest.failover.config.ts "$@"
