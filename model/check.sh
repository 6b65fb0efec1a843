#!/usr/bin/env bash
# Checks the models exhaustively with Spin: every correct variant must hold every property, the
# search complete; every broken variant must be refuted by the property it stands for (the tag,
# @split etc., on the line of the assertion that failed), not by just any. `npm run model`; CI.
#   decision.pml  the decision protocol and its recovery (what txkit runs)
#   parallel.pml  the parallel protocol (protocol: 'parallel'), checked before it was written
#   outbox.pml    the outbox, its relays, the broker and the inbox (issue 25)
# LTL=claim before verify checks the model's LTL property of that name (under -DLIVENESS, weak
# fairness, assertions left to the safety runs) instead: refuted:claim expects an acceptance cycle.
# MODEL_MAX_DEPTH overrides pan's search depth bound (-m): a search it cuts short fails the check.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
depth=${MODEL_MAX_DEPTH:-100000}

# The tag of the property a pan run violated: from the trail, the line of the failed assertion.
violated() { # model, flags...
  local model=$1 line
  shift
  if [ -n "${LTL:-}" ] && grep -q '^pan:1: acceptance cycle' "$work/pan.out"; then
    echo "$LTL"
    return
  fi
  if grep -q '^pan:1: invalid end state' "$work/pan.out"; then
    echo end-state
    return
  fi
  line=$(cd "$work" && spin -t "$@" "$model" | sed -n 's/^spin: .*:\([0-9]*\), Error: assertion violated.*/\1/p' | head -1)
  if [ -z "$line" ]; then
    echo unknown
    return
  fi
  sed -n "${line}p" "$model" | grep -o '@[a-z-]*' | head -1 | sed 's/^@//;s/^$/untagged/' || echo untagged
}

