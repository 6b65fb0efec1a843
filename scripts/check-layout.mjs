#!/usr/bin/env node
// Fails when src/ breaks the layout of docs/architecture.md ("Layout"):
// - a folder imports only itself and strictly lower layers (a same-layer sibling or a higher layer
//   is a back-edge); vendors import only layers 1–6; nothing but cli/ imports a
//   vendor; each folder names only its own npm packages;
// - no import cycle between files (type-only imports and import() included);
// - no file over MAX_LINES lines;
// - no string in a capability or an integration names a database or a driver (that text comes from
//   the vendor side: the dialect or driver adapter the capability is given);
// - every folder has a place in the layout.
// scripts/layout-report.mjs prints the same findings as numbers for any tree.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Layers, low to high: a folder imports itself and strictly lower layers only. */
export const LAYERS = {
  errors: 1,
  util: 2,
  xid: 3,
  tracing: 3,
  driver: 4,
  dialect: 5,
  database: 6,
  message: 7,
  records: 7,
  lock: 8,
  preflight: 8,
  protocol: 9,
  commit: 10,
  recovery: 11,
  relay: 11,
  runner: 12,
  manager: 13,
  kysely: 14,
  drizzle: 14,
  knex: 14,
  typeorm: 14,
  prisma: 14,
  inbox: 14,
  amqplib: 15,
  nats: 15,
  redis: 15,
  bullmq: 15,
}
/** The highest layer a vendor folder may import. */
const VENDOR_CEILING = 6
/** Vendor folders and the driver packages each may name; `<vendor>/drivers/<driver>/` is the vendor. */
export const VENDORS = {
  postgres: ['pg', 'postgres'],
  mysql: ['mysql2', 'mysql2/promise', 'mariadb'],
  sqlite: ['better-sqlite3'],
  mssql: ['mssql'],
  oracle: ['oracledb'],
}
/** Packages a layered folder may name; integrations name their tool's package. */
const PACKAGES = {
  tracing: ['@opentelemetry/api'],
  kysely: ['kysely'],
  drizzle: ['drizzle-orm'],
  knex: ['knex'],
  typeorm: ['typeorm'],
  prisma: [],
  amqplib: ['amqplib'],
  nats: ['@nats-io/jetstream', '@nats-io/transport-node', '@nats-io/nats-core'],
  redis: ['ioredis'],
  bullmq: ['bullmq', 'ioredis'],
}
/** Applications on top: they import anything. The root entry point is `.`. */
const APPLICATIONS = ['cli']
/** Folders whose strings may not name a database or driver: the capabilities and integrations. */
export const VENDOR_FREE = Object.keys(LAYERS).filter((folder) => LAYERS[folder] >= 7)
export const MAX_LINES = 350
/** Database and driver names, matched case-insensitively as whole words. */
export const VENDOR_NAMES = [
  'postgres',
  'postgresql',
  'pg',
  'mysql',
  'mysql2',
  'mariadb',
  'sqlite',
  'better-sqlite3',
  'mssql',
  'sql server',
  'oracle',
  'oracledb',
  'node-postgres',
  'postgres.js',
]
/** More cycles than this are summarised: fix the first ones, then look again. */
const MAX_CYCLES = 100

const vendorPattern = new RegExp(
  `(?<![\\w$])(?:${[...VENDOR_NAMES]
    .sort((a, b) => b.length - a.length)
    .map((name) => name.replace(/[.]/g, '\\.').replace(/ /g, '\\s+'))
    .join('|')})(?![\\w$])`,
  'gi',
)

// ---------------------------------------------------------------------------------------------
// Tokenizer: just enough JavaScript/TypeScript to tell code, comments, strings, templates and
// regular expressions apart, so an apostrophe or a URL in a comment cannot open a string.

const WORD = /[\w$\u0080-\uffff]/
const SPACE = /[ \t\r\f\v\u00a0\ufeff]/
/** Keywords after which a `/` starts a regular expression rather than a division. */
const BEFORE_EXPRESSION = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
])

