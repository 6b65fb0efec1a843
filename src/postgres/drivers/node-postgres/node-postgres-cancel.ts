import { connect } from 'node:net'

/** What node-postgres keeps of a session that a cancel request needs (set once connected). */
export interface PgCancelTarget {
  readonly processID?: number | null
  readonly secretKey?: number | null
  readonly host?: string
  readonly port?: number
}

const CANCEL_REQUEST_CODE = 80877102

/**
 * Sends PostgreSQL's cancel request for the session's running statement, on a new socket as libpq
 * does: it needs no pooled connection (all of them may be waiting on locks) and no login. The
 * server answers by closing the socket; the cancelled statement fails with SQLSTATE 57014.
 */
export function sendPgCancel(target: PgCancelTarget, timeoutMs = 5000): Promise<void> {
  const { processID, secretKey, host = 'localhost', port = 5432 } = target
  if (typeof processID !== 'number' || typeof secretKey !== 'number') {
    return Promise.reject(new Error('This PostgreSQL session has no cancel key (not connected).'))
  }
  return new Promise((resolve, reject) => {
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host)
    const packet = Buffer.alloc(16)
    packet.writeInt32BE(16, 0)
    packet.writeInt32BE(CANCEL_REQUEST_CODE, 4)
    packet.writeInt32BE(processID, 8)
    packet.writeInt32BE(secretKey, 12)
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('The cancel request timed out.')))
    socket.once('connect', () => socket.end(packet))
    socket.once('error', reject)
    socket.once('close', (hadError) => {
      if (!hadError) resolve()
    })
    socket.resume()
  })
}
