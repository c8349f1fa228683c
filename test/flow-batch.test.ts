// Flows, batches and options that cannot be forged or corrupted (issue 9, item 6):
// values only the JS API can pass (BigInt, circular objects, null-prototype objects,
// functions, symbols, throwing getters, proxies) are FLOW_INVALID with a path, never
// a TypeError; a batch has one answer per flow given or is refused; parsed flows are
// recognised by a mark only the library sets; a batch's internals cannot be written;
// every option is checked (INVALID_ARGUMENT). Generated with fast-check, seeded.
import { types } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fc } from '@fast-check/vitest';
import {
  compilePolicy, createEngine, createFlowBatch, FlowBatch, parseConfig, parseFlow, referenceClassify, SgfilterError,
  type Config, type ConfigInput, type Engine, type FlowInput,
} from '../src/index.js';
import { batchFromPacked, batchOrder, packSlice } from '../src/flow.js';
import { parseProtocol } from '../src/config/presets.js';
import { mulberry32, randomConfig, randomFlows } from './random.js';
import { fuzzParams } from './fuzz/settings.js';


const DOC: ConfigInput = {
  securityGroups: [
    {
      id: 'sg-a',
      inbound: [
        { protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'accept' },
        { protocol: 'UDP', port: '53', source: '10.0.0.0/8', action: 'drop' },
        { protocol: 'ALL', source: '::/0', action: 'drop' },
        { protocol: 'GRE', source: 'any', action: 'accept' },
      ],
      outbound: [{ protocol: 'ALL', destination: '0.0.0.0/0', action: 'accept' }],
    },
  ],
  instances: [{ id: 'ins-1', securityGroups: ['sg-a'] }, { id: 'ins-2', securityGroups: [] }],
};
const CONFIG: Config = parseConfig(DOC);
const GOOD: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' };
const FIELDS = ['direction', 'protocol', 'remote', 'port', 'local', 'sourcePort', 'icmpType', 'icmpCode', 'instance'] as const;

/** Values only the JS API can pass; each built fresh. */
function special(kind: number): unknown {
  switch (kind) {
    case 0: return 22n;
    case 1: { const o: Record<string, unknown> = { a: 1 }; o.self = o; return o; }
    case 2: return Object.create(null);
    case 3: return () => 'TCP';
    case 4: return Symbol('x');
    case 5: return Object.defineProperty({}, 'v6', { get() { throw new Error('boom'); }, enumerable: true });
    case 6: return new Proxy({}, { get() { throw new TypeError('trap'); }, ownKeys() { throw new TypeError('trap'); } });
    case 7: { const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy; }
    case 8: return { toString() { throw new Error('toString'); }, valueOf() { throw new Error('valueOf'); } };
    case 9: return [1, 2, 3];
    case 10: return new Uint32Array(4);
    case 11: return { v6: true, words: [0, 0, 0xffff, 0x01020304] };
    case 12: return { v6: false, words: [1, 2, 3, 4] };
    case 13: return { v6: false, addr: 0x01020304n };
    case 14: return 2 ** 31 + 47;
    case 15: return NaN;
    case 16: return 'constructor';
    case 17: return '__proto__';
    case 18: return new String('TCP');
    default: return Object.create({ port: 22 });
  }
}
/**
 * Hostile values, as thunks: each value is built when the property runs (fast-check
 * itself would trip over a revoked proxy it generated).
 */
type Thunk = () => unknown;
const hostile: fc.Arbitrary<Thunk> = fc.oneof(
  fc.integer({ min: 0, max: 19 }).map((k): Thunk => () => special(k)),
  fc.anything({ withBigInt: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true, withMap: true }).map((v): Thunk => () => v),
);

