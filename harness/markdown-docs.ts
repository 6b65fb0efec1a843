/**
 * Reads the README and the pages of docs/ as GitHub renders them: their fenced blocks, the anchors
 * of their headings and their links. test/readme.test.ts compiles the blocks and checks the links
 * with it; test/docs.test.ts shows that it catches a broken link, anchor or fence.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, sep } from 'node:path'

/** The documentation a user reads, relative to the repository: the README, then docs/*.md. */
export function documentationFiles(repository: string): string[] {
  const pages = readdirSync(join(repository, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`)
  return ['README.md', ...pages]
}

export interface FencedBlock {
  /** The info string's first word: `ts`, `sh` … or '' for a fence without one. */
  readonly language: string
  /** The lines between the fences, each ending with a newline, the fence's indentation removed. */
  readonly body: string
  /** The line of the opening fence, from 1. */
  readonly line: number
}

const OPENING = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/

/** The fenced code blocks of a Markdown text, indented ones (inside list items) included. */
export function fencedBlocks(text: string): FencedBlock[] {
  const lines = text.split('\n')
  const blocks: FencedBlock[] = []
  for (let index = 0; index < lines.length; index++) {
    const opening = OPENING.exec(lines[index] ?? '')
    if (opening === null) continue
    const indent = opening[1]?.length ?? 0
    const fence = opening[2] ?? '```'
    const body: string[] = []
    const start = index
    for (index++; index < lines.length; index++) {
      const line = lines[index] ?? ''
      const trimmed = line.trim()
      if (trimmed.startsWith(fence) && trimmed.slice(fence.length).trim() === '') break
      body.push(line.slice(Math.min(indent, line.length - line.trimStart().length)))
    }
    if (index >= lines.length) {
      throw new Error(`line ${start + 1}: a fence opened here is never closed`)
    }
    blocks.push({
      language: opening[3] ?? '',
      body: body.map((line) => `${line}\n`).join(''),
      line: start + 1,
    })
  }
  return blocks
}

/** The text's lines, those of fenced blocks (fences included) emptied: line numbers hold. */
function proseLines(text: string): string[] {
  const prose = text.split('\n')
  for (const block of fencedBlocks(text)) {
    const count = block.body.split('\n').length - 1
    for (let line = block.line - 1; line <= block.line + count; line++) prose[line] = ''
  }
  return prose
}

/**
 * The anchor GitHub gives a heading: its text as rendered (code spans and links reduced to their
 * text), lower-cased, every character but letters, digits, `_`, `-` and spaces dropped, each space
 * a `-` (github-slugger, which GitHub uses).
 */
export function githubSlug(heading: string): string {
  return heading
    .replace(/`([^`]*)`/g, '$1')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')
}

/** The anchors of a Markdown text's headings; a repeated one gets `-1`, `-2` … as on GitHub. */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of proseLines(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)
    if (heading === null) continue
    const slug = githubSlug(heading[1] ?? '')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

export interface Link {
  readonly target: string
  readonly line: number
}

/** The links and images of a Markdown text, outside code blocks and code spans. */
export function markdownLinks(text: string): Link[] {
  const links: Link[] = []
  // A code span may run over a line break: removed from the whole text, its line breaks kept.
  const prose = proseLines(text)
    .join('\n')
    .replace(/(`+)[\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, ''))
  prose.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: match[1] ?? '', line: index + 1 })
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line)
    if (definition !== null) links.push({ target: definition[1] ?? '', line: index + 1 })
  })
  return links
}

/**
 * Every link of `file` (relative to `repository`) that does not resolve, as `file:line: target:
 * why`: a relative path that names no file or folder of the repository, or an anchor that no
 * heading of its page has. Links to other sites are left to them.
 */
export function brokenLinks(repository: string, file: string): string[] {
  const text = readFileSync(join(repository, file), 'utf8')
  const problems: string[] = []
  for (const { target, line } of markdownLinks(text)) {
    const where = `${file}:${line}: ${target}`
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    if (target === '') {
      problems.push(`${where}: an empty link`)
      continue
    }
    const hash = target.indexOf('#')
    const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash))
    const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1))
    const resolved = path === '' ? file : normalize(join(dirname(file), path))
    if (resolved.startsWith(`..${sep}`) || resolved === '..') {
      problems.push(`${where}: outside the repository`)
      continue
    }
    if (!existsSync(join(repository, resolved))) {
      problems.push(`${where}: no such file or folder ${resolved}`)
      continue
    }
    if (anchor === undefined) continue
    if (!resolved.endsWith('.md')) {
      problems.push(`${where}: an anchor into a file that is not Markdown`)
      continue
    }
    const anchors = headingAnchors(readFileSync(join(repository, resolved), 'utf8'))
    if (!anchors.has(anchor)) problems.push(`${where}: no heading of ${resolved} has this anchor`)
  }
  return problems
}

/** Languages of blocks that are not TypeScript and are shown as text: commands, files, output. */
export const TEXT_LANGUAGES: ReadonlySet<string> = new Set(['sh', 'text', 'ini', 'yaml', 'cron'])

/** Pages whose blocks without a language are diagrams for maintainers, not code for users. */
const DIAGRAM_PAGES: ReadonlySet<string> = new Set(['docs/architecture.md'])

/**
 * Blocks whose language is neither `ts` (compiled by the tests) nor a text language: a
 * `typescript`, `js` or unlabelled block would be shown to users and never checked.
 */
export function uncheckedBlocks(file: string, text: string): string[] {
  return fencedBlocks(text)
    .filter((block) => block.language !== 'ts' && !TEXT_LANGUAGES.has(block.language))
    .filter((block) => !(block.language === '' && DIAGRAM_PAGES.has(file)))
    .map(
      (block) =>
        `${file}:${block.line}: a \`\`\`${block.language} block: label TypeScript \`ts\` (compiled by the tests) or text one of ${[...TEXT_LANGUAGES].join(', ')}`,
    )
}

/** Every `npm run <script>` of a text whose script package.json does not define. */
export function unknownScripts(
  file: string,
  text: string,
  scripts: Readonly<Record<string, string>>,
): string[] {
  const problems: string[] = []
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(/npm run (?:--silent )?([a-z][\w:-]*)/g)) {
      const script = match[1] ?? ''
      if (!(script in scripts)) {
        problems.push(`${file}:${index + 1}: npm run ${script}: package.json has no such script`)
      }
    }
  })
  return problems
}
