import { TxkitError } from './txkit-error.js'

/**
 * Why a message was refused: its payload does not serialize, its destination is unknown, it is
 * larger than its broker takes, its id is taken (by another message of the transaction, or one
 * already in the outbox), or its id, key or headers are malformed.
 */
export type MessageRefusal =
  | 'payload'
  | 'destination'
  | 'size'
  | 'duplicate-id'
  | 'id'
  | 'key'
  | 'headers'

/**
 * A message `tx.outbox.send(…)` refused. Thrown at the send, inside the transaction, so nothing of
 * it reaches the outbox; a duplicate of an id already in the outbox is found when the messages are
 * written at commit, and the transaction is then rolled back with this error as the cause.
 */
export class MessageRefusedError extends TxkitError {
  override readonly code = 'TXKIT_MESSAGE_REFUSED'
  readonly isMessageRefusedError = true
  readonly reason: MessageRefusal

  constructor(reason: MessageRefusal, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

/**
 * True when `e` is a {@link MessageRefusedError}.
 *
 * @example
 * ```ts
 * try { tx.outbox.send('orders', { total: Number.NaN }) } catch (e) { isMessageRefusedError(e) } // true
 * ```
 */
export function isMessageRefusedError(e: unknown): e is MessageRefusedError {
  return e instanceof Error && (e as Partial<MessageRefusedError>).isMessageRefusedError === true
}
