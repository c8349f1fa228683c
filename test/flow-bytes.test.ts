// The fast paths of issue 11 against the reference matcher: createFlowBatchFromBytes
// (flows as address bytes and typed arrays, no object per flow) and classify(flow)
// with string addresses (the one-flow path that writes straight into the window),
// on generated configs and flows, addresses in every spelling (IPv4 as 4 bytes, as
// 16 IPv4-mapped bytes, as a dotted quad and as ::ffff: text in every IPv6 spelling;
// IPv6 with `::` anywhere, leading zeros, either case, an embedded quad). Also: every
// offset and length is checked before a byte is read (coded errors with the flow
// and the field), the arrays are recognised by the typed-array built-ins only, and
// the batch owns copies. Seeded (SGFILTER_SEED).
import { afterEach, describe, expect, it } from 'vitest';
import {
  createEngine, createFlowBatch, createFlowBatchFromBytes, parseConfig, parseFlow, referenceClassify, SgfilterError,
  type Config, type Engine, type FlowBytes, type ParsedFlow,
} from '../src/index.js';
import { mulberry32, randomConfig, randomFlows, type Rng } from './random.js';
import { spell } from './address-arbitraries.js';
import { fuzzSeed } from './fuzz/settings.js';

// One root seed for the suite (test/fuzz/settings.ts: SGFILTER_FUZZ_SEED, fixed by default so CI is reproducible).
const SEED = fuzzSeed('flow bytes: differential');
const CONFIGS = 60;
const FLOWS = 400;

const protoKeys = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const PROTO = protoKeys();
afterEach(() => expect(protoKeys()).toBe(PROTO));

const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** The eight groups of a parsed address (IPv4: the mapped form). */
function groupsOf(a: ParsedFlow['remote']): number[] {
  const w = a.v6 ? a.words : [0, 0, 0xffff, a.words[0]];
  return w.flatMap((x) => [x >>> 16, x & 0xffff]);
}

/** A random valid text of the address: a dotted quad for IPv4 half the time, else IPv6 text in a random spelling. */
function spelled(r: Rng, a: ParsedFlow['remote']): string {
  const g = groupsOf(a);
  if (!a.v6 && r() < 0.5) {
    const v = a.words[0];
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  return spell(g, {
    gapPick: int(r, 0, 40),
    quad: r() < 0.3,
    pad: Array.from({ length: 8 }, () => int(r, 0, 3)),
    upper: Array.from({ length: 32 }, () => r() < 0.5),
  });
}

/** Writes `a` into bytes at `at` as 4 bytes (IPv4), or 16 (IPv6, or IPv4-mapped when `mapped`); returns the length. */
function putAddress(bytes: Uint8Array, at: number, a: ParsedFlow['remote'], mapped: boolean): number {
  if (!a.v6 && !mapped) {
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, a.words[0]);
    return 4;
  }
  const w = a.v6 ? a.words : [0, 0, 0xffff, a.words[0]];
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  for (let k = 0; k < 4; k++) dv.setUint32(at + 4 * k, w[k]!);
  return 16;
}

/**
 * Flows (one instance) as FlowBytes: addresses at random offsets of one buffer with
 * junk between them, per-flow or constant direction, either port array kind.
 */
