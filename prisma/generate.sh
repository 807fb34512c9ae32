#!/usr/bin/env bash
# Generates the Prisma client into libs/db/src/generated (gitignored).
# The CLI insists on locating a native schema engine even for `generate`, which does not use it; it
# cannot be downloaded here, and we use the WebAssembly engine for migrations anyway
# (libs/db/src/migration-engine.ts). Any existing file satisfies the check.
set -euo pipefail
cd "$(dirname "$0")/.."
export PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$(type -P true)}"
export PRISMA_HIDE_UPDATE_MESSAGE=1
exec node_modules/.bin/prisma generate --config prisma/prisma.config.ts "$@"
