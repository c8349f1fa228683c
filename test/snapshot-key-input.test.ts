// Snapshot keys as callers hold them (issue 9, class 5b): every API that takes a key
// reads the caller's bytes once, into its own copy, and never writes them, whatever
// holds them (ArrayBuffer, SharedArrayBuffer, any view, Buffer, key text); a key is
// the key it was at the call, not what the caller's memory holds later; a snapshot
// signed with any other key (all zeros included) is refused with SNAPSHOT_SIGNATURE;
// and an engine created with a key keeps demanding that key (SNAPSHOT_KEY for a
// loadSnapshot that names another).
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { readFileSync } from 'node:fs';
import {
  createEngine, createPolicySource, publishPolicy, signSnapshot, verifySnapshot, SgfilterError,
  type ConfigInput, type FlowInput, type PolicyWriter,
} from '../src/index.js';
import { fuzzParams, fuzzTimeout } from './fuzz/settings.js';

const wasm = new WebAssembly.Module(readFileSync(new URL('../build/sgfilter.wasm', import.meta.url)));
const engineOf = (source: unknown) => createEngine(source as ConfigInput, { wasm } as never);

const open: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'ALL', source: 'any', action: 'accept' }] }] };
const closed: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: '10.0.0.0/8', action: 'accept' }] }] };
const rdp: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 3389, remote: '203.0.113.9' };

/** The ways a caller holds key bytes; each gives the holder and the memory behind it (what must not change). */
const FORMS = ['ArrayBuffer', 'SharedArrayBuffer', 'Uint8Array', 'Buffer', 'offset view', 'DataView', 'Uint32Array', 'SharedArrayBuffer view', 'hex text', 'base64 text'] as const;
type Form = (typeof FORMS)[number];
interface Held {
  key: unknown;
  /** The caller's memory (a copy of it when read), or null for text. */
  memory: () => Uint8Array | null;
  /** Overwrites the caller's memory (nothing for text). */
  wipe: () => void;
}

function hold(bytes: Uint8Array, form: Form, pad: number): Held {
  const inBuffer = (buf: ArrayBufferLike, at: number) => {
    const all = new Uint8Array(buf);
    all.fill(0xa5);
    all.set(bytes, at);
    return { memory: () => all.slice(), wipe: () => all.fill(0) };
  };
  switch (form) {
    case 'ArrayBuffer': { const b = new ArrayBuffer(bytes.length); return { key: b, ...inBuffer(b, 0) }; }
    case 'SharedArrayBuffer': { const b = new SharedArrayBuffer(bytes.length); return { key: b, ...inBuffer(b, 0) }; }
    case 'Uint8Array': { const b = new ArrayBuffer(bytes.length); return { key: new Uint8Array(b), ...inBuffer(b, 0) }; }
    case 'Buffer': { const b = Buffer.alloc(bytes.length + pad * 2); const m = inBuffer(b.buffer, 0); b.set(bytes, pad); return { key: b.subarray(pad, pad + bytes.length), memory: () => new Uint8Array(b).slice(), wipe: m.wipe }; }
    case 'offset view': { const b = new ArrayBuffer(bytes.length + pad * 2); return { key: new Uint8Array(b, pad, bytes.length), ...inBuffer(b, pad) }; }
    case 'DataView': { const b = new ArrayBuffer(bytes.length + pad * 2); return { key: new DataView(b, pad, bytes.length), ...inBuffer(b, pad) }; }
    case 'Uint32Array': { const n = bytes.length - (bytes.length % 4); const b = new ArrayBuffer(n + 8); const m = inBuffer(b, 4); return { key: new Uint32Array(b, 4, n / 4), ...m }; }
    case 'SharedArrayBuffer view': { const b = new SharedArrayBuffer(bytes.length + pad * 2); return { key: new Uint8Array(b, pad, bytes.length), ...inBuffer(b, pad) }; }
    case 'hex text': return { key: Buffer.from(bytes).toString('hex'), memory: () => null, wipe: () => undefined };
    case 'base64 text': return { key: Buffer.from(bytes).toString('base64'), memory: () => null, wipe: () => undefined };
  }
}
/** The key bytes a form holds (a Uint32Array holds whole words only). */
const keyBytes = (bytes: Uint8Array, form: Form) => (form === 'Uint32Array' ? bytes.subarray(0, bytes.length - (bytes.length % 4)) : bytes);
const isText = (form: Form) => form.endsWith('text');

const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof SgfilterError ? e.code : `uncoded ${String(e)}`));