function toBytes(r: Rng, flows: readonly ParsedFlow[], instance: string | null): FlowBytes {
  const n = flows.length;
  const bytes = new Uint8Array(40 * n + 64);
  for (let i = 0; i < bytes.length; i++) bytes[i] = int(r, 0, 255);
  const remoteOffset = new Uint32Array(n);
  const remoteLength = new Uint8Array(n);
  const localOffset = new Uint32Array(n);
  const localLength = new Uint8Array(n);
  const protocol = new Uint8Array(n);
  const everyPort = flows.every((f) => f.port !== null) && r() < 0.5;
  const port = everyPort ? new Uint16Array(n) : new Int32Array(n);
  const sourcePort = new Int32Array(n);
  const icmpType = new Int16Array(n);
  const icmpCode = new Int16Array(n);
  const direction = new Uint8Array(n);
  let at = int(r, 0, 8);
  for (let i = 0; i < n; i++) {
    const f = flows[i]!;
    remoteOffset[i] = at;
    remoteLength[i] = putAddress(bytes, at, f.remote, r() < 0.5);
    at += remoteLength[i]! + int(r, 0, 3);
    if (f.local) {
      localOffset[i] = at;
      localLength[i] = putAddress(bytes, at, f.local, r() < 0.5);
      at += localLength[i]! + int(r, 0, 3);
    } else localOffset[i] = int(r, 0, 2 ** 32 - 1); // never read: localLength 0
    protocol[i] = f.protocol;
    port[i] = f.port ?? -1;
    sourcePort[i] = f.sourcePort ?? -1;
    icmpType[i] = f.icmpType ?? -1;
    icmpCode[i] = f.icmpCode ?? -1;
    direction[i] = f.direction === 'outbound' ? 1 : 0;
  }
  const oneWay = flows.every((f) => f.direction === flows[0]?.direction) && n > 0 && r() < 0.5;
  return {
    bytes, remoteOffset, remoteLength, localOffset, localLength, protocol, port, sourcePort, icmpType, icmpCode,
    direction: oneWay ? flows[0]!.direction : direction,
    ...(instance === null ? {} : { instance }),
  };
}

describe(`bytes batches and string flows vs the reference matcher (seed ${SEED})`, () => {
  it(`agree on ${CONFIGS} random configs × ${FLOWS} flows, addresses as bytes and in every spelling`, async () => {
    const r = mulberry32(SEED);
    let engine: Engine | undefined;
    const mismatches: string[] = [];
    let checked = 0;
    for (let c = 0; c < CONFIGS; c++) {
      const doc = randomConfig(r);
      const config: Config = parseConfig(doc);
      if (!engine) engine = await createEngine(config);
      else await engine.reload(config);
      const flows = randomFlows(r, config, FLOWS).map(parseFlow);
      const want = flows.map((f) => referenceClassify(config, f));
      // Bytes: one batch per instance named (a bytes batch has one instance).
      const byInstance = new Map<string | null, number[]>();
      flows.forEach((f, i) => byInstance.set(f.instance, [...(byInstance.get(f.instance) ?? []), i]));
      for (const [instance, idx] of byInstance) {
        const batch = createFlowBatchFromBytes(toBytes(r, idx.map((i) => flows[i]!), instance));
        expect(batch.length).toBe(idx.length);
        const actions = engine.classifyBatch(batch);
        idx.forEach((i, k) => {
          const got = batch.verdict(k);
          checked++;
          if (JSON.stringify(got) !== JSON.stringify(want[i]) || actions[k] !== (want[i]!.action === 'accept' ? 1 : 0)) {
            if (mismatches.length < 5) mismatches.push(`bytes, config ${c}: ${JSON.stringify(doc)}\nflow ${JSON.stringify(flows[i])}\nwant ${JSON.stringify(want[i])} got ${JSON.stringify(got)}`);
          }
        });
      }
      // Strings: every flow through classify(flow), its addresses respelled.
      flows.forEach((f, i) => {
        const input = {
          direction: f.direction, protocol: f.protocol, remote: spelled(r, f.remote),
          ...(f.local ? { local: spelled(r, f.local) } : {}),
          ...(f.port !== null ? { port: f.port } : {}),
          ...(f.sourcePort !== null ? { sourcePort: f.sourcePort } : {}),
          ...(f.icmpType !== null ? { icmpType: f.icmpType } : {}),
          ...(f.icmpCode !== null ? { icmpCode: f.icmpCode } : {}),
          ...(f.instance !== null ? { instance: f.instance } : {}),
        };
        const got = engine!.classify(input);
        checked++;
        if (JSON.stringify(got) !== JSON.stringify(want[i])) {
          if (mismatches.length < 5) mismatches.push(`classify, config ${c}: ${JSON.stringify(doc)}\nflow ${JSON.stringify(input)}\nwant ${JSON.stringify(want[i])} got ${JSON.stringify(got)}`);
        }
      });
    }
    expect(mismatches, mismatches.join('\n\n')).toEqual([]);
    expect(checked).toBe(2 * CONFIGS * FLOWS);
  }, 120_000);

  it('answers the same for a flow whatever the batch (bytes, objects, one at a time) and shares frozen verdicts', async () => {
    const r = mulberry32(SEED ^ 0xb17e5);
    const config = parseConfig(randomConfig(r, 60));
    const engine = await createEngine(config);
    const flows = randomFlows(r, config, 2000).map((f) => ({ ...f, instance: undefined })).map(parseFlow);
    const a = createFlowBatch(flows);
    const b = createFlowBatchFromBytes(toBytes(r, flows, null));
    engine.classifyBatch(a);
    engine.classifyBatch(b);
    for (let i = 0; i < flows.length; i++) {
      expect(b.verdict(i)).toEqual(a.verdict(i));
      const v = engine.classify(flows[i]!);
      expect(v).toEqual(a.verdict(i));
      expect(Object.isFrozen(v)).toBe(true);
      expect(engine.classify(flows[i]!)).toBe(v); // shared: nothing allocated per call
    }
  });
});

