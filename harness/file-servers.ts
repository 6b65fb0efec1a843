import { after, before } from 'node:test'
import { Fixture } from './fixture.js'
import { stopTestServers, type TestServer, testMariadb, testPostgres } from './test-databases.js'

/** The servers and fixture of one test file. */
export interface FileServers {
  readonly fixture: Fixture
  /** The PostgreSQL server (once the file's `before` hook ran). */
  readonly postgres: TestServer
  /** The MariaDB server; undefined when the machine has none (its tests then skip, loudly). */
  readonly mariadb: TestServer | undefined
}

/**
 * Registers the usual hooks of a test file: find (or start) the servers before its tests, close the
 * fixture's pools and stop the servers after them. `mariadb: false` for files that never use it.
 */
export function serversForFile(options: { readonly mariadb?: boolean } = {}): FileServers {
  const fixture = new Fixture()
  let postgres: TestServer | undefined
  let mariadb: TestServer | undefined
  before(async () => {
    postgres = await testPostgres()
    if (options.mariadb !== false) mariadb = await testMariadb()
  })
  after(async () => {
    await fixture.close()
    await stopTestServers()
  })
  return {
    fixture,
    get postgres() {
      if (postgres === undefined) throw new Error('The servers are ready only inside tests.')
      return postgres
    },
    get mariadb() {
      return mariadb
    },
  }
}
