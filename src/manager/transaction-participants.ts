import type { Coordinator } from '../commit/coordinator.js'
import type { DistributedTransaction } from '../commit/distributed-transaction.js'
import type { Database } from '../database/database.js'
import type { UrlDriver } from '../database/url-driver.js'
import type { BranchHandle } from '../protocol/branch.js'
import { resourceDatabase, type TransactionResource } from './resource-database.js'
import { UrlConnections } from './url-connections.js'

/**
 * What one managed transaction commits: the two-phase engine, begun when the first database joins
 * (so a transaction that joins nothing begins nothing), the connections it opened for connection
 * strings, and the user-written resources that joined.
 *
 * @example
 * ```ts
 * const participants = new TransactionParticipants(coordinator, [nodePostgresUrls])
 * const orders = await participants.join('orders', ordersDb)
 * ```
 */
export class TransactionParticipants {
  readonly #coordinator: Coordinator
  #engine: Promise<DistributedTransaction> | undefined
  #gtrid: string | undefined
  readonly #resources = new Map<string, Promise<BranchHandle>>()
  readonly #joinedResources: TransactionResource[] = []
  /** Pools opened for connection strings, by string: one connection each, closed at the end. */
  readonly #urlConnections: UrlConnections

  constructor(coordinator: Coordinator, urlDrivers: readonly UrlDriver[]) {
    this.#urlConnections = new UrlConnections(urlDrivers)
    this.#coordinator = coordinator
  }

  /** The global transaction id, once the engine has begun. */
  get gtrid(): string | undefined {
    return this.#gtrid
  }

  /** The engine, begun on first use. */
  engine(): Promise<DistributedTransaction> {
    this.#engine ??= this.#coordinator.begin().then((engine) => {
      this.#gtrid = engine.gtrid
      return engine
    })
    return this.#engine
  }

  /** The engine if it was asked for: rejects as its begin did. */
  get begun(): Promise<DistributedTransaction> | undefined {
    return this.#engine
  }

  /** The engine if it was asked for and began; undefined otherwise. */
  settled(): Promise<DistributedTransaction | undefined> | undefined {
    return this.#engine?.catch(() => undefined)
  }

  /** Opens `database`'s branch in the engine the first time; the same branch after. */
  async join<Raw>(name: string, database: Database<Raw>): Promise<BranchHandle<Raw>> {
    return (await this.engine()).join(name, database)
  }

  /** The database at a connection string, opened on first use; `join` it to take part. */
  openUrl(url: string, name: string | undefined): Promise<Database> {
    return this.#urlConnections.open(url, name)
  }

  /** Joins `resource` through `join`, once per `sortKey`. */
  async joinResource(
    resource: TransactionResource,
    join: (name: string, database: Database) => Promise<BranchHandle>,
  ): Promise<void> {
    let joining = this.#resources.get(resource?.sortKey)
    if (joining === undefined) {
      const database = resourceDatabase(resource)
      joining = join(database.name, database)
      this.#resources.set(resource.sortKey, joining)
      this.#joinedResources.push(resource)
    }
    await joining
  }

  /** The user-written resources that joined. */
  get resources(): readonly TransactionResource[] {
    return this.#joinedResources
  }

  /** Closes the connections opened for connection strings: the transaction has ended. */
  closeConnections(): Promise<void> {
    return this.#urlConnections.closeAll()
  }
}
