import type {
  BranchGuard,
  DriverConnection,
  QueryResult,
  ServerNotice,
  SessionTransactionStatus,
} from '../../../driver/driver-connection.js'
import { LostListeners } from '../../../driver/lost-listeners.js'
import { StatementQueue } from '../../../driver/statement-queue.js'
import { postgresDialect } from '../../postgres-dialect.js'
import { type PgCancelTarget, sendPgCancel } from './node-postgres-cancel.js'
import { guardPgClient } from './node-postgres-guard.js'

/** A NoticeResponse as node-postgres parses it. */
interface PgNoticeMessage {
  readonly severity?: string
  readonly code?: string
  readonly message?: string
  readonly routine?: string
}

/**
 * node-postgres's protocol connection under a client, as far as counting command tags and hearing
 * notices need.
 */
interface PgProtocolConnection {
  on(event: 'commandComplete', listener: (message: { text?: string }) => void): unknown
  on(event: 'notice', listener: (message: PgNoticeMessage) => void): unknown
  removeListener(event: 'commandComplete', listener: (message: { text?: string }) => void): unknown
  removeListener(event: 'notice', listener: (message: PgNoticeMessage) => void): unknown
}

/** The part of a node-postgres `PoolClient` txkit uses. */
export interface PgClientLike extends PgCancelTarget {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: unknown[]; command: string; rowCount: number | null }>
  release(destroy?: boolean | Error): void
  /** The status of the last ReadyForQuery ('I', 'T', 'E'); pg ≥ 8.21, null on pg-native. */
  getTransactionStatus?(): string | null
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown
  removeListener(event: 'error' | 'end', listener: (error?: Error) => void): unknown
}

// pg reports a socket that went away with these messages and no SQLSTATE.
const CLIENT_SIDE_LOSS = /Connection terminated|not queryable|Connection ended/

/** One checked-out (or lent) node-postgres client as txkit's connection. */
export class PgConnection<Client extends PgClientLike> implements DriverConnection<Client> {
  readonly raw: Client
  readonly #lost = new LostListeners()
  readonly #onGone = (): void => {
    this.#lost.markLost()
  }

  /** False for a client the caller lent (the runner's target): it is never released here. */
  readonly #owned: boolean
  /** txkit's statements and the application's, one at a time (pg 8.23 deprecates its queue). */
  readonly #queue = new StatementQueue()
  /** Transaction-control command tags answered since the first ask; undefined until then. */
  #tags: number | undefined
  readonly #onCommand = (message: { text?: string }): void => {
    if (TRANSACTION_TAG.test(message.text ?? '')) this.#tags = (this.#tags ?? 0) + 1
  }

  constructor(client: Client, owned = true) {
    this.raw = client
    this.#owned = owned
    // A checked-out pg client with no 'error' listener crashes the process when its backend dies.
    // A lent client is its owner's to watch.
    if (owned) {
      client.on('error', this.#onGone)
      client.on('end', this.#onGone)
    }
  }

  /**
   * Counts from the first call on (a branch asks right after its BEGIN; locks and the runner never
   * ask, and pay nothing). Every statement's completion passes the protocol connection, whichever
   * path sent it.
   */
  transactionTags(): number | undefined {
    if (this.#tags === undefined && this.#owned) {
      const protocol = protocolOf(this.raw)
      if (protocol === undefined) return undefined
      protocol.on('commandComplete', this.#onCommand)
      this.#tags = 0
    }
    return this.#tags
  }

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    try {
      const values = params === undefined ? undefined : [...params]
      const answer = await (this.#owned
        ? this.#queue.run(() => this.raw.query(sql, values))
        : this.raw.query(sql, values))
      // Several statements in one simple-protocol message answer one result each: keep the last.
      const result = Array.isArray(answer) ? (answer.at(-1) as typeof answer) : answer
      return {
        rows: result.rows as Row[],
        affectedRows: result.rowCount ?? 0,
        command: result.command,
      }
    } catch (error) {
      // A session ended on the server (terminated, crashed) whose news reaches the client as the
      // answer to a statement rather than as an 'error' event: a busy holder, a stall.
      if (isClientSideLoss(error) || postgresDialect.isConnectionLost(error)) this.#lost.markLost()
      throw error
    }
  }

  get lost(): boolean {
    return this.#lost.lost
  }

  onLost(listener: () => void): () => void {
    return this.#lost.add(listener)
  }

  onNotice(listener: (notice: ServerNotice) => void): () => void {
    const protocol = protocolOf(this.raw)
    if (protocol === undefined) return () => undefined
    const forward = (message: PgNoticeMessage): void =>
      listener({
        message: message.message ?? '',
        ...(message.severity !== undefined && { severity: message.severity }),
        ...(message.code !== undefined && { code: message.code }),
        ...(message.routine !== undefined && { routine: message.routine }),
      })
    protocol.on('notice', forward)
    return () => protocol.removeListener('notice', forward)
  }

  cancel(): Promise<void> {
    return sendPgCancel(this.raw)
  }

  /** LISTEN on this client; node-postgres emits each notification on the client. */
  async listen(
    channel: string,
    onNotification: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    const client = this.raw as unknown as NotifyingClient
    const forward = (message: { channel?: string; payload?: string }): void => {
      if (message.channel === channel) onNotification(message.payload ?? '')
    }
    client.on('notification', forward)
    const quoted = `"${channel.replace(/"/g, '""')}"`
    try {
      await this.query(`LISTEN ${quoted}`)
    } catch (error) {
      client.removeListener('notification', forward)
      throw error
    }
    return async () => {
      client.removeListener('notification', forward)
      if (!this.lost) await this.query(`UNLISTEN ${quoted}`)
    }
  }

  transactionStatus(): SessionTransactionStatus | undefined {
    return TRANSACTION_STATUS[this.raw.getTransactionStatus?.() ?? '']
  }

  guarded(guard: BranchGuard): Client {
    return guardPgClient(this.raw, guard, this.#queue)
  }

  release(destroy: boolean): void {
    if (!this.#owned) return
    this.raw.removeListener('error', this.#onGone)
    this.raw.removeListener('end', this.#onGone)
    if (this.#tags !== undefined) {
      protocolOf(this.raw)?.removeListener('commandComplete', this.#onCommand)
    }
    this.raw.release(destroy || this.#lost.lost)
  }
}

/** A client as far as its notifications go. */
interface NotifyingClient {
  on(
    event: 'notification',
    listener: (message: { channel?: string; payload?: string }) => void,
  ): unknown
  removeListener(
    event: 'notification',
    listener: (message: { channel?: string; payload?: string }) => void,
  ): unknown
}

/** Command tags of statements that begin, end or hand over a transaction (ROLLBACK TO too). */
const TRANSACTION_TAG = /^(COMMIT|ROLLBACK|BEGIN|START TRANSACTION|PREPARE TRANSACTION)\b/

/** node-postgres's protocol connection of a client (not pg-native's), if it has one. */
function protocolOf(client: PgClientLike): PgProtocolConnection | undefined {
  const protocol = (client as { connection?: Partial<PgProtocolConnection> }).connection
  return typeof protocol?.on === 'function' && typeof protocol.removeListener === 'function'
    ? (protocol as PgProtocolConnection)
    : undefined
}

const TRANSACTION_STATUS: Readonly<Record<string, SessionTransactionStatus>> = {
  I: 'idle',
  T: 'open',
  E: 'failed',
}

function isClientSideLoss(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === undefined &&
    CLIENT_SIDE_LOSS.test(error.message)
  )
}
