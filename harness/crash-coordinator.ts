/**
 * A coordinator in a child process, for fault tests: runs one transaction writing a marker row into
 * every database, and kills itself with SIGKILL at the protocol step named in its settings. Prints
 * `ACK <gtrid>` when the commit was acknowledged.
 *
 * Settings come as JSON in TXKIT_CRASH: { databases: [{ name, kind, url }], decisionLog?,
 * decisionDatabases?, protocol,
 * prefix, marker, killAt?: { step, when, index? }, stopAt?: same (SIGSTOP instead), acknowledge? }.
 * With `acknowledge: 'decision'` a kill at a commit step (finished in the background) waits until
 * the commit has been acknowledged: a crash after the caller was told "committed".
 */
import { createCoordinator, type Database, type ProtocolStepEvent } from '../src/index.js'
import { openMysql, openPostgres } from './drivers.js'

export interface CrashPoint {
  readonly step: ProtocolStepEvent['step']
  readonly when: ProtocolStepEvent['when']
  /** The branch index, for prepare and commit steps. */
  readonly index?: number
}

export interface CrashSettings {
  readonly databases: ReadonlyArray<{ name: string; kind: 'postgres' | 'mariadb'; url: string }>
  /** The name of the database (among `databases`) holding the decision log. */
  readonly decisionLog?: string
  /** The names (among `databases`) of the coordinator's `decisionDatabases`. */
  readonly decisionDatabases?: readonly string[]
  /** A decision database that takes no part in the transaction. */
  readonly decisionLogElsewhere?: { name: string; kind: 'postgres' | 'mariadb'; url: string }
  readonly protocol: 'decision' | 'parallel' | 'sequential'
  readonly prefix: string
  readonly marker: string
  /** Statements to run per database instead of the marker insert. */
  readonly statements?: Record<string, Array<{ sql: string; params?: unknown[] }>>
  /** Begin without databases and join each one before using it (the transaction manager's way). */
  readonly open?: boolean
  readonly killAt?: CrashPoint
  readonly stopAt?: CrashPoint
  readonly acknowledge?: 'commit' | 'decision'
  /** The id of one outbox message the transaction sends (decision and parallel protocols). */
  readonly messageId?: string
}

function matches(point: CrashPoint | undefined, event: ProtocolStepEvent): boolean {
  return (
    point !== undefined &&
    point.step === event.step &&
    point.when === event.when &&
    (point.index === undefined || point.index === event.branch?.index)
  )
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.env.TXKIT_CRASH ?? '{}') as CrashSettings
  const databases: Record<string, Database> = {}
  const placeholders: Record<string, string> = {}
  const open = async ({
    name,
    kind,
    url,
  }: {
    name: string
    kind: 'postgres' | 'mariadb'
    url: string
  }) =>
    // The driver under test (TXKIT_TEST_POSTGRES_DRIVER / _MYSQL_DRIVER, inherited from the test).
    kind === 'postgres' ? openPostgres(url, name, 2).db : (await openMysql(url, name, 2)).db
  for (const spec of settings.databases) {
    databases[spec.name] = await open(spec)
    placeholders[spec.name] = spec.kind === 'postgres' ? '$1' : '?'
  }
  const decisionLog = settings.decisionLogElsewhere
    ? await open(settings.decisionLogElsewhere)
    : settings.decisionLog === undefined
      ? undefined
      : databases[settings.decisionLog]
  let acknowledged: () => void = () => undefined
  const afterAcknowledgement = new Promise<void>((resolve) => {
    acknowledged = resolve
  })
  const coordinator = createCoordinator({
    protocol: settings.protocol,
    prefix: settings.prefix,
    ...(decisionLog && { decisionLog }),
    ...(settings.decisionDatabases && {
      decisionDatabases: settings.decisionDatabases.map((name) => databases[name] as Database),
    }),
    ...(settings.acknowledge && { acknowledge: settings.acknowledge }),
    ...(settings.messageId && { outbox: { destinations: { events: { broker: 'rabbitmq' } } } }),
    onStep: async (event) => {
      if (matches(settings.killAt, event)) {
        if (settings.acknowledge === 'decision' && event.step === 'commit')
          await afterAcknowledgement
        process.kill(process.pid, 'SIGKILL')
      }
      if (matches(settings.stopAt, event)) {
        process.stdout.write(`STOPPED ${event.gtrid}\n`)
        process.kill(process.pid, 'SIGSTOP')
      }
    },
  })
  const statementsOf = (name: string) =>
    settings.statements?.[name] ?? [
      { sql: `INSERT INTO marks (tx) VALUES (${placeholders[name]})`, params: [settings.marker] },
    ]
  let gtrid: string
  if (settings.open) {
    const tx = await coordinator.begin()
    for (const [name, database] of Object.entries(databases)) {
      const branch = await tx.join(name, database)
      for (const { sql, params } of statementsOf(name)) await branch.query(sql, params)
    }
    if (settings.messageId) tx.outbox.send('events', settings.marker, { id: settings.messageId })
    await tx.commit()
    gtrid = tx.gtrid
  } else {
    gtrid = await coordinator.transaction(databases, async (branches, tx) => {
      for (const [name, branch] of Object.entries(branches)) {
        for (const { sql, params } of statementsOf(name)) await branch.query(sql, params)
      }
      if (settings.messageId) tx.outbox.send('events', settings.marker, { id: settings.messageId })
      return tx.gtrid
    })
  }
  process.stdout.write(`ACK ${gtrid}\n`)
  acknowledged()
  await coordinator.close()
  process.exit(0)
}

main().catch((error: unknown) => {
  process.stdout.write(`ERROR ${String(error)}\n`)
  process.exit(3)
})
