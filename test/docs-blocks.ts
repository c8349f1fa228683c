/**
 * Test helper: the fenced code blocks of a Markdown file, with the `docs-test`
 * annotations that say how a block is run (test/docs-blocks.test.ts).
 *
 * An annotation is an HTML comment (invisible on GitHub and in editors' previews) on
 * the line(s) right before a block, or on its own for hidden setup:
 *
 *   <!-- docs-test: skip REASON -->       the next block is not run; REASON is printed (required)
 *   <!-- docs-test: file NAME -->         the next block's text is also written to NAME in the
 *                                          file's workspace (a config the later blocks read)
 *   <!-- docs-test: server EXPECT -->     the next ts/js block serves HTTP on process.env.PORT:
 *                                          it is started, sent `GET /` from 127.0.0.1, and must
 *                                          answer status EXPECT (a number) or `refused` (the
 *                                          connection is closed without an answer); then stopped
 *   <!-- docs-test: worker EXPECT [kv] --> the next js block is an edge worker: bundled as wrangler
 *                                          would, run in workerd with the workspace's policy.bin
 *                                          as its Data module (kv: with policy.yaml published to
 *                                          its POLICY_KV, signed with its POLICY_KEY), sent
 *                                          `GET https://example.com/` from 198.51.100.7; must
 *                                          answer status EXPECT
 *   <!-- docs-test: clone [not "LINE" (REASON)] -->
 *                                          the next sh block runs in the repository itself, its
 *                                          line LINE left out for REASON (printed)
 *   <!-- docs-test: output -->            the next text block is the standard output of the sh block
 *                                          before it, exactly (trailing blank lines aside)
 *   <!-- docs-test: omit "LINE" (REASON) -->
 *                                          the next sh block runs in the workspace without its
 *                                          line LINE, for REASON (printed)
 *   <!-- docs-test: setup                 hidden setup: the comment's remaining lines are run
 *   ...sh lines...                         as sh in the workspace at that point ($SGFILTER_ROOT
 *   -->                                    is the repository), e.g. to copy a capture file
 */
export type BlockLang = 'ts' | 'js' | 'sh' | 'yaml' | 'json' | 'text';
export const LANGS: readonly BlockLang[] = ['ts', 'js', 'sh', 'yaml', 'json', 'text'];

export type Annotation =
  | { kind: 'skip'; reason: string }
  | { kind: 'file'; name: string }
  | { kind: 'server'; expect: number | 'refused' }
  | { kind: 'worker'; expect: number; kv: boolean }
  | { kind: 'clone'; without?: { line: string; reason: string } }
  | { kind: 'omit'; without: { line: string; reason: string } }
  | { kind: 'output' };

export interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  lang: BlockLang;
  text: string;
  annotations: Annotation[];
}

export interface Setup {
  line: number;
  script: string;
}

export type Step = ({ type: 'block' } & Block) | ({ type: 'setup' } & Setup);

/** A problem with the Markdown itself: a block without a known language, a malformed or dangling annotation. */
export class DocsSyntaxError extends Error {}

const ANNOTATION = /^<!--\s*docs-test:\s*(.*?)\s*-->$/;

function parseAnnotation(body: string, where: string): Annotation {
  const [word, ...rest] = body.split(/\s+/);
  const arg = rest.join(' ');
  switch (word) {
    case 'skip':
      if (!arg) throw new DocsSyntaxError(`${where}: "docs-test: skip" needs a reason`);
      return { kind: 'skip', reason: arg };
    case 'file':
      if (!/^[\w.-]+$/.test(arg)) throw new DocsSyntaxError(`${where}: "docs-test: file" needs a plain file name, got "${arg}"`);
      return { kind: 'file', name: arg };
    case 'server':
      if (arg === 'refused') return { kind: 'server', expect: 'refused' };
      if (!/^\d{3}$/.test(arg)) throw new DocsSyntaxError(`${where}: "docs-test: server" needs an HTTP status or "refused", got "${arg}"`);
      return { kind: 'server', expect: Number(arg) };
    case 'worker': {
      const m = /^(\d{3})(\s+kv)?$/.exec(arg);
      if (!m) throw new DocsSyntaxError(`${where}: "docs-test: worker" needs an HTTP status (and optionally kv), got "${arg}"`);
      return { kind: 'worker', expect: Number(m[1]), kv: m[2] !== undefined };
    }
    case 'clone': {
      if (!arg) return { kind: 'clone' };
      const m = /^not "([^"]+)" \((.+)\)$/.exec(arg);
      if (!m) throw new DocsSyntaxError(`${where}: "docs-test: clone" takes nothing or not "LINE" (REASON), got "${arg}"`);
      return { kind: 'clone', without: { line: m[1]!, reason: m[2]! } };
    }
    case 'output':
      if (arg) throw new DocsSyntaxError(`${where}: "docs-test: output" takes nothing, got "${arg}"`);
      return { kind: 'output' };
    case 'omit': {
      const m = /^"([^"]+)" \((.+)\)$/.exec(arg);
      if (!m) throw new DocsSyntaxError(`${where}: "docs-test: omit" takes "LINE" (REASON), got "${arg}"`);
      return { kind: 'omit', without: { line: m[1]!, reason: m[2]! } };
    }
    default:
      throw new DocsSyntaxError(`${where}: unknown annotation "docs-test: ${body}" (skip, file, server, worker, clone, omit, output, setup)`);
  }
}

