/**
 * The package as users get it: `npm pack` of this checkout (built by pretest),
 * installed into an empty project, then used from ESM, CommonJS `require`, TypeScript
 * (moduleResolution NodeNext and Bundler) and `npx sgfilter`; and the ecosystem's
 * package linters, publint and @arethetypeswrong/cli, on the same tarball.
 *
 * Dependencies come from npm's cache (--prefer-offline): the clone's own `npm ci`
 * has put them there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
/** Consumer files: ok.ts (every accepted spelling) and typos.ts (one typo per line marked `// typo`). */
const TYPES_FIXTURES = join(ROOT, 'test', 'fixtures', 'types');
const BIN = join(ROOT, 'node_modules', '.bin');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let tmp: string;
let tarball: string;
let project: string;
/** What `npm install` of the tarball printed. */
let installOutput: string;
/** The repository's package.json before the pack (prepack strips it, postpack restores it). */
let manifestBefore: { text: string; mtimeMs: number };

function run(cmd: string, args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 180_000, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const SSH = { securityGroups: [{ id: 'sg-ssh', inbound: [{ protocol: 'TCP', port: 22, source: '203.0.113.0/24', action: 'accept' }] }] };
const FLOW = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '203.0.113.9' };
const ACCEPT = JSON.stringify({ action: 'accept', groupId: 'sg-ssh', ruleIndex: 0 });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-package-'));
  manifestBefore = { text: readFileSync(join(ROOT, 'package.json'), 'utf8'), mtimeMs: statSync(join(ROOT, 'package.json')).mtimeMs };
  // With its scripts, as a user's `npm pack` runs: prepack (build if stale, then the
  // packed manifest without `prepare`) and postpack (the manifest restored).
  execFileSync(npm, ['pack', '--pack-destination', tmp], { cwd: ROOT, stdio: 'pipe' });
  tarball = join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz'))!);
  project = join(tmp, 'app');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const r = run(npm, ['install', '--prefer-offline', '--no-package-lock', tarball, '@types/node@20'], project);
  if (r.status !== 0) throw new Error(`npm install of the tarball failed:\n${r.out}`);
  installOutput = r.out;
}, 240_000);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package, installed into an empty project', () => {
  it('works from ESM', () => {
    writeFileSync(join(project, 'esm.mjs'), `
      import { createEngine, SgfilterError } from 'sgfilter';
      const engine = await createEngine(${JSON.stringify(SSH)});
      console.log(JSON.stringify(engine.classify(${JSON.stringify(FLOW)})));
      console.log(typeof SgfilterError);
    `);
    const r = run(process.execPath, ['esm.mjs'], project);
    expect(r.out).toBe(`${ACCEPT}\nfunction\n`);
  });

  it('works from CommonJS require, as the same module instance', () => {
    writeFileSync(join(project, 'cjs.cjs'), `
      const sg = require('sgfilter');
      const edge = require('sgfilter/edge');
      const node = require('sgfilter/node');
      (async () => {
        const engine = await sg.createEngine(${JSON.stringify(SSH)});
        console.log(JSON.stringify(engine.classify(${JSON.stringify(FLOW)})));
        const e2 = await edge.createEngine({ text: ${JSON.stringify(JSON.stringify(SSH))} });
        console.log(e2.classify(${JSON.stringify(FLOW)}).action, typeof node.guardServer);
        import('sgfilter').then((esm) => console.log(esm.SgfilterError === sg.SgfilterError));
      })();
    `);
    const r = run(process.execPath, ['cjs.cjs'], project);
    expect(r.out).toBe(`${ACCEPT}\naccept function\ntrue\n`);
  });

  const tsProject = (name: string, resolution: string, module: string, files: string[]): string => {
    const dir = join(project, name);
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module, moduleResolution: resolution, strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(project, 'node_modules', '@types')] },
      include: ['*.ts'],
    }));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    for (const f of files) copyFileSync(join(TYPES_FIXTURES, f), join(dir, f));
    return dir;
  };

  for (const [resolution, module] of [['NodeNext', 'NodeNext'], ['Bundler', 'ESNext']] as const) {
    it(`type-checks with moduleResolution ${resolution}: every spelling the input types document (test/fixtures/types/ok.ts)`, () => {
      const dir = tsProject(`ts-${resolution}`, resolution, module, ['ok.ts']);
      writeFileSync(join(dir, 'first.ts'), `
        import { createEngine, type Verdict, type EngineSource } from 'sgfilter';
        import { createEngine as createEdgeEngine } from 'sgfilter/edge';
        import { guardServer } from 'sgfilter/node';
        const source: EngineSource = ${JSON.stringify(SSH)};
        const engine = await createEngine(source);
        const v: Verdict = engine.classify({ direction: 'inbound', protocol: 'TCP', port: 22, remote: '203.0.113.9' });
        void v; void createEdgeEngine; void guardServer;
      `);
      const ok = run(join(BIN, 'tsc'), ['-p', dir], dir);
      expect(ok.out).toBe('');
      expect(ok.status).toBe(0);
    }, 120_000);

    it(`refuses typos with moduleResolution ${resolution}: an error on each line of test/fixtures/types/typos.ts marked // typo, and on no other`, () => {
      const dir = tsProject(`ts-${resolution}-typos`, resolution, module, ['typos.ts']);
      const lines = readFileSync(join(TYPES_FIXTURES, 'typos.ts'), 'utf8').split('\n');
      const marked = lines.flatMap((l, i) => (l.endsWith('// typo') ? [i + 1] : []));
      expect(marked.length).toBeGreaterThanOrEqual(15);
      const r = run(join(BIN, 'tsc'), ['-p', dir, '--pretty', 'false'], dir);
      expect(r.status).toBe(2);
      const errors = [...r.out.matchAll(/^typos\.ts\((\d+),\d+\): error (TS\d+)/gm)].map((m) => Number(m[1]));
      expect(r.out.split('\n').filter((l) => l.includes('error TS') && !l.startsWith('typos.ts('))).toEqual([]);
      expect([...new Set(errors)].sort((a, b) => a - b)).toEqual(marked);
    }, 120_000);
  }

  it('ships the config JSON Schema as sgfilter/schema.json (require.resolve, and an import with type json)', () => {
    writeFileSync(join(project, 'schema.mjs'), `
      import { createRequire } from 'node:module';
      import schema from 'sgfilter/schema.json' with { type: 'json' };
      const path = createRequire(import.meta.url).resolve('sgfilter/schema.json');
      console.log(path.endsWith('schema/sgfilter-config.schema.json'), schema.$schema, typeof schema.definitions.inboundRule);
    `);
    const r = run(process.execPath, ['--no-warnings', 'schema.mjs'], project); // JSON modules warn as experimental in Node 20
    expect(r.out).toBe('true http://json-schema.org/draft-07/schema# object\n');
  });

  it('runs the CLI with npx sgfilter', () => {
    const version = run(npm, ['exec', '--offline', '--', 'sgfilter', '--version'], project);
    expect(version.status).toBe(0);
    expect(version.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const check = run(npm, ['exec', '--offline', '--', 'sgfilter', 'check', 'node_modules/sgfilter/examples/seed-scenarios.yaml'], project);
    expect(check.out).toContain('valid');
    expect(check.status).toBe(0);
  });
});

