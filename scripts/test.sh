#!/usr/bin/env bash
# The whole test suite: format, lint (module boundaries enforced), type check, the build (a failure
# fails the suite; the integration and end-to-end tiers run the compiled apps from dist/), then the
# unit, integration, end-to-end and fault-injection tiers. The integration, e2e and faults tiers start
# their own PostgreSQL, NATS, Ceph S3 and Dovecot on free ports (libs/testing/src/global-setup.ts) and
# stop them afterwards; the faults tier restarts and cuts off parts of its own (test/faults).
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_SKIP_NX_CACHE=true
mkdir -p tmp

step() { printf '\n=== %s\n' "$*"; }

step "generate Prisma client"
bash prisma/generate.sh >/dev/null
step "format"
npx prettier --check . --log-level warn
step "lint"
npx nx run-many -t lint --outputStyle=static
npx eslint --max-warnings 0 test tools deploy charts vitest.config.ts eslint.config.mjs
step "typecheck"
npx tsc -p tsconfig.json --noEmit
step "build"
npm run --silent build
step "unit tests"
npx vitest run --project unit
step "integration tests"
npx vitest run --project integration
step "end-to-end tests"
npx vitest run --project e2e --passWithNoTests
step "fault-injection tests"
npx vitest run --project faults
