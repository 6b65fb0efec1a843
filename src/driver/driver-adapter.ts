/*
 * The roles every driver of a database plays, each in its own file of the driver's sub-folder
 * `src/<db>/drivers/<driver>/` (`<driver>-<role>.ts`; a role a driver lacks is a missing file):
 *
 * - connection: a `DriverConnection` over one of the driver's sessions (`driver-connection.ts`);
 * - guard: `DriverConnection.guarded`, the session as a branch hands it to user code;
 * - identity: a `PoolIdentity`, where the pool's connections go (`connection-identity.ts`);
 * - url-driver: a `UrlDriver` opening pools for connection URLs (`url-driver.ts`);
 * - database: the pool wrapped as a txkit `Database` (`database.ts`);
 * - session: a session the caller holds, for the runner (`held-session.ts`);
 * - adapter: a {@link DriverAdapter}, what tool integrations may know of the driver.
 */

/**
 * What a tool integration may know of a driver, told by the driver itself: how to recognise its
 * pools and connections, how to check a session out, what it answers for a statement that did
 * nothing, and how each tool names it. Each driver's sub-folder (`src/<db>/drivers/<driver>/`)
 * implements one, carried by the databases it builds (`Database.driver`) and registered with
 * `registerDriverAdapter`; integrations ask it instead of naming drivers themselves.
 */
export interface DriverAdapter {
  /** The driver's name in messages (`node-postgres`, `mysql2`); integrations never compare it. */
  readonly name: string
  /** The driver's package, as a tool's option names it (Knex's `client: 'pg'`). */
  readonly packageName: string
  /** The txkit function that wraps its pool, for messages (`pgDatabase`). */
  readonly databaseFactory: string
  /** The txkit entry point that exports it, for messages (`txkit/node-postgres`). */
  readonly entry: string
  /** The tools that drive this driver, by the tool's name in messages (`Drizzle`, `Knex`). */
  readonly tools: Readonly<Record<string, ToolDriver>>
  /** Present where a tool can be given this driver's pool in place of the real one. */
  readonly pool?: PoolAdapter
  /** Present where tools drive this driver's connections in its callback form (Knex, TypeORM). */
  readonly callback?: CallbackAdapter
}

/** How one tool knows a driver. */
export interface ToolDriver {
  /** The tool's driver or adapter, in the tool's terms for messages (`Drizzle's mysql2 driver`). */
  readonly label: string
  /**
   * The values of the tool's own option that select this driver (Knex's client `dialect`,
   * TypeORM's `type`), where the tool has such an option.
   */
  readonly dialects?: readonly string[]
}

/** The driver's pool as a tool uses it, for a pool that runs queries on a txkit branch. */
export interface PoolAdapter {
  /** True for a pool of this driver. */
  isPool(value: unknown): boolean
  /** True for a connection of this driver, as a branch hands it out. */
  isConnection(value: unknown): boolean
  /** The pool's method that checks a session out (`connect`, `getConnection`). */
  readonly checkout: string
  /** The methods of its pools and sessions that run a statement (`query`, `execute`). */
  readonly statements: readonly string[]
  /** What its promise API answers for a statement that changed nothing. */
  nothingDone(): unknown
}

/** The driver's connection in callback form, as Knex and TypeORM drive it. */
export interface CallbackAdapter {
  /**
   * The connection a callback-form tool drives under a branch's connection `raw` (the same object
   * for node-postgres, mysql2's callback connection under its promise one); undefined when `raw`
   * is not this driver's.
   */
  connectionOf(raw: unknown): Record<string, unknown> | undefined
  /**
   * True where that connection sits under the promise connection and answers promises through its
   * own `promise()` (mysql2); false where one object answers both forms (node-postgres).
   */
  readonly wrapped: boolean
  /** The arguments after `null` a callback is given for a statement that changed nothing. */
  nothingDone(): readonly unknown[]
  /** What the promise form answers for a statement that changed nothing. */
  promiseNothingDone(): unknown
}