describe('the tarball holds what its docs point at, and no install-time script', () => {
  const installed = () => join(project, 'node_modules', 'sgfilter');

  it('every file README.md, docs/SEMANTICS.md and examples/edge/README.md link to is in the package', () => {
    const linked: string[] = [];
    for (const doc of ['README.md', 'docs/SEMANTICS.md', 'docs/DESIGN.md', 'examples/edge/README.md']) {
      expect(existsSync(join(installed(), doc)), doc).toBe(true);
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        linked.push(join(dirname(doc), target));
      }
    }
    expect(linked).toContain('docs/SEMANTICS.md');
    expect(linked.filter((f) => !existsSync(join(installed(), f)))).toEqual([]);
  });

  it('the packed package.json has no prepare script (npm warned about it on install), and the clone gets its own back', () => {
    const packed = JSON.parse(readFileSync(join(installed(), 'package.json'), 'utf8'));
    expect(packed.scripts.prepare).toBeUndefined();
    expect(Object.keys(packed.scripts).filter((k) => /^(pre|post)?install$|^prepare$/.test(k))).toEqual([]);
    expect(installOutput).not.toMatch(/install-scripts|install script/i);
    expect(readFileSync(join(ROOT, 'package.json'), 'utf8')).toBe(manifestBefore.text);
    // To the millisecond (file systems keep nanoseconds; utimes takes less): what start.mjs compares.
    expect(Math.abs(statSync(join(ROOT, 'package.json')).mtimeMs - manifestBefore.mtimeMs)).toBeLessThan(1);
    expect(existsSync(join(ROOT, '.package.json.unpacked'))).toBe(false);
    expect(JSON.parse(manifestBefore.text).scripts.prepare).toBe('node scripts/start.mjs --build-only');
  });
});

describe('package linters on the packed tarball', () => {
  it('publint: all good', () => {
    const r = run(join(BIN, 'publint'), ['run', '--strict', '--pack', 'npm'], ROOT);
    expect(r.out).toContain('All good!');
    expect(r.status).toBe(0);
  }, 120_000);

  it('arethetypeswrong: no problems in any resolution mode', () => {
    // sgfilter/schema.json is data, not a module with types: Node 16+ and bundlers resolve it
    // through "exports" (checked above), and node10 resolution, which ignores "exports",
    // has no business importing it.
    const r = run(join(BIN, 'attw'), [tarball, '--exclude-entrypoints', './schema.json'], ROOT);
    expect(r.out).toContain('No problems found');
    expect(r.status).toBe(0);
  }, 120_000);
});