/** A flow with one field replaced by a hostile value (or the whole flow), as a thunk. */
const hostileFlow: fc.Arbitrary<Thunk> = fc.oneof(
  fc.tuple(fc.constantFrom<string>(...FIELDS, 'sourceport', 'remote'), hostile).map(([k, v]): Thunk => () => ({ ...GOOD, [k]: v() })),
  hostile,
  // A whole flow behind a proxy or throwing getters.
  fc.constantFrom(...FIELDS).map((k): Thunk => () => Object.defineProperty({ ...GOOD }, k, { get() { throw new RangeError('getter'); }, enumerable: true })),
  fc.constant((): unknown => new Proxy({ ...GOOD }, {})),
);

const protoKeys = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const PROTO = protoKeys();
afterEach(() => expect(protoKeys()).toBe(PROTO));

/** Runs fn; returns the SgfilterError it threw, or undefined. Any other error fails the test. */
function coded(fn: () => unknown): SgfilterError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!(e instanceof SgfilterError)) throw new Error(`expected an SgfilterError, got ${String(e)}`, { cause: e });
    return e;
  }
}

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine(DOC);
});

/** The engine still classifies as the reference (nothing corrupted its policy or memory). */
function engineIntact(): void {
  const r = mulberry32(1);
  const flows = randomFlows(r, CONFIG, 200);
  const batch = createFlowBatch(flows);
  engine.classifyBatch(batch);
  flows.forEach((f, i) => expect(batch.verdict(i)).toEqual(referenceClassify(CONFIG, f)));
}

