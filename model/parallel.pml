/*
 * Issue 14 part 5, modelled before any code: a "parallel commit" analogue of CockroachDB's for
 * txkit. The coordinator writes a STAGED decision row in parallel with the PREPAREs; the
 * transaction is committed once the staged row is durable and every branch is prepared, so the
 * caller can be told "committed" after one phase. Each branch first inserts a fence row
 * (gtrid, branch) in its own database; recovery, finding a staged transaction with a branch
 * neither prepared nor committed, claims that branch's fence (a committed insert of the same key)
 * so that the branch can never be prepared later, and then records 'A'. A fence held by a live
 * branch (active or prepared) blocks the claim: lock timeout, left for later.
 *
 * Same invariants as decision.pml. Variants: N (2 or 3 branches, none on the decision database).
 * Fence rows are deleted by the coordinator once its row says 'C', and by recovery's garbage
 * collection once past the deadline. Recovery decides from a scan of the prepared branches taken
 * before it reads the row, as the code does.
 *
 * Variants of the caller's view: by default the caller is told "committed" at the commit point
 * (acknowledge: 'decision'); ACK_AT_FINISH tells it once the branches are committed (the default
 * acknowledgement). OTHER_FENCE_TABLE: recovery claims fences in a table the branches do not use
 * (a worker given another deployment's fence table, as the code refuses since it records the table
 * in the staged row); it must be refuted as it stands, and hold with ACK_AT_FINISH only because the
 * coordinator commits nothing when its row does not read 'C' (BROKEN_FINISH_IGNORES_ROW: it does)
 * and claims a commit for a row gone only on its fence rows' evidence (BROKEN_GONE_MEANS_COMMITTED:
 * without it, an 'A' collected past the deadline reads as a commit).
 *
 * Broken variants that must be refuted: BROKEN_NO_FENCE (recovery decides 'A' for a missing branch
 * without claiming its fence); BROKEN_STAGED_AS_ABORT (recovery, finding no row, loses its 'A'
 * insert to a staged row and rolls the branches back anyway: the code did, and the soak test found
 * it, since the model, which resolves such a row by the fences, had been followed loosely there); BROKEN_TRUST_FOUND_A (a coordinator that lost a PREPARE's answer
 * reports "rolled back" on finding an 'A' it did not write: the first version of this model did,
 * and Spin found the trace where that 'A' is a stale worker's, written after the transaction had
 * committed and its 'C' had been collected); BROKEN_MISSING_WAITS (recovery, finding a staged row
 * and a branch neither prepared nor committed, leaves the transaction for later as if that branch
 * were live, instead of claiming its fence: never a split, but a coordinator that died before a
 * PREPARE leaves the other branches prepared forever).
 * Each property below carries a tag (@split, ...); check.sh requires each broken variant to violate
 * the one it names, not just any.
 */

#ifndef N
#define N 2
#endif

mtype = { IDLE, ACTIVE, PREPARED, COMMITTED, ABORTED };   /* a branch */
mtype = { NONE, S, C, A };                                /* the decision row */
mtype = { FREE, BRANCH, CLAIMED };                        /* a branch's fence row */

mtype branch[N] = IDLE;   /* set before any process runs: the coordinator may begin at once */
mtype fence[N] = FREE;
mtype row = NONE;
bool deadline = false;
bool acked = false;
bool reportedRolledBack = false;
bool coordinatorGone = false;   /* the coordinator has ended, normally or not: only recovery is left */

#define anyIn(state) (branch[0] == state || branch[1] == state || (N > 2 && branch[N - 1] == state))
#define allIn2(s1, s2) ((branch[0] == s1 || branch[0] == s2) && (branch[1] == s1 || branch[1] == s2) && (N < 3 || branch[N - 1] == s1 || branch[N - 1] == s2))
#define someCommitted anyIn(COMMITTED)
#define someAborted anyIn(ABORTED)
#define somePrepared anyIn(PREPARED)
#define allIn(state) (branch[0] == state && branch[1] == state && (N < 3 || branch[N - 1] == state))
#define collectable(k) (fence[k] == CLAIMED || (fence[k] == BRANCH && branch[k] == COMMITTED))
#define allFree (fence[0] == FREE && fence[1] == FREE && (N < 3 || fence[N - 1] == FREE))

