// Policy distribution in Node, against in-memory stores: the KV layout's version key
// (strict reading), publishPolicy (order, versions, conflicts), and createPolicySource
// (one shared first load, fail closed, background refresh, every refusal keeping the
// policy, deadlines on hung reads, R2 and URL stores). The same source in real workerd
// is in test/edge-kv-workerd.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createEngine, createFlowBatch, createPolicySource, encodePolicyPointer, encodeSnapshot, compilePolicy, parseConfig, parsePolicyPointer,
  policyKeys, publishPolicy, referenceClassify, parseFlow, signSnapshot, verifySnapshot,
  type ActivePolicy, type Config, type FlowInput, type PolicyEvent, type PolicySourceOptions, type PolicyWriter, type SgfilterError,
} from '../src/index.js';
import { sha256Hex } from '../src/distribution/layout.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 29 + 3) & 0xff);
const OTHER_KEY = new Uint8Array(32).map((_, i) => (i * 31 + 5) & 0xff);
const KEY_HEX = Buffer.from(KEY).toString('hex');

/** Version n's policy: TCP ports 1..8 accepted where bit (port-1) of n is set; distinct verdicts per n mod 256. */
function policy(n: number): Config {
  const inbound = [];
  for (let port = 1; port <= 8; port++) inbound.push({ protocol: 'TCP', port, source: '0.0.0.0/0', action: (n >> (port - 1)) & 1 ? 'accept' : 'drop' });
  return parseConfig({ securityGroups: [{ id: `sg-${n}`, inbound }] });
}
const FLOWS: FlowInput[] = Array.from({ length: 8 }, (_, i) => ({ direction: 'inbound', protocol: 'TCP', port: i + 1, remote: '198.51.100.7' }));
const expected = (cfg: Config) => FLOWS.map((f) => referenceClassify(cfg, parseFlow(f)));
const verdicts = (p: ActivePolicy) => {
  const batch = createFlowBatch(FLOWS);
  p.engine.classifyBatch(batch);
  return FLOWS.map((_, i) => batch.verdict(i));
};

/** A Workers KV namespace in memory, with the calls counted and keys that hang or fail. */
function memoryKv() {
  const map = new Map<string, Uint8Array>();
  const reads: string[] = [];
  const hang = new Set<string>();
  const fail = new Set<string>();
  const kv = {
    async get(key: string, options: { type: 'arrayBuffer' }): Promise<ArrayBuffer | null> {
      expect(options).toEqual({ type: 'arrayBuffer' });
      reads.push(key);
      if (hang.has(key)) return new Promise(() => undefined);
      if (fail.has(key)) throw new Error('KV GET failed: 500');
      const v = map.get(key);
      return v === undefined ? null : v.slice().buffer;
    },
  };
  const writer: PolicyWriter = { name: 'memory KV', get: async (k) => map.get(k)?.slice() ?? null, put: async (k, v) => void map.set(k, v.slice()) };
  return { map, reads, hang, fail, kv, writer };
}

function source(kv: ReturnType<typeof memoryKv>['kv'], options: Partial<PolicySourceOptions> = {}) {
  const events: PolicyEvent[] = [];
  const s = createPolicySource({ kv, key: KEY, refreshSeconds: 0, retrySeconds: 0, timeoutMs: 2000, onEvent: (e) => events.push(e), ...options });
  return { s, events };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
const codeOf = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: SgfilterError) => e.code);

