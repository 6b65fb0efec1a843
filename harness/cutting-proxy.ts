import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy that forwards everything until the client sends a chunk containing `trigger`; it
 * forwards that chunk to the server, then cuts both connections, so the statement may run while its
 * sender never hears back: a connection lost mid-statement, on purpose.
 */
export class CuttingProxy {
  readonly port: number
  readonly #server: Server
  readonly #sockets: Set<Socket>
  #trigger: string | undefined
  /** How many connections were cut. */
  cuts = 0
  /** How many chunks the clients sent that reached the server. */
  forwarded = 0

  private constructor(server: Server, port: number, sockets: Set<Socket>) {
    this.#server = server
    this.port = port
    this.#sockets = sockets
  }

  /** Arms the proxy: the next client chunk containing `trigger` is delivered, then the line is cut. */
  cutAfter(trigger: string | undefined): void {
    this.#trigger = trigger
  }

  static async start(targetPort: number): Promise<CuttingProxy> {
    const sockets = new Set<Socket>()
    let proxy: CuttingProxy | undefined
    const server = createServer((client) => {
      const upstream = upstreamOf(client, targetPort, sockets)
      client.on('data', (chunk) => {
        if (proxy?.partitioned) return
        const trigger = proxy?.trigger
        upstream.write(chunk)
        if (proxy) proxy.forwarded++
        if (trigger !== undefined && chunk.includes(trigger) && proxy) {
          proxy.cutAfter(undefined)
          proxy.cuts++
          // Let the statement reach the server, then drop the client's side before any answer.
          client.destroy()
          upstream.end()
        }
      })
      upstream.on('data', (chunk) => !proxy?.partitioned && client.writable && client.write(chunk))
      client.on('end', () => upstream.end())
      upstream.on('end', () => client.end())
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address !== 'object') throw new Error('proxy did not bind')
    proxy = new CuttingProxy(server, address.port, sockets)
    return proxy
  }

  /**
   * While true, bytes are dropped both ways and no connection is closed: a network partition, where
   * neither side hears from the other and neither is told.
   */
  partitioned = false

  get trigger(): string | undefined {
    return this.#trigger
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

/**
 * Opens the server side of a proxied `client`: both sockets are kept in `sockets` while open, and
 * an error on either drops both.
 */
export function upstreamOf(client: Socket, targetPort: number, sockets: Set<Socket>): Socket {
  const upstream = connect(targetPort, '127.0.0.1')
  for (const socket of [client, upstream]) {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {
      client.destroy()
      upstream.destroy()
    })
  }
  return upstream
}