verify() { # holds|refuted:tag, model, flags...
  local expect=$1 model=$2
  shift 2
  cp "$model" "$work/$model"
  if [ -n "${LTL:-}" ]; then
    (cd "$work" && rm -f pan* ./*.trail && spin -a -DLIVENESS "$@" "$model" >/dev/null &&
      gcc -O2 -w -DCOLLAPSE -DNFAIR=3 -o pan pan.c && ./pan -a -f -A -N "$LTL" -m"$depth" -w26 >pan.out 2>&1) || true
  else
    (cd "$work" && rm -f pan* ./*.trail && spin -a "$@" "$model" >/dev/null &&
      gcc -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m"$depth" -w26 >pan.out 2>&1) || true
  fi
  local errors states reached got
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$work/pan.out" | head -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$work/pan.out" | head -1)
  reached=$(sed -n 's/.*depth reached \([0-9]*\),.*/\1/p' "$work/pan.out" | head -1)
  if [ -z "$errors" ] || grep -q 'out of memory\|MEMLIM' "$work/pan.out"; then
    echo "model: spin failed for $model $*"
    cat "$work/pan.out"
    exit 1
  fi
  # A search cut short proves nothing: pan warns once and goes on without the deeper states.
  if grep -q 'max search depth too small\|depth limit reached' "$work/pan.out"; then
    echo "model: the search of $model $* was cut short at depth $depth (MODEL_MAX_DEPTH, pan -m): it proves nothing"
    exit 1
  fi
  if [ "$expect" = holds ]; then
    if [ "$errors" != 0 ]; then
      echo "model: VIOLATED (@$(violated "$model" "$@")) with $model $*:"
      grep -E 'pan:1:' "$work/pan.out" || true
      (cd "$work" && spin -t -p "$@" "$model" | grep -E "assert|proc .* (Coordinator|Recovery)" | tail -40)
      exit 1
    fi
    if grep -q 'Search not completed\|Search incomplete' "$work/pan.out"; then
      echo "model: the search of $model $* did not complete:"
      cat "$work/pan.out"
      exit 1
    fi
  else
    if [ "$errors" = 0 ]; then
      echo "model: the broken variant $model $* was NOT refuted: the model misses the hazard it stands for"
      exit 1
    fi
    got=$(violated "$model" "$@")
    if [ "refuted:$got" != "$expect" ]; then
      echo "model: the broken variant $model $* was refuted by @$got, not by @${expect#refuted:}, the hazard it stands for:"
      grep -E 'pan:1:' "$work/pan.out" || true
      exit 1
    fi
  fi
  if [ -n "${LTL:-}" ]; then
    expect="$expect (ltl $LTL)"
  fi
  printf 'model: %-13s %-52s %-28s (%s states, depth %s)\n' "$model" "$*" "$expect" "$states" "$reached"
}

for n in 2 3; do
  for where in '' -DDECISION_AT_COMMIT -DDECISION_ALONE; do
    for ack in '' -DACK_AT_DECISION; do
      # shellcheck disable=SC2086
      verify holds decision.pml -DN=$n $where $ack
    done
  done
done
verify refuted:split decision.pml -DN=3 -DBROKEN_SEED_RULE
verify refuted:rolled-back-committed decision.pml -DN=2 -DDECISION_ALONE -DBROKEN_SEED_RULE
verify refuted:acked-rolled-back decision.pml -DN=2 -DDECISION_ALONE -DBROKEN_GC_A
verify refuted:acked-rolled-back decision.pml -DN=2 -DDECISION_ALONE -DBROKEN_NO_DEADLINE
verify refuted:split decision.pml -DN=2 -DDECISION_AT_COMMIT -DBROKEN_NO_DEADLINE
verify refuted:split decision.pml -DN=2 -DDECISION_AT_COMMIT -DBROKEN_GC_A
verify refuted:acked-rolled-back decision.pml -DN=3 -DBROKEN_EARLY_ACK
verify refuted:split decision.pml -DN=3 -DBROKEN_GC_C
verify refuted:split decision.pml -DN=2 -DDECISION_ALONE -DACK_AT_DECISION -DBROKEN_GC_C
# Decisions kept by the participants: recovery must read the table the id names.
verify refuted:split decision.pml -DN=3 -DBROKEN_OTHER_LOG
verify refuted:split decision.pml -DN=2 -DDECISION_AT_COMMIT -DBROKEN_OTHER_LOG
# Recovery that waits for a dead coordinator: no split, caught only by the end state.
verify refuted:left-prepared decision.pml -DN=2 -DBROKEN_NO_ROW_WAITS
for n in 2 3; do
  verify holds parallel.pml -DN=$n
done
verify refuted:acked-rolled-back parallel.pml -DN=2 -DBROKEN_NO_FENCE
verify refuted:rolled-back-committed parallel.pml -DN=2 -DBROKEN_TRUST_FOUND_A
verify refuted:rolled-back-committed parallel.pml -DN=2 -DBROKEN_EMPTY_MEANS_ABORTED
verify refuted:acked-rolled-back parallel.pml -DN=2 -DBROKEN_STAGED_AS_ABORT
verify holds parallel.pml -DN=2 -DACK_AT_FINISH
# Recovery given the wrong fence table: an acknowledged commit rolled back, whatever the
# coordinator does (so the staged row records the table); acknowledged after its branches commit,
# no split only because the coordinator follows the row.
verify refuted:acked-rolled-back parallel.pml -DN=2 -DOTHER_FENCE_TABLE
verify holds parallel.pml -DN=2 -DOTHER_FENCE_TABLE -DACK_AT_FINISH
verify refuted:acked-rolled-back parallel.pml -DN=2 -DOTHER_FENCE_TABLE -DACK_AT_FINISH -DBROKEN_FINISH_IGNORES_ROW
verify refuted:acked-rolled-back parallel.pml -DN=2 -DOTHER_FENCE_TABLE -DACK_AT_FINISH -DBROKEN_GONE_MEANS_COMMITTED
# Recovery that waits for a branch that is not running instead of claiming its fence: no split,
# caught only by the end state (first found: a coordinator dead before any PREPARE, its 'S' left).
verify refuted:row-left parallel.pml -DN=2 -DBROKEN_MISSING_WAITS
# The outbox and the inbox: rows in the decision database's one-phase branch, or in a prepared one.
for where in '' -DOUTBOX_PREPARED; do
  # shellcheck disable=SC2086
  verify holds outbox.pml -DFAULTS=3 $where
  # shellcheck disable=SC2086
  LTL=delivered verify holds outbox.pml $where
done
verify refuted:published-rolled-back outbox.pml -DBROKEN_PUBLISH_AT_PREPARE
verify refuted:published-rolled-back outbox.pml -DOUTBOX_PREPARED -DBROKEN_PUBLISH_AT_PREPARE
verify refuted:published-rolled-back outbox.pml -DBROKEN_OWN_COMMIT
verify refuted:effect-lost outbox.pml -DBROKEN_ACK_BEFORE_COMMIT
verify refuted:not-published outbox.pml -DBROKEN_MARK_BEFORE_CONFIRM
verify refuted:effect-twice outbox.pml -DBROKEN_NO_INBOX
# Losses refuted by the LTL property alone, without the end state's assertions.
LTL=delivered verify refuted:delivered outbox.pml -DBROKEN_ACK_BEFORE_COMMIT
LTL=delivered verify refuted:delivered outbox.pml -DBROKEN_MARK_BEFORE_CONFIRM