/* A branch's transaction ends without commit: its uncommitted fence row goes with it. */
inline abortBranch(k) {
  branch[k] = ABORTED;
  if :: fence[k] == BRANCH -> fence[k] = FREE :: else -> skip fi
}

inline die() {
  atomic {
    i = 0;
    do
    :: i < N -> if :: branch[i] == ACTIVE -> abortBranch(i) :: else -> skip fi; i++
    :: else -> break
    od
  }
}

#define MAYBE_DIE if :: true -> goto crash :: true -> skip fi

active proctype Coordinator() {
  byte i;
  bool staged = false, maybeStaged = false, tried = false, prepared[N], failed = false, aborted = false, proven;
  mtype seen;
  byte preparedOk = 0;   /* PREPAREs the coordinator saw succeed */
  /* Each branch begins by inserting its fence row. */
  i = 0;
  do
  :: i < N ->
     MAYBE_DIE;
     atomic {
       if
       :: fence[i] == FREE -> fence[i] = BRANCH; branch[i] = ACTIVE
       :: else -> branch[i] = ABORTED; failed = true     /* claimed: this branch can never run */
       fi
     };
     i++
  :: else -> break
  od;
  if :: failed -> goto abort :: else -> skip fi;
  /* One phase: the staged row and every PREPARE, in parallel (any order). */
  do
  :: !tried ->
     MAYBE_DIE;
     atomic {
       if
       :: row == NONE && !deadline -> row = S; staged = true
       :: row == NONE && !deadline -> row = S; maybeStaged = true   /* inserted, answer lost */
       :: else -> skip
       fi;
       tried = true
     }
  :: !prepared[0] ->
     MAYBE_DIE;
     atomic {
       if
       :: branch[0] == ACTIVE -> branch[0] = PREPARED; preparedOk++
       :: branch[0] == ACTIVE -> branch[0] = PREPARED           /* prepared, answer lost */
       :: branch[0] == ACTIVE -> abortBranch(0)
       :: else -> skip
       fi
     };
     prepared[0] = true
  :: !prepared[1] ->
     MAYBE_DIE;
     atomic {
       if
       :: branch[1] == ACTIVE -> branch[1] = PREPARED; preparedOk++
       :: branch[1] == ACTIVE -> branch[1] = PREPARED           /* prepared, answer lost */
       :: branch[1] == ACTIVE -> abortBranch(1)
       :: else -> skip
       fi
     };
     prepared[1] = true
  :: N > 2 && !prepared[N - 1] ->
     MAYBE_DIE;
     atomic {
       if
       :: branch[N - 1] == ACTIVE -> branch[N - 1] = PREPARED; preparedOk++
       :: branch[N - 1] == ACTIVE -> branch[N - 1] = PREPARED           /* prepared, answer lost */
       :: branch[N - 1] == ACTIVE -> abortBranch(N - 1)
       :: else -> skip
       fi
     };
     prepared[N - 1] = true
  :: tried && prepared[0] && prepared[1] && (N < 3 || prepared[N - 1]) -> break
  od;
  if
  :: staged && preparedOk == N -> skip          /* its own answers, never a re-read */
  :: else -> goto abort
  fi;
#ifndef ACK_AT_FINISH
  acked = true;                                  /* committed: staged and every branch prepared */
#endif
  MAYBE_DIE;
  /* 'S' -> 'C', or the row as it reads: a worker may have written 'C' first. An 'A' was written
     against the protocol: the branches are left to recovery, which follows the row. No row: a
     worker's 'C', collected once every branch was committed; told "committed" only if every
     branch's fence row shows its branch committed (visible, unclaimed). */
  atomic { if :: row == S -> row = C :: else -> skip fi; seen = row };
#ifndef BROKEN_FINISH_IGNORES_ROW
  if
  :: seen == C -> skip
  :: seen == NONE ->
     atomic {
       proven = true;
       i = 0;
       do
       :: i < N -> if :: !(fence[i] == BRANCH && branch[i] == COMMITTED) -> proven = false :: else -> skip fi; i++
       :: else -> break
       od
     };
#ifdef BROKEN_GONE_MEANS_COMMITTED
     proven = true;
#endif
     if :: proven -> goto told :: else -> goto done fi
  :: else -> goto done
  fi;
#endif
  i = 0;
  do
  :: i < N ->
     MAYBE_DIE;
     atomic { if :: branch[i] == PREPARED -> branch[i] = COMMITTED :: true -> skip fi };
     i++
  :: else -> break
  od;
  /* Its fence rows, committed with its branches, are no longer needed once the row says 'C'. */
  i = 0;
  do
  :: i < N ->
     MAYBE_DIE;
     atomic { if :: row == C && fence[i] == BRANCH && branch[i] == COMMITTED -> fence[i] = FREE :: else -> skip fi };
     i++
  :: else -> break
  od;
  atomic { if :: row == C && !somePrepared -> row = NONE :: else -> skip fi };
told:
#ifdef ACK_AT_FINISH
  acked = true;                                  /* told "committed" once its branches are */
#endif
  goto done;
abort:
  /* Before the commit point: record 'A' over our staged row, then roll everything back. */
  if
  :: staged || maybeStaged ->
     atomic {
       if
       :: row == S -> row = A; aborted = true
#ifdef BROKEN_EMPTY_MEANS_ABORTED
       :: maybeStaged && row == NONE -> aborted = true   /* "the lost insert did not happen" */
#endif
#ifdef BROKEN_TRUST_FOUND_A
       :: row == A -> aborted = true
#endif
       /* 'C' (recovery found every branch prepared), gone, or an 'A' it did not write (which may
          be a stale worker's, inserted after a 'C' came and went): outcome unknown */
       :: else -> skip
       fi
     };
     if :: !aborted -> goto done :: else -> skip fi
  :: else -> skip
  fi;
  i = 0;
  do
  :: i < N ->
     atomic {
       if
       :: branch[i] == ACTIVE || branch[i] == PREPARED -> abortBranch(i)
       :: branch[i] == PREPARED -> skip                /* answer lost: recovery finishes it */
       :: else -> skip
       fi
     };
     i++
  :: else -> break
  od;
  reportedRolledBack = true;
  goto done;
crash:
  die();
done:
  coordinatorGone = true
}

