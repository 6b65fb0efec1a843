import { randomInt } from 'node:crypto'
import { ConfigurationError } from '../errors/configuration-error.js'
import {
  defineOutbox,
  type OutboxDefinition,
  type OutboxOptions,
} from '../message/outbox-options.js'
import { checkAcknowledge } from '../protocol/acknowledge.js'
import type { Acknowledge } from '../protocol/commit-result.js'
import type { ProtocolStepObserver } from '../protocol/protocol-step.js'
import { decisionDatabasesOf } from '../records/decision-databases.js'
import { type DecisionLog, decisionLogOf } from '../records/decision-log.js'
import { DEFAULT_FENCE_TABLE, FenceTable } from '../records/fence-table.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { type Logger, silentLogger } from '../util/logger.js'
import { writerDecisionLogTag } from '../xid/decision-log-tag.js'
import { DEFAULT_PREFIX, validatePrefix } from '../xid/deployment-prefix.js'
import type { CommitProtocolName } from '../xid/xid.js'
import {
  COORDINATOR_OPTIONS,
  type CoordinatorOptions,
  DEFAULT_MAX_BACKGROUND_COMMITS,
  ONE_HOUR_MS,
  PROTOCOL_NAMES,
} from './coordinator-options.js'
import type { DatabaseGroup } from './database-group.js'

/** A coordinator's options, checked, with their defaults. */
export interface CoordinatorSettings {
  readonly prefix: string
  readonly protocol: CommitProtocolName
  readonly logger: Logger
  readonly onStep: ProtocolStepObserver | undefined
  readonly maxTransactionDuration: number
  readonly acknowledge: Acknowledge
  readonly maxBackgroundCommits: number
  readonly decisionLog: DecisionLog | undefined
  readonly decisionDatabases: readonly DecisionLog[]
  /** The decision databases by identity: a transaction's decision goes to one it takes part in. */
  readonly holders: ReadonlyMap<string, DecisionLog>
  /** Where parallel transactions fence their branches; parallel protocol only. */
  readonly fences: FenceTable | undefined
  readonly outbox: OutboxDefinition | undefined
}

/**
 * Checks `createCoordinator()`'s options.
 *
 * @throws ConfigurationError on an invalid option, or a protocol without what it needs.
 * @example
 * ```ts
 * coordinatorSettings({ decisionLog: orders }).protocol // 'decision'
 * ```
 */
export function coordinatorSettings(options: CoordinatorOptions): CoordinatorSettings {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('createCoordinator() needs an options object.')
  }
  checkOptionNames(options, COORDINATOR_OPTIONS, 'createCoordinator()')
  const prefix = validatePrefix(options.prefix ?? DEFAULT_PREFIX)
  const protocol = options.protocol ?? 'decision'
  if (!PROTOCOL_NAMES.includes(protocol)) {
    throw new ConfigurationError(
      `Unknown protocol ${describeValue(protocol)}: use "decision" (the default), "parallel" or "sequential".`,
    )
  }
  const logger = options.logger ?? silentLogger
  const duration = options.maxTransactionDuration ?? ONE_HOUR_MS
  if (!Number.isFinite(duration) || duration <= 0) {
    throw new ConfigurationError(
      `maxTransactionDuration must be a positive number of milliseconds, not ${String(duration)}.`,
    )
  }
  const acknowledge = checkAcknowledge(options.acknowledge ?? 'commit', protocol)
  const maxBackground = options.maxBackgroundCommits ?? DEFAULT_MAX_BACKGROUND_COMMITS
  if (!Number.isInteger(maxBackground) || maxBackground < 0) {
    throw new ConfigurationError(
      `maxBackgroundCommits must be a whole number of commits (0 or more), not ${describeValue(maxBackground)}.`,
    )
  }
  const decisionLog = decisionLogOf(options.decisionLog, logger)
  const decisionDatabases = decisionDatabasesOf(
    options.decisionDatabases,
    decisionLog,
    protocol,
    logger,
  )
  if (decisionLog === undefined && decisionDatabases.length === 0 && protocol !== 'sequential') {
    throw new ConfigurationError(
      `The ${protocol} protocol needs a decision log: pass decisionLog: <one of your databases> ` +
        '(create its table once with coordinator.createDecisionLog()), or choose protocol: "sequential".',
    )
  }
  // Every decision id names its log: checked to fit an id once, here.
  if (protocol !== 'sequential') {
    for (const log of [decisionLog, ...decisionDatabases]) {
      if (log !== undefined) writerDecisionLogTag(log.database.name, log.tableText)
    }
  }
  if (options.fenceTable !== undefined && protocol !== 'parallel') {
    throw new ConfigurationError(
      `fenceTable is used by the parallel protocol only; this coordinator runs the ${protocol} protocol.`,
    )
  }
  const fences =
    protocol === 'parallel'
      ? new FenceTable(options.fenceTable ?? DEFAULT_FENCE_TABLE, logger)
      : undefined
  return {
    prefix,
    protocol,
    logger,
    onStep: options.onStep,
    maxTransactionDuration: duration,
    acknowledge,
    maxBackgroundCommits: maxBackground,
    decisionLog,
    decisionDatabases,
    holders: new Map(decisionDatabases.map((log) => [log.database.identity, log])),
    fences,
    outbox: outboxOf(options.outbox, protocol),
  }
}

function outboxOf(
  options: OutboxOptions | undefined,
  protocol: CommitProtocolName,
): OutboxDefinition | undefined {
  if (options === undefined) return undefined
  if (protocol === 'sequential') {
    throw new ConfigurationError(
      'The outbox needs the decision or the parallel protocol: a sequential transaction can end split under a stalled coordinator, and its messages with it.',
    )
  }
  return defineOutbox(options, 'createCoordinator()')
}

/**
 * Where a transaction over `groups` records its decision: with decision databases, one of its
 * own participants among them (at random, to spread the load), else the decision log.
 */
export function decisionLogFor(
  settings: CoordinatorSettings,
  groups: readonly DatabaseGroup[],
  open: boolean,
): DecisionLog | undefined {
  const { decisionLog, holders: byIdentity } = settings
  if (byIdentity.size === 0 || settings.protocol !== 'decision') return decisionLog
  if (open) {
    if (decisionLog === undefined) {
      throw new ConfigurationError(
        "An open transaction (begin() without databases, or the transaction manager's) records its decision before its participants are known: " +
          'give the coordinator a decisionLog for these transactions too (decisionDatabases serve the others).',
      )
    }
    return decisionLog
  }
  const holders = groups
    .map((group) => byIdentity.get(group.database.identity))
    .filter((log): log is DecisionLog => log !== undefined)
  if (holders.length > 0) return holders[randomInt(holders.length)]
  if (decisionLog === undefined && groups.length > 1) {
    throw new ConfigurationError(
      `None of this transaction's databases (${groups.map((group) => `"${group.database.name}"`).join(', ')}) is among decisionDatabases, ` +
        'and the coordinator has no decisionLog for such transactions: list one of them in decisionDatabases (and create its table), or pass decisionLog.',
    )
  }
  return decisionLog
}