/**
 * Tokens of a module: `{ type, value, line }`, type one of `name`, `punct`, `string` (value is the
 * raw text between the quotes), `template` (one text part of a template literal) and `regex`.
 * Comments and white space are dropped.
 */
export function tokenize(source) {
  const tokens = []
  /** One entry per open `${`: how many `{` it has opened since. */
  const templates = []
  let line = 1
  let i = 0
  const n = source.length
  const push = (type, value, at) => tokens.push({ type, value, line: at })
  const regexAllowed = () => {
    const last = tokens.at(-1)
    if (last === undefined) return true
    if (last.type === 'name') return BEFORE_EXPRESSION.has(last.value)
    if (last.type === 'punct') return last.value !== ')' && last.value !== ']'
    return false
  }
  /** Scans a template's text from `i` (after "`" or "}") up to "`" or "${". */
  const templateText = () => {
    const start = i
    const at = line
    while (i < n) {
      const c = source[i]
      if (c === '\\') {
        if (source[i + 1] === '\n') line++
        i += 2
      } else if (c === '`') {
        push('template', source.slice(start, i), at)
        i++
        return
      } else if (c === '$' && source[i + 1] === '{') {
        push('template', source.slice(start, i), at)
        i += 2
        templates.push(0)
        return
      } else {
        if (c === '\n') line++
        i++
      }
    }
    push('template', source.slice(start, i), at)
  }
  if (source.startsWith('#!')) i = source.indexOf('\n') === -1 ? n : source.indexOf('\n')
  while (i < n) {
    const c = source[i]
    const next = source[i + 1]
    if (c === '\n') {
      line++
      i++
    } else if (SPACE.test(c)) {
      i++
    } else if (c === '/' && next === '/') {
      while (i < n && source[i] !== '\n') i++
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      const stop = end === -1 ? n : end + 2
      for (let j = i; j < stop; j++) if (source[j] === '\n') line++
      i = stop
    } else if (c === "'" || c === '"') {
      const at = line
      let j = i + 1
      while (j < n && source[j] !== c && source[j] !== '\n') {
        if (source[j] === '\\') {
          if (source[j + 1] === '\n') line++
          j += 2
        } else j++
      }
      push('string', source.slice(i + 1, Math.min(j, n)), at)
      // An unterminated string ends at its line; the newline is left to count.
      i = source[j] === c ? j + 1 : j
    } else if (c === '`') {
      i++
      templateText()
    } else if (c === '/' && regexAllowed()) {
      // A regular expression ends on its line; if it does not, this `/` was a division after all.
      let j = i + 1
      let inClass = false
      while (j < n && source[j] !== '\n') {
        const d = source[j]
        if (d === '/' && !inClass) break
        if (d === '[') inClass = true
        else if (d === ']') inClass = false
        j += d === '\\' ? 2 : 1
      }
      if (j < n && source[j] === '/') {
        j++
        while (j < n && WORD.test(source[j])) j++
        push('regex', source.slice(i, j), line)
        i = j
      } else {
        push('punct', c, line)
        i++
      }
    } else if (WORD.test(c)) {
      let j = i + 1
      while (j < n && WORD.test(source[j])) j++
      push('name', source.slice(i, j), line)
      i = j
    } else {
      if (templates.length > 0) {
        if (c === '{') templates[templates.length - 1]++
        else if (c === '}') {
          if (templates.at(-1) === 0) {
            templates.pop()
            i++
            templateText()
            continue
          }
          templates[templates.length - 1]--
        }
      }
      push('punct', c, line)
      i++
    }
  }
  return tokens
}

