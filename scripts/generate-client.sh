#!/usr/bin/env bash
# Regenerates client/schema.d.ts (openapi-typescript) from the document the service serves at /openapi.json.
set -euo pipefail
cd "$(dirname "$0")/.."
doc="$(mktemp --suffix=.json)"
trap 'rm -f "$doc"' EXIT
npx tsx scripts/openapi-json.ts "$doc"
npx openapi-typescript "$doc" --output client/schema.d.ts
