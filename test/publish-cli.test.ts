// `sgfilter publish`, run as users run it (node dist/src/cli.js), against a stand-in
// for Cloudflare's KV REST API on 127.0.0.1 (test/fake-cloudflare-api.ts; nothing
// reaches the network): the calls it makes and their order, the token only ever in
// the Authorization header, retries on 429/5xx, deadlines on a silent API, refusals
// before anything is written, conflicts, and --local into wrangler dev's local KV.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { parsePolicyPointer, publishPolicy, parseConfig, verifySnapshot, type PolicyWriter } from '../src/index.js';
import { ROOT } from './edge-bundle.js';
import { mapBacking, startFakeApi, type FakeApi } from './fake-cloudflare-api.js';

const cliPath = join(ROOT, 'dist', 'src', 'cli.js');
const POLICY = join(ROOT, 'examples', 'edge', 'policy.yaml');
const TOKEN = 'test-token-Zq8vN3xK1pL0mR7sT2uW9yB4cD6eF5gH';
const ACCOUNT = '0123456789abcdef0123456789abcdef';
const NAMESPACE = 'fedcba9876543210fedcba9876543210';
const KEY_HEX = 'c3'.repeat(32);

let tmp: string;
let keyFile: string;
let api: FakeApi;
let store: ReturnType<typeof mapBacking>;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI without blocking this process (the fake API answers from it). */
function cli(args: string[], env: Record<string, string | undefined> = { SGFILTER_TEST_TOKEN: TOKEN }): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: tmp, env: { PATH: process.env.PATH, HOME: tmp, ...env } as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

const remote = (...extra: string[]) => ['publish', POLICY, '--kv-namespace', NAMESPACE, '--key-file', keyFile, '--account-id', ACCOUNT, '--api-token-env', 'SGFILTER_TEST_TOKEN', '--api-url', api.url, ...extra];
const noToken = (r: Run) => {
  expect(r.stdout).not.toContain(TOKEN);
  expect(r.stderr).not.toContain(TOKEN);
};