/* Everything a recovery round reads, packed (mtype values are below 16). */
#define SNAP ((((((row * 16 + branch[0]) * 16 + branch[1]) * 16 + branch[N - 1]) * 16 + fence[0]) * 16 + fence[1]) * 16 + fence[N - 1])

/*
 * A recovery worker. Once the coordinator is gone, a round that changed nothing (it left the
 * transaction, and nobody moved meanwhile) would change nothing again from the same state: the
 * worker's next round waits until something has changed (idleAt). So recovery that cannot finish
 * a transaction comes to rest, where Invariants checks the end state, instead of looping on it
 * unseen. (While the coordinator runs, rounds may wait on it, e.g. on a live branch's fence; they
 * are not tracked.)
 */
proctype Recovery() {
  byte i, k;
  mtype seen;
  bool missing, busy, scanned[N];
  int snap, idleAt;   /* the state this round began in; the state a round that changed nothing left */
end:
  do
  :: /* A round: scan the prepared branches, then read the row (the scan is stale by then). */
     atomic {
       (somePrepared || row == S) && SNAP != idleAt;
       idleAt = 0;
       if :: coordinatorGone -> snap = SNAP :: else -> skip fi;
       k = 0;
       do
       :: k < N -> scanned[k] = (branch[k] == PREPARED); k++
       :: else -> break
       od
     };
     seen = row;
     if
     :: seen == NONE && (scanned[0] || scanned[1] || (N > 2 && scanned[N - 1])) ->
        atomic { if :: row == NONE -> row = A :: else -> skip fi };
        seen = row;
#ifdef BROKEN_STAGED_AS_ABORT
        /* The code until 2026-12-01: a row that won the race and reads 'S' taken as no commit. */
        if :: seen == S -> seen = A :: else -> skip fi
#else
        skip
#endif
     :: else -> skip
     fi;
     if
     :: seen == S ->
        /* Committed if every branch was prepared in the scan or its fence is committed; any other
           is claimed: a committed insert of its key, which a live branch's fence blocks. */
        missing = false;
        busy = false;
        k = 0;
        do
        :: k < N ->
           if
           :: scanned[k] -> skip
           :: else ->
#ifdef BROKEN_NO_FENCE
              if :: branch[k] != COMMITTED -> missing = true :: else -> skip fi
#elif defined(BROKEN_MISSING_WAITS)
              /* "it may still be prepared": left for later, as a live branch is */
              if :: branch[k] != COMMITTED -> busy = true :: else -> skip fi
#elif defined(OTHER_FENCE_TABLE)
              /* Claims in another table than the branches': a live branch holds nothing there. */
              if :: branch[k] != COMMITTED -> missing = true :: else -> skip fi
#else
              atomic {
                if
                :: fence[k] == FREE -> fence[k] = CLAIMED; missing = true
                :: fence[k] == CLAIMED -> missing = true
                :: fence[k] == BRANCH && branch[k] == COMMITTED -> skip   /* visible: committed */
                :: fence[k] == BRANCH && branch[k] != COMMITTED -> busy = true   /* lock timeout */
                fi
              }
#endif
           fi;
           k++
        :: else -> break
        od;
        if
        :: missing -> atomic { if :: row == S -> row = A :: else -> skip fi }
        :: !missing && !busy -> atomic { if :: row == S -> row = C :: else -> skip fi }
        :: else -> skip                              /* a branch still running: later */
        fi;
        seen = row
     :: else -> skip
     fi;
     /* Follow the row on every prepared branch. */
     i = 0;
     do
     :: i < N ->
        atomic {
          if
          :: seen == C && branch[i] == PREPARED -> branch[i] = COMMITTED
          :: seen == A && branch[i] == PREPARED -> abortBranch(i)
          :: else -> skip
          fi
        };
        i++
     :: else -> break
     od;
     atomic { if :: SNAP == snap -> idleAt = snap :: else -> skip fi; snap = 0 }   /* snap 0: not tracked */
  :: atomic { row == C && !somePrepared -> row = NONE }
  :: atomic { row == A && deadline && !somePrepared -> row = NONE }
  :: /* GC of committed fence rows (claimed, or of a committed branch) past the deadline. A live
        branch's fence is uncommitted: no other session can delete it. */
     atomic {
       deadline && (collectable(0) || collectable(1) || (N > 2 && collectable(N - 1)));
       k = 0;
       do
       :: k < N ->
          if
          :: collectable(k) -> fence[k] = FREE
          :: else -> skip
          fi;
          k++
       :: else -> break
       od
     }
  od
}

active proctype Clock() {
  deadline = true
}

init {
  atomic {
    run Recovery();
    run Recovery()
  }
}

/*
 * What the caller relies on, as in decision.pml: each property in every reachable state (its branch
 * can run only where it fails), and once nothing else can move (timeout), the end state. The tags
 * name the properties for check.sh.
 */
#define VIOLATED(p) :: atomic { !(p) -> assert(p) }
active proctype Invariants() {
end:
  do
  VIOLATED(!(someCommitted && someAborted))          /* @split: never committed and rolled back */
  VIOLATED(!(acked && someAborted))                  /* @acked-rolled-back: "committed" is never rolled back */
  VIOLATED(!(reportedRolledBack && someCommitted))   /* @rolled-back-committed: "rolled back": nothing committed */
  :: timeout ->
     assert(!somePrepared && !anyIn(ACTIVE));        /* @left-prepared: at the end, nothing left prepared */
     assert(!acked || allIn(COMMITTED));             /* @acked-not-committed: "committed" commits everywhere */
     assert(row == NONE);                            /* @row-left: every decision row collected */
     assert(allFree);                                /* @fence-left: every fence row collected */
     break
  od
}