describe('flows from the JS API', () => {
  it('a hostile value anywhere in a flow is FLOW_INVALID with the field\'s path, or a valid flow that classifies as the reference', () => {
    fc.assert(
      fc.property(hostileFlow, (make) => {
        const flow = make();
        const e = coded(() => parseFlow(flow));
        if (e) {
          expect(e.code).toBe('FLOW_INVALID');
          expect(e.issues.length).toBeGreaterThan(0);
          for (const issue of e.issues) expect(Array.isArray(issue.path)).toBe(true);
          expect(coded(() => engine.classify(flow as FlowInput))?.code).toBe('FLOW_INVALID');
        } else {
          // A flow naming an unknown instance is refused by both, with a code.
          const refused = coded(() => referenceClassify(CONFIG, parseFlow(flow)));
          if (refused) {
            expect(refused.code).toBe('UNKNOWN_INSTANCE');
            expect(coded(() => engine.classify(flow as FlowInput))?.code).toBe('UNKNOWN_INSTANCE');
          } else expect(engine.classify(flow as FlowInput)).toEqual(referenceClassify(CONFIG, parseFlow(flow)));
        }
      }),
      fuzzParams('flows: a hostile value anywhere in a flow', 3000),
    );
    engineIntact();
  });

  it('a batch has exactly one answer per flow, or is refused with an issue at each bad index (never fewer answers)', () => {
    const r = mulberry32(2);
    const goodFlows = randomFlows(r, CONFIG, 400).map((f) => ({ ...f, instance: f.instance ?? 'ins-1' }));
    fc.assert(
      fc.property(fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...goodFlows).map((f): Thunk => () => f) }, { weight: 1, arbitrary: hostileFlow }), { maxLength: 40 }), fc.boolean(), (flows, sparse) => {
        const list: unknown[] = flows.map((make) => make());
        if (sparse && list.length > 2) delete list[1]; // a hole is a missing flow, not a shorter list
        const bad = new Set<number>();
        list.forEach((f, i) => coded(() => parseFlow(f)) && bad.add(i));
        for (let i = 0; i < list.length; i++) if (!(i in list)) bad.add(i);
        const e = coded(() => createFlowBatch(list as FlowInput[]));
        if (bad.size === 0) {
          expect(e).toBeUndefined();
          const batch = createFlowBatch(list as FlowInput[]);
          expect(batch.length).toBe(list.length);
          const unknown = list.some((f) => coded(() => referenceClassify(CONFIG, f as FlowInput)));
          if (unknown) {
            expect(coded(() => engine.classifyBatch(batch))?.code).toBe('UNKNOWN_INSTANCE');
            return;
          }
          const actions = engine.classifyBatch(batch);
          expect(actions.length).toBe(list.length);
          list.forEach((f, i) => {
            const want = referenceClassify(CONFIG, f as FlowInput);
            expect(batch.verdict(i)).toEqual(want);
            expect(actions[i]).toBe(want.action === 'accept' ? 1 : 0);
          });
        } else {
          expect(e?.code).toBe('FLOW_INVALID');
          const indices = new Set(e!.issues.map((i) => i.path[0]));
          expect(indices).toEqual(bad);
        }
      }),
      fuzzParams('flows: one answer per flow', 1500),
    );
    engineIntact();
  });

  it('a batch of one instance, family and direction, of two directions, or mixed, answers every flow in the caller\'s order as the reference', () => {
    // createFlowBatch groups a batch of one instance and one family as it reads it
    // (one direction from the front, the other from the back) and regroups any other
    // batch: every such shape, whichever direction comes first, parsed flows or not.
    const r = mulberry32(11);
    const pool = randomFlows(r, CONFIG, 600).map((f) => ({ ...f, instance: f.instance ?? 'ins-1' }));
    const keyOf = (f: FlowInput) => `${f.instance}|${f.direction}|${String(f.remote).includes(':') && !String(f.remote).toLowerCase().startsWith('::ffff:') ? 6 : 4}`;
    const byKey = new Map<string, FlowInput[]>();
    for (const f of pool) byKey.set(keyOf(f), [...(byKey.get(keyOf(f)) ?? []), f]);
    const keys = [...byKey.keys()].sort();
    fc.assert(
      fc.property(fc.subarray(keys, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { minLength: 1, maxLength: 60 }), fc.boolean(), (chosen, picks, parsed) => {
        const list = picks.map((p, i) => {
          const group = byKey.get(chosen[(p + i) % chosen.length]!)!;
          const f = group[p % group.length]!;
          return parsed && p % 3 === 0 ? parseFlow(f) : f;
        });
        const batch = createFlowBatch(list);
        const actions = engine.classifyBatch(batch);
        expect(batch.length).toBe(list.length);
        list.forEach((f, i) => {
          const want = referenceClassify(CONFIG, f);
          expect(batch.verdict(i)).toEqual(want);
          expect(actions[i]).toBe(want.action === 'accept' ? 1 : 0);
        });
        // The stored rows are a permutation of the flows, and packing them again answers the same.
        const again = batchFromPacked(packSlice(batch, 0, batch.length));
        engine.classifyBatch(again);
        const order = batchOrder(batch);
        const seen = new Set<number>();
        for (let s = 0; s < list.length; s++) {
          const i = order ? order[s]! : s;
          seen.add(i);
          expect(again.verdict(s)).toEqual(batch.verdict(i));
        }
        expect(seen.size).toBe(list.length);
      }),
      fuzzParams('flows: batch shapes', 400),
    );
  });

  it('parsed flows are frozen and known by a mark: look-alikes are validated again (protocol 2^31+47 is not GRE)', () => {
    const parsed = parseFlow({ direction: 'inbound', protocol: 'GRE', remote: '192.0.2.1' });
    expect(Object.isFrozen(parsed) && Object.isFrozen(parsed.remote) && Object.isFrozen(parsed.remote.words)).toBe(true);
    expect(() => ((parsed as { protocol: number }).protocol = 2 ** 31 + 47)).toThrow(TypeError);
    expect(parseFlow(parsed)).toBe(parsed);
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double(), fc.constantFrom(2 ** 31 + 47, 2 ** 32 + 6, -1, 256)), fc.boolean(), (protocol, oldShape) => {
        const lookalike = {
          ...parsed,
          protocol,
          remote: oldShape ? { v6: false, addr: 0xc0000201n } : parsed.remote,
        };
        const e = coded(() => createFlowBatch([lookalike as never]));
        const valid = Number.isInteger(protocol) && protocol >= 0 && protocol <= 255 && protocol !== 6 && protocol !== 17 && !oldShape;
        if (valid) expect(e).toBeUndefined();
        else {
          expect(e?.code).toBe('FLOW_INVALID');
          expect(e!.issues.some((i) => i.path[0] === 0)).toBe(true);
        }
      }),
      fuzzParams('flows: parsed flows known by a mark', 500),
    );
  });

  it('a flow protocol means what a rule protocol means, in any case and spacing (the fast path agrees with parseProtocol)', () => {
    const names = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'GRE', 'ALL', 'constructor', '__proto__', 'toString', 'hasOwnProperty', '6', '017', '255', '256'];
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), fc.constantFrom('', ' ', '\t'), (name, upper, pad) => {
        const text = pad + [...name].map((c, i) => (upper[i % 12] ? c.toUpperCase() : c.toLowerCase())).join('') + pad;
        const p = parseProtocol(text, false);
        const want = typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 255 ? p : undefined;
        const e = coded(() => parseFlow({ direction: 'inbound', protocol: text, remote: '192.0.2.1', port: 1 }));
        if (want === undefined) expect(e?.issues.map((i) => i.path[0])).toContain('protocol');
        else expect(parseFlow({ direction: 'inbound', protocol: text, remote: '192.0.2.1', port: 1 }).protocol).toBe(want);
      }),
      fuzzParams('flows: protocol text as rules read it', 500),
    );
  });

  it('a parsed flow survives JSON and structured clone: read again, same verdict', () => {
    const r = mulberry32(3);
    for (const f of randomFlows(r, CONFIG, 300)) {
      const p = parseFlow(f);
      const want = referenceClassify(CONFIG, p);
      const json = JSON.parse(JSON.stringify(p)) as FlowInput;
      const clone = structuredClone(p) as unknown as FlowInput;
      for (const copy of [json, clone]) {
        expect(parseFlow(copy)).toEqual(p);
        const got = coded(() => engine.classify(copy));
        if (!got) expect(engine.classify(copy)).toEqual(want);
      }
    }
  });

  it('never reads a field from a polluted Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    const flow: FlowInput = { direction: 'inbound', protocol: 'GRE', remote: '192.0.2.1' };
    const want = engine.classify(flow);
    try {
      proto.instance = 'ins-2';
      proto.port = 70000;
      proto.local = 'not an address';
      proto.icmpType = 8;
      expect(engine.classify(flow)).toEqual(want);
      expect(parseFlow(flow).instance).toBeNull();
    } finally {
      delete proto.instance;
      delete proto.port;
      delete proto.local;
      delete proto.icmpType;
    }
  });

  it('a getter that classifies another flow while its flow is read does not change that flow\'s verdict', () => {
    fc.assert(
      fc.property(fc.constantFrom(...randomFlows(mulberry32(4), CONFIG, 100)), fc.constantFrom(...randomFlows(mulberry32(5), CONFIG, 100)), fc.constantFrom(...FIELDS), (outer, inner, field) => {
        fc.pre(field in outer);
        const want = referenceClassify(CONFIG, outer);
        const sneaky = { ...outer };
        Object.defineProperty(sneaky, field, {
          enumerable: true,
          get() {
            engine.classify(inner);
            parseFlow(inner);
            return (outer as unknown as Record<string, unknown>)[field];
          },
        });
        expect(engine.classify(sneaky)).toEqual(want);
        expect(parseFlow(sneaky)).toEqual(parseFlow(outer));
      }),
      fuzzParams('flows: a getter that classifies meanwhile', 300),
    );
  });
});

