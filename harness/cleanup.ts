import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'

/** Servers to kill and directories to remove when the process exits, however it exits. */
const children = new Set<ChildProcess>()
const directories = new Set<string>()
let installed = false

function cleanUpNow(): void {
  for (const child of children) killGroup(child, 'SIGKILL')
  for (const directory of directories) {
    rmSync(directory, { recursive: true, force: true, maxRetries: 3 })
  }
}

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', cleanUpNow)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanUpNow()
      process.exit(130)
    })
  }
}

export function trackChild(child: ChildProcess): void {
  install()
  children.add(child)
  child.once('exit', () => children.delete(child))
}

export function trackDirectory(directory: string): void {
  install()
  directories.add(directory)
}

export function untrackDirectory(directory: string): void {
  directories.delete(directory)
}

/**
 * Signals a server started with `detached: true` and every process of its group, so that no
 * orphaned worker keeps its port or shared memory.
 */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    child.kill(signal)
  }
}
