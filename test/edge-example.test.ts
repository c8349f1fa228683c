// The edge example (examples/edge) builds from this repository, as its README says,
// with wrangler itself: `npm ci` in the example links `sgfilter` to this checkout
// (`"sgfilter": "file:../.."`) and installs wrangler, the example's own devDependency
// (pinned to the release whose workerd and Miniflare the root's tests run); then
// `wrangler deploy --dry-run --outdir` writes exactly what a deploy would upload, for
// both workers: wrangler.toml (src/worker.js, the policy from Workers KV) and
// wrangler.bundled.toml (src/bundled-worker.js, the policy compiled into the upload by
// its [build] command, `npx sgfilter compile`). Each upload then runs in workerd
// (Miniflare, loopback only) and answers requests: one client the example policy
// accepts (200) and one it drops (403).
//
// The example's node_modules is kept between runs (gitignored) and installed again only
// when it is missing or not what its lockfile says; the first run fetches wrangler from
// the npm registry (or npm's cache), ~200 MB, most of it the workerd binary.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile, publishPolicy, type PolicyWriter } from '../src/index.js';
import { ROOT } from './edge-bundle.js';

const EXAMPLE = join(ROOT, 'examples', 'edge');
const KEY_HEX = 'c3'.repeat(32);
const COMPAT_DATE = '2026-04-26';
/** The example policy (examples/edge/policy.yaml): rule 0 drops 203.0.113.0/28, rule 1 accepts all other IPv4 on 80 and 443. */
const ACCEPTED = '198.51.100.7';
const DROPPED = '203.0.113.5';
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Upload {
  /** What wrangler wrote, by file name: the worker (ES module), the matcher (.wasm), the policy (.bin). */
  files: string[];
  main: string;
  modules: { type: 'ESModule' | 'CompiledWasm' | 'Data'; path: string; contents: Uint8Array }[];
}

let out: string;
let kvUpload: Upload;
let bundledUpload: Upload;
let mf: Miniflare | undefined;

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;

