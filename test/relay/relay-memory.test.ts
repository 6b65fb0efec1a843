/**
 * A relay started on 100,000 pending messages stays under 256 MB of resident memory: it never
 * holds more than a batch. PostgreSQL only (the bound comes from the relay, not the database).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { serversForFile } from '../../harness/file-servers.js'
import { createOutboxTables } from '../../src/index.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers
const COUNT = 100_000

test('a relay on 100,000 pending messages publishes them all under 256 MB', async () => {
  const url = await servers.postgres.createDatabase()
  const { pool, db } = fixture.pg(url, 'm')
  await createOutboxTables(db)
  // Half keyed (50 keys, 1,000 each, in position order), half without a key; 500-byte bodies.
  await pool.query(
    `INSERT INTO txkit_outbox (id, destination, message_key, headers, body, content_type)
SELECT 'm-' || g, 'orders',
  CASE WHEN g % 2 = 0 THEN 'k' || (g % 100) END,
  '{}', convert_to(repeat('x', 500), 'UTF8'), 'application/json'
FROM generate_series(0, $1 - 1) AS g`,
    [COUNT],
  )
  const child = fileURLToPath(new URL('./relay-memory-child.js', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [child, url, String(COUNT)], {
    timeout: 170_000,
  })
  const result = JSON.parse(stdout) as { published: number; peakMb: number }
  console.log(`# relay peak RSS ${result.peakMb.toFixed(0)} MB for ${result.published} messages`)
  assert.equal(result.published, COUNT)
  assert.ok(result.peakMb < 256, `peak RSS ${result.peakMb} MB`)
  const { rows } = await pool.query("SELECT count(*)::int AS n FROM txkit_outbox WHERE state = 'D'")
  assert.equal(rows[0]?.n, COUNT)
})
