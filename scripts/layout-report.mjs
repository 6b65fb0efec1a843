#!/usr/bin/env node
// The layout of a source tree in numbers, for the before/after picture of a restructuring:
//   node scripts/layout-report.mjs [root]
// Files over the size limit, import cycles between files, folder back-edges (imports the layer
// order of scripts/check-layout.mjs refuses) and strings naming a database or driver outside the
// vendor folders. Unlike the check it never fails: it reports on any tree, old layouts included.
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { analyzeLayout, kindOf, LAYERS, MAX_LINES, VENDOR_FREE } from './check-layout.mjs'

/** The report's lines for the tree at `root`. */
export function layoutReport(root) {
  const found = analyzeLayout(root)
  const out = [`layout report: ${found.src}`]
  if (found.missing) return [...out, 'no src/ folder']
  const folders = new Set(found.files.map(({ folder }) => folder))
  out.push(`${found.files.length} .ts files in ${folders.size} folders (. is src/ itself)`)

  const large = found.files.filter(({ lines }) => lines > MAX_LINES)
  large.sort((a, b) => b.lines - a.lines || a.path.localeCompare(b.path))
  out.push('', `files over ${MAX_LINES} lines: ${large.length}`)
  for (const { path, lines } of large) out.push(`  ${String(lines).padStart(5)}  ${path}`)

  out.push(
    '',
    `import cycles between files: ${found.cycles.length}${found.cyclesTruncated ? '+' : ''}`,
  )
  for (const cycle of found.cycles) out.push(`  ${cycle.join(' → ')}`)

  out.push('', `folder back-edges: ${found.backEdges.length}`)
  for (const { from, to, reason } of found.backEdges) out.push(`  ${from} → ${to}  (${reason})`)

  out.push('', `package imports a folder may not name: ${found.packages.length}`)
  for (const { path, specifier } of found.packages) out.push(`  ${path} → "${specifier}"`)

  const outside = found.vendorStrings.filter(({ folder }) => kindOf(folder) !== 'vendor')
  const enforced = outside.filter(({ folder }) => VENDOR_FREE.includes(folder))
  out.push(
    '',
    `strings naming a database or driver outside vendor folders: ${outside.length} (${enforced.length} in capabilities and integrations, where the check refuses them)`,
  )
  const perFolder = new Map()
  for (const { folder } of outside) perFolder.set(folder, (perFolder.get(folder) ?? 0) + 1)
  const rank = (folder) => LAYERS[folder] ?? 99
  const ordered = [...perFolder].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
  for (const [folder, count] of ordered) {
    const note = VENDOR_FREE.includes(folder) ? '' : '  (not checked)'
    out.push(`  ${String(count).padStart(5)}  ${folder === '.' ? '.' : `${folder}/`}${note}`)
  }

  out.push('', `folders with no place in the layout: ${found.unknownFolders.size}`)
  for (const [folder, paths] of found.unknownFolders) {
    out.push(`  ${folder}/ (${paths.length} file${paths.length === 1 ? '' : 's'})`)
  }
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'))
  console.log(layoutReport(root).join('\n'))
}
