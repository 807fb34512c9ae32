#!/usr/bin/env bash
# `npm run demo`: set up what is missing, then run the whole platform locally (deploy/local/demo.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/local/setup.sh
exec node --import @swc-node/register/esm-register deploy/local/demo.ts "$@"
