import { createServer, type Server } from 'node:http'
import { UsageError } from './usage-error.js'

/** What a metrics server answers: `/metrics`, and `/healthz` where the command has a health. */
export interface MetricsEndpoints {
  readonly metrics: () => string
  /** Healthy or not, and the 503's explanation. */
  readonly health?: () => { readonly healthy: boolean; readonly reason: string }
}

/**
 * Serves `/metrics` (Prometheus text) and, with `health`, `/healthz` on `host:port` (default
 * 127.0.0.1); anything else is 404.
 *
 * @example
 * ```ts
 * const server = await serveMetrics(9464, undefined, { metrics: () => relayMetricsText(relay.metrics) })
 * ```
 */
export function serveMetrics(
  port: number,
  host: string | undefined,
  endpoints: MetricsEndpoints,
): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      response.end(endpoints.metrics())
    } else if (request.url === '/healthz' && endpoints.health !== undefined) {
      const { healthy, reason } = endpoints.health()
      response.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' })
      response.end(healthy ? 'ok\n' : `${reason}\n`)
    } else {
      response.writeHead(404)
      response.end()
    }
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host ?? '127.0.0.1', () => resolve(server))
  })
}

/**
 * `--metrics-port`'s value as a port number, undefined without it.
 *
 * @throws UsageError for anything but a port number.
 */
export function metricsPort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const port = Number(value)
  if (!(value.trim() !== '' && Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new UsageError('--metrics-port takes a port number.')
  }
  return port
}

/** The port a server listens on (the one the system chose for port 0). */
export function listeningPort(server: Server, asked: number): number {
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : asked
}
