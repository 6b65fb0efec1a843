/*
 * Issue 25: the transactional outbox, its relays, the broker and the inbox, for Spin
 * (docs/architecture.md, "The model"). One transaction over two databases sends one message; it
 * commits or rolls back. Its coordinator may die between any two steps; two relays publish the
 * committed row, each in a local transaction that locks it (FOR UPDATE SKIP LOCKED), publishes,
 * waits for the broker's confirm and marks it delivered; the broker delivers at least once to two
 * consumers, each of which records the message id in its inbox and applies the effect in one local
 * transaction, then acknowledges. Relays and consumers crash, the broker loses a publish or its
 * confirm, an ack goes missing: FAULTS of these in all, so every run ends, and the end state is
 * checked ("eventually" is "at the end"; LIVENESS also checks it as LTL under weak fairness).
 *
 * The commit protocol is abstracted to what decision.pml and parallel.pml check: the branches
 * follow the decision, and recovery finishes a prepared branch by it once the coordinator is gone.
 * Branch 0 is the decision database's branch, committed in one phase with its 'C' row; branch 1 is
 * another participant, prepared and then committed (COMMIT PREPARED, or recovery).
 *
 * Variants (spin -D...):
 *   OUTBOX_PREPARED     the outbox rows are written into branch 1, a prepared participant (the
 *                       decision database takes no part, or protocol 'parallel'), visible once it is
 *                       committed after the decision (default: into branch 0, visible with the 'C')
 *   FAULTS=n            crashes and losses in all (default 2)
 *   LIVENESS            adds the LTL property `delivered` (pan -a -f -N delivered)
 * Broken variants, each of which the checker must refute:
 *   BROKEN_PUBLISH_AT_PREPARE   the message is published from the coordinator's memory once phase
 *                               one is done (an after-prepare hook), before the decision is durable
 *   BROKEN_ACK_BEFORE_COMMIT    the consumer acknowledges a delivery before its transaction commits
 *   BROKEN_MARK_BEFORE_CONFIRM  the relay marks the row delivered (and commits) before the broker
 *                               confirms the publish
 *   BROKEN_NO_INBOX             the consumer applies the effect without recording the message id
 *   BROKEN_OWN_COMMIT           the rows are committed on their own at send time (another
 *                               connection, an autocommit insert), not in the transaction's branch
 * Each property below carries a tag (@published-rolled-back, ...); check.sh requires each broken
 * variant to violate the one it names, not just any.
 */

#ifndef FAULTS
#define FAULTS 2
#endif

#ifdef OUTBOX_PREPARED
#define OB 1
#else
#define OB 0
#endif

mtype = { ACTIVE, PREPARED, COMMITTED, ABORTED };   /* a branch */
mtype = { NONE, C, A };                             /* the decision row */
mtype = { PENDING, DELIVERED };                     /* the outbox row's state */

mtype branch[2] = ACTIVE;
mtype row = NONE;
bool coordinatorGone = false;

mtype out = PENDING;     /* the outbox row: seen by the relays only once branch OB is committed */
byte lockedBy = 0;       /* the relay whose transaction holds the row's lock, 0: none */
bool published = false;  /* the broker has received the message at least once */
byte ready = 0;          /* copies of the message the broker holds, not delivered to a consumer */
byte inbox = 0;          /* the inbox row (consumer, id): 0 none, 1 or 2 inserted by that consumer's
                            uncommitted transaction, DONE committed */
byte effects = 0;        /* the consumer's effect, applied by committed transactions */
byte faults = 0;

#define DONE 3
#ifdef BROKEN_OWN_COMMIT
#define visible true
#else
#define visible (branch[OB] == COMMITTED)
#endif
#define someAborted (branch[0] == ABORTED || branch[1] == ABORTED)
#define committed (branch[0] == COMMITTED && branch[1] == COMMITTED)
#define FAULT (faults < FAULTS) -> faults++

/* The coordinator's process dies: the server ends every unprepared branch with its session. */
inline die() {
  atomic {
    if :: branch[0] == ACTIVE -> branch[0] = ABORTED :: else -> skip fi;
    if :: branch[1] == ACTIVE -> branch[1] = ABORTED :: else -> skip fi
  }
}

#define MAYBE_DIE if :: true -> goto crash :: true -> skip fi

/* The rows are written into branch OB during phase one: uncommitted, seen by no relay. */
active proctype Coordinator() {
  MAYBE_DIE;
  atomic {
    if
    :: branch[1] = PREPARED
    :: branch[1] = ABORTED; branch[0] = ABORTED   /* refused: everything rolled back */
    fi
  };
  if :: branch[1] == ABORTED -> goto done :: else -> skip fi;
#ifdef BROKEN_PUBLISH_AT_PREPARE
  atomic { ready++; published = true };   /* "every branch prepared: it will commit" */
#endif
  MAYBE_DIE;
  /* The decision: branch 0 commits in one phase with its 'C' row, or is refused (the deadline). */
  if
  :: atomic { branch[0] = COMMITTED; row = C }
  :: atomic { branch[0] = ABORTED; row = A };
     atomic { if :: branch[1] = ABORTED :: skip fi };   /* the rollback's answer may be lost */
     goto done
  :: goto crash                                         /* lost before it reached the server */
  fi;
  MAYBE_DIE;
  atomic { if :: branch[1] = COMMITTED :: skip fi };    /* COMMIT PREPARED; answer lost: recovery */
  goto done;
crash:
  die();
done:
  coordinatorGone = true
}

