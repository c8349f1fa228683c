// Policies across the edge, in the real runtime: workerd (through Miniflare, loopback
// only) runs the example worker (examples/edge/src/worker.js, bundled as wrangler
// would) as two workers bound to one KV namespace, and `sgfilter publish` (the CLI,
// through a stand-in for Cloudflare's KV API whose values land in Miniflare's local
// KV) publishes to it. Checked: an empty namespace fails closed; both workers follow
// each published version within the refresh interval; unsigned, tampered, other-key,
// mislabelled and rolled-back snapshots are refused by both and the old policy kept;
// under a stream of publishes no request ever sees anything but one whole published
// version; R2 and URL stores; and `publish --local` into wrangler dev's local KV.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import {
  compilePolicy, encodePolicyPointer, encodeSnapshot, parseConfig, parseFlow, publishPolicy, referenceClassify, signSnapshot,
  type Config, type FlowInput, type PolicyWriter, type Verdict,
} from '../src/index.js';
import { sha256Hex } from '../src/distribution/layout.js';
import { ROOT, bundleWorker } from './edge-bundle.js';
import { startFakeApi, type FakeApi, type KvBacking } from './fake-cloudflare-api.js';

const COMPAT_DATE = '2026-04-26';
const KEY_HEX = 'd4'.repeat(32);
const KEY = Buffer.from(KEY_HEX, 'hex');
const OTHER_KEY = Buffer.from('e5'.repeat(32), 'hex');
const ADMIN_TOKEN = 'kv-test-admin-token';
const API_TOKEN = 'kv-test-api-token-7f3a9c';
const ACCOUNT = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const FLEET = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'; // the fleet's namespace id
const REFRESH_SECONDS = 1;
/** What a 2-core machine shared with other test runs may add to the refresh interval. */
const SLACK_MS = 2500;
const CLIENT = '198.51.100.7';

let mf: Miniflare | undefined;
let api: FakeApi | undefined;
let urlServer: Server | undefined;
let tmp: string;
let keyFile: string;
let fleet: PolicyWriter;
const urlStore = new Map<string, Uint8Array>();

type Fetcher = { fetch(url: string, init?: RequestInit): Promise<Response> };
const worker = async (name: string) => (await mf!.getWorker(name)) as unknown as Fetcher;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bundle and the modules it imports by name (the matcher, as CompiledWasm). */
async function workerModules(entry: string) {
  const b = await bundleWorker(entry);
  const modules: { type: 'ESModule' | 'CompiledWasm'; path: string; contents: string | Uint8Array }[] = [{ type: 'ESModule', path: join(ROOT, 'worker.js'), contents: b.code }];
  for (const [name, path] of b.modules) modules.push({ type: 'CompiledWasm', path: join(ROOT, name), contents: readFileSync(path) });
  return { modules, modulesRoot: ROOT, compatibilityDate: COMPAT_DATE };
}

/** A policy for the example worker: CLIENT's HTTPS accepted or dropped, everyone else's accepted. */
const edgeDoc = (n: number, client: 'accept' | 'drop') =>
  ({ securityGroups: [{ id: `sg-v${n}`, inbound: [{ protocol: 'TCP', port: 443, source: CLIENT, action: client }, { protocol: 'TCP', port: 443, source: 'any', action: 'accept' }] }] });
const edgePolicy = (n: number, client: 'accept' | 'drop'): Config => parseConfig(edgeDoc(n, client));

/** The fixture worker's flows and a policy per n whose verdicts on them differ with n. */
const FLOWS: FlowInput[] = Array.from({ length: 8 }, (_, i) => ({ direction: 'inbound', protocol: 'TCP', port: i + 1, remote: CLIENT }));
function bitsPolicy(n: number): Config {
  const inbound = Array.from({ length: 8 }, (_, i) => ({ protocol: 'TCP', port: i + 1, source: '0.0.0.0/0', action: (n >> i) & 1 ? 'accept' : 'drop' }));
  return parseConfig({ securityGroups: [{ id: `sg-bits-${n}`, inbound }] });
}
const expectedVerdicts = (cfg: Config): Verdict[] => FLOWS.map((f) => referenceClassify(cfg, parseFlow(f)));