describe('batches', () => {
  it('have no writable internals: writing any property of a batch changes no answer and no policy', () => {
    const flows = randomFlows(mulberry32(6), CONFIG, 64);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('order', 'meta', 'remote', 'local', 'proto', 'port', 'length', 'instances', 'ruleIds', 'policyVersion', 'resolve', '__proto__x'), hostile), { maxLength: 6 }), (writes) => {
        const batch = createFlowBatch(flows);
        const before = Array.from(engine.classifyBatch(batch));
        for (const [k, v] of writes) {
          try {
            (batch as unknown as Record<string, unknown>)[k] = v();
          } catch {
            // getters without setters refuse the write: that is the point
          }
          const ids = batch.ruleIds;
          ids.fill(12345); // a copy
        }
        expect(Array.from(engine.classifyBatch(batch))).toEqual(before);
        expect(batch.length).toBe(flows.length);
        flows.forEach((f, i) => expect(batch.verdict(i)).toEqual(referenceClassify(CONFIG, f)));
      }),
      fuzzParams('batches: no writable internals', 200),
    );
    engineIntact();
  });

  it('classifyBatch refuses what is not a FlowBatch, and a bad out, with codes', () => {
    const batch = createFlowBatch([GOOD, GOOD]);
    const fakes: unknown[] = [
      undefined, null, 1, 'batch', {}, [], { length: 2, meta: new Uint32Array(2) }, Object.create(FlowBatch.prototype),
      new Proxy(batch, {}), Object.defineProperty(Object.create(FlowBatch.prototype), 'length', { value: 1 }),
    ];
    for (const f of fakes) expect(coded(() => engine.classifyBatch(f as FlowBatch))?.code).toBe('INVALID_ARGUMENT');
    fc.assert(
      fc.property(hostile, (make) => {
        const out = make();
        const e = coded(() => engine.classifyBatch(batch, out as Uint8Array));
        const u8 = types.isUint8Array(out); // no traps run: a proxy is not one
        if (u8 && (out as Uint8Array).length >= 2) expect(e).toBeUndefined();
        else expect(e?.code).toBe(u8 ? 'BATCH_MISMATCH' : out === undefined ? undefined : 'INVALID_ARGUMENT');
      }),
      fuzzParams('batches: classifyBatch refuses non-batches', 500),
    );
    // A Uint8Array whose own length lies, or behind a proxy: read through the built-ins, never past its end.
    class Short extends Uint8Array {
      override get length(): number {
        return 1e9;
      }
    }
    expect(coded(() => engine.classifyBatch(batch, new Short(1)))?.code).toBe('BATCH_MISMATCH');
    expect(coded(() => engine.classifyBatch(batch, new Proxy(new Uint8Array(2), {})))?.code).toBe('INVALID_ARGUMENT');
    // A subclass is a batch: its overrides do not change what the engine reads.
    class Liar extends FlowBatch {
      override get length(): number {
        return 1e9;
      }
    }
    const liar = new Liar([GOOD]);
    expect(Array.from(engine.classifyBatch(liar))).toEqual([1]);
    engineIntact();
  });

  it('verdict(i) and ruleId(i) take whole indexes inside the batch only', () => {
    const batch = createFlowBatch([GOOD, GOOD, GOOD]);
    expect(coded(() => batch.verdict(0))?.code).toBe('BATCH_MISMATCH'); // not classified yet
    engine.classifyBatch(batch);
    fc.assert(
      fc.property(fc.oneof(hostile, fc.integer({ min: -5, max: 8 }).map((n): Thunk => () => n), fc.double().map((n): Thunk => () => n)), (make) => {
        const i = make();
        for (const call of [() => batch.verdict(i as number), () => batch.ruleId(i as number)]) {
          const e = coded(call);
          if (typeof i === 'number' && Number.isInteger(i) && i >= 0 && i < 3) expect(e).toBeUndefined();
          else expect(e?.code).toBe(typeof i === 'number' && Number.isInteger(i) ? 'BATCH_MISMATCH' : 'INVALID_ARGUMENT');
        }
      }),
      fuzzParams('batches: verdict(i) indexes', 500),
    );
  });

  it('createFlowBatch and new FlowBatch refuse what is not a list, with a code', () => {
    fc.assert(
      fc.property(hostile, (thunk) => {
        const x = thunk();
        let list = false;
        try {
          list = Array.isArray(x);
        } catch {
          // a revoked proxy: not a list either
        }
        for (const make of [() => createFlowBatch(x as FlowInput[]), () => new FlowBatch(x as FlowInput[])]) {
          const e = coded(make);
          if (!list) expect(e?.code).toBe('INVALID_ARGUMENT');
          else if (e) expect(['FLOW_INVALID', 'INVALID_ARGUMENT']).toContain(e.code);
        }
      }),
      fuzzParams('batches: createFlowBatch refuses non-lists', 500),
    );
    const huge: unknown[] = [];
    huge.length = 2 ** 24 + 1;
    expect(coded(() => createFlowBatch(huge as FlowInput[]))?.code).toBe('INVALID_ARGUMENT');
    const holes: unknown[] = [];
    holes.length = 2 ** 20; // a million holes: refused quickly, after a bounded number of issues
    const e = coded(() => createFlowBatch(holes as FlowInput[]));
    expect(e?.code).toBe('FLOW_INVALID');
    expect(e!.issues.length).toBeLessThanOrEqual(1000);
  });

  it('packed flows from another thread are checked row by row: whatever the words, refused or classified as the reference', () => {
    const r = mulberry32(7);
    const config = parseConfig(randomConfig(r));
    const instances = config.implicitInstance ? [] : config.instances.map((i) => i.id);
    const flows = randomFlows(r, config, 64).map((f) => ({ ...f, ...(instances.length ? { instance: instances[0] } : {}) }));
    const batch = createFlowBatch(flows);
    let refused = 0;
    return createEngine(config).then((eng) => {
      fc.assert(
        fc.property(
          fc.constantFrom('meta', 'remote', 'local', 'proto', 'port', 'sport', 'icmp'),
          fc.nat(),
          fc.oneof(fc.nat(31).map((b) => 2 ** b), fc.integer({ min: 0, max: 0xffffffff })),
          fc.boolean(),
          (column, at, value, xor) => {
            const p = packSlice(batch, 0, batch.length);
            const col = p[column as 'meta'] as Uint32Array;
            const k = at % col.length;
            col[k] = xor ? (col[k]! ^ value) >>> 0 : value >>> 0;
            const e = coded(() => batchFromPacked(p));
            if (e) {
              expect(e.code).toBe('BATCH_MISMATCH');
              refused++;
              return;
            }
            const b = batchFromPacked(p);
            const got = coded(() => eng.classifyBatch(b));
            // Decode each row back into a flow object and ask the reference.
            for (let s = 0; s < p.length; s++) {
              const m = p.meta[s]!;
              const flow: Record<string, unknown> = {
                direction: m & 1 ? 'outbound' : 'inbound',
                protocol: p.proto[s],
                remote: { v6: (m & 2) !== 0, words: [...p.remote.subarray(4 * s, 4 * s + 4)] },
              };
              if (m & 4) flow.local = { v6: (m & 8) !== 0, words: [...p.local.subarray(4 * s, 4 * s + 4)] };
              if (p.port[s] !== 65536) flow.port = p.port[s];
              if (p.sport[s] !== 65536) flow.sourcePort = p.sport[s];
              if ((p.icmp[s]! & 0xffff) !== 256) flow.icmpType = p.icmp[s]! & 0xffff;
              if (p.icmp[s]! >>> 16 !== 256) flow.icmpCode = p.icmp[s]! >>> 16;
              const name = p.instances[m >>> 8];
              if (name) flow.instance = name;
              const want = coded(() => referenceClassify(config, flow as unknown as FlowInput));
              if (want || got) {
                expect(want?.code ?? got?.code).toBe('UNKNOWN_INSTANCE');
                continue;
              }
              expect(b.verdict(s), JSON.stringify(flow)).toEqual(referenceClassify(config, flow as unknown as FlowInput));
            }
          },
        ),
        fuzzParams('batches: packed flows from another thread', 1000),
      );
      expect(refused).toBeGreaterThan(0);
    });
  });
});

