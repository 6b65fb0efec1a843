#!/usr/bin/env bash
# Checks the models exhaustively with Spin: every correct variant must hold every invariant; every
# broken variant must be refuted (an assertion violated); every search must complete. `npm run model`; CI.
#   decision.pml  the decision protocol and its recovery (what txkit runs)
#   parallel.pml  the parallel protocol (protocol: 'parallel'), checked before it was written
# MODEL_MAX_DEPTH overrides pan's search depth bound (-m): a search it cuts short fails the check.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
depth=${MODEL_MAX_DEPTH:-100000}

verify() { # expectation, model, flags...
  local expect=$1 model=$2
  shift 2
  (cd "$work" && rm -f pan* ./*.trail && spin -a "$@" "$OLDPWD/$model" >/dev/null &&
    gcc -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m"$depth" -w26 >pan.out 2>&1) || true
  local errors states reached
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$work/pan.out" | head -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$work/pan.out" | head -1)
  reached=$(sed -n 's/.*depth reached \([0-9]*\),.*/\1/p' "$work/pan.out" | head -1)
  if [ -z "$errors" ] || grep -q 'out of memory\|MEMLIM' "$work/pan.out"; then
    echo "model: spin failed for $*"
    cat "$work/pan.out"
    exit 1
  fi
  # A search cut short proves nothing: pan warns once and goes on without the deeper states.
  if grep -q 'max search depth too small\|depth limit reached' "$work/pan.out"; then
    echo "model: the search of $model $* was cut short at depth $depth (MODEL_MAX_DEPTH, pan -m): it proves nothing"
    exit 1
  fi
  if [ "$expect" = holds ] && grep -q 'Search not completed\|Search incomplete' "$work/pan.out"; then
    echo "model: the search of $model $* did not complete:"
    cat "$work/pan.out"
    exit 1
  fi
  if [ "$expect" = holds ] && [ "$errors" != 0 ]; then
    echo "model: VIOLATED with $*:"
    (cd "$work" && spin -t -p "$@" "$OLDPWD/$model" | grep -E "assert|proc .* (Coordinator|Recovery)" | tail -40)
    exit 1
  fi
  if [ "$expect" = refuted ] && [ "$errors" = 0 ]; then
    echo "model: the broken variant $* was NOT refuted: the model misses the hazard it stands for"
    exit 1
  fi
  printf 'model: %-13s %-52s %-8s (%s states, depth %s)\n' "$model" "$*" "$expect" "$states" "$reached"
}

for n in 2 3; do
  for where in '' -DDECISION_AT_COMMIT -DDECISION_ALONE; do
    for ack in '' -DACK_AT_DECISION; do
      # shellcheck disable=SC2086
      verify holds decision.pml -DN=$n $where $ack
    done
  done
done
verify refuted decision.pml -DN=3 -DBROKEN_SEED_RULE
verify refuted decision.pml -DN=2 -DDECISION_ALONE -DBROKEN_SEED_RULE
verify refuted decision.pml -DN=2 -DDECISION_ALONE -DBROKEN_GC_A
verify refuted decision.pml -DN=2 -DDECISION_ALONE -DBROKEN_NO_DEADLINE
verify refuted decision.pml -DN=2 -DDECISION_AT_COMMIT -DBROKEN_NO_DEADLINE
verify refuted decision.pml -DN=2 -DDECISION_AT_COMMIT -DBROKEN_GC_A
verify refuted decision.pml -DN=3 -DBROKEN_EARLY_ACK
verify refuted decision.pml -DN=3 -DBROKEN_GC_C
verify refuted decision.pml -DN=2 -DDECISION_ALONE -DACK_AT_DECISION -DBROKEN_GC_C
# Decisions kept by the participants: recovery must read the table the id names.
verify refuted decision.pml -DN=3 -DBROKEN_OTHER_LOG
verify refuted decision.pml -DN=2 -DDECISION_AT_COMMIT -DBROKEN_OTHER_LOG
for n in 2 3; do
  verify holds parallel.pml -DN=$n
done
verify refuted parallel.pml -DN=2 -DBROKEN_NO_FENCE
verify refuted parallel.pml -DN=2 -DBROKEN_TRUST_FOUND_A
verify refuted parallel.pml -DN=2 -DBROKEN_EMPTY_MEANS_ABORTED
verify refuted parallel.pml -DN=2 -DBROKEN_STAGED_AS_ABORT
verify holds parallel.pml -DN=2 -DACK_AT_FINISH
# Recovery given the wrong fence table: an acknowledged commit rolled back, whatever the
# coordinator does (so the staged row records the table); acknowledged after its branches commit,
# no split only because the coordinator follows the row.
verify refuted parallel.pml -DN=2 -DOTHER_FENCE_TABLE
verify holds parallel.pml -DN=2 -DOTHER_FENCE_TABLE -DACK_AT_FINISH
verify refuted parallel.pml -DN=2 -DOTHER_FENCE_TABLE -DACK_AT_FINISH -DBROKEN_FINISH_IGNORES_ROW
verify refuted parallel.pml -DN=2 -DOTHER_FENCE_TABLE -DACK_AT_FINISH -DBROKEN_GONE_MEANS_COMMITTED
