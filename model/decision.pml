/*
 * The `decision` commit protocol of txkit and its recovery, for Spin (docs/architecture.md,
 * "The model"). One transaction over N databases; a coordinator that may crash or stall at any
 * step and lose any answer; two recovery workers; a clock that passes the deadline at any moment;
 * garbage collection of 'C' and 'A' rows. Spin checks every interleaving.
 *
 * Variants (spin -D...):
 *   DECISION_ALONE      the decision database takes no part: the 'C' row is inserted on its own,
 *                       after every branch is prepared (default: branch 0 is the decision
 *                       database, its 'C' row written with its BEGIN and committed with it in one phase)
 *   DECISION_AT_COMMIT  branch 0 inserts its 'C' row at commit time, under the deadline, then
 *                       commits in one phase (a MySQL/MariaDB decision database)
 *   ACK_AT_DECISION     the caller is told "committed" once the decision is durable
 * Broken variants, each of which the checker must refute:
 *   BROKEN_SEED_RULE    recovery infers the outcome from the set of prepared branches (the seed's rule)
 *   BROKEN_GC_A         'A' rows are collected before the transaction's deadline
 *   BROKEN_NO_DEADLINE  the decision insert ignores the deadline
 *   BROKEN_EARLY_ACK    the caller is told "committed" before the decision
 *   BROKEN_GC_C         a 'C' row is collected while a branch is still prepared
 *   BROKEN_OTHER_LOG    recovery reads and records decisions in a decision table other than the
 *                       one the transaction's id names (decisionDatabases: another participant's)
 *   BROKEN_NO_ROW_WAITS recovery, finding no decision row, leaves the branch to a coordinator that
 *                       may still decide instead of recording 'A': never a split, but a coordinator
 *                       that died before its decision leaves its branches prepared forever
 * Each property below carries a tag (@split, ...); check.sh requires each broken variant to violate
 * the one it names, not just any.
 *
 * Decisions kept by the participants (decisionDatabases) need no variant of their own: per
 * transaction, the participant chosen is the decision database taking part, which is branch 0 here
 * (branch indexes are symmetric), and recovery reads the table the id names, which is `row`.
 */

/* Two or three databases. */
#ifndef N
#define N 3
#endif

mtype = { ACTIVE, PREPARED, COMMITTED, ABORTED };   /* a branch */
mtype = { NONE, C_PENDING, C, A };                  /* the decision row */

mtype branch[N] = ACTIVE;   /* set before any process runs: the coordinator may begin at once */
mtype row = NONE;        /* C_PENDING: written with branch 0's BEGIN, not yet committed */
bool deadline = false;   /* the decision database's clock is past the transaction's deadline */
bool acked = false;      /* the caller was told "committed" */
bool reportedRolledBack = false;
bool coordinatorGone = false;   /* the coordinator has ended, normally or not: only recovery is left */

#ifdef BROKEN_OTHER_LOG
mtype otherRow = NONE;   /* another participant's decision table: never holds this transaction's row */
#define READ_ROW otherRow
#else
#define READ_ROW row
#endif

#ifdef DECISION_ALONE
#define FIRST_PREPARED 0
#else
#define FIRST_PREPARED 1
#endif

#define anyIn(state) (branch[0] == state || branch[1] == state || (N > 2 && branch[N - 1] == state))
#define allIn(state) (branch[0] == state && branch[1] == state && (N < 3 || branch[N - 1] == state))
#define someCommitted anyIn(COMMITTED)
#define someAborted anyIn(ABORTED)
#define somePrepared anyIn(PREPARED)

/* The coordinator's process dies: the server ends every unprepared branch with its session. */
inline die() {
  atomic {
    i = 0;
    do
    :: i < N -> if :: branch[i] == ACTIVE -> branch[i] = ABORTED :: else -> skip fi; i++
    :: else -> break
    od;
    if :: row == C_PENDING -> row = NONE :: else -> skip fi
  }
}

/* Rolls back every branch; a prepared branch's rollback may go unanswered (left prepared). */
inline rollBackEverything() {
  i = 0;
  do
  :: i < N ->
     atomic {
       if
       :: branch[i] == ACTIVE -> branch[i] = ABORTED
       :: branch[i] == PREPARED -> branch[i] = ABORTED
       :: branch[i] == PREPARED -> skip            /* answer lost: recovery finishes it */
       :: else -> skip
       fi;
       if :: i == 0 && row == C_PENDING -> row = NONE :: else -> skip fi
     };
     i++
  :: else -> break
  od
}

#define MAYBE_DIE if :: true -> goto crash :: true -> skip fi

