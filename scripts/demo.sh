#!/usr/bin/env bash
# `npm run demo`: set up what is missing, build the services and the connector (they run compiled,
# from dist/), then run the whole platform locally (deploy/local/demo.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/local/setup.sh
npm run --silent build
exec node --import @swc-node/register/esm-register deploy/local/demo.ts "$@"
