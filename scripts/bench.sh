#!/usr/bin/env bash
# `npm run bench`: every benchmark in turn, then the README's table from bench/results. The
# end-to-end ones start their own durable infrastructure and write a JSON result each. One that
# fails (a job not succeeded, a count that differs) does not stop the others; the exit code is 1.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
for bench in crypto mime backup restore search; do
  npm run --silent "bench:$bench" || failed+=("bench:$bench")
done
npm run --silent bench:table || failed+=("bench:table")
if ((${#failed[@]} > 0)); then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