/** The text a string or template part stands for: escapes replaced by what they mean. */
export function cook(raw) {
  return raw.replace(
    /\\(?:x([0-9a-fA-F]{2})|u\{([0-9a-fA-F]+)\}|u([0-9a-fA-F]{4})|(\r\n|\n)|([nrtbfv0])|(.))/gs,
    (_, hex, codePoint, unicode, newline, control, other) => {
      if (hex !== undefined) return String.fromCharCode(Number.parseInt(hex, 16))
      if (codePoint !== undefined) return String.fromCodePoint(Number.parseInt(codePoint, 16))
      if (unicode !== undefined) return String.fromCharCode(Number.parseInt(unicode, 16))
      if (newline !== undefined) return ''
      if (control !== undefined) return ' '
      return other
    },
  )
}

/**
 * Module specifiers of a token list: `from '…'`, `import '…'`, `import('…')` (also in a type:
 * `typeof import('…')`), `require('…')` and `declare module '…'`, each as
 * `{ specifier, index }` with the index of its token.
 */
export function specifiers(tokens) {
  const found = []
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k]
    if (token.type !== 'string') continue
    const before = tokens[k - 1]
    const twoBefore = tokens[k - 2]
    const named = (value) => before?.type === 'name' && before.value === value
    const isSpecifier =
      named('from') ||
      named('import') ||
      (named('module') && twoBefore?.type === 'name' && twoBefore.value === 'declare') ||
      (before?.type === 'punct' &&
        before.value === '(' &&
        twoBefore?.type === 'name' &&
        (twoBefore.value === 'import' || twoBefore.value === 'require'))
    if (isSpecifier) found.push({ specifier: cook(token.value), index: k })
  }
  return found
}

/** Strings, template parts and regular expressions of a token list that name a database or driver. */
export function vendorStrings(tokens) {
  const skip = new Set(specifiers(tokens).map(({ index }) => index))
  const found = []
  tokens.forEach((token, k) => {
    if (!['string', 'template', 'regex'].includes(token.type) || skip.has(k)) return
    const text = cook(token.value)
    const names = [...new Set([...text.matchAll(vendorPattern)].map((m) => m[0].toLowerCase()))]
    if (names.length === 0) return
    const first = token.value.search(vendorPattern)
    const line = token.line + (first > 0 ? token.value.slice(0, first).split('\n').length - 1 : 0)
    found.push({ line, text: token.value, names })
  })
  return found
}

// ---------------------------------------------------------------------------------------------
// The tree

/** The .ts files under `directory`, sorted; hidden folders, node_modules and dangling links left out. */
function tsFiles(directory) {
  return readdirSync(directory)
    .sort()
    .flatMap((name) => {
      if (name.startsWith('.') || name === 'node_modules') return []
      const path = join(directory, name)
      const stats = statSync(path, { throwIfNoEntry: false })
      if (stats?.isDirectory()) return tsFiles(path)
      return stats?.isFile() && path.endsWith('.ts') ? [path] : []
    })
}

const posix = (path) => path.split(sep).join('/')

/** Where a file sits: its top folder (`.` for src/ itself) and, under protocol/, its protocol. */
export function placeOf(path) {
  const parts = path.split('/')
  if (parts.length === 1) return { folder: '.', protocol: undefined }
  const folder = parts[0]
  return { folder, protocol: folder === 'protocol' && parts.length > 2 ? parts[1] : undefined }
}

export const kindOf = (folder) =>
  folder === '.' || APPLICATIONS.includes(folder)
    ? 'application'
    : folder in VENDORS
      ? 'vendor'
      : folder in LAYERS
        ? 'layer'
        : 'unknown'

const describe = (folder) =>
  folder === '.'
    ? 'the root entry point'
    : folder in LAYERS
      ? `${folder}/ (layer ${LAYERS[folder]})`
      : folder in VENDORS
        ? `${folder}/ (a vendor folder)`
        : `${folder}/`

/**
 * Why a file in `from` may not import a file in `to` (both places), or undefined when it may.
 * Same folder: fine, except that a protocol folder imports no sibling protocol and `protocol/`'s
 * root files import no protocol folder (they sit below them).
 */
