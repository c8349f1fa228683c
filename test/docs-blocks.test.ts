// Every code block of README.md, docs/*.md and examples/edge/README.md is run, so the
// docs cannot drift from what the code does (the annotations are in test/docs-blocks.ts):
//
//   ts    type-checked together with tsc (strict, moduleResolution NodeNext) and run
//         with Node as ES modules; js: run
//   both  import `sgfilter` as an installed package: each Markdown file gets a
//         workspace folder whose node_modules/sgfilter is this checkout (resolved through
//         package.json "exports", as after `npm install`), beside links to this
//         checkout's dependencies (express, fastify, hono, undici, ...); a line
//         `EXPRESSION; // → VALUE` checks that EXPRESSION gives VALUE
//   yaml, json   configs: parsed with parseConfigText, validated with safeParseConfig
//         and against schema/sgfilter-config.schema.json
//   sh    run with bash -euo pipefail in the workspace, `npx sgfilter` being this
//         checkout's CLI
//   text  output and diagrams: not run
//
// Blocks run in document order in their file's workspace: a config block marked
// `file policy.yaml` is the policy.yaml the later blocks load. A block that cannot run
// as written says why (`docs-test: skip REASON`); the reasons are printed.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import * as esbuild from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, describe, expect, it } from 'vitest';
import { configJsonSchema } from '../src/config/json-schema.js';
import { loadConfigFile, parseConfigText, publishPolicy, safeParseConfig, type PolicyWriter } from '../src/index.js';
import { ROOT, bundleWorker } from './edge-bundle.js';
import { instrument, parseDocs, type Block, type Step } from './docs-blocks.js';

