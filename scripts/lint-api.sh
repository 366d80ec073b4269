#!/usr/bin/env bash
# Lints the document the service serves at /openapi.json with Redocly and Spectral: 0 errors, 0 warnings.
set -euo pipefail
cd "$(dirname "$0")/.."
doc="$(mktemp --suffix=.json)"
trap 'rm -f "$doc"' EXIT
npx tsx scripts/openapi-json.ts "$doc"
npx redocly lint "$doc" --config redocly.yaml --max-problems 50
npx spectral lint "$doc" --ruleset .spectral.yaml --fail-severity warn
