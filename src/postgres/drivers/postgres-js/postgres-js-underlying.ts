/**
 * postgres.js 3's pool connection under a reservation, as its `onexecute` query option hands it
 * out (neither is documented API: postgres.js's own `sql.begin` listens the same way).
 */
export interface PostgresJs3Connection {
  /** Called once when the socket closes. */
  onclose: ((error: unknown) => void) | null
  /** Closes this one connection; the pool opens a fresh one when it needs it. */
  terminate(): void
}

/**
 * postgres.js 4's pool connection, which it sets on a query (`query.connection`) once the query
 * is placed on it (not documented API). A connection object is never reused: once `closed` is
 * set, every statement of a reservation on it is refused by postgres.js itself.
 */
export interface PostgresJs4Connection {
  readonly closed: unknown
  /** The reservation holding it: its `closed` promise rejects when the connection closes. */
  readonly lease: { readonly closed: PromiseLike<unknown> } | null
  /** Closes the socket; statements in flight fail with `CONNECTION_DESTROYED`. */
  destroy(error?: unknown): void
}

/** What txkit does with the connection under a reservation, whichever postgres.js it is. */
export interface UnderlyingConnection {
  /** Stops reporting the connection's close: the reservation is given back. */
  forget(): void
  /** Closes the connection underneath (the pool opens another when it needs one). */
  close(): void
}

/** postgres.js 3: the connection `onexecute` was handed. */
export function underlying3(
  connection: PostgresJs3Connection,
  closed: () => void,
): UnderlyingConnection {
  connection.onclose = closed
  return {
    forget: () => {
      connection.onclose = null
    },
    close: () => {
      connection.onclose = null
      connection.terminate()
    },
  }
}

/** postgres.js 4: the connection a query ran on, when it is still the reservation's. */
export function underlying4(
  connection: PostgresJs4Connection,
  closed: () => void,
): UnderlyingConnection | undefined {
  const lease = connection.lease
  if (lease === null || typeof lease?.closed?.then !== 'function') return undefined
  let listening = true
  lease.closed.then(undefined, () => {
    if (listening) closed()
  })
  if (connection.closed) closed()
  return {
    forget: () => {
      listening = false
    },
    close: () => {
      listening = false
      connection.destroy()
    },
  }
}

/** postgres.js 4 queries carry `connection` from their creation on; 3.4's never do. */
export function isPostgresJs4Query<Query extends object>(
  query: Query,
): query is Query & { readonly connection?: unknown } {
  return 'connection' in query
}

/** postgres.js's `sql.listen(channel, onNotify)`. */
export type PostgresJsListen = (
  channel: string,
  onNotify: (payload: string) => void,
) => Promise<{ unlisten(): Promise<unknown> }>
