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