export function edgeProblem(from, to) {
  if (from.folder === to.folder) {
    if (from.protocol === to.protocol || to.protocol === undefined) return undefined
    return from.protocol === undefined
      ? `a back-edge: protocol/'s root files sit below protocol/${to.protocol}/`
      : `a back-edge: protocol/${from.protocol}/ may not import its sibling protocol/${to.protocol}/`
  }
  const fromKind = kindOf(from.folder)
  const toKind = kindOf(to.folder)
  if (from.folder === '.' && toKind === 'vendor') {
    return (
      'the root entry point may not import the vendor folder ' +
      to.folder +
      '/: each vendor has its own entry point'
    )
  }
  if (fromKind === 'application' || fromKind === 'unknown' || toKind === 'unknown') return undefined
  if (toKind === 'application') {
    return `a back-edge: nothing imports ${describe(to.folder)}, it sits on top`
  }
  if (toKind === 'vendor') {
    return `${describe(from.folder)} may not import the vendor folder ${to.folder}/: only cli/ does`
  }
  const target = LAYERS[to.folder]
  if (fromKind === 'vendor') {
    return target <= VENDOR_CEILING
      ? undefined
      : `a vendor folder imports layers 1–${VENDOR_CEILING} only, not ${describe(to.folder)}`
  }
  const source = LAYERS[from.folder]
  if (target < source) return undefined
  return target === source
    ? `a back-edge: ${describe(from.folder)} may not import its same-layer sibling ${to.folder}/`
    : `a back-edge: ${describe(from.folder)} may not import the higher ${describe(to.folder)}`
}

/** The file a relative specifier names (`./x.js` is `./x.ts`), as a path under src/. */
function resolveImport(src, file, specifier) {
  const base = resolve(dirname(file), specifier)
  const candidates = [
    base.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts'),
    base,
    `${base}.ts`,
    join(base, 'index.ts'),
  ]
  const found = candidates.find((path) => existsSync(path) && statSync(path).isFile())
  return { path: posix(relative(src, found ?? candidates[0])), exists: found !== undefined }
}

/** Elementary cycles of a graph (Map file → Set of files), each once, from its smallest file. */
export function findCycles(graph) {
  const nodes = [...graph.keys()].sort()
  const order = new Map(nodes.map((node, k) => [node, k]))
  const cycles = []
  let truncated = false
  let budget = 1_000_000
  for (const start of nodes) {
    const first = order.get(start)
    const path = [start]
    const onPath = new Set(path)
    const walk = (node) => {
      for (const next of [...(graph.get(node) ?? [])].sort()) {
        if (cycles.length >= MAX_CYCLES || --budget < 0) {
          truncated = true
          return
        }
        if (next === start) cycles.push([...path, start])
        else if ((order.get(next) ?? -1) > first && !onPath.has(next)) {
          path.push(next)
          onPath.add(next)
          walk(next)
          onPath.delete(next)
          path.pop()
        }
      }
    }
    if (reachesItself(graph, start, first, order)) walk(start)
    if (truncated) break
  }
  return { cycles, truncated }
}

/** Whether `start` lies on a cycle through files not before it: prunes the search above. */
function reachesItself(graph, start, first, order) {
  const seen = new Set()
  const stack = [start]
  while (stack.length > 0) {
    for (const next of graph.get(stack.pop()) ?? []) {
      if (next === start) return true
      if ((order.get(next) ?? -1) > first && !seen.has(next)) {
        seen.add(next)
        stack.push(next)
      }
    }
  }
  return false
}

/**
 * Everything the check and the report need to know about the tree at `root`: its files and line
 * counts, folders with no place, forbidden imports (folders and packages), cycles between files,
 * and the strings naming a database or driver, per file.
 */