describe('options', () => {
  const numbers = fc.oneof(hostile, fc.constantFrom(0, -1, 0.5, NaN, Infinity, -Infinity, 1, 2, 7, 2 ** 53, 2 ** 53 + 2, '4', null, true).map((v): Thunk => () => v));
  const whole = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= Number.MAX_SAFE_INTEGER;

  it('compile options: a whole number in range, or INVALID_ARGUMENT', () => {
    fc.assert(
      fc.property(fc.constantFrom('maxTableBytes', 'mergeMaxOrders', 'partitionMinBytes'), numbers, (name, make) => {
        const v = make();
        const e = coded(() => compilePolicy(CONFIG, { [name]: v }));
        const ok = v === undefined || whole(v, name === 'maxTableBytes' ? 1 : 0);
        if (ok) expect(e === undefined || e.code === 'TABLE_TOO_LARGE').toBe(true);
        else expect(e?.code).toBe('INVALID_ARGUMENT');
      }),
      fuzzParams('options: compile options', 500),
    );
    expect(coded(() => compilePolicy(CONFIG, { maxTableBytes: NaN }))?.code).toBe('INVALID_ARGUMENT');
    expect(coded(() => compilePolicy(CONFIG, { maxTablebytes: 10 } as never))?.message).toContain('did you mean "maxTableBytes"');
  });

  it('windowFlows: a whole number ≥ 1 (then batches of any size classify as the reference), or INVALID_ARGUMENT', async () => {
    const flows = randomFlows(mulberry32(8), CONFIG, 50);
    await fc.assert(
      fc.asyncProperty(fc.oneof(numbers, fc.integer({ min: 1, max: 9 }).map((n): Thunk => () => n)), async (make) => {
        const v = make();
        let eng: Engine | undefined;
        let err: unknown;
        try {
          eng = await createEngine(DOC, { windowFlows: v as number });
        } catch (e) {
          err = e;
        }
        if (!whole(v, 1) && v !== undefined) {
          expect(err).toBeInstanceOf(SgfilterError);
          expect((err as SgfilterError).code).toBe('INVALID_ARGUMENT');
          return;
        }
        expect(err).toBeUndefined();
        const batch = createFlowBatch(flows);
        eng!.classifyBatch(batch);
        flows.forEach((f, i) => expect(batch.verdict(i)).toEqual(referenceClassify(CONFIG, f)));
      }),
      fuzzParams('options: windowFlows', 60),
    );
  });

  it('expectedVersion, the options objects themselves, and change listeners are checked', async () => {
    const eng = await createEngine(DOC);
    for (const v of [NaN, 0, 1.5, '1', -1, Infinity, 1n, {}]) {
      for (const call of [() => eng.reload(DOC, { expectedVersion: v as number }), () => eng.update([], { expectedVersion: v as number }), () => eng.loadSnapshot(eng.snapshot(), { expectedVersion: v as number })]) {
        await expect(call()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
    }
    for (const o of [null, 5, 'x', [], () => 1]) {
      await expect(createEngine(DOC, o as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(eng.reload(DOC, o as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await expect(createEngine(DOC, { windowflows: 3 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(createEngine(DOC, Object.defineProperty({}, 'windowFlows', { get() { throw new Error('getter'); }, enumerable: true }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    for (const l of [undefined, null, 'f', {}]) expect(coded(() => eng.on('change', l as never))?.code).toBe('INVALID_ARGUMENT');
    expect(eng.version).toBe(1);
  });
});
