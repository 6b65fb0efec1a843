/**
 * Thrown by a dialect when a branch's session turns out to be outside the transaction txkit began
 * on it (MySQL's XA state errors): something else ended it, and its work may be committed.
 */
export class BranchOutsideTransaction extends Error {}

/**
 * Thrown by a dialect when the server rolled the branch back in answer to a protocol statement that
 * failed (PostgreSQL turns a failed PREPARE TRANSACTION into a ROLLBACK). `cause` is the server's
 * error.
 */
export class RolledBackByServer extends Error {}

/**
 * Thrown by a dialect when the server's answer to a protocol statement is not one it knows (an
 * unexpected command tag): whether the statement took effect is unknown.
 */
export class UnconfirmedAnswer extends Error {}