/** The blocks and hidden setups of `markdown`, in order. Throws DocsSyntaxError on anything it cannot place. */
export function parseDocs(markdown: string, file: string): Step[] {
  const lines = markdown.split('\n');
  const steps: Step[] = [];
  let pending: { annotation: Annotation; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const where = `${file}:${i + 1}`;
    if (/^<!--\s*docs-test:\s*setup\s*$/.test(line)) {
      const start = i + 1;
      const body: string[] = [];
      for (i++; i < lines.length && lines[i]!.trim() !== '-->'; i++) body.push(lines[i]!);
      if (i >= lines.length) throw new DocsSyntaxError(`${where}: "docs-test: setup" is not closed by a line "-->"`);
      steps.push({ type: 'setup', line: start, script: body.join('\n') });
      continue;
    }
    const a = ANNOTATION.exec(line.trim());
    if (a) {
      pending.push({ annotation: parseAnnotation(a[1]!, where), line: i + 1 });
      continue;
    }
    if (/docs-test/.test(line) && line.includes('<!--')) throw new DocsSyntaxError(`${where}: a docs-test annotation must be one whole line "<!-- docs-test: ... -->"`);
    const fence = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(line);
    if (!fence) {
      if (pending.length > 0 && line.trim() !== '') {
        throw new DocsSyntaxError(`${file}:${pending[0]!.line}: a docs-test annotation must come right before a code block (text found at line ${i + 1})`);
      }
      continue;
    }
    const [, indent, marker, info] = fence as unknown as [string, string, string, string];
    const lang = info.trim().split(/\s+/)[0]!;
    if (!(LANGS as readonly string[]).includes(lang)) {
      throw new DocsSyntaxError(`${where}: a code block needs a language the docs test knows (${LANGS.join(', ')}; text for output and diagrams), got "${lang}"`);
    }
    const open = i + 1;
    const closes = (l: string) => l.trim().length >= marker.length && l.trim() === marker[0]!.repeat(l.trim().length);
    const body: string[] = [];
    for (i++; i < lines.length && !closes(lines[i]!); i++) body.push(lines[i]!.startsWith(indent) ? lines[i]!.slice(indent.length) : lines[i]!);
    if (i >= lines.length) throw new DocsSyntaxError(`${where}: code block is not closed`);
    steps.push({ type: 'block', line: open, lang: lang as BlockLang, text: body.join('\n') + '\n', annotations: pending.map((p) => p.annotation) });
    pending = [];
  }
  if (pending.length > 0) throw new DocsSyntaxError(`${file}:${pending[0]!.line}: a docs-test annotation with no code block after it`);
  return steps;
}

/**
 * A ts/js block with its `// → VALUE` claims turned into checks: a line
 * `EXPRESSION; // → VALUE` becomes `__docsExpect(EXPRESSION, VALUE, "file:line")`, so
 * a value the docs show is the value the code gives. A `// →` with nothing before it
 * on its line is refused (it would be a claim nobody checks).
 */
export function instrument(text: string, file: string, firstLine: number): string {
  return text
    .split('\n')
    .map((line, k) => {
      const at = line.indexOf('// →');
      if (at < 0) return line;
      const code = line.slice(0, at).trimEnd();
      const where = `${file}:${firstLine + 1 + k}`;
      if (code.trim() === '') throw new DocsSyntaxError(`${where}: "// →" must follow the expression it shows on the same line`);
      const expr = code.replace(/;$/, '');
      const indent = /^\s*/.exec(expr)![0];
      const value = line.slice(at + '// →'.length).trim();
      return `${indent}__docsExpect(${expr.trim()}, ${value}, ${JSON.stringify(where)});`;
    })
    .join('\n');
}