/** The example worker's answer for CLIENT on https://example.com/. */
async function statusOf(name: string): Promise<number> {
  const res = await (await worker(name)).fetch('https://example.com/', { headers: { 'CF-Connecting-IP': CLIENT } });
  await res.arrayBuffer();
  return res.status;
}
interface SourceStatus {
  version: number | null;
  lastError: { code: string; message: string; at: number } | null;
  checkedAt: number | null;
}
async function adminStatus(name: string): Promise<SourceStatus> {
  const res = await (await worker(name)).fetch('https://example.com/__sgfilter/policy', { headers: { 'x-sgfilter-admin-token': ADMIN_TOKEN } });
  return (await res.json()) as SourceStatus;
}

/** Runs `sgfilter publish` (the built CLI, in its own process) against the stand-in API. */
function publishCli(config: object, extra: string[] = []): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const file = join(tmp, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const args = [join(ROOT, 'dist/src/cli.js'), 'publish', file, '--key-file', keyFile, ...extra];
  if (!extra.includes('--local')) args.push('--kv-namespace', FLEET, '--account-id', ACCOUNT, '--api-token-env', 'SGFILTER_TEST_TOKEN', '--api-url', api!.url);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: tmp, env: { PATH: process.env.PATH, SGFILTER_TEST_TOKEN: API_TOKEN } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Sends requests to each worker (they check when due) until `done(name)` holds for all; ms each took. */
async function untilAll(names: string[], done: (name: string) => Promise<boolean>, limitMs: number): Promise<Map<string, number>> {
  const t0 = performance.now();
  const took = new Map<string, number>();
  while (took.size < names.length) {
    for (const name of names) {
      if (took.has(name)) continue;
      await statusOf(name).catch(() => undefined); // traffic: the request that starts a due check
      if (await done(name)) took.set(name, performance.now() - t0);
    }
    if (performance.now() - t0 > limitMs) {
      const states = await Promise.all(names.map(async (n) => `${n}: ${JSON.stringify(n === 'hammer' ? await (await (await worker(n)).fetch('https://x/status')).json() : await adminStatus(n))}`));
      throw new Error(`not all of ${names.join(', ')} got there within ${limitMs} ms (now ${Date.now()}): ${JSON.stringify([...took])}\n${states.join('\n')}`);
    }
    await sleep(25);
  }
  return took;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-edge-kv-'));
  keyFile = join(tmp, 'snapshot.key');
  writeFileSync(keyFile, KEY_HEX);
  urlServer = createServer((req, res) => {
    const v = urlStore.get(decodeURIComponent((req.url ?? '').replace(/^\/policies\//, '')));
    if (v) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(v));
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => urlServer!.listen(0, '127.0.0.1', r));
  const example = await workerModules(join(ROOT, 'examples/edge/src/worker.js'));
  const fixture = await workerModules(join(ROOT, 'test/fixtures/edge/policy-source-worker.js'));
  const fleetBindings = { POLICY_KEY: KEY_HEX, POLICY_REFRESH_SECONDS: String(REFRESH_SECONDS), ADMIN_TOKEN };
  mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    workers: [
      { name: 'a', ...example, kvNamespaces: { POLICY_KV: FLEET }, bindings: fleetBindings },
      { name: 'b', ...example, kvNamespaces: { POLICY_KV: FLEET }, bindings: fleetBindings },
      { name: 'empty', ...example, kvNamespaces: { POLICY_KV: 'never-published' }, bindings: fleetBindings },
      { name: 'nokey', ...example, kvNamespaces: { POLICY_KV: FLEET }, bindings: { ADMIN_TOKEN } },
      { name: 'hammer', ...fixture, kvNamespaces: { POLICY_KV: FLEET }, bindings: { SOURCE: 'kv', POLICY_KEY: KEY_HEX, REFRESH_SECONDS: '0' } },
      { name: 'r2', ...fixture, r2Buckets: { POLICY_BUCKET: 'policies' }, bindings: { SOURCE: 'r2', POLICY_KEY: KEY_HEX, REFRESH_SECONDS: '0' } },
      {
        name: 'url', ...fixture,
        bindings: { SOURCE: 'url', POLICY_URL: `http://127.0.0.1:${(urlServer.address() as AddressInfo).port}/policies/`, POLICY_KEY: KEY_HEX, REFRESH_SECONDS: '0' },
      },
    ],
  });
  await mf.ready;
  const kv = (await mf.getKVNamespace('POLICY_KV', 'a')) as unknown as {
    get(k: string, t: 'arrayBuffer'): Promise<ArrayBuffer | null>;
    put(k: string, v: Uint8Array): Promise<void>;
  };
  const backing: KvBacking = {
    get: async (k) => {
      const v = await kv.get(k, 'arrayBuffer');
      return v === null ? null : new Uint8Array(v);
    },
    put: (k, v) => kv.put(k, v),
  };
  fleet = { name: 'fleet KV', ...backing };
  api = await startFakeApi(API_TOKEN, { [FLEET]: backing });
}, 120_000);

afterAll(async () => {
  await mf?.dispose();
  await api?.close();
  urlServer?.closeAllConnections();
  await new Promise((r) => urlServer?.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

describe('the example worker follows signed policies published to Workers KV (workerd)', () => {
  it('fails closed while nothing is published: 503 for every request, and says why on its status page', async () => {
    for (const name of ['a', 'b', 'empty']) {
      for (const remote of [CLIENT, '192.0.2.1', '2001:db8::1']) {
        const res = await (await worker(name)).fetch('https://example.com/', { headers: { 'CF-Connecting-IP': remote } });
        expect(res.status, `${name} ${remote}`).toBe(503);
        expect(res.headers.get('retry-after')).toBe('5');
        expect(await res.text()).toBe('Service Unavailable\n');
      }
      const status = await adminStatus(name);
      expect(status.version).toBeNull();
      expect(status.lastError).toMatchObject({ code: 'POLICY_STORE', message: expect.stringContaining('nothing published') });
    }
    // No admin token: the status page is as closed as anything else.
    expect((await (await worker('a')).fetch('https://example.com/__sgfilter/policy')).status).toBe(403);
    // A worker without its key secret refuses everything and says so to its admin.
    expect(await statusOf('nokey')).toBe(503);
    const res = await (await worker('nokey')).fetch('https://example.com/__sgfilter/policy', { headers: { 'x-sgfilter-admin-token': ADMIN_TOKEN } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'SNAPSHOT_KEY', message: expect.stringContaining('secret') });
  });

  it('both workers pick up each version `sgfilter publish` makes current within the refresh interval', async () => {
    const first = await publishCli(edgeDoc(1, 'accept'));
    expect(first.stderr).toBe('');
    expect(first.stdout).toContain('published policy version 1');
    const loaded = await untilAll(['a', 'b'], async (n) => (await adminStatus(n)).version === 1, REFRESH_SECONDS * 1000 + SLACK_MS);
    for (const n of ['a', 'b']) expect(await statusOf(n)).toBe(200);

    for (const [version, client, status] of [[2, 'drop', 403], [3, 'accept', 200], [4, 'drop', 403]] as const) {
      const r = await publishCli(edgeDoc(version, client));
      expect(r.stdout).toContain(`published policy version ${version}`);
      const took = await untilAll(['a', 'b'], async (n) => (await adminStatus(n)).version === version, REFRESH_SECONDS * 1000 + SLACK_MS);
      for (const n of ['a', 'b']) {
        expect(await statusOf(n), `${n} at version ${version}`).toBe(status);
        expect(await (await worker(n)).fetch('https://example.com/', { headers: { 'CF-Connecting-IP': '192.0.2.1' } }).then((x) => x.status)).toBe(200);
      }
      console.log(`[edge-kv] version ${version}: a after ${took.get('a')!.toFixed(0)} ms, b after ${took.get('b')!.toFixed(0)} ms (refresh ${REFRESH_SECONDS} s)`);
    }
    console.log(`[edge-kv] first load: a after ${loaded.get('a')!.toFixed(0)} ms, b after ${loaded.get('b')!.toFixed(0)} ms`);
    // The API saw only the token in Authorization.
    expect(api!.calls.every((c) => c.authorization === `Bearer ${API_TOKEN}`)).toBe(true);
  }, 60_000);

  it('refuses unsigned, tampered, other-key, mislabelled and rolled-back snapshots in every worker, keeping the policy', async () => {
    const good = await adminStatus('a');
    expect(good.version).toBe(4);
    const next = 5;
    const dec = new TextEncoder();
    /** What someone with write access to the namespace (not the key) can plant. */
    const plant = async (blob: Uint8Array | null, pointer: Partial<{ version: number; sha256: string; bytes: number }> | string) => {
      if (blob) await fleet.put(`policy:${next}`, blob);
      const text = typeof pointer === 'string' ? pointer : encodePolicyPointer({ version: next, sha256: await sha256Hex(blob!), bytes: blob!.length, ...pointer });
      await fleet.put('policy:current', dec.encode(text));
    };
    const signedNext = await signSnapshot(encodeSnapshot(compilePolicy(edgePolicy(next, 'accept')), edgePolicy(next, 'accept'), next), KEY);
    const flipped = signedNext.slice();
    flipped[signedNext.length - 100]! ^= 0x01;
    const v1 = (await fleet.get('policy:1'))!;
    const cases: [string, () => Promise<void>, string][] = [
      ['unsigned', () => plant(encodeSnapshot(compilePolicy(edgePolicy(next, 'accept')), edgePolicy(next, 'accept'), next), {}), 'SNAPSHOT_UNSIGNED'],
      ['a byte changed (version key made to match)', () => plant(flipped, {}), 'SNAPSHOT_SIGNATURE'],
      ['a byte changed (version key of the signed bytes)', async () => plant(flipped, { sha256: await sha256Hex(signedNext) }), 'POLICY_INVALID'],
      ['signed with another key', async () => plant(await signSnapshot(encodeSnapshot(compilePolicy(edgePolicy(next, 'accept')), edgePolicy(next, 'accept'), next), OTHER_KEY), {}), 'SNAPSHOT_SIGNATURE'],
      ['truncated below a signature', () => plant(signedNext.subarray(0, 40), {}), 'SNAPSHOT_INVALID'],
      ['truncated', () => plant(signedNext.subarray(0, 200), {}), 'SNAPSHOT_SIGNATURE'],
      ['version 1, signed, copied under version 5', () => plant(v1, {}), 'POLICY_INVALID'],
      ['version key rolled back to version 1', async () => plant(null, encodePolicyPointer({ version: 1, sha256: await sha256Hex(v1), bytes: v1.length })), 'POLICY_INVALID'],
      ['version key not JSON', () => plant(null, 'version=5'), 'POLICY_INVALID'],
    ];
    const blob4 = (await fleet.get('policy:4'))!;
    const pointer4 = encodePolicyPointer({ version: 4, sha256: await sha256Hex(blob4), bytes: blob4.length });
    const sourceStatus = async (n: string) => (n === 'hammer' ? ((await (await (await worker(n)).fetch('https://x/status')).json()) as SourceStatus) : adminStatus(n));
    // Three isolates: the two example workers, and the fixture (which has not loaded anything yet).
    const everyone = ['a', 'b', 'hammer'];
    for (const [name, apply, code] of cases) {
      // From a clean state (version 4 current, no error) to the planted one, so each
      // case's refusal is seen to happen, not left over from the case before.
      await fleet.put('policy:current', dec.encode(pointer4));
      await untilAll(everyone, async (n) => {
        const s = await sourceStatus(n);
        return s.version === 4 && s.lastError === null;
      }, REFRESH_SECONDS * 1000 + SLACK_MS);
      await apply();
      await untilAll(everyone, async (n) => (await sourceStatus(n)).lastError?.code === code, REFRESH_SECONDS * 1000 + SLACK_MS);
      for (const n of ['a', 'b']) {
        const s = await adminStatus(n);
        expect(s.version, `${name}: ${n}`).toBe(4);
        expect(s.lastError?.code, `${name}: ${n}`).toBe(code);
        expect(await statusOf(n), `${name}: ${n} still drops the client, as version 4 says`).toBe(403);
      }
      expect((await sourceStatus('hammer')).version, name).toBe(4);
    }
    // A real publish after all that is taken up everywhere.
    await fleet.put('policy:current', dec.encode(pointer4));
    await fleet.put(`policy:${next}`, new Uint8Array(0)); // a leftover key: publish skips it
    const r = await publishCli(edgeDoc(6, 'accept'));
    expect(r.stdout).toContain('published policy version 6');
    expect(r.stdout).toContain('skipped policy:5');
    await untilAll(['a', 'b'], async (n) => (await adminStatus(n)).version === 6, REFRESH_SECONDS * 1000 + SLACK_MS);
    for (const n of ['a', 'b']) {
      expect(await statusOf(n)).toBe(200);
      expect((await adminStatus(n)).lastError).toBeNull();
    }
  }, 120_000);

  it('never gives a request a half-loaded policy: under a stream of publishes every verdict is one published version\'s', async () => {
    const published = new Map<number, Verdict[]>();
    const publish = async (n: number) => {
      const r = await publishPolicy(fleet, bitsPolicy(n), KEY);
      published.set(r.version, expectedVerdicts(bitsPolicy(n)));
      return r.version;
    };
    const firstVersion = await publish(0b1010_1010);
    const hammer = await worker('hammer');
    // Start from this test's first version (the fixture may hold an earlier test's policy).
    for (const t0 = performance.now(); ; await sleep(20)) {
      await (await hammer.fetch('https://example.com/')).arrayBuffer();
      if (((await (await hammer.fetch('https://x/status')).json()) as SourceStatus).version === firstVersion) break;
      if (performance.now() - t0 > 10_000) throw new Error('the hammer worker never loaded the first version');
    }
    let stop = false;
    let responses = 0;
    const seen = new Set<number>();
    const problems: string[] = [];
    const client = async () => {
      while (!stop) {
        const res = await hammer.fetch('https://example.com/');
        const body = (await res.json()) as { version: number; batch: Verdict[]; single: Verdict[]; error?: string };
        responses++;
        if (res.status !== 200) {
          problems.push(`status ${res.status}: ${JSON.stringify(body)}`);
          continue;
        }
        const want = published.get(body.version);
        if (!want) problems.push(`version ${body.version} was never published`);
        else {
          if (JSON.stringify(body.batch) !== JSON.stringify(want)) problems.push(`version ${body.version}: batch ${JSON.stringify(body.batch)}`);
          if (JSON.stringify(body.single) !== JSON.stringify(want)) problems.push(`version ${body.version}: one at a time ${JSON.stringify(body.single)}`);
        }
        seen.add(body.version);
      }
    };
    const clients = Array.from({ length: 6 }, client);
    let last = firstVersion;
    for (let i = 1; i <= 12; i++) {
      last = await publish((i * 73 + 11) & 0xff);
      await sleep(150);
    }
    const t0 = performance.now();
    while ((await ((await hammer.fetch('https://x/status')).json() as Promise<SourceStatus>)).version !== last) {
      if (performance.now() - t0 > 10_000) throw new Error('the hammer worker never reached the last version');
      await sleep(50);
    }
    stop = true;
    await Promise.all(clients);
    expect(problems).toEqual([]);
    expect(responses).toBeGreaterThan(50);
    expect(seen.size).toBeGreaterThanOrEqual(4); // versions really changed under the requests
    console.log(`[edge-kv] ${responses} requests during 12 publishes saw ${seen.size} versions, each whole`);
  }, 120_000);

  it('reads R2 buckets and URLs the same way: verified, refused when unsigned', async () => {
    const bucket = (await mf!.getR2Bucket('POLICY_BUCKET', 'r2')) as unknown as {
      get(k: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
      put(k: string, v: Uint8Array): Promise<unknown>;
    };
    const r2: PolicyWriter = {
      name: 'R2',
      get: async (k) => {
        const o = await bucket.get(k);
        return o === null ? null : new Uint8Array(await o.arrayBuffer());
      },
      put: async (k, v) => void (await bucket.put(k, v)),
    };
    const url: PolicyWriter = { name: 'url', get: async (k) => urlStore.get(k) ?? null, put: async (k, v) => void urlStore.set(k, v) };
    for (const [name, writer] of [['r2', r2], ['url', url]] as const) {
      const w = await worker(name);
      const empty = await w.fetch('https://x/');
      expect(empty.status, name).toBe(503);
      expect(await empty.json()).toEqual({ error: 'POLICY_UNAVAILABLE', cause: 'POLICY_STORE' });
      await publishPolicy(writer, bitsPolicy(0x5a), KEY);
      const ok = (await (await w.fetch('https://x/')).json()) as { version: number; batch: Verdict[] };
      expect(ok, name).toEqual({ version: 1, batch: expectedVerdicts(bitsPolicy(0x5a)), single: expectedVerdicts(bitsPolicy(0x5a)) });
      const unsigned = encodeSnapshot(compilePolicy(bitsPolicy(0xa5)), bitsPolicy(0xa5), 2);
      await writer.put('policy:2', unsigned);
      await writer.put('policy:current', new TextEncoder().encode(encodePolicyPointer({ version: 2, sha256: await sha256Hex(unsigned), bytes: unsigned.length })));
      await w.fetch('https://x/'); // starts the check
      const t0 = performance.now();
      let status: SourceStatus;
      while ((status = (await (await w.fetch('https://x/status')).json()) as SourceStatus).lastError?.code !== 'SNAPSHOT_UNSIGNED') {
        if (performance.now() - t0 > 5000) throw new Error(`${name}: ${JSON.stringify(status)}`);
        await w.fetch('https://x/');
        await sleep(20);
      }
      expect(status.version).toBe(1);
      expect(((await (await w.fetch('https://x/')).json()) as { batch: Verdict[] }).batch).toEqual(expectedVerdicts(bitsPolicy(0x5a)));
    }
  }, 60_000);
});

describe('sgfilter publish --local and wrangler dev (Miniflare persisting to a folder)', () => {
  it('a running dev worker follows what publish --local writes into its local KV', async () => {
    const state = join(tmp, 'state');
    const example = await workerModules(join(ROOT, 'examples/edge/src/worker.js'));
    const dev = new Miniflare({
      host: '127.0.0.1',
      port: 0,
      ...example,
      defaultPersistRoot: join(state, 'v3'), // what `wrangler dev --persist-to state` passes
      kvNamespaces: { POLICY_KV: 'dev-policy' },
      bindings: { POLICY_KEY: KEY_HEX, POLICY_REFRESH_SECONDS: '1', ADMIN_TOKEN },
    });
    try {
      const get = async () => {
        const res = await dev.dispatchFetch('https://example.com/', { headers: { 'CF-Connecting-IP': CLIENT } });
        await res.arrayBuffer();
        return res.status;
      };
      expect(await get()).toBe(503);
      for (const [version, client, status] of [[1, 'accept', 200], [2, 'drop', 403]] as const) {
        const r = await publishCli(edgeDoc(version, client), ['--local', '--kv-namespace', 'dev-policy', '--persist-to', state]);
        expect(r.stderr).toBe('');
        expect(r.stdout).toContain(`published policy version ${version}`);
        const t0 = performance.now();
        while ((await get()) !== status) {
          if (performance.now() - t0 > REFRESH_SECONDS * 1000 + SLACK_MS) throw new Error(`the dev worker did not follow version ${version}`);
          await sleep(50);
        }
      }
    } finally {
      await dev.dispose();
    }
  }, 90_000);
});
