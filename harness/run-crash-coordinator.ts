import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { CrashSettings } from './crash-coordinator.js'

const script = fileURLToPath(new URL('./crash-coordinator.js', import.meta.url))

/** What became of a coordinator child: its output, and how it ended. */
export interface CrashRun {
  readonly output: string
  readonly signal: NodeJS.Signals | null
  readonly code: number | null
  /** The gtrid the child saw acknowledged, if it lived to print it. */
  readonly acknowledged: string | undefined
}

/** Runs one transaction in a child process that dies (or stops) where `settings` says. */
export function runCrashCoordinator(settings: CrashSettings): Promise<CrashRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, TXKIT_CRASH: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      resolve({ output, code, signal, acknowledged: /^ACK (\S+)/m.exec(output)?.[1] })
    })
  })
}

/**
 * Leaves one `decision` transaction in doubt over two PostgreSQL databases: its coordinator is
 * killed right after the decision, so the decision database has committed and the other branch is
 * prepared.
 */
export async function leaveInDoubt(settings: {
  readonly decision: { readonly name: string; readonly url: string }
  readonly other: { readonly name: string; readonly url: string }
  readonly prefix: string
  readonly marker: string
}): Promise<void> {
  const run = await runCrashCoordinator({
    databases: [
      { name: settings.decision.name, kind: 'postgres', url: settings.decision.url },
      { name: settings.other.name, kind: 'postgres', url: settings.other.url },
    ],
    decisionLog: settings.decision.name,
    protocol: 'decision',
    prefix: settings.prefix,
    marker: settings.marker,
    killAt: { step: 'decision', when: 'after' },
  })
  if (run.signal !== 'SIGKILL') throw new Error(`the coordinator was not killed: ${run.output}`)
}