/* Recovery: a prepared branch of a transaction whose coordinator is gone follows the row ('A' if none). */
active proctype Recovery() {
end:
  do
  :: atomic { coordinatorGone && branch[1] == PREPARED ->
       if :: row == NONE -> row = A :: else -> skip fi;
       if :: row == C -> branch[1] = COMMITTED :: else -> branch[1] = ABORTED fi
     }
  od
}

/* A relay. Its crash rolls its transaction back: the row's lock is released, the row still pending. */
proctype Relay(byte me) {
  bool confirmed;
end:
  do
  :: atomic { visible && out == PENDING && lockedBy == 0 -> lockedBy = me };   /* SKIP LOCKED */
#ifdef BROKEN_MARK_BEFORE_CONFIRM
     atomic { out = DELIVERED; lockedBy = 0 };   /* marked and committed before the publish */
#endif
     if :: FAULT; goto crash :: true -> skip fi;
     atomic {
       if
       :: ready++; published = true; confirmed = true
       :: FAULT; ready++; published = true; confirmed = false   /* stored, the confirm lost */
       :: FAULT; confirmed = false                              /* lost: broker down, connection cut */
       fi
     };
     if :: FAULT; goto crash :: true -> skip fi;
     atomic {   /* confirmed: marked delivered and committed; else rolled back, retried later */
       if :: confirmed && lockedBy == me -> out = DELIVERED :: else -> skip fi;
       if :: lockedBy == me -> lockedBy = 0 :: else -> skip fi;
       confirmed = false
     };
     goto end;
crash:
     atomic { if :: lockedBy == me -> lockedBy = 0 :: else -> skip fi; confirmed = false }
  od
}

/*
 * A consumer. A delivery is held until acknowledged; a crash, or an ack the broker never gets,
 * puts it back (redelivery, to either consumer). Its transaction inserts the inbox row (a unique
 * key: the insert waits while another consumer's insert is uncommitted, fails once it is committed)
 * and applies the effect; a duplicate rolls back and is acknowledged.
 */
proctype Consumer(byte me) {
  bool held, dup;
end:
  do
  :: atomic { ready > 0 -> ready--; held = true };
#ifdef BROKEN_ACK_BEFORE_COMMIT
     held = false;
#endif
     if :: FAULT; goto crash :: true -> skip fi;
#ifdef BROKEN_NO_INBOX
     dup = false;
#else
     if
     :: atomic { inbox == 0 -> inbox = me; dup = false }
     :: atomic { inbox == DONE -> dup = true }
     fi;
#endif
     if :: FAULT; goto crash :: true -> skip fi;
     atomic {   /* commit (a duplicate: rollback) */
       if :: !dup -> effects++; inbox = DONE :: else -> skip fi
     };
     if :: FAULT; goto crash :: true -> skip fi;
     atomic {
       if
       :: held -> held = false                      /* acknowledged */
       :: held && faults < FAULTS -> faults++; held = false; ready++   /* the ack is lost */
       :: !held -> skip
       fi
     };
     goto end;
crash:
     atomic {
       if :: inbox == me -> inbox = 0 :: else -> skip fi;
       if :: held -> held = false; ready++ :: else -> skip fi
     }
  od
}

init {
  atomic {
    run Relay(1);
    run Relay(2);
    run Consumer(1);
    run Consumer(2)
  }
}

#ifdef LIVENESS
/* Every committed transaction's message is eventually delivered and its effect applied. */
ltl delivered { [] (committed -> <> (out == DELIVERED && effects == 1 && ready == 0)) }
#endif

/*
 * What the application relies on. Each in-state property is checked in every reachable state: its
 * branch can run only where it fails. Once nothing else can move (timeout: the coordinator has
 * ended, recovery, the relays and the consumers can do no more), the end state is checked.
 */
#define VIOLATED(p) :: atomic { !(p) -> assert(p) }
active proctype Invariants() {
end:
  do
  VIOLATED(!(published && someAborted))             /* @published-rolled-back: never a rolled-back transaction's message */
  VIOLATED(!(effects > 0 && someAborted))           /* @effect-of-rolled-back: nor its effect */
  VIOLATED(effects <= 1)                            /* @effect-twice: the effect is applied at most once */
  :: timeout ->
     assert(committed || someAborted);              /* @undecided: the transaction ends */
     assert(!committed || published);               /* @not-published: a committed transaction's message is published */
     assert(!committed || out == DELIVERED);        /* @left-pending: and its row marked delivered */
     assert(!committed || effects == 1);            /* @effect-lost: its effect applied */
     assert(ready == 0);                            /* @left-in-broker: every copy consumed and acknowledged */
     break
  od
}
