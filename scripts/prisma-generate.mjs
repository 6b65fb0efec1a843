#!/usr/bin/env node
// Generates the Prisma clients of the tests and examples (each *.prisma under test/prisma and
// examples/prisma, into generated/<schema name>/ beside it), offline. `prisma generate` asks for
// the schema engine (a download from binaries.prisma.sh) although generating a `prisma-client`
// never runs it: a stub stands in for it, and the missing checksum file is allowed. A schema whose
// client is up to date (same schema, same Prisma) is skipped.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))
const prismaCli = require.resolve('prisma/build/index.js')
const prismaVersion = JSON.parse(
  readFileSync(require.resolve('prisma/package.json'), 'utf8'),
).version

const stub = join(mkdtempSync(join(tmpdir(), 'txkit-prisma-')), 'schema-engine-stub.sh')
writeFileSync(
  stub,
  '#!/bin/sh\necho "the schema engine is not installed: generating a client does not need it" >&2\nexit 1\n',
)
chmodSync(stub, 0o755)
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? stub,
  PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING: '1',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1',
}

for (const folder of ['test/prisma', 'examples/prisma']) {
  const directory = join(root, folder)
  if (!existsSync(directory)) continue
  for (const name of readdirSync(directory).filter((file) => file.endsWith('.prisma'))) {
    const schema = join(directory, name)
    const output = join(directory, 'generated', name.replace(/\.prisma$/, ''))
    const stamp = join(output, '.schema-hash')
    const hash = createHash('sha256')
      .update(prismaVersion)
      .update(readFileSync(schema))
      .digest('hex')
    if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) continue
    try {
      execFileSync(process.execPath, [prismaCli, 'generate', '--schema', schema], {
        cwd: root,
        env,
        stdio: 'pipe',
      })
    } catch (error) {
      process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`)
      console.error(`prisma generate failed for ${relative(root, schema)}`)
      process.exit(1)
    }
    writeFileSync(stamp, hash)
    console.log(`generated the Prisma client of ${relative(root, schema)}`)
  }
}
rmSync(dirname(stub), { recursive: true, force: true })