function memoryWriter(): { writer: PolicyWriter; kv: { get(key: string, o: { type: 'arrayBuffer' }): Promise<ArrayBuffer | null> } } {
  const map = new Map<string, Uint8Array>();
  return {
    writer: { name: 'memory KV', get: async (k) => map.get(k)?.slice() ?? null, put: async (k, v) => void map.set(k, v.slice()) },
    kv: { get: async (k) => map.get(k)?.slice().buffer ?? null },
  };
}

/** A key other than `bytes`: all zeros, one bit flipped, or unrelated bytes. */
const otherKeyArb = fc.oneof(
  fc.constant({ kind: 'zeros' as const }),
  fc.record({ kind: fc.constant('flip' as const), bit: fc.nat() }),
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ minLength: 32, maxLength: 64 }) }),
);
function otherKey(bytes: Uint8Array, o: { kind: 'zeros' | 'flip' | 'random'; bit?: number; bytes?: Uint8Array }): Uint8Array {
  if (o.kind === 'zeros') return new Uint8Array(bytes.length);
  if (o.kind === 'flip') { const k = bytes.slice(); k[(o.bit! >> 3) % k.length]! ^= 1 << (o.bit! & 7); return k; }
  return o.bytes!;
}
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

describe('snapshot keys as callers hold them', () => {
  test.prop(
    [fc.uint8Array({ minLength: 32, maxLength: 80 }).filter((k) => k.some((b) => b !== 0)), fc.constantFrom(...FORMS), fc.nat({ max: 16 }), otherKeyArb],
    fuzzParams('snapshot keys: caller bytes unchanged, other keys refused', 25),
  )(
    'every API reads the key without writing it, uses the key as it was at the call, and refuses what another key signed',
    async (raw, form, pad, otherSpec) => {
      const bytes = keyBytes(raw, form);
      const other = otherKey(bytes, otherSpec as never);
      fc.pre(!sameBytes(other, bytes));
      const held = hold(bytes, form, pad);
      const before = held.memory();
      const unchanged = (what: string) => {
        const now = held.memory();
        if (before !== null) expect(sameBytes(now!, before), `${what} wrote to the caller's ${form}`).toBe(true);
      };
      const openEngine = await engineOf(open);
      const unsignedOpen = openEngine.snapshot();
      // Forged: the attacker's open policy, signed with another key.
      const forged = await signSnapshot(unsignedOpen, other);
      const closedEngine = await engineOf(closed);

      if (!isText(form)) {
        // Engine and snapshot functions take bytes (text goes through parseSnapshotKey).
        const k = held.key as Uint8Array;
        const signed = await closedEngine.snapshot({ key: k });
        unchanged('engine.snapshot({ key })');
        expect(await codeOf(verifySnapshot(signed, bytes))).toBe('resolved');
        expect((await verifySnapshot(signed, k)).verified).toBe(true);
        unchanged('verifySnapshot');
        expect(await codeOf(verifySnapshot(forged, k))).toBe('SNAPSHOT_SIGNATURE');
        unchanged('verifySnapshot (refused)');
        const resigned = await signSnapshot(closedEngine.snapshot(), k);
        unchanged('signSnapshot');
        expect((await verifySnapshot(resigned, bytes)).verified).toBe(true);
        const engine = await engineOf({ snapshot: signed, key: k });
        unchanged('createEngine({ snapshot, key })');
        expect(await codeOf(engineOf({ snapshot: forged, key: k }))).toBe('SNAPSHOT_SIGNATURE');
        unchanged('createEngine({ snapshot, key }) (refused)');
        expect(await codeOf(engine.loadSnapshot(forged))).toBe('SNAPSHOT_SIGNATURE');
        expect(await codeOf(engine.loadSnapshot(forged, { key: k }))).toBe('SNAPSHOT_SIGNATURE');
        unchanged('loadSnapshot (refused)');
        // The engine's key is a standing demand: naming the forger's key does not lift it.
        expect(await codeOf(engine.loadSnapshot(forged, { key: other }))).toBe('SNAPSHOT_KEY');
        expect(engine.version).toBe(1);
        expect(engine.classify(rdp).action).toBe('drop');
        expect(await engine.loadSnapshot(resigned, { key: k })).toBe(2);
        unchanged('loadSnapshot');
        // A keyless engine verifies a call's key the same way.
        expect(await codeOf((await engineOf(closed)).loadSnapshot(forged, { key: k }))).toBe('SNAPSHOT_SIGNATURE');
        unchanged('loadSnapshot on a keyless engine');

        // The key is what the caller's memory held at the call: wiped right after, the
        // call still signs and verifies with the original key (and never with zeros).
        const pendingSign = closedEngine.snapshot({ key: k });
        const pendingLoad = codeOf(engineOf({ snapshot: forged, key: k }));
        const pendingVerify = codeOf(verifySnapshot(signed, k));
        held.wipe();
        expect((await verifySnapshot(await pendingSign, bytes)).verified).toBe(true);
        expect(await pendingLoad).toBe('SNAPSHOT_SIGNATURE');
        expect(await pendingVerify).toBe('resolved');
        return;
      }

      // Key text: publishPolicy and createPolicySource (strings are parsed into fresh bytes).
      const { writer, kv } = memoryWriter();
      await publishPolicy(writer, closed, held.key as string);
      const source = createPolicySource({ kv, key: held.key as string, refreshSeconds: 0, retrySeconds: 0, onEvent: () => undefined });
      expect((await source.current()).engine.classify(rdp).action).toBe('drop');
      // The same key as bytes, in a buffer the caller wipes after creating the source.
      const buffer = bytes.slice();
      const { writer: w2, kv: kv2 } = memoryWriter();
      const publishing = publishPolicy(w2, closed, buffer);
      const source2 = createPolicySource({ kv: kv2, key: buffer, refreshSeconds: 0, retrySeconds: 0, onEvent: () => undefined });
      buffer.fill(0);
      await publishing;
      expect((await source2.current()).engine.classify(rdp).action).toBe('drop');
      // What another key signed is refused by a source with this key.
      const { writer: w3, kv: kv3 } = memoryWriter();
      await publishPolicy(w3, open, other);
      const source3 = createPolicySource({ kv: kv3, key: held.key as string, refreshSeconds: 0, retrySeconds: 0, onEvent: () => undefined });
      expect(await codeOf(source3.current())).toBe('POLICY_UNAVAILABLE');
    },
    fuzzTimeout(120_000),
  );

  it('an ArrayBuffer key used twice is the same key both times (it was zeroed after one use)', async () => {
    const key = crypto.getRandomValues(new Uint8Array(32)).buffer;
    const copy = new Uint8Array(key).slice();
    const s1 = await (await engineOf(closed)).snapshot({ key });
    expect(new Uint8Array(key)).toEqual(copy);
    const forged = await signSnapshot((await engineOf(open)).snapshot(), new Uint8Array(32));
    const victim = await engineOf(closed);
    expect(await codeOf(victim.loadSnapshot(forged, { key }))).toBe('SNAPSHOT_SIGNATURE');
    expect(victim.classify(rdp).action).toBe('drop');
    expect((await verifySnapshot(s1, key)).verified).toBe(true);
  });

  it('an engine created with a key refuses another key on loadSnapshot, and accepts its own in any form', async () => {
    const k1 = new Uint8Array(32).fill(1);
    const k2 = new Uint8Array(32).fill(2);
    const src = await engineOf(closed);
    const s1 = await src.snapshot({ key: k1 });
    const s2 = await src.snapshot({ key: k2 });
    const engine = await engineOf({ snapshot: s1, key: k1 });
    expect(await codeOf(engine.loadSnapshot(s2, { key: k2 }))).toBe('SNAPSHOT_KEY');
    expect(await codeOf(engine.loadSnapshot(s2))).toBe('SNAPSHOT_SIGNATURE');
    expect(engine.version).toBe(1);
    expect(await engine.loadSnapshot(s1, { key: k1.slice().buffer })).toBe(2);
    const sameCrypto = await crypto.subtle.importKey('raw', k1, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    expect(await engine.loadSnapshot(s1, { key: sameCrypto })).toBe(3);
    const otherCrypto = await crypto.subtle.importKey('raw', k2, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    expect(await codeOf(engine.loadSnapshot(s2, { key: otherCrypto }))).toBe('SNAPSHOT_KEY');
    // An engine created with a verify-only CryptoKey: that object, or the same bytes, are its key.
    const viaCrypto = await engineOf({ snapshot: s1, key: sameCrypto });
    expect(await viaCrypto.loadSnapshot(s1, { key: sameCrypto })).toBe(2);
    expect(await viaCrypto.loadSnapshot(s1, { key: k1 })).toBe(3);
    expect(await codeOf(viaCrypto.loadSnapshot(s2, { key: k2 }))).toBe('SNAPSHOT_KEY');
    expect(viaCrypto.version).toBe(3);
  });

  it('a detached buffer or a look-alike object is refused with SNAPSHOT_KEY, never read as a key', async () => {
    const unsigned = (await engineOf(closed)).snapshot();
    const detached = new ArrayBuffer(32);
    structuredClone(detached, { transfer: [detached] });
    for (const bad of [detached, { byteLength: 32, buffer: new ArrayBuffer(32) }, Object.create(ArrayBuffer.prototype)]) {
      expect(await codeOf(signSnapshot(unsigned, bad as never))).toBe('SNAPSHOT_KEY');
    }
  });
});