const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`), 'examples/edge/README.md'];
const BLOCK_TIMEOUT_MS = 90_000;
const COMPAT_DATE = '2026-04-26';
const WORKER_CLIENT = '198.51.100.7';
const KV_KEY_HEX = 'a7'.repeat(32);

const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true });
const schemaValidate = ajv.compile(configJsonSchema());

const EXPECT_MODULE = `
import { isDeepStrictEqual, inspect } from 'node:util';
/** The check a "// → VALUE" comment becomes: the value, awaited, must equal VALUE (as JSON data). */
export async function __docsExpect(actual, expected, where) {
  const got = await actual;
  const norm = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  if (!isDeepStrictEqual(norm(got), norm(expected))) {
    console.error(\`\${where}: the docs show \${inspect(expected, { depth: 6 })}\\n  but the code gives \${inspect(got, { depth: 6 })}\`);
    process.exit(97);
  }
}
`;

const slug = (file: string) => file.replace(/[^\w]+/g, '-').replace(/-md$/, '');

/** A folder where `sgfilter` is installed (this checkout) beside this checkout's dependencies, with the examples' files. */
function makeWorkspace(file: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sgfilter-docs-${slug(file)}-`));
  const nm = join(dir, 'node_modules');
  mkdirSync(join(nm, '.bin'), { recursive: true });
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry === '.bin' || entry.startsWith('.')) continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(nm, entry));
  }
  symlinkSync(ROOT, join(nm, 'sgfilter'), 'dir');
  symlinkSync(join(ROOT, 'dist', 'src', 'cli.js'), join(nm, '.bin', 'sgfilter'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-workspace', private: true, type: 'module' }));
  mkdirSync(join(dir, 'examples'));
  for (const f of readdirSync(join(ROOT, 'examples'))) if (/\.(ya?ml|jsonl)$/.test(f)) copyFileSync(join(ROOT, 'examples', f), join(dir, 'examples', f));
  writeFileSync(join(dir, '__docs-expect.mjs'), EXPECT_MODULE);
  return dir;
}

const shellEnv = (dir: string) => ({
  ...process.env,
  PATH: `${join(dir, 'node_modules', '.bin')}:${process.env.PATH}`,
  SGFILTER_ROOT: ROOT,
  npm_config_update_notifier: 'false',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  NO_COLOR: '1',
});

/** Runs a shell script; its standard output. */
function runShell(script: string, cwd: string, env: NodeJS.ProcessEnv, where: string): string {
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, encoding: 'utf8', timeout: BLOCK_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`${where}: exit ${r.status ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

/** The standard output of the last sh block run in each workspace, for an `output` block after it. */
const lastOutput = new Map<string, string>();

/** The block as an ES module file in the workspace: `// →` claims turned into checks, TypeScript types stripped. */
function moduleFile(block: Block, file: string, dir: string): string {
  let code = instrument(block.text, file, block.line);
  if (block.lang === 'ts') code = esbuild.transformSync(code, { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: `${file}:${block.line}` }).code;
  const path = join(dir, `__block-${block.line}.mjs`);
  writeFileSync(path, `import { __docsExpect } from './__docs-expect.mjs';\n${code}`);
  return path;
}

function runModule(path: string, dir: string, where: string): void {
  const r = spawnSync(process.execPath, [path], { cwd: dir, env: shellEnv(dir), encoding: 'utf8', timeout: BLOCK_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`${where}: exit ${r.status ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts a server block on a free port, sends GET / once it listens, stops it; the status, or 'refused'. */
async function runServer(path: string, dir: string, where: string): Promise<number | 'refused'> {
  const port = await freePort();
  const child = spawn(process.execPath, [path], { cwd: dir, env: { ...shellEnv(dir), PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited !== null) throw new Error(`${where}: the server exited (${exited}) before it listened\n${output}`);
      if (Date.now() > deadline) throw new Error(`${where}: nothing listened on PORT=${port} within 30 s\n${output}`);
      const up = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return await new Promise<number | 'refused'>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.message === 'socket hang up' ? resolve('refused') : reject(new Error(`${where}: ${e.message}\n${output}`))));
      req.end();
    });
  } finally {
    child.kill('SIGTERM');
    if (exited === null) await new Promise((r) => child.once('exit', r));
  }
}

/** Bundles a worker block as wrangler would, runs it in workerd with the workspace's policy, and requests https://example.com/. */
async function runWorker(block: Block, dir: string, kv: boolean, where: string): Promise<number> {
  const entry = join(dir, `__worker-${block.line}.js`);
  writeFileSync(entry, block.text);
  const bundle = await bundleWorker(entry);
  const modules: { type: 'ESModule' | 'CompiledWasm' | 'Data'; path: string; contents: string | Uint8Array }[] = [{ type: 'ESModule', path: join(dir, 'worker.js'), contents: bundle.code }];
  for (const [name, path] of bundle.modules) {
    if (!existsSync(path)) throw new Error(`${where}: the worker imports ${name}, which the blocks before it did not create`);
    modules.push({ type: name.endsWith('.wasm') ? 'CompiledWasm' : 'Data', path: join(dir, name), contents: readFileSync(path) });
  }
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    modules,
    modulesRoot: dir,
    compatibilityDate: COMPAT_DATE,
    ...(kv ? { kvNamespaces: { POLICY_KV: 'docs' }, bindings: { POLICY_KEY: KV_KEY_HEX } } : {}),
  });
  try {
    await mf.ready;
    if (kv) {
      const ns = (await mf.getKVNamespace('POLICY_KV')) as unknown as { get(k: string, t: 'arrayBuffer'): Promise<ArrayBuffer | null>; put(k: string, v: Uint8Array): Promise<void> };
      const writer: PolicyWriter = {
        name: 'docs KV',
        get: async (k) => {
          const v = await ns.get(k, 'arrayBuffer');
          return v === null ? null : new Uint8Array(v);
        },
        put: (k, v) => ns.put(k, v),
      };
      await publishPolicy(writer, await loadConfigFile(join(dir, 'policy.yaml')), KV_KEY_HEX);
    }
    const res = await mf.dispatchFetch('https://example.com/', { headers: { 'CF-Connecting-IP': WORKER_CLIENT } });
    await res.arrayBuffer();
    return res.status;
  } finally {
    await mf.dispose();
  }
}

function checkConfig(block: Block, where: string): void {
  const doc = parseConfigText(block.text, where, block.lang === 'yaml' ? 'yaml' : 'json');
  const result = safeParseConfig(doc);
  if (!result.success) throw new Error(`${where}: the config is refused:\n${result.issues.map((i) => `  ${i.message}`).join('\n')}`);
  if (!schemaValidate(doc)) throw new Error(`${where}: the JSON Schema refuses it:\n${ajv.errorsText(schemaValidate.errors, { separator: '\n' })}`);
}

async function runBlock(block: Block, file: string, dir: string): Promise<void> {
  const where = `${file}:${block.line}`;
  for (const a of block.annotations) if (a.kind === 'file') writeFileSync(join(dir, a.name), block.text);
  const clone = block.annotations.find((a) => a.kind === 'clone');
  const server = block.annotations.find((a) => a.kind === 'server');
  const worker = block.annotations.find((a) => a.kind === 'worker');
  switch (block.lang) {
    case 'yaml':
    case 'json':
      checkConfig(block, where);
      return;
    case 'sh': {
      let script = block.text;
      for (const a of block.annotations) {
        const without = a.kind === 'clone' || a.kind === 'omit' ? a.without : undefined;
        if (!without) continue;
        const lines = script.split('\n');
        const bare = (l: string) => l.replace(/\s+#.*$/, '').trim();
        if (!lines.some((l) => bare(l) === without.line)) throw new Error(`${where}: no line "${without.line}" to leave out`);
        script = lines.filter((l) => bare(l) !== without.line).join('\n');
      }
      lastOutput.set(dir, clone ? runShell(script, ROOT, { ...process.env, NO_COLOR: '1' }, where) : runShell(script, dir, shellEnv(dir), where));
      return;
    }
    case 'ts':
    case 'js': {
      if (worker) {
        expect(await runWorker(block, dir, worker.kv, where), `${where}: the worker's answer`).toBe(worker.expect);
        return;
      }
      const path = moduleFile(block, file, dir);
      if (server) expect(await runServer(path, dir, where), `${where}: the server's answer to GET /`).toBe(server.expect);
      else runModule(path, dir, where);
      return;
    }
    case 'text': {
      if (!block.annotations.some((a) => a.kind === 'output')) return;
      const got = lastOutput.get(dir);
      if (got === undefined) throw new Error(`${where}: an output block with no sh block run before it`);
      const trim = (t: string) => t.replace(/\s+$/, '');
      expect(trim(got), `${where}: the output shown is not what the command before it prints`).toBe(trim(block.text));
      return;
    }
  }
}

const parsed = new Map<string, Step[]>(FILES.map((f) => [f, parseDocs(readFileSync(join(ROOT, f), 'utf8'), f)]));
const workspaces: string[] = [];

afterAll(() => {
  for (const dir of workspaces) rmSync(dir, { recursive: true, force: true });
});

const isSkipped = (b: Block) => b.annotations.some((a) => a.kind === 'skip');

describe('docs code blocks', () => {
  it('every Markdown file in scope parses: known languages, annotations placed before a block', () => {
    expect(FILES).toContain('docs/SEMANTICS.md');
    for (const [file, steps] of parsed) expect(steps.filter((s) => s.type === 'block').length, file).toBeGreaterThan(0);
  });

  it('the harness can fail: a wrong "// →" claim, a block without a language, a stray annotation', async () => {
    const dir = makeWorkspace('harness');
    workspaces.push(dir);
    const block = (lang: Block['lang'], text: string): Block => ({ line: 1, lang, text, annotations: [] });
    await expect(runBlock(block('ts', 'const n: number = 1 + 1;\nn; // → 3\n'), 'harness.md', dir)).rejects.toThrow(/the docs show 3\n {2}but the code gives 2/);
    await runBlock(block('ts', 'const n: number = 1 + 1;\nn; // → 2\n'), 'harness.md', dir);
    await expect(runBlock(block('sh', 'false\n'), 'harness.md', dir)).rejects.toThrow(/exit 1/);
    await runBlock(block('sh', 'echo hello\n'), 'harness.md', dir);
    const output = (text: string): Block => ({ line: 9, lang: 'text', text, annotations: [{ kind: 'output' }] });
    await runBlock(output('hello\n'), 'harness.md', dir);
    await expect(runBlock(output('goodbye\n'), 'harness.md', dir)).rejects.toThrow(/not what the command before it prints/);
    await expect(runBlock(block('yaml', 'securityGroups:\n  - { id: sg, inbound: [{ protocol: TPC, source: any, action: accept }] }\n'), 'harness.md', dir)).rejects.toThrow(/refused/);
    expect(() => parseDocs('```\nx\n```\n', 'h.md')).toThrow(/needs a language/);
    expect(() => parseDocs('<!-- docs-test: skip -->\n```sh\nx\n```\n', 'h.md')).toThrow(/needs a reason/);
    expect(() => parseDocs('<!-- docs-test: skip why -->\ntext\n```sh\nx\n```\n', 'h.md')).toThrow(/right before a code block/);
    expect(() => parseDocs('<!-- docs-test: skpi why -->\n```sh\nx\n```\n', 'h.md')).toThrow(/unknown annotation/);
    expect(() => instrument('// → 1\n', 'h.md', 1)).toThrow(/must follow the expression/);
  }, BLOCK_TIMEOUT_MS);

  it('prints every block it does not run, and why', () => {
    const lines: string[] = [];
    let blocks = 0;
    let notRun = 0;
    for (const [file, steps] of parsed) {
      for (const s of steps) {
        if (s.type !== 'block') continue;
        blocks++;
        if (s.lang === 'text' && !s.annotations.some((a) => a.kind === 'output' || a.kind === 'skip')) {
          notRun++;
          lines.push(`${file}:${s.line} (text) not run: a drawing or a listing, not code`);
        }
        for (const a of s.annotations) {
          if (a.kind === 'skip') notRun++;
          if (a.kind === 'skip') lines.push(`${file}:${s.line} (${s.lang}) not run: ${a.reason}`);
          if ((a.kind === 'clone' || a.kind === 'omit') && a.without) lines.push(`${file}:${s.line} (${s.lang}) run without "${a.without.line}": ${a.without.reason}`);
        }
      }
    }
    console.log(`docs blocks: ${blocks}, of which ${notRun} not run and ${lines.length - notRun} run in part:\n${lines.map((l) => `  ${l}`).join('\n')}`);
    for (const [file, steps] of parsed) {
      for (const s of steps) {
        if (s.type === 'block' && s.annotations.some((a) => a.kind === 'output') && s.lang !== 'text') throw new Error(`${file}:${s.line}: "docs-test: output" is for a text block`);
      }
    }
    expect(lines.every((l) => !/: $/.test(l))).toBe(true);
  });

  it('every ts block type-checks (tsc --strict, moduleResolution NodeNext, sgfilter as installed)', () => {
    const dir = makeWorkspace('typecheck');
    workspaces.push(dir);
    const origin = new Map<string, string>();
    for (const [file, steps] of parsed) {
      for (const s of steps) {
        if (s.type !== 'block' || s.lang !== 'ts' || isSkipped(s)) continue;
        const name = `${slug(file)}-${s.line}.ts`;
        origin.set(name, `${file}:${s.line}`);
        writeFileSync(join(dir, name), `${s.text}export {};\n`);
      }
    }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'], strict: true, noEmit: true, skipLibCheck: true },
      include: ['*.ts'],
    }));
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, '--pretty', 'false'], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
    // Errors named by their Markdown line: README-md-188.ts(3,5) → README.md line 188 + 3.
    const errors = `${r.stdout}${r.stderr}`.replace(/^([\w-]+\.ts)\((\d+),(\d+)\)/gm, (_m, name: string, line: string, col: string) => {
      const at = origin.get(name);
      if (!at) return `${name}(${line},${col})`;
      const [f, l] = [at.slice(0, at.lastIndexOf(':')), Number(at.slice(at.lastIndexOf(':') + 1))];
      return `${f}:${l + Number(line)}:${col}`;
    });
    expect(errors).toBe('');
    expect(r.status).toBe(0);
    expect(origin.size).toBeGreaterThan(5);
  }, 180_000);

  for (const [file, steps] of parsed) {
    describe.sequential(file, () => {
      let dir: string | undefined;
      const workspace = () => {
        if (dir === undefined) {
          dir = makeWorkspace(file);
          workspaces.push(dir);
        }
        return dir;
      };
      for (const step of steps) {
        if (step.type === 'setup') {
          it(`${file}:${step.line} hidden setup`, () => runShell(step.script, workspace(), shellEnv(workspace()), `${file}:${step.line}`), BLOCK_TIMEOUT_MS);
          continue;
        }
        const skip = step.annotations.find((a) => a.kind === 'skip');
        const name = `${file}:${step.line} ${step.lang}${step.annotations.length ? ` (${step.annotations.map((a) => a.kind).join(', ')})` : ''}`;
        if (skip) it.skip(`${name}: ${skip.reason}`, () => {});
        else if (step.lang === 'text' && !step.annotations.some((a) => a.kind === 'output')) it.skip(`${name}: text (a drawing or a listing), not run`, () => {});
        else it(name, () => runBlock(step, file, workspace()), BLOCK_TIMEOUT_MS);
      }
    });
  }
});
