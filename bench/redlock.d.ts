/** The part of redlock 4 (which ships no types) the lock benchmark uses. */
declare module 'redlock' {
  interface RedlockLock {
    unlock(): Promise<void>
  }
  export default class Redlock {
    constructor(clients: unknown[], options?: { retryCount?: number; retryDelay?: number })
    lock(resource: string, ttlMs: number): Promise<RedlockLock>
  }
}
