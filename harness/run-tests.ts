/**
 * `npm test`: every test file over each driver of its database, as Kysely runs its tests over each
 * dialect. Pass 1 reaches PostgreSQL through node-postgres and MariaDB through mysql2; pass 2
 * through postgres.js and the mariadb connector. Files that never open a database through a
 * driver (the SQL lexer, recorded SQL, the package, the README) run in the first pass only. Each
 * file has a time limit (harness/test-plan.ts): 180 s, or what its work is sized at (the soak test's
 * TXKIT_SOAK_SECONDS, the crash matrix's bounded tests).
 * Arguments after `--` are test files, by name or path, or patterns with `*` (default: every file
 * under build/test, whose folders mirror src/'s).
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { selectFiles, testFiles, testPlan } from './test-plan.js'

const directory = join('build', 'test')
const paths = testFiles(directory)
const files = selectFiles([...paths.keys()], process.argv.slice(2))

let failed = false
for (const [index, pass] of testPlan(files).entries()) {
  const count = pass.runs.reduce((sum, run) => sum + run.files.length, 0)
  console.log(`\n# pass ${index + 1}: ${pass.label} (${count} files)`)
  for (const run of pass.runs) {
    if (pass.runs.length > 1) {
      console.log(`# ${run.files.length} files, ${run.timeoutMs / 1000} s each at most`)
    }
    const result = spawnSync(
      process.execPath,
      [
        '--test',
        '--test-concurrency=1',
        `--test-timeout=${run.timeoutMs}`,
        ...run.files.map((file) => join(directory, paths.get(file) ?? file)),
      ],
      { stdio: 'inherit', env: { ...process.env, ...pass.drivers } },
    )
    if (result.status !== 0) {
      failed = true
      console.log(`# pass ${index + 1} (${pass.label}) FAILED`)
    }
  }
}
process.exit(failed ? 1 : 0)
