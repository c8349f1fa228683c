// Keyed snapshots in the real edge runtime: workerd (through Miniflare, loopback
// only) verifies HMAC-SHA-256 signatures with its own WebCrypto. A worker created
// from a signed snapshot refuses unsigned, changed and other-key snapshots and keeps
// its policy; what it signs, Node verifies, and the reverse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { createEngine, verifySnapshot } from '../src/index.js';
import { ROOT, bundleWorker } from './edge-bundle.js';
import type { Action, ConfigInput, FlowInput } from '../src/index.js';

let mf: Miniflare | undefined;
const KEY = 'a1'.repeat(32);
const OTHER_KEY = 'b2'.repeat(32);
const key = Buffer.from(KEY, 'hex');
const doc = (action: Action): ConfigInput => ({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action }] }] });
const ssh: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' };
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

async function post(path: string, body: object): Promise<Record<string, unknown>> {
  const res = await mf!.dispatchFetch(`http://worker${path}`, { method: 'POST', body: JSON.stringify(body) });
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  const b = await bundleWorker(join(ROOT, 'test/fixtures/snapshot/keyed-worker.js'));
  const modules: { type: 'ESModule' | 'CompiledWasm'; path: string; contents: string | Uint8Array }[] = [{ type: 'ESModule', path: join(ROOT, 'worker.js'), contents: b.code }];
  const { readFileSync } = await import('node:fs');
  for (const [name, path] of b.modules) modules.push({ type: 'CompiledWasm', path: join(ROOT, name), contents: readFileSync(path) });
  mf = new Miniflare({ host: '127.0.0.1', port: 0, modules, modulesRoot: ROOT, compatibilityDate: '2026-04-26' });
  await mf.ready;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
});

describe('keyed snapshots in workerd', () => {
  it('verify with workerd\'s WebCrypto, refuse unsigned, changed and other-key snapshots, keep the policy', async () => {
    const open = await (await createEngine(doc('accept'))).snapshot({ key });
    const closed = await (await createEngine(doc('drop'))).snapshot({ key });
    expect(await post('/create', { snapshot: b64((await createEngine(doc('accept'))).snapshot()), key: KEY })).toEqual({ error: 'SNAPSHOT_UNSIGNED' });
    expect(await post('/create', { snapshot: b64(open), key: OTHER_KEY })).toEqual({ error: 'SNAPSHOT_SIGNATURE' });
    expect(await post('/create', { snapshot: b64(open), key: KEY })).toEqual({ version: 1 });
    const changed = closed.slice();
    changed[40]! ^= 1;
    for (const [bytes, error] of [
      [(await createEngine(doc('drop'))).snapshot(), 'SNAPSHOT_UNSIGNED'],
      [changed, 'SNAPSHOT_SIGNATURE'],
      [await (await createEngine(doc('drop'))).snapshot({ key: Buffer.from(OTHER_KEY, 'hex') }), 'SNAPSHOT_SIGNATURE'],
      [closed.subarray(0, 20), 'SNAPSHOT_INVALID'],
    ] as const) {
      expect(await post('/load', { snapshot: b64(bytes) })).toEqual({ error });
      expect(await post('/classify', { flows: [ssh] })).toEqual({ version: 1, verdicts: [{ action: 'accept', groupId: 'sg', ruleIndex: 0 }] });
    }
    expect(await post('/load', { snapshot: b64(closed) })).toEqual({ version: 2 });
    expect(await post('/classify', { flows: [ssh] })).toEqual({ version: 2, verdicts: [{ action: 'drop', groupId: 'sg', ruleIndex: 0 }] });
    // Signed in workerd, verified in Node.
    const signed = Buffer.from((await post('/sign', { key: KEY })).snapshot as string, 'base64');
    expect((await verifySnapshot(signed, key)).config).toEqual((await createEngine(doc('drop'))).config);
  });
});
