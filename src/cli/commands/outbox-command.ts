import type { OutboxState } from '../../dialect/outbox-store-dialect.js'
import {
  collectOutboxGarbage,
  listOutbox,
  outboxCounts,
  replayOutbox,
} from '../../relay/outbox-admin.js'
import { COMMON, DATABASE_HELP, TIMEOUT_HELP } from '../cli-options.js'
import type { Command, CommandContext } from '../command.js'
import { parseDuration } from '../duration.js'
import { EXIT } from '../exit-codes.js'
import { out } from '../output.js'
import { UsageError } from '../usage-error.js'

/** `txkit outbox status|list|replay|gc`: the outbox's messages, seen and repaired. */
export const outboxCommand: Command = {
  name: 'outbox',
  help: `Usage: txkit outbox status --db NAME=URL [--db …] [--table T] [--json]
       txkit outbox list   --db NAME=URL [--state pending|delivered|dead] [--id ID] [--limit N]
       txkit outbox replay --db NAME=URL (--id ID [--id …] | --all-dead)
       txkit outbox gc     --db NAME=URL [--older-than 7d]

status  messages pending, delivered and dead in each database, and the oldest pending one's
        age. Exit code 1 when any message is dead (it needs a person: replay it or drop it).
list    messages (without their bodies), oldest first, with their tries and last error.
replay  dead messages back to pending, their tries reset: the relay publishes them again.
gc      deletes delivered messages published longer ago than --older-than, and key rows with
        no pending message untouched as long. Dead messages stay.

${DATABASE_HELP}
${TIMEOUT_HELP}
  --table NAME           the outbox table, or schema.table (default txkit_outbox)
  --state S              list: only pending, delivered or dead messages
  --id ID                list: that message; replay: that dead message (repeat for each)
  --limit N              list: at most N messages per database (default 100)
  --all-dead             replay: every dead message
  --older-than D         gc: the retention (default 7d; 0 deletes every delivered message)
  --json                 print JSON instead of text`,
  options: new Set([...COMMON, 'table', 'state', 'id', 'limit', 'all-dead', 'older-than']),
  positionals: true,
  run: outbox,
}

const STATES = new Set(['pending', 'delivered', 'dead'])
const ONLY: Readonly<Record<string, readonly string[]>> = {
  status: [],
  list: ['state', 'id', 'limit'],
  replay: ['id', 'all-dead'],
  gc: ['older-than'],
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`
}

async function outbox({ values, positionals, connected }: CommandContext): Promise<number> {
  const [action, ...extra] = positionals
  if (action === undefined || !(action in ONLY) || extra.length > 0) {
    throw new UsageError('txkit outbox takes one of status, list, replay, gc.')
  }
  const allowed = ONLY[action] ?? []
  for (const name of ['state', 'id', 'limit', 'all-dead', 'older-than']) {
    if (values[name as keyof typeof values] !== undefined && !allowed.includes(name)) {
      throw new UsageError(`txkit outbox ${action} does not take --${name}.`)
    }
  }
  const table = values.table === undefined ? {} : { table: values.table }
  const json = values.json === true
  if (action === 'status') {
    const rows = []
    for (const { database } of connected) {
      rows.push({ database: database.name, ...(await outboxCounts(database, table)) })
    }
    if (json) out(JSON.stringify({ databases: rows }))
    for (const row of json ? [] : rows) {
      out(
        `${row.database}: ${row.pending} pending${row.pending > 0 ? ` (oldest ${seconds(row.oldestPendingAgeMs)})` : ''}, ${row.delivered} delivered, ${row.dead} dead`,
      )
    }
    return rows.some((row) => row.dead > 0) ? EXIT.failed : EXIT.done
  }
  if (action === 'list') {
    const state = values.state
    if (state !== undefined && !STATES.has(state)) {
      throw new UsageError('--state takes pending, delivered or dead.')
    }
    const limit = values.limit === undefined ? 100 : Number(values.limit)
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError('--limit takes a number.')
    const ids = values.id ?? []
    if (ids.length > 1) throw new UsageError('txkit outbox list takes one --id.')
    const listed = []
    for (const { database } of connected) {
      const messages = await listOutbox(database, {
        ...table,
        limit,
        ...(state !== undefined && { state: state as OutboxState }),
        ...(ids[0] !== undefined && { id: ids[0] }),
      })
      listed.push(...messages.map((message) => ({ database: database.name, ...message })))
    }
    if (json) out(JSON.stringify({ messages: listed }))
    else if (listed.length === 0) out('No messages.')
    for (const each of json ? [] : listed) {
      out(
        `${each.database} ${each.id} ${each.state} → ${each.destination}${each.key === null ? '' : ` key=${each.key}#${each.keySeq}`} tries=${each.attempts} age=${seconds(each.ageMs)} ${each.bodyBytes}B${each.lastError === null ? '' : ` error=${JSON.stringify(each.lastError)}`}`,
      )
    }
    return EXIT.done
  }
  if (action === 'replay') {
    const ids = values.id
    if ((ids === undefined) === (values['all-dead'] !== true)) {
      throw new UsageError('txkit outbox replay takes --id ID (repeatable) or --all-dead.')
    }
    const replayed = []
    for (const { database } of connected) {
      const count = await replayOutbox(database, {
        ...table,
        ...(ids === undefined ? { all: true } : { ids }),
      })
      replayed.push({ database: database.name, replayed: count })
    }
    if (json) out(JSON.stringify({ databases: replayed }))
    for (const each of json ? [] : replayed) {
      out(`${each.database}: ${each.replayed} dead message(s) pending again.`)
    }
    return EXIT.done
  }
  const retention = parseDuration(values['older-than'] ?? '7d', '--older-than')
  const collected = []
  for (const { database } of connected) {
    collected.push({
      database: database.name,
      ...(await collectOutboxGarbage(database, { ...table, retention })),
    })
  }
  if (json) out(JSON.stringify({ databases: collected }))
  for (const each of json ? [] : collected) {
    out(
      `${each.database}: deleted ${each.deleted} delivered message(s) and ${each.keysDeleted} idle key(s).`,
    )
  }
  return EXIT.done
}