describe('the KV layout', () => {
  it('names keys under a prefix and refuses prefixes and versions it cannot name', () => {
    expect(policyKeys().current).toBe('policy:current');
    expect(policyKeys().snapshot(7)).toBe('policy:7');
    expect(policyKeys('edge/eu-').snapshot(1)).toBe('edge/eu-1');
    expect(policyKeys('').current).toBe('current');
    for (const bad of ['a b', 'x'.repeat(65), 'policy?', '../', '\u00e9', 7 as unknown as string]) {
      if (bad === '../') continue; // dots and slashes are allowed characters
      expect(() => policyKeys(bad), String(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    for (const v of [0, -1, 1.5, 2 ** 32, NaN]) expect(() => policyKeys().snapshot(v), String(v)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('reads the version key strictly: exactly its fields, in range', () => {
    const sha = 'ab'.repeat(32);
    const ok = { version: 3, sha256: sha, bytes: 4000, publishedAt: '2026-11-30T00:00:00.000Z' };
    expect(parsePolicyPointer(encodePolicyPointer(ok))).toEqual(ok);
    const good = JSON.parse(encodePolicyPointer(ok)) as Record<string, unknown>;
    const cases: [string, string][] = [
      ['not json', 'not JSON'],
      ['7', 'a JSON object'],
      ['[]', 'a JSON object'],
      [JSON.stringify({ ...good, extra: 1 }), 'unknown field "extra"'],
      ['{"__proto__":{"x":1},' + encodePolicyPointer(ok).slice(1), 'unknown field "__proto__"'],
      [JSON.stringify({ ...good, format: 2 }), 'format is 2'],
      [JSON.stringify({ ...good, version: 0 }), 'version is 0'],
      [JSON.stringify({ ...good, version: 2 ** 32 }), 'version is 4294967296'],
      [JSON.stringify({ ...good, version: '3' }), 'version is "3"'],
      [JSON.stringify({ ...good, sha256: sha.toUpperCase() }), 'sha256'],
      [JSON.stringify({ ...good, sha256: sha.slice(2) }), 'sha256'],
      [JSON.stringify({ ...good, bytes: 31 }), 'bytes is 31'],
      [JSON.stringify({ ...good, bytes: 1e9 }), 'bytes is 1000000000'],
      [JSON.stringify({ ...good, publishedAt: 5 }), 'publishedAt is 5'],
      [' '.repeat(5000), 'characters is not a version key'],
    ];
    // A field given twice, in either order and with either value: JSON.parse would keep the last.
    for (const name of Object.keys(good)) {
      const text = encodePolicyPointer(ok);
      for (const extra of [good[name], name === 'version' ? 4 : 'x']) {
        cases.push([`{${JSON.stringify(name)}:${JSON.stringify(extra)},${text.slice(1)}`, `key "${name}" appears twice`]);
        cases.push([`${text.slice(0, -1)},${JSON.stringify(name)}:${JSON.stringify(extra)}}`, `key "${name}" appears twice`]);
      }
    }
    for (const [text, message] of cases) {
      expect(() => parsePolicyPointer(text, 'policy:current', 25 * 2 ** 20), text.slice(0, 40)).toThrow(expect.objectContaining({ code: 'POLICY_INVALID', message: expect.stringContaining(message) }));
    }
  });
});

describe('publishPolicy', () => {
  it('writes the signed snapshot of version N+1 first, then the version key naming it', async () => {
    const m = memoryKv();
    const order: string[] = [];
    const writer: PolicyWriter = { ...m.writer, put: async (k, v) => (order.push(k), m.writer.put(k, v)) };
    const r1 = await publishPolicy(writer, policy(1), KEY_HEX, { publishedAt: new Date('2026-11-30T10:00:00Z') });
    expect(r1).toMatchObject({ version: 1, previousVersion: null, snapshotKey: 'policy:1', versionKey: 'policy:current', publishedAt: '2026-11-30T10:00:00.000Z', skipped: [] });
    const r2 = await publishPolicy(writer, policy(2), KEY);
    expect(r2).toMatchObject({ version: 2, previousVersion: 1 });
    expect(order).toEqual(['policy:1', 'policy:current', 'policy:2', 'policy:current']);
    const pointer = parsePolicyPointer(new TextDecoder().decode(m.map.get('policy:current')));
    expect(pointer).toMatchObject({ version: 2, bytes: r2.bytes, sha256: r2.sha256 });
    const blob = m.map.get('policy:2')!;
    expect(await sha256Hex(blob)).toBe(r2.sha256);
    const decoded = await verifySnapshot(blob, KEY);
    expect(decoded.version).toBe(2); // the header carries the published version
    expect(decoded.config).toEqual(policy(2));
    await expect(verifySnapshot(blob, OTHER_KEY)).rejects.toMatchObject({ code: 'SNAPSHOT_SIGNATURE' });
  });

  it('skips snapshot keys left by an interrupted publish, never overwriting them', async () => {
    const m = memoryKv();
    await publishPolicy(m.writer, policy(1), KEY);
    const orphan = new Uint8Array([1, 2, 3]);
    m.map.set('policy:2', orphan);
    const r = await publishPolicy(m.writer, policy(2), KEY);
    expect(r).toMatchObject({ version: 3, skipped: ['policy:2'] });
    expect(m.map.get('policy:2')).toEqual(orphan);
    for (let v = 4; v <= 6; v++) m.map.set(`policy:${v}`, orphan);
    await expect(publishPolicy(m.writer, policy(3), KEY, { maxSkips: 2 })).rejects.toMatchObject({ code: 'PUBLISH_CONFLICT' });
    expect(parsePolicyPointer(new TextDecoder().decode(m.map.get('policy:current'))).version).toBe(3);
  });

  it('makes nothing current when the version key moves while it writes (another publish)', async () => {
    const m = memoryKv();
    await publishPolicy(m.writer, policy(1), KEY);
    const racing: PolicyWriter = {
      ...m.writer,
      put: async (k, v) => {
        await m.writer.put(k, v);
        if (k === 'policy:2') await publishPolicy(m.writer, policy(9), KEY); // gets in between
      },
    };
    await expect(publishPolicy(racing, policy(2), KEY)).rejects.toMatchObject({ code: 'PUBLISH_CONFLICT', message: expect.stringContaining('publish again') });
    // The racer's version 3 is current; ours was not made current.
    const pointer = parsePolicyPointer(new TextDecoder().decode(m.map.get('policy:current')));
    expect(pointer.version).toBe(3);
    expect((await verifySnapshot(m.map.get('policy:3')!, KEY)).config).toEqual(policy(9));
  });

  it('writes nothing for a bad config, a bad key or a malformed version key', async () => {
    const m = memoryKv();
    await expect(publishPolicy(m.writer, { securityGroups: [{ id: 'x', inbound: [{ protocol: 'TCP', port: 99999, source: 'any', action: 'accept' }] }] }, KEY)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(publishPolicy(m.writer, policy(1), new Uint8Array(16))).rejects.toMatchObject({ code: 'SNAPSHOT_KEY' });
    await expect(publishPolicy(m.writer, policy(1), 'not a key')).rejects.toMatchObject({ code: 'SNAPSHOT_KEY' });
    expect(m.map.size).toBe(0);
    m.map.set('policy:current', new TextEncoder().encode('garbage'));
    await expect(publishPolicy(m.writer, policy(1), KEY)).rejects.toMatchObject({ code: 'POLICY_INVALID' });
    expect([...m.map.keys()]).toEqual(['policy:current']);
  });
});

describe('createPolicySource', () => {
  it('loads once for all concurrent first requests and classifies with the published policy', async () => {
    const m = memoryKv();
    await publishPolicy(m.writer, policy(0b1011_0101), KEY);
    const { s, events } = source(m.kv, { refreshSeconds: 60 });
    const all = await Promise.all(Array.from({ length: 25 }, () => s.current()));
    expect(new Set(all).size).toBe(1);
    expect(m.reads).toEqual(['policy:current', 'policy:1']);
    expect(all[0]!.version).toBe(1);
    expect(verdicts(all[0]!)).toEqual(expected(policy(0b1011_0101)));
    expect(events).toMatchObject([{ type: 'loaded', version: 1, previousVersion: null }]);
    expect(Object.isFrozen(all[0])).toBe(true);
    // Loaded: no read until refreshSeconds have passed.
    await s.current();
    expect(m.reads).toHaveLength(2);
  });

  it('fails closed with POLICY_UNAVAILABLE while nothing is published, and loads once something is', async () => {
    const m = memoryKv();
    const { s, events } = source(m.kv, { retrySeconds: 0.3 });
    const e = await s.current().catch((x: SgfilterError & { cause?: SgfilterError }) => x);
    expect(e).toMatchObject({ code: 'POLICY_UNAVAILABLE', cause: { code: 'POLICY_STORE', message: expect.stringContaining('nothing published') } });
    expect(s.status()).toMatchObject({ version: null, lastError: { code: 'POLICY_STORE' } });
    // Within retrySeconds: refused at once, no read.
    expect(await codeOf(s.current())).toBe('POLICY_UNAVAILABLE');
    expect(m.reads).toEqual(['policy:current']);
    await publishPolicy(m.writer, policy(3), KEY);
    expect(await codeOf(s.current())).toBe('POLICY_UNAVAILABLE'); // still within retrySeconds
    await sleep(320);
    expect((await s.current()).version).toBe(1);
    expect(events.map((x) => x.type)).toEqual(['failed', 'loaded']);
  });

  it('checks in the background once loaded: requests never wait, the new version is swapped in whole', async () => {
    const m = memoryKv();
    await publishPolicy(m.writer, policy(1), KEY);
    const { s } = source(m.kv, { refreshSeconds: 0.1 });
    const v1 = await s.current();
    await publishPolicy(m.writer, policy(2), KEY);
    m.hang.add('policy:2'); // the new snapshot's read hangs: nobody may wait on it
    await sleep(120);
    const t0 = performance.now();
    expect(await s.current()).toBe(v1); // starts the check, returns at once
    expect(await s.current()).toBe(v1);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(s.status().checking).toBe(true);
    await until('the snapshot read to start', () => m.reads.includes('policy:2'));
    expect(await s.current()).toBe(v1);
    m.hang.delete('policy:2');
    await until('the check to time out', () => !s.status().checking);
    expect(s.status().lastError?.code).toBe('POLICY_STORE');
    await sleep(120);
    await s.current();
    await until('version 2', async () => (await s.current()).version === 2);
    const v2 = await s.current();
    expect(verdicts(v2)).toEqual(expected(policy(2)));
    expect(verdicts(v1)).toEqual(expected(policy(1))); // a request holding v1 still sees all of v1
    expect(s.status().lastError).toBeNull();
  }, 20_000);

  it('refuses unsigned, tampered, other-key, mislabelled, rolled-back and mismatched snapshots, keeping its policy', async () => {
    const m = memoryKv();
    await publishPolicy(m.writer, policy(1), KEY);
    await publishPolicy(m.writer, policy(2), KEY);
    const { s, events } = source(m.kv);
    const kept = await s.current();
    expect(kept.version).toBe(2);
    const goodSha = kept.sha256;
    /** Makes `bytes` version v in the store, with a version key that matches it (an attacker with KV write access). */
    const plant = async (v: number, bytes: Uint8Array, pointer: Partial<{ sha256: string; bytes: number; version: number }> = {}) => {
      m.map.set(`policy:${v}`, bytes);
      m.map.set('policy:current', new TextEncoder().encode(encodePolicyPointer({ version: v, sha256: await sha256Hex(bytes), bytes: bytes.length, ...pointer })));
    };
    const unsigned = encodeSnapshot(compilePolicy(policy(3)), policy(3), 3);
    const otherKey = await signSnapshot(encodeSnapshot(compilePolicy(policy(3)), policy(3), 3), OTHER_KEY);
    const signed3 = await signSnapshot(encodeSnapshot(compilePolicy(policy(3)), policy(3), 3), KEY);
    const flipped = signed3.slice();
    flipped[100]! ^= 0x10;
    const cases: [string, () => Promise<void>, string][] = [
      ['unsigned', () => plant(3, unsigned), 'SNAPSHOT_UNSIGNED'],
      ['signed with another key', () => plant(3, otherKey), 'SNAPSHOT_SIGNATURE'],
      ['a byte changed, version key matching it', () => plant(3, flipped), 'SNAPSHOT_SIGNATURE'],
      ['a byte changed, version key of the original', async () => plant(3, flipped, { sha256: await sha256Hex(signed3) }), 'POLICY_INVALID'],
      ['truncated', () => plant(3, signed3.subarray(0, 40)), 'SNAPSHOT_INVALID'],
      ['version 1 copied under version 3', () => plant(3, m.map.get('policy:1')!), 'POLICY_INVALID'],
      ['version key naming an older version', async () => void m.map.set('policy:current', new TextEncoder().encode(encodePolicyPointer({ version: 1, sha256: await sha256Hex(m.map.get('policy:1')!), bytes: m.map.get('policy:1')!.length }))), 'POLICY_INVALID'],
      ['same version, other bytes', () => plant(2, signed3, {}), 'POLICY_INVALID'],
      ['size not what the version key says', () => plant(3, signed3, { bytes: signed3.length + 1 }), 'POLICY_INVALID'],
      ['version key not JSON', async () => void m.map.set('policy:current', new TextEncoder().encode('{"version": 3')), 'POLICY_INVALID'],
      ['version key not UTF-8', async () => void m.map.set('policy:current', new Uint8Array([0x7b, 0xff, 0x7d])), 'POLICY_INVALID'],
      ['snapshot key missing', async () => { await plant(3, signed3); m.map.delete('policy:3'); }, 'POLICY_STORE'],
      ['version key gone', async () => void m.map.delete('policy:current'), 'POLICY_STORE'],
      ['KV failing', async () => { await plant(3, signed3); m.fail.add('policy:current'); }, 'POLICY_STORE'],
    ];
    const policy2 = policy(2);
    // 'same version, other bytes' rewrote policy:2: keep a copy to restore between cases.
    const blob2 = m.map.get('policy:2')!;
    for (const [name, apply, code] of cases) {
      m.map.set('policy:2', blob2);
      m.map.delete('policy:3');
      m.fail.clear();
      await apply();
      events.length = 0;
      const p = await s.refresh();
      expect(p, name).toBe(kept);
      expect(events, name).toMatchObject([{ type: 'failed', code, keptVersion: 2 }]);
      expect(s.status().lastError?.code, name).toBe(code);
      expect(verdicts(p), name).toEqual(expected(policy2));
      expect(p.sha256).toBe(goodSha);
    }
    // A snapshot refused for its content is not downloaded again while the version key names it.
    m.fail.clear();
    await plant(3, unsigned);
    await s.refresh();
    m.reads.length = 0;
    events.length = 0;
    await s.refresh();
    expect(m.reads).toEqual(['policy:current']);
    expect(events).toEqual([]);
    // A real publish is picked up after all that.
    m.map.set('policy:2', blob2);
    m.map.delete('policy:3');
    m.map.set('policy:current', new TextEncoder().encode(encodePolicyPointer({ version: 2, sha256: goodSha, bytes: blob2.length })));
    const r = await publishPolicy(m.writer, policy(3), KEY);
    expect((await s.refresh()).version).toBe(r.version);
    expect(verdicts(await s.refresh())).toEqual(expected(policy(3)));
  }, 30_000);

  it('never waits forever: a hung first load fails closed after timeoutMs', async () => {
    const m = memoryKv();
    await publishPolicy(m.writer, policy(1), KEY);
    await createEngine(policy(1)); // the matcher compiled once (Node compiles it on first use)
    m.hang.add('policy:current');
    const { s } = source(m.kv, { timeoutMs: 300 });
    const t0 = performance.now();
    const e = await s.current().catch((x: SgfilterError & { cause?: SgfilterError }) => x);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(e).toMatchObject({ code: 'POLICY_UNAVAILABLE', cause: { code: 'POLICY_STORE', message: expect.stringContaining('did not finish within 300 ms') } });
    m.hang.clear();
    expect((await s.current()).version).toBe(1);
  });

  it('gives every concurrent request one whole published version while versions are published (Node)', async () => {
    const m = memoryKv();
    const published = new Map<number, ReturnType<typeof expected>>();
    const publish = async (n: number) => {
      const r = await publishPolicy(m.writer, policy(n), KEY);
      published.set(r.version, expected(policy(n)));
    };
    await publish(1);
    const { s } = source(m.kv, { refreshSeconds: 0 });
    let stop = false;
    let checked = 0;
    const seen = new Set<number>();
    const client = async () => {
      while (!stop) {
        const p = await s.current();
        await sleep(0);
        expect(verdicts(p)).toEqual(published.get(p.version));
        seen.add(p.version);
        checked++;
      }
    };
    const clients = Array.from({ length: 8 }, client);
    for (let n = 2; n <= 30; n++) {
      await publish((n * 37) & 0xff);
      await sleep(3);
    }
    await until('the last version', async () => (await s.current()).version === 30);
    stop = true;
    await Promise.all(clients);
    expect(checked).toBeGreaterThan(100);
    expect(seen.size).toBeGreaterThan(5);
  }, 30_000);

  it('reads R2 buckets and URLs too, with the same checks and limits', async () => {
    const m = memoryKv();
    await publishPolicy(m.writer, policy(5), KEY);
    let bodiesRead = 0;
    const r2 = {
      async get(key: string) {
        const v = m.map.get(key);
        return v === undefined ? null : { size: key === 'policy:1' && hugeR2 ? 1e9 : v.length, arrayBuffer: async () => (bodiesRead++, v.slice().buffer) };
      },
    };
    let hugeR2 = false;
    expect(verdicts(await createPolicySource({ r2, key: KEY, onEvent: () => undefined }).current())).toEqual(expected(policy(5)));
    hugeR2 = true;
    bodiesRead = 0;
    const big = createPolicySource({ r2, key: KEY, onEvent: () => undefined });
    expect(await codeOf(big.current())).toBe('POLICY_UNAVAILABLE');
    expect(big.status().lastError).toMatchObject({ code: 'POLICY_INVALID', message: expect.stringContaining('1000000000 bytes') });
    expect(bodiesRead).toBe(1); // the version key only; the huge object's body was never read

    const hits: string[] = [];
    let mode: 'ok' | '500' | 'hang' | 'big' = 'ok';
    const server: Server = createServer((req, res) => {
      hits.push(req.url!);
      const key = decodeURIComponent(req.url!.slice('/sgfilter/'.length));
      if (mode === '500') return void res.writeHead(500).end('no');
      if (mode === 'hang') return; // never answers
      const v = m.map.get(key);
      if (!v) return void res.writeHead(404).end('not found');
      if (mode === 'big' && key !== 'policy:current') return void res.writeHead(200, { 'content-length': String(100 << 20) }).end();
      res.writeHead(200).end(Buffer.from(v));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sgfilter/`;
      const u = createPolicySource({ url: base, key: KEY_HEX, onEvent: () => undefined, timeoutMs: 300 });
      expect(verdicts(await u.current())).toEqual(expected(policy(5)));
      expect(hits).toEqual(['/sgfilter/policy:current', '/sgfilter/policy:1']);
      for (const [m2, code, message] of [['500', 'POLICY_STORE', 'HTTP 500'], ['hang', 'POLICY_STORE', 'did not finish within 300 ms'], ['big', 'POLICY_INVALID', 'more than']] as const) {
        mode = m2;
        const fresh = createPolicySource({ url: base, key: KEY_HEX, onEvent: () => undefined, timeoutMs: 300 });
        expect(await codeOf(fresh.current()), m2).toBe('POLICY_UNAVAILABLE');
        expect(fresh.status().lastError, m2).toMatchObject({ code, message: expect.stringContaining(message) });
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }, 20_000);

  it('refuses options it cannot honour, naming them; a missing key secret included', () => {
    const kv = memoryKv().kv;
    const bad: [Partial<PolicySourceOptions> & Record<string, unknown>, string][] = [
      [{ key: undefined }, 'SNAPSHOT_KEY'],
      [{ key: '' }, 'SNAPSHOT_KEY'],
      [{ key: 'zz' }, 'SNAPSHOT_KEY'],
      [{ kv: undefined }, 'INVALID_ARGUMENT'],
      [{ kv: {} as never }, 'INVALID_ARGUMENT'],
      [{ url: 'https://x/' }, 'INVALID_ARGUMENT'],
      [{ kv: undefined, url: 'ftp://x/' }, 'INVALID_ARGUMENT'],
      [{ kv: undefined, url: 'https://x/?a=1' }, 'INVALID_ARGUMENT'],
      [{ headers: { a: 'b' } }, 'INVALID_ARGUMENT'],
      [{ refreshSeconds: -1 }, 'INVALID_ARGUMENT'],
      [{ refreshSeconds: NaN }, 'INVALID_ARGUMENT'],
      [{ timeoutMs: 10 }, 'INVALID_ARGUMENT'],
      [{ maxSnapshotBytes: Infinity }, 'INVALID_ARGUMENT'],
      [{ prefix: 'a b' }, 'INVALID_ARGUMENT'],
      [{ engine: { windowFlows: 0 } }, 'INVALID_ARGUMENT'],
      [{ onEvent: 'log' as never }, 'INVALID_ARGUMENT'],
    ];
    for (const [extra, code] of bad) {
      expect(() => createPolicySource({ kv, key: KEY, ...extra } as PolicySourceOptions), JSON.stringify(extra)).toThrow(expect.objectContaining({ code }));
    }
    // Keyed snapshots only: there is no way to ask for unsigned ones.
    expect(() => createPolicySource({ kv } as PolicySourceOptions)).toThrow(expect.objectContaining({ code: 'SNAPSHOT_KEY', message: expect.stringContaining('secret') }));
  });
});

// A worker's default logger: one line per load and per failure, not repeated every check.
describe('createPolicySource default logging', () => {
  const lines: string[] = [];
  const original = { log: console.log, error: console.error };
  beforeAll(() => {
    console.log = (l: string) => void lines.push(`log ${l}`);
    console.error = (l: string) => void lines.push(`error ${l}`);
  });
  afterAll(() => Object.assign(console, original));

  it('logs loads and failures, an identical failure once a minute', async () => {
    const m = memoryKv();
    const s = createPolicySource({ kv: m.kv, key: KEY, refreshSeconds: 0, retrySeconds: 0 });
    for (let i = 0; i < 3; i++) await s.current().catch(() => undefined);
    await publishPolicy(m.writer, policy(1), KEY);
    await s.current();
    expect(lines).toEqual([
      expect.stringMatching(/^error sgfilter: POLICY_STORE: nothing published: .*; no policy loaded, requests fail closed$/),
      expect.stringMatching(/^log sgfilter: policy version 1 loaded \(\d+ bytes, sha256 [0-9a-f]{12}…, \d+ ms\)$/),
    ]);
  });
});
