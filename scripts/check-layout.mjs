#!/usr/bin/env node
// Fails when a folder of src/ imports one it may not (see docs/architecture.md, "Layout"):
// the core and the capabilities never name a vendor; a vendor names only the core and itself.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const CORE = ['driver', 'dialect', 'errors', 'util', 'xid', 'tracing']
const CAPABILITIES = ['commit', 'recovery', 'manager', 'lock', 'runner', 'preflight']
const VENDORS = {
  postgres: ['pg', 'postgres'],
  mysql: ['mysql2', 'mysql2/promise', 'mariadb'],
  sqlite: ['better-sqlite3'],
  mssql: ['mssql'],
  oracle: ['oracledb'],
}
/** Integrations with a tool: they build on the capabilities, never on a database folder. */
const INTEGRATIONS = {
  kysely: ['kysely'],
  drizzle: ['drizzle-orm'],
  knex: ['knex'],
  typeorm: ['typeorm'],
  prisma: [],
}
const APPLICATIONS = ['cli']

/** Folders each folder may import (besides itself), and the packages it may name. */
function allowed(folder) {
  if (CORE.includes(folder)) {
    return { folders: CORE, packages: folder === 'tracing' ? ['@opentelemetry/api'] : [] }
  }
  if (CAPABILITIES.includes(folder)) return { folders: [...CORE, ...CAPABILITIES], packages: [] }
  if (folder in VENDORS) return { folders: CORE, packages: VENDORS[folder] }
  if (folder in INTEGRATIONS) {
    return { folders: [...CORE, ...CAPABILITIES], packages: INTEGRATIONS[folder] }
  }
  if (folder === '.') return { folders: [...CORE, ...CAPABILITIES], packages: [] }
  if (APPLICATIONS.includes(folder)) return 'anything'
  return undefined
}

function files(directory) {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : []
  })
}

/** Import specifiers of a module, comments left out (JSDoc examples name packages freely). */
function specifiers(source) {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  const found = []
  const statements =
    /^\s*(?:import|export)\s+(?:type\s+)?(?:\*\s+as\s+\w+|\*|\{[^}]*\}|\w+(?:\s*,\s*\{[^}]*\})?)\s*from\s+(['"])([^'"]+)\1|^\s*import\s+(['"])([^'"]+)\3/gm
  for (const match of code.matchAll(statements)) found.push(match[2] ?? match[4])
  for (const match of code.matchAll(/\bimport\s*\(\s*(['"])([^'"]+)\1/g)) found.push(match[2])
  return found
}

export function checkLayout(root) {
  const src = resolve(root, 'src')
  const problems = []
  for (const file of files(src)) {
    const path = relative(src, file)
    const folder = path.includes(sep) ? path.split(sep)[0] : '.'
    const rule = allowed(folder)
    if (rule === undefined) {
      problems.push(
        `${path}: folder "${folder}" has no place in the layout (add it to scripts/check-layout.mjs and docs/architecture.md)`,
      )
      continue
    }
    if (rule === 'anything') continue
    for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('node:')) continue
      if (specifier.startsWith('.')) {
        const target = relative(src, resolve(dirname(file), specifier))
        const targetFolder = target.includes(sep) ? target.split(sep)[0] : '.'
        if (targetFolder !== folder && !rule.folders.includes(targetFolder)) {
          problems.push(
            `${path}: imports ${specifier} (${targetFolder}/), which ${folder === '.' ? 'the root entry point' : `${folder}/`} may not import`,
          )
        }
      } else if (!rule.packages.includes(specifier)) {
        problems.push(`${path}: imports the package "${specifier}", which ${folder}/ may not name`)
      }
    }
  }
  return problems
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..')
  const problems = checkLayout(root)
  for (const problem of problems) console.error(`layout: ${problem}`)
  if (problems.length > 0) {
    console.error(`layout: ${problems.length} import(s) break the layout of docs/architecture.md.`)
    process.exit(1)
  }
  console.log('layout: every import follows docs/architecture.md')
}
