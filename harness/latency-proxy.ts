import { connect, createServer, type Server, type Socket } from 'node:net'
import { PostgresRoundTrips } from './postgres-round-trips.js'

export interface LatencyProxyOptions {
  /**
   * 'postgres': round trips are read from the PostgreSQL protocol's messages (see
   * harness/postgres-round-trips.ts), whatever the timing of the chunks that carry them.
   */
  readonly protocol?: 'postgres'
}

/**
 * A TCP proxy on 127.0.0.1 that delays every chunk by `delayMs` in each direction, so that network
 * round trips cost on one machine what they cost between machines.
 */
export class LatencyProxy {
  readonly port: number
  readonly #server: Server
  readonly #sockets: Set<Socket>
  readonly #counts: { requests: number; postgres: PostgresRoundTrips[] | undefined }

  private constructor(
    server: Server,
    port: number,
    sockets: Set<Socket>,
    counts: { requests: number; postgres: PostgresRoundTrips[] | undefined },
  ) {
    this.#server = server
    this.port = port
    this.#sockets = sockets
    this.#counts = counts
  }

  /**
   * Round trips so far, over every connection. With `protocol: 'postgres'`, from the protocol's
   * messages: a client message sent while none of its requests is in flight begins one. Otherwise
   * from the chunks: each time a client sends after the server last spoke (or first), one more; a
   * pipelined message travelling with the previous one is not one.
   */
  get roundTrips(): number {
    const { postgres } = this.#counts
    return postgres === undefined
      ? this.#counts.requests
      : postgres.reduce((sum, connection) => sum + connection.count, 0)
  }

  static async start(
    targetPort: number,
    delayMs: number,
    options: LatencyProxyOptions = {},
  ): Promise<LatencyProxy> {
    const sockets = new Set<Socket>()
    const counts = {
      requests: 0,
      postgres: options.protocol === 'postgres' ? ([] as PostgresRoundTrips[]) : undefined,
    }
    const server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1')
      const messages = counts.postgres && new PostgresRoundTrips()
      if (messages) counts.postgres?.push(messages)
      let clientSpokeLast = false
      client.on('data', (chunk: Buffer) => {
        if (!clientSpokeLast) counts.requests += 1
        clientSpokeLast = true
        messages?.client(chunk)
      })
      upstream.on('data', () => {
        clientSpokeLast = false
      })
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.setNoDelay(true)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      const relay = (from: Socket, to: Socket, delivered?: (chunk: Buffer) => void) => {
        from.on('data', (chunk: Buffer) => {
          setTimeout(() => {
            if (!to.writable) return
            to.write(chunk)
            delivered?.(chunk)
          }, delayMs)
        })
        from.on('end', () => setTimeout(() => to.end(), delayMs))
      }
      relay(client, upstream)
      // The server's answers count once the client can read them.
      relay(upstream, client, messages && ((chunk) => messages.server(chunk)))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address !== 'object') throw new Error('proxy did not bind')
    return new LatencyProxy(server, address.port, sockets, counts)
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}