describe('createFlowBatchFromBytes refuses what it cannot read, before reading it', () => {
  const base = (): FlowBytes => ({
    bytes: Uint8Array.of(10, 0, 0, 1, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
    remoteOffset: Uint32Array.of(0, 4),
    remoteLength: Uint8Array.of(4, 16),
    protocol: Uint8Array.of(6, 17),
    port: Uint16Array.of(443, 53),
    direction: 'inbound',
  });
  const code = (input: unknown): { code: string; message: string; paths: unknown[] } => {
    try {
      createFlowBatchFromBytes(input as FlowBytes);
    } catch (e) {
      expect(e).toBeInstanceOf(SgfilterError);
      const err = e as SgfilterError;
      return { code: err.code, message: err.message, paths: (err.issues ?? []).map((i) => i.path) };
    }
    throw new Error('expected a refusal');
  };

  it('accepts the base input', () => {
    expect(createFlowBatchFromBytes(base()).length).toBe(2);
  });

  it('checks every offset and length against bytes (FLOW_INVALID, flow and field)', () => {
    // Past the end by one byte, far past it, and at the largest offset (no wrap-around).
    for (const off of [5, 1000, 2 ** 32 - 1]) {
      const e = code({ ...base(), remoteOffset: Uint32Array.of(0, off) });
      expect(e.code).toBe('FLOW_INVALID');
      expect(e.paths).toEqual([[1, 'remoteOffset']]);
      expect(e.message).toContain(`byte offset ${off}`);
      expect(e.message).toContain('20 bytes');
    }
    for (const len of [0, 1, 5, 8, 15, 17, 255]) {
      const e = code({ ...base(), remoteLength: Uint8Array.of(len, 16) });
      expect(e.code).toBe('FLOW_INVALID');
      expect(e.paths).toEqual([[0, 'remoteLength']]);
    }
    const local = code({ ...base(), localOffset: Uint32Array.of(0, 17), localLength: Uint8Array.of(0, 4) });
    expect(local.paths).toEqual([[1, 'localOffset']]);
    expect(code({ ...base(), localOffset: Uint32Array.of(0, 0), localLength: Uint8Array.of(3, 0) }).paths).toEqual([[0, 'localLength']]);
    // An empty buffer: nothing can be read.
    expect(code({ ...base(), bytes: new Uint8Array(0) }).paths).toEqual([[0, 'remoteOffset'], [1, 'remoteOffset']]);
  });

  it('checks ports, ICMP fields and directions per flow', () => {
    expect(code({ ...base(), port: Int32Array.of(443, -1) }).paths).toEqual([[1, 'port']]); // UDP needs a port
    expect(code({ ...base(), port: Int32Array.of(70000, -2) }).paths).toEqual([[0, 'port'], [1, 'port']]);
    expect(code({ ...base(), port: undefined }).paths).toEqual([[0, 'port'], [1, 'port']]);
    expect(code({ ...base(), sourcePort: Int32Array.of(65536, 0) }).paths).toEqual([[0, 'sourcePort']]);
    expect(code({ ...base(), icmpType: Int16Array.of(8, -1) }).paths).toEqual([[0, 'icmpType']]); // TCP carries no ICMP type
    expect(code({ ...base(), protocol: Uint8Array.of(1, 58), icmpType: Int16Array.of(256, 8), icmpCode: Int16Array.of(0, -5) }).paths).toEqual([[0, 'icmpType'], [1, 'icmpCode']]);
    expect(code({ ...base(), direction: Uint8Array.of(0, 2) }).paths).toEqual([[1, 'direction']]);
  });

  it('recognises arrays by the typed-array built-ins only (INVALID_ARGUMENT)', () => {
    const b = base();
    const lying = Object.defineProperty(Uint32Array.of(0), 'length', { value: 2 });
    const cases: unknown[] = [
      null, 7, [], { ...b, bytes: [10, 0, 0, 1] }, { ...b, bytes: new Uint16Array(20) }, { ...b, bytes: undefined },
      { ...b, remoteOffset: new Proxy(Uint32Array.of(0, 4), {}) }, { ...b, remoteOffset: [0, 4] }, { ...b, remoteOffset: lying },
      { ...b, remoteLength: Uint8Array.of(4) }, { ...b, protocol: Uint16Array.of(6, 17) }, { ...b, port: Float64Array.of(1, 2) },
      { ...b, localOffset: Uint32Array.of(0, 0) }, { ...b, direction: 'sideways' }, { ...b, direction: [0, 1] },
      { ...b, instance: '' }, { ...b, instance: 7 },
      Object.defineProperty({ ...b }, 'protocol', { get: () => { throw new Error('boom'); } }),
    ];
    cases.forEach((bad, k) => expect(code(bad).code, `case ${k}`).toBe('INVALID_ARGUMENT'));
  });

  it('refuses a misspelt field (it would classify without the column meant), naming the field it resembles', () => {
    for (const [typo, meant] of [['sourceport', 'sourcePort'], ['remoteOfset', 'remoteOffset'], ['localoffset', 'localOffset'], ['instanse', 'instance'], ['icmptype', 'icmpType']] as const) {
      const e = code({ ...base(), [typo]: Uint16Array.of(1, 2) });
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toContain(`unknown field "${typo}"; did you mean "${meant}"?`);
    }
    // Other names (a caller's own bookkeeping) are left alone.
    expect(() => createFlowBatchFromBytes({ ...base(), capturedAt: 12 } as never)).not.toThrow();
    // A typed array of another kind is named, with its article.
    expect(code({ ...base(), icmpType: Int32Array.of(0, 0) }).message).toContain('must be an Int16Array, got an Int32Array');
  });

  it('never takes a field from a polluted Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    const { port: _port, ...noPort } = base();
    try {
      proto.port = Uint16Array.of(1, 2);
      expect(code(noPort).paths).toEqual([[0, 'port'], [1, 'port']]);
    } finally {
      delete proto.port;
    }
  });

  it('copies: changing the arrays afterwards changes nothing', async () => {
    const engine = await createEngine({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 443, source: '10.0.0.0/8', action: 'accept' }] }] });
    const input = base();
    const batch = createFlowBatchFromBytes(input);
    input.bytes.fill(0xff);
    input.remoteOffset.fill(2 ** 32 - 1);
    input.port!.fill(1);
    engine.classifyBatch(batch);
    expect(batch.verdict(0)).toEqual({ action: 'accept', groupId: 'sg', ruleIndex: 0 });
    expect(batch.verdict(1).ruleIndex).toBeNull();
  });

  it('reads 16 IPv4-mapped bytes as the IPv4 address, and one bit away as IPv6', async () => {
    const engine = await createEngine({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 443, source: '10.0.0.0/8', action: 'accept' }, { protocol: 'TCP', port: 443, source: '::/0', action: 'drop' }] }] });
    const mapped = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3);
    const near = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 10, 1, 2, 3);
    const bytes = new Uint8Array(32);
    bytes.set(mapped, 0);
    bytes.set(near, 16);
    const batch = createFlowBatchFromBytes({ bytes, remoteOffset: Uint32Array.of(0, 16), remoteLength: Uint8Array.of(16, 16), protocol: Uint8Array.of(6, 6), port: Uint16Array.of(443, 443), direction: 'inbound' });
    engine.classifyBatch(batch);
    expect(batch.verdict(0)).toEqual(engine.classify({ direction: 'inbound', protocol: 'TCP', port: 443, remote: '::ffff:10.1.2.3' }));
    expect(batch.verdict(0).action).toBe('accept');
    expect(batch.verdict(1)).toEqual(engine.classify({ direction: 'inbound', protocol: 'TCP', port: 443, remote: '::fffe:a01:203' }));
    expect(batch.verdict(1).action).toBe('drop');
  });
});