active proctype Coordinator() {
  byte i, next;
  bool prepared[N];
  bool decided = false;
#if !defined(DECISION_ALONE) && !defined(DECISION_AT_COMMIT)
  row = C_PENDING;
#endif
#ifdef BROKEN_EARLY_ACK
  acked = true;
#endif
  /* Phase one: the branches are prepared in parallel, so in any order. */
  do
  :: if
     :: FIRST_PREPARED == 0 && !prepared[0] -> next = 0
     :: !prepared[1] -> next = 1
     :: N > 2 && !prepared[N - 1] -> next = N - 1
     :: else -> break
     fi;
     MAYBE_DIE;
     atomic {
       if
       :: branch[next] == ACTIVE -> branch[next] = PREPARED
       :: branch[next] == ACTIVE -> branch[next] = ABORTED   /* the server rolled it back */
       fi
     };
     prepared[next] = true;
     if
     :: branch[next] == ABORTED -> rollBackEverything(); reportedRolledBack = true; goto done
     :: else -> skip
     fi
  od;
  MAYBE_DIE;
  /* The decision. */
#ifdef DECISION_ALONE
  atomic {                    /* the insert answers whether it inserted the row */
    if
#ifdef BROKEN_NO_DEADLINE
    :: row == NONE -> row = C; decided = true
#else
    :: row == NONE && !deadline -> row = C; decided = true
#endif
    :: else -> skip           /* refused: recovery recorded 'A', or past the deadline */
    fi
  };
  if
  :: decided -> skip
  :: !decided -> rollBackEverything(); reportedRolledBack = true; goto done
  fi;
  if :: true -> goto done :: true -> skip fi   /* the answer is lost: outcome unknown */
#else
#ifdef DECISION_AT_COMMIT
  atomic {
    if
#ifdef BROKEN_NO_DEADLINE
    :: row == NONE -> row = C_PENDING; decided = true
#else
    :: row == NONE && !deadline -> row = C_PENDING; decided = true
#endif
    :: else -> skip
    fi
  };
  if
  :: decided -> skip
  :: !decided -> rollBackEverything(); reportedRolledBack = true; goto done
  fi;
#endif
  if
  :: atomic { branch[0] == ACTIVE && row == C_PENDING -> branch[0] = COMMITTED; row = C }
     if :: true -> goto done :: true -> skip fi   /* committed, but the answer is lost */
  :: goto crash                                   /* lost before it reached the server */
  fi;
#endif
#ifdef ACK_AT_DECISION
  acked = true;
#endif
  /* Phase two: the prepared branches are committed (in the background with ACK_AT_DECISION). */
  i = FIRST_PREPARED;
  do
  :: i < N ->
     MAYBE_DIE;
     atomic {
       if
       :: branch[i] == PREPARED -> branch[i] = COMMITTED
       :: true -> skip                 /* answer lost: left to recovery */
       fi
     };
     i++
  :: else -> break
  od;
  acked = true;
  /* The decision row of a finished transaction is deleted (batched, later). */
  atomic { if :: row == C && !somePrepared -> row = NONE :: else -> skip fi };
  goto done;
crash:
  die();
done:
  coordinatorGone = true
}

/* Everything a recovery round reads, packed (mtype values are below 16). */
#define SNAP ((((READ_ROW * 16 + row) * 16 + branch[0]) * 16 + branch[1]) * 16 + branch[N - 1])

/*
 * A recovery worker: each round, one prepared branch it found, finished by the decision row.
 * Once the coordinator is gone, a round that changed nothing (it left a prepared branch, and
 * nobody moved meanwhile) would change nothing again from the same state: the worker's next round
 * waits until something has changed (idleAt). So recovery that cannot finish a prepared branch
 * comes to rest, where Invariants checks the end state, instead of looping on it unseen. (While
 * the coordinator runs, rounds may wait on it, e.g. on its uncommitted 'C'; they are not tracked.)
 */
proctype Recovery() {
  byte i;
  mtype seen;
  int snap, idleAt;   /* the state this round began in; the state a round that changed nothing left */
end:
  do
  :: atomic { somePrepared && SNAP != idleAt ->
       idleAt = 0;
       if :: coordinatorGone -> snap = SNAP :: else -> skip fi;
       if
       :: branch[0] == PREPARED -> i = 0
       :: branch[1] == PREPARED -> i = 1
       :: N > 2 && branch[N - 1] == PREPARED -> i = N - 1
       fi
     };
#ifdef BROKEN_SEED_RULE
     /* The seed: every branch prepared (or committed) means commit, else roll back. */
     if
     :: (branch[0] == PREPARED || branch[0] == COMMITTED) &&
        (branch[1] == PREPARED || branch[1] == COMMITTED) &&
        (N < 3 || branch[N - 1] == PREPARED || branch[N - 1] == COMMITTED) -> seen = C
     :: else -> seen = A
     fi;
#else
     seen = READ_ROW;                             /* read the row */
     if
#ifdef BROKEN_NO_ROW_WAITS
     :: seen == NONE -> skip                      /* "its coordinator may still decide": never 'A' */
#else
     :: seen == NONE ->                           /* none: record 'A' (waits on a locked row) */
        atomic {
          if
          :: READ_ROW == NONE -> READ_ROW = A; seen = A
          :: READ_ROW == C_PENDING -> seen = NONE /* lock timeout: the coordinator is alive */
          :: READ_ROW == C || READ_ROW == A -> seen = READ_ROW /* decided concurrently */
          fi
        }
#endif
     :: seen == C_PENDING -> seen = NONE          /* invisible; same as a lock timeout */
     :: else -> skip
     fi;
#endif
     atomic {
       if
       :: seen == C && branch[i] == PREPARED -> branch[i] = COMMITTED
       :: seen == A && branch[i] == PREPARED -> branch[i] = ABORTED
       :: else -> skip
       fi;
       if :: SNAP == snap -> idleAt = snap :: else -> skip fi;   /* snap 0: not tracked */
       snap = 0
     }
  /* Garbage collection of decision rows. */
#ifdef BROKEN_GC_C
  :: atomic { row == C -> row = NONE }
#else
  :: atomic { row == C && !somePrepared -> row = NONE }
#endif
#ifdef BROKEN_GC_A
  :: atomic { row == A && !somePrepared -> row = NONE }
#else
  :: atomic { row == A && deadline && !somePrepared -> row = NONE }
#endif
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
 * What the caller relies on. Each property is checked in every reachable state: its branch can run
 * only where the property fails, so this process never keeps the system going by itself. Once
 * nothing else can move (timeout: the coordinator has ended, the clock has passed the deadline and
 * recovery can do no more), the end state is checked. The tags name the properties for check.sh.
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
     break
  od
}
