#!/usr/bin/env bash
# Checks model/decision.pml exhaustively with Spin: every correct variant must hold every
# invariant; every broken variant must be refuted (an assertion violated). `npm run model`; CI.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

verify() { # expectation, flags...
  local expect=$1
  shift
  (cd "$work" && rm -f pan* ./*.trail && spin -a "$@" "$OLDPWD/decision.pml" >/dev/null &&
    gcc -O2 -w -DSAFETY -o pan pan.c && ./pan -m1000000 >pan.out 2>&1) || true
  local errors states
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$work/pan.out" | head -1)
  states=$(sed -n 's/^ *\([0-9]*\) states, stored.*/\1/p' "$work/pan.out" | head -1)
  if [ -z "$errors" ]; then
    echo "model: spin failed for $*"
    cat "$work/pan.out"
    exit 1
  fi
  if [ "$expect" = holds ] && [ "$errors" != 0 ]; then
    echo "model: VIOLATED with $*:"
    (cd "$work" && spin -t -p "$@" "$OLDPWD/decision.pml" | grep -E "assert|proc .* (Coordinator|Recovery)" | tail -40)
    exit 1
  fi
  if [ "$expect" = refuted ] && [ "$errors" = 0 ]; then
    echo "model: the broken variant $* was NOT refuted: the model misses the hazard it stands for"
    exit 1
  fi
  printf 'model: %-46s %-8s (%s states)\n' "${*:-default}" "$expect" "$states"
}

for n in 2 3; do
  for where in '' -DDECISION_AT_COMMIT -DDECISION_ALONE; do
    for ack in '' -DACK_AT_DECISION; do
      # shellcheck disable=SC2086
      verify holds -DN=$n $where $ack
    done
  done
done
verify refuted -DN=3 -DBROKEN_SEED_RULE
verify refuted -DN=2 -DDECISION_ALONE -DBROKEN_SEED_RULE
verify refuted -DN=2 -DDECISION_ALONE -DBROKEN_GC_A
verify refuted -DN=2 -DDECISION_ALONE -DBROKEN_NO_DEADLINE
verify refuted -DN=2 -DDECISION_AT_COMMIT -DBROKEN_NO_DEADLINE
verify refuted -DN=2 -DDECISION_AT_COMMIT -DBROKEN_GC_A
verify refuted -DN=3 -DBROKEN_EARLY_ACK
verify refuted -DN=3 -DBROKEN_GC_C
verify refuted -DN=2 -DDECISION_ALONE -DACK_AT_DECISION -DBROKEN_GC_C
