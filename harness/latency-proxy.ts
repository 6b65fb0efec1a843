import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 that delays every chunk by `delayMs` in each direction, so that network
 * round trips cost on one machine what they cost between machines.
 */
export class LatencyProxy {
  readonly port: number
  readonly #server: Server
  readonly #sockets: Set<Socket>
  readonly #counts: { requests: number }

  private constructor(
    server: Server,
    port: number,
    sockets: Set<Socket>,
    counts: { requests: number },
  ) {
    this.#server = server
    this.port = port
    this.#sockets = sockets
    this.#counts = counts
  }

  /**
   * Round trips so far, over every connection: each time a client sends after the server last
   * spoke (or first), one more. A pipelined message travelling with the previous one is not one.
   */
  get roundTrips(): number {
    return this.#counts.requests
  }

  static async start(targetPort: number, delayMs: number): Promise<LatencyProxy> {
    const sockets = new Set<Socket>()
    const counts = { requests: 0 }
    const server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1')
      let clientSpokeLast = false
      client.on('data', () => {
        if (!clientSpokeLast) counts.requests += 1
        clientSpokeLast = true
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
      const relay = (from: Socket, to: Socket) => {
        from.on('data', (chunk) => {
          setTimeout(() => to.writable && to.write(chunk), delayMs)
        })
        from.on('end', () => setTimeout(() => to.end(), delayMs))
      }
      relay(client, upstream)
      relay(upstream, client)
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