function run(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: EXAMPLE,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', WRANGLER_SEND_METRICS: 'false', ...env },
  });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in examples/edge failed (exit ${r.status ?? r.signal}):\n${text}`);
  return text;
}

/** True when examples/edge/node_modules is what its lockfile says, with sgfilter linked to this checkout. */
function installed(): boolean {
  const lock = json(join(EXAMPLE, 'package-lock.json'));
  const wrangler = join(EXAMPLE, 'node_modules', 'wrangler', 'package.json');
  const link = join(EXAMPLE, 'node_modules', 'sgfilter');
  return existsSync(wrangler) && json(wrangler).version === lock.packages['node_modules/wrangler'].version && existsSync(link) && realpathSync(link) === realpathSync(ROOT);
}

/** `wrangler deploy --dry-run --outdir` with one of the example's configs, and the modules it wrote. */
function build(config: string, dir: string): Upload {
  run(join(EXAMPLE, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', dir, '--config', config], { WRANGLER_LOG_PATH: join(dir, '..', 'wrangler-logs') });
  const files = readdirSync(dir).sort();
  const main = files.find((f) => f.endsWith('.js'))!;
  const modules: Upload['modules'] = [{ type: 'ESModule', path: join(dir, main), contents: readFileSync(join(dir, main)) }];
  for (const f of files) {
    if (f.endsWith('.wasm')) modules.push({ type: 'CompiledWasm', path: join(dir, f), contents: readFileSync(join(dir, f)) });
    else if (f.endsWith('.bin')) modules.push({ type: 'Data', path: join(dir, f), contents: readFileSync(join(dir, f)) });
  }
  return { files, main, modules };
}

beforeAll(async () => {
  if (!installed()) run(npm, ['ci', '--prefer-offline']);
  out = mkdtempSync(join(tmpdir(), 'sgfilter-edge-example-'));
  kvUpload = build('wrangler.toml', join(out, 'kv'));
  bundledUpload = build('wrangler.bundled.toml', join(out, 'bundled'));
  const worker = (u: Upload) => ({ modules: u.modules.map((m) => ({ ...m, contents: m.type === 'ESModule' ? Buffer.from(m.contents).toString('utf8') : m.contents })), modulesRoot: join(u.modules[0]!.path, '..'), compatibilityDate: COMPAT_DATE });
  mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    workers: [
      { name: 'kv', ...worker(kvUpload), kvNamespaces: { POLICY_KV: 'example-fleet' }, bindings: { POLICY_KEY: KEY_HEX } },
      { name: 'bundled', ...worker(bundledUpload) },
    ],
  });
  await mf.ready;
  // Publish the example policy into the worker's KV namespace, as `sgfilter publish` does.
  const kv = (await mf.getKVNamespace('POLICY_KV', 'kv')) as unknown as {
    get(k: string, t: 'arrayBuffer'): Promise<ArrayBuffer | null>;
    put(k: string, v: Uint8Array): Promise<void>;
  };
  const writer: PolicyWriter = {
    name: 'the example worker KV namespace',
    get: async (k) => {
      const v = await kv.get(k, 'arrayBuffer');
      return v === null ? null : new Uint8Array(v);
    },
    put: (k, v) => kv.put(k, v),
  };
  await publishPolicy(writer, await loadConfigFile(join(EXAMPLE, 'policy.yaml')), KEY_HEX);
}, 360_000);

afterAll(async () => {
  await mf?.dispose();
  if (out) rmSync(out, { recursive: true, force: true });
});

/** The uploaded modules' names without wrangler's content-hash prefix, sorted (source maps and wrangler's README left out). */
const uploaded = (u: Upload) => u.files.filter((f) => !/\.(map|md)$/.test(f)).map((f) => f.replace(/^[0-9a-f]{40}-/, '')).sort();

async function status(worker: string, client: string): Promise<number> {
  const w = (await mf!.getWorker(worker)) as unknown as { fetch(url: string, init?: RequestInit): Promise<Response> };
  const res = await w.fetch('https://example.com/', { headers: { 'CF-Connecting-IP': client } });
  await res.arrayBuffer();
  return res.status;
}

describe('examples/edge, built from this repository by wrangler', () => {
  it('depends on this checkout (file:../..) and pins the wrangler whose workerd and Miniflare the tests run', () => {
    const pkg = json(join(EXAMPLE, 'package.json'));
    expect(pkg.dependencies).toEqual({ sgfilter: 'file:../..' });
    expect(realpathSync(join(EXAMPLE, 'node_modules', 'sgfilter'))).toBe(realpathSync(ROOT));
    const lock = json(join(EXAMPLE, 'package-lock.json')).packages;
    const root = json(join(ROOT, 'package.json')).devDependencies;
    expect(lock['node_modules/wrangler'].version).toBe(pkg.devDependencies.wrangler);
    expect(lock['node_modules/miniflare'].version).toBe(root.miniflare);
    expect(lock['node_modules/workerd'].version).toBe(root.workerd);
  });

  it('wrangler.toml uploads the KV worker and the matcher as a CompiledWasm module, with no node: import', () => {
    expect(kvUpload.main).toBe('worker.js');
    expect(uploaded(kvUpload)).toEqual(['sgfilter.wasm', 'worker.js']);
    const code = Buffer.from(kvUpload.modules[0]!.contents).toString('utf8');
    expect(code).not.toMatch(/from\s*["']node:|require\(["']node:/);
    expect([...code.matchAll(/^import \w+ from "\.\/([^"]+)";$/gm)].map((m) => m[1]!.replace(/^[0-9a-f]{40}-/, ''))).toEqual(['sgfilter.wasm']);
  });

  it('wrangler.bundled.toml compiles policy.yaml with `npx sgfilter compile` and uploads it as a Data module', () => {
    expect(bundledUpload.main).toBe('bundled-worker.js');
    expect(uploaded(bundledUpload)).toEqual(['bundled-worker.js', 'policy.bin', 'sgfilter.wasm']);
    const snapshot = bundledUpload.modules.find((m) => m.type === 'Data')!.contents;
    expect(Buffer.compare(snapshot, readFileSync(join(EXAMPLE, 'policy.bin')))).toBe(0);
  });

  it('the KV worker, in workerd, reads the published policy: 200 for a client it accepts, 403 for one it drops', async () => {
    expect(await status('kv', ACCEPTED)).toBe(200);
    expect(await status('kv', DROPPED)).toBe(403);
  });

  it('the bundled worker, in workerd, classifies with the compiled policy: 200 and 403', async () => {
    expect(await status('bundled', ACCEPTED)).toBe(200);
    expect(await status('bundled', DROPPED)).toBe(403);
  });
});
