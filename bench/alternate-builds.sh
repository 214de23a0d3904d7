#!/usr/bin/env bash
# Runs the same benchmark in two checkouts of jitca, alternating, so a change is compared against
# its base under the same machine conditions (shared machines drift within minutes):
#   bench/alternate-builds.sh BASE_DIR ROUNDS -- bench/sign.ts 5
# BASE_DIR is another checkout (git worktree) with its node_modules installed; this checkout is
# the candidate. Each round runs base then candidate; output lines are prefixed with the build.
set -euo pipefail
base=$1 rounds=$2; shift 3
here="$(cd "$(dirname "$0")/.." && pwd)"
for ((round = 1; round <= rounds; round++)); do
  for build in base candidate; do
    dir=$base; [ "$build" = candidate ] && dir=$here
    echo "== round $round, $build ($(git -C "$dir" rev-parse --short HEAD))"
    (cd "$dir" && ./scripts/node node "$@" 2>&1 | sed "s/^/$build: /")
  done
done