beforeAll(async () => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run npm run build first (npm test does it)`);
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-publish-'));
  keyFile = join(tmp, 'snapshot.key');
  writeFileSync(keyFile, `${KEY_HEX}\n`);
  store = mapBacking();
  api = await startFakeApi(TOKEN, { [NAMESPACE]: store });
});
afterAll(async () => {
  await api?.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  store.map.clear();
  api.calls.length = 0;
  api.failNext.length = 0;
  api.beforePut = undefined;
});

describe('sgfilter publish (Cloudflare REST API)', () => {
  it('writes the signed snapshot, then the version key, through the KV values API; the token only in Authorization', async () => {
    const first = await cli(remote());
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^published policy version 1 of .*policy\.yaml to the KV namespace fedcba9876543210fedcba9876543210 \(Cloudflare API\)/);
    expect(first.stdout).toMatch(/policy:1 {2}[\d,]+ bytes, signed HMAC-SHA-256, sha256 [0-9a-f]{64}/);
    expect(first.stdout).toContain('policy:current  → version 1 (the first)');
    const second = await cli(remote());
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('policy:current  → version 2 (was 1)');
    for (const r of [first, second]) noToken(r);

    expect(api.calls.map((c) => `${c.method} ${c.key} ${c.status}`)).toEqual([
      'GET policy:current 404', 'GET policy:1 404', 'PUT policy:1 200', 'GET policy:current 404', 'PUT policy:current 200',
      'GET policy:current 200', 'GET policy:2 404', 'PUT policy:2 200', 'GET policy:current 200', 'PUT policy:current 200',
    ]);
    for (const c of api.calls) {
      expect(c).toMatchObject({ account: ACCOUNT, namespace: NAMESPACE, authorization: `Bearer ${TOKEN}` });
      if (c.method === 'PUT') expect(c.contentType).toBe('application/octet-stream');
    }
    const pointer = parsePolicyPointer(new TextDecoder().decode(store.map.get('policy:current')));
    expect(pointer.version).toBe(2);
    const snapshot = store.map.get('policy:2')!;
    expect(snapshot.length).toBe(pointer.bytes);
    const decoded = await verifySnapshot(snapshot, Buffer.from(KEY_HEX, 'hex'));
    expect(decoded.version).toBe(2);
    expect(decoded.config.securityGroups[0]!.id).toBe('sg-edge');
  });

  it('retries 429 and 5xx answers, and gives up with PUBLISH_FAILED, redacting a token the API echoes', async () => {
    api.failNext.push({ status: 503 }, { status: 429 });
    const ok = await cli(remote());
    expect(ok.status).toBe(0);
    expect(api.calls.slice(0, 3).map((c) => c.status)).toEqual([503, 429, 404]);

    api.calls.length = 0;
    const echo = JSON.stringify({ success: false, errors: [{ code: 10000, message: `bad credentials ${TOKEN}` }] });
    api.failNext.push(...Array.from({ length: 3 }, () => ({ status: 500, body: echo })));
    const bad = await cli(remote());
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^error: PUBLISH_FAILED: GET policy:current in KV namespace \S+ \(Cloudflare API\) failed 3 times, last: HTTP 500 \(10000 bad credentials \[redacted\]\)/);
    noToken(bad);
    expect(api.calls).toHaveLength(3);
    expect(parsePolicyPointer(new TextDecoder().decode(store.map.get('policy:current'))).version).toBe(1); // the successful one
  }, 30_000);

  it('never waits forever on a silent API: each call has a deadline (--timeout)', async () => {
    api.failNext.push('hang', 'hang', 'hang');
    const r = await cli(remote('--timeout', '0.5'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/PUBLISH_FAILED: GET policy:current .* failed 3 times, last: no answer within 500 ms/);
    expect(r.ms).toBeLessThan(15_000);
    expect(store.map.size).toBe(0);
  }, 30_000);

  it('a refused token is a 403 with a hint, and nothing is written', async () => {
    const r = await cli(remote(), { SGFILTER_TEST_TOKEN: 'wrong-token' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/PUBLISH_FAILED: GET policy:current .*HTTP 403 \(10000 Authentication error\): is the token valid, with the "Workers KV Storage: Edit" permission/);
    expect(r.stderr).not.toContain('wrong-token');
    expect(store.map.size).toBe(0);
  });

  it('refuses before any call: no token, no account, a bad namespace id, an http API elsewhere, a bad config or key', async () => {
    const badConfig = join(tmp, 'bad.yaml');
    writeFileSync(badConfig, 'securityGroups:\n  - id: x\n    inbound:\n      - { protocol: TCP, port: 70000, source: any, action: accept }\n');
    const shortKey = join(tmp, 'short.key');
    writeFileSync(shortKey, 'abcd\n');
    const cases: [string[], Record<string, string | undefined>, number, RegExp][] = [
      [remote(), {}, 1, /PUBLISH_FAILED: no API token: set SGFILTER_TEST_TOKEN/],
      [remote(), { SGFILTER_TEST_TOKEN: '  ' }, 1, /no API token/],
      [['publish', POLICY, '--kv-namespace', NAMESPACE, '--key-file', keyFile, '--api-token-env', 'SGFILTER_TEST_TOKEN', '--api-url', api.url], { SGFILTER_TEST_TOKEN: TOKEN }, 1, /no account id: pass --account-id or set CLOUDFLARE_ACCOUNT_ID/],
      [remote('--kv-namespace', 'POLICY_KV'), { SGFILTER_TEST_TOKEN: TOKEN }, 2, /--kv-namespace is a KV namespace id \(32 hex digits/],
      [remote('--account-id', 'me@example.com'), { SGFILTER_TEST_TOKEN: TOKEN }, 2, /account id is 32 hex digits/],
      [remote('--api-url', 'http://api.example.com/client/v4'), { SGFILTER_TEST_TOKEN: TOKEN }, 1, /--api-url must be https: .*the API token would travel in clear/],
      [remote('--api-token-env', 'NOT A NAME'), { SGFILTER_TEST_TOKEN: TOKEN }, 2, /--api-token-env names an environment variable/],
      [remote('--timeout', '0'), { SGFILTER_TEST_TOKEN: TOKEN }, 2, /--timeout is seconds/],
      [remote('--prefix', 'a b'), { SGFILTER_TEST_TOKEN: TOKEN }, 1, /INVALID_ARGUMENT: a policy key prefix/],
      [['publish', badConfig, ...remote().slice(2)], { SGFILTER_TEST_TOKEN: TOKEN }, 1, /invalid config .*bad\.yaml/],
      [[...remote().slice(0, 4), '--key-file', shortKey, ...remote().slice(6)], { SGFILTER_TEST_TOKEN: TOKEN }, 1, /key file .*short\.key: .*too short|at least 32/],
    ];
    for (const [args, env, status, message] of cases) {
      const r = await cli(args, env);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr, args.join(' ')).toMatch(message);
      noToken(r);
    }
    // The prefix is checked by publishPolicy, before its first call; everything else before the writer exists.
    expect(api.calls).toEqual([]);
    expect(store.map.size).toBe(0);
  }, 60_000);

  it('makes nothing current when another publish moves the version key meanwhile (PUBLISH_CONFLICT)', async () => {
    const racer: PolicyWriter = { name: 'racer', get: (k) => store.get(k), put: (k, v) => store.put(k, v) };
    api.beforePut = async (key) => {
      if (key === 'policy:1') {
        api.beforePut = undefined;
        await publishPolicy(racer, parseConfig({ securityGroups: [{ id: 'sg-racer' }] }), Buffer.from(KEY_HEX, 'hex'));
      }
    };
    const r = await cli(remote());
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: PUBLISH_CONFLICT: "policy:current" changed while version 1 was being written .*publish again/);
    const pointer = parsePolicyPointer(new TextDecoder().decode(store.map.get('policy:current')));
    expect(pointer.version).toBe(1);
    expect((await verifySnapshot(store.map.get('policy:1')!, Buffer.from(KEY_HEX, 'hex'))).config.securityGroups[0]!.id).toBe('sg-edge'); // racer's key was overwritten by ours...
    // ...and the version key names the racer's SHA-256, so readers refuse the mismatch and keep their policy.
    expect(api.calls.filter((c) => c.method === 'PUT').map((c) => c.key)).toEqual(['policy:1']);
    const again = await cli(remote());
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('version 2 (was 1)');
  });

  it('--help names the options', async () => {
    const r = await cli(['publish', '--help']);
    expect(r.status).toBe(0);
    for (const o of ['--kv-namespace <id>', '--key-file <file>', '--account-id <id>', '--api-token-env <name>', '--api-url <url>', '--prefix <prefix>', '--local', '--persist-to <dir>', '--timeout <seconds>']) {
      expect(r.stdout).toContain(o);
    }
  });
});

describe('sgfilter publish --local (wrangler dev / Miniflare local KV)', () => {
  it('publishes into the persisted local namespace that wrangler dev reads', async () => {
    const state = join(tmp, 'state');
    for (let i = 1; i <= 2; i++) {
      const r = await cli(['publish', POLICY, '--local', '--kv-namespace', 'dev-policy', '--key-file', keyFile, '--persist-to', state], {});
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`published policy version ${i} of`);
      expect(r.stdout).toContain('local KV namespace dev-policy');
    }
    // What `wrangler dev --persist-to state` (Miniflare, defaultPersistRoot state/v3) sees.
    const mf = new Miniflare({ host: '127.0.0.1', port: 0, modules: true, script: 'export default { fetch() { return new Response(null) } }', compatibilityDate: '2026-04-26', defaultPersistRoot: join(state, 'v3'), kvNamespaces: { POLICY_KV: 'dev-policy' } });
    try {
      const kv = (await mf.getKVNamespace('POLICY_KV')) as unknown as { get(k: string, t: 'arrayBuffer'): Promise<ArrayBuffer | null> };
      const pointer = parsePolicyPointer(new TextDecoder().decode((await kv.get('policy:current', 'arrayBuffer'))!));
      expect(pointer.version).toBe(2);
      const snapshot = new Uint8Array((await kv.get('policy:2', 'arrayBuffer'))!);
      expect((await verifySnapshot(snapshot, Buffer.from(KEY_HEX, 'hex'))).version).toBe(2);
    } finally {
      await mf.dispose();
    }
    const bad = await cli(['publish', POLICY, '--local', '--kv-namespace', 'has space', '--key-file', keyFile, '--persist-to', state], {});
    expect(bad.status).toBe(2);
  }, 60_000);
});