export function analyzeLayout(root) {
  const src = resolve(root, 'src')
  const result = {
    src,
    missing: !existsSync(src),
    files: [],
    unknownFolders: new Map(),
    backEdges: [],
    packages: [],
    cycles: [],
    cyclesTruncated: false,
    vendorStrings: [],
  }
  if (result.missing) return result
  const graph = new Map()
  for (const file of tsFiles(src)) {
    const path = posix(relative(src, file))
    const source = readFileSync(file, 'utf8')
    const place = placeOf(path)
    const kind = kindOf(place.folder)
    result.files.push({ path, folder: place.folder, lines: source.split('\n').length - 1 })
    if (kind === 'unknown') {
      const list = result.unknownFolders.get(place.folder) ?? []
      result.unknownFolders.set(place.folder, [...list, path])
    }
    const tokens = tokenize(source)
    const edges = new Set()
    graph.set(path, edges)
    for (const { specifier } of specifiers(tokens)) {
      if (specifier.startsWith('node:')) continue
      if (specifier.startsWith('.')) {
        const target = resolveImport(src, file, specifier)
        if (target.path.startsWith('../')) {
          if (kind !== 'application') {
            const reason = 'it reaches outside src/'
            result.backEdges.push({ from: path, to: target.path, specifier, reason })
          }
          continue
        }
        if (target.exists && target.path.endsWith('.ts')) edges.add(target.path)
        const reason = edgeProblem(place, placeOf(target.path))
        if (reason !== undefined) {
          result.backEdges.push({ from: path, to: target.path, specifier, reason })
        }
      } else if (kind === 'layer' || kind === 'vendor' || place.folder === '.') {
        const allowed = VENDORS[place.folder] ?? PACKAGES[place.folder] ?? []
        if (!allowed.includes(specifier)) result.packages.push({ path, specifier })
      }
    }
    for (const found of vendorStrings(tokens)) {
      result.vendorStrings.push({ path, folder: place.folder, ...found })
    }
  }
  const { cycles, truncated } = findCycles(graph)
  result.cycles = cycles
  result.cyclesTruncated = truncated
  return result
}

const shorten = (text) => (text.length > 100 ? `${text.slice(0, 97)}...` : text)

/** The problems of the tree at `root`, one sentence each; empty when it follows the layout. */
export function checkLayout(root) {
  const found = analyzeLayout(root)
  if (found.missing) return [`${found.src}: no src/ folder to check`]
  const problems = []
  for (const [folder, paths] of found.unknownFolders) {
    for (const path of paths) {
      problems.push(
        `${path}: folder "${folder}" has no place in the layout (add it to scripts/check-layout.mjs and docs/architecture.md)`,
      )
    }
  }
  for (const { from, to, specifier, reason } of found.backEdges) {
    problems.push(`${from}: imports ${specifier} (${to}), ${reason}`)
  }
  for (const { path, specifier } of found.packages) {
    const folder = placeOf(path).folder
    problems.push(
      `${path}: imports the package "${specifier}", which ${folder === '.' ? 'the root entry point' : `${folder}/`} may not name`,
    )
  }
  for (const cycle of found.cycles) problems.push(`import cycle: ${cycle.join(' → ')}`)
  if (found.cyclesTruncated) {
    problems.push(`import cycles: more than those above; break these first, then run again`)
  }
  for (const { path, lines } of found.files) {
    if (lines > MAX_LINES) {
      problems.push(`${path}: ${lines} lines, over the limit of ${MAX_LINES}: split it by concept`)
    }
  }
  for (const { path, folder, line, text, names } of found.vendorStrings) {
    if (!VENDOR_FREE.includes(folder)) continue
    problems.push(
      `${path}:${line}: the string ${JSON.stringify(shorten(text))} names ${names.join(', ')}: vendor text comes from the vendor's dialect or driver adapter`,
    )
  }
  return problems
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..')
  const problems = checkLayout(root)
  for (const problem of problems) console.error(`layout: ${problem}`)
  if (problems.length > 0) {
    console.error(`layout: ${problems.length} problem(s) break the layout of docs/architecture.md.`)
    process.exit(1)
  }
  console.log(
    `layout: every import follows docs/architecture.md; no cycle, no file over ${MAX_LINES} lines, no vendor name in a capability's strings`,
  )
}
