// WASM memory limits (issue 9, classes b and d): the arena never hands out an address
// at or past 2^31 (where TypeScript's typed-array indexes and int32 arithmetic would
// turn negative), running out of memory is MEMORY_LIMIT with nothing changed, and the
// engine works after any refused allocation: createTracker, a batch, a reload.
// The engine tests run under a small maxMemoryBytes, so they exhaust memory cheaply.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createEngine, createFlowBatch, referenceClassify, SgfilterError, type ConfigInput, type Engine, type FlowInput, type Tracker } from '../src/index.js';
import { Arena, MAX_MEMORY_BYTES } from '../src/wasm/load.js';
import { readFileSync, readdirSync } from 'node:fs';

const PAGE = 65536;
const MiB = 2 ** 20;

/** A stand-in for WebAssembly.Memory that only counts pages: 2 GiB of arena without 2 GiB of RAM. */
class CountingMemory {
  buffer = { byteLength: 2 * PAGE };
  grow(pages: number): number {
    const before = this.buffer.byteLength / PAGE;
    if (before + pages > 65536) throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
    this.buffer = { byteLength: this.buffer.byteLength + pages * PAGE };
    return before;
  }
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!(e instanceof SgfilterError)) throw e; // anything uncoded fails the test
    return e.code;
  }
}

describe('the arena', () => {
  it('caps memory below 2^31 on a page boundary', () => {
    expect(MAX_MEMORY_BYTES).toBeLessThan(2 ** 31);
    expect(MAX_MEMORY_BYTES % PAGE).toBe(0);
    const m = new CountingMemory() as unknown as WebAssembly.Memory;
    expect(new Arena(m, 1024, 2 ** 32).limit).toBe(MAX_MEMORY_BYTES);
    expect(new Arena(m, 1024).limit).toBe(MAX_MEMORY_BYTES);
    expect(new Arena(m, 1024, 64 * MiB).limit).toBe(64 * MiB);
    // A limit below what the matcher already uses is refused up front.
    expect(codeOf(() => new Arena(m, 1024, PAGE))).toBe('MEMORY_LIMIT');
  });

  it('hands out disjoint blocks below the limit, or refuses with MEMORY_LIMIT and changes nothing (generated)', () => {
    const size = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 20 }),
      fc.integer({ min: 2 ** 26, max: 2 ** 29 }),
      fc.integer({ min: 2 ** 30, max: 2 ** 33 }), // around and past 2^31, where `& ~15` and `>> 2` go negative
      fc.constantFrom(NaN, -1, 0.5, Infinity, 2 ** 31, 2 ** 32 - 1),
    );
    const op = fc.oneof(
      fc.record({ alloc: size }),
      fc.record({ release: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.constantFrom(MAX_MEMORY_BYTES, 2 ** 30, 2 ** 28), fc.array(op, { maxLength: 60 }), (limit, ops) => {
        const memory = new CountingMemory();
        const arena = new Arena(memory as unknown as WebAssembly.Memory, 1000, limit);
        const live: { at: number; bytes: number }[] = [];
        for (const o of ops) {
          if ('release' in o) {
            if (live.length === 0) continue;
            const [b] = live.splice(o.release % live.length, 1);
            arena.release(b!.at, b!.bytes);
            continue;
          }
          const before = memory.buffer.byteLength;
          let at: number;
          try {
            at = arena.alloc(o.alloc);
          } catch (e) {
            expect(e).toBeInstanceOf(SgfilterError);
            expect((e as SgfilterError).code).toBe('MEMORY_LIMIT');
            expect(memory.buffer.byteLength).toBe(before);
            continue;
          }
          expect(Number.isSafeInteger(o.alloc) && o.alloc >= 0).toBe(true);
          expect(at).toBeGreaterThanOrEqual(1000);
          expect(at % 16).toBe(0);
          expect(at + o.alloc).toBeLessThanOrEqual(limit);
          expect(at + o.alloc).toBeLessThanOrEqual(memory.buffer.byteLength);
          expect(at | 0).toBe(at); // a non-negative int32: safe for `>> 2`, `| 0`, Int32Array
          for (const b of live) expect(at + Math.max(o.alloc, 1) <= b.at || b.at + Math.max(b.bytes, 1) <= at).toBe(true);
          live.push({ at, bytes: o.alloc });
        }
        expect(memory.buffer.byteLength).toBeLessThanOrEqual(Math.ceil(limit / PAGE) * PAGE);
      }),
      { seed: 9, numRuns: 300 },
    );
  });
});

describe('address arithmetic in TypeScript', () => {
  // The cap keeps addresses below 2^31; unsigned arithmetic is the second line, so a
  // later raise of the cap cannot bring back negative indexes. Files that turn WASM
  // addresses or table offsets into typed-array indexes use `>>> n` and Math.ceil
  // alignment, never a signed `>> n`, `| 0` or `& ~mask` on a number.
  const files = [
    'src/engine.ts', 'src/flow.ts', 'src/flow-bytes.ts', 'src/compile/serialize.ts',
    ...['src/packets', 'src/wasm', 'src/snapshot', 'src/capture'].flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.ts')).map((f) => `${d}/${f}`)),
  ];
  it.each(files)('%s has no signed shift or mask on addresses', (file) => {
    const bad = readFileSync(file, 'utf8').split('\n').flatMap((line, i) => {
      if (/^\s*(\*|\/\/|\/\*)/.test(line)) return []; // comments
      const code = line.replace(/\/\/.*$/, '').replace(/>>\s*\(?\s*\w+n\b/g, ''); // BigInt shifts (`x >> 64n`) are exact
      // `x >> 2` (not >>>), `x | 0`, an alignment mask `x & ~15` (flag masks `& ~FLAG` are values, not addresses).
      return /[^>]>>\s*[(\w]|\|\s*0\b|&\s*~\s*\d/.test(code) ? [`${file}:${i + 1}: ${line.trim()}`] : [];
    });
    expect(bad).toEqual([]);
  });
});

const rules = (n: number, action: 'accept' | 'drop'): ConfigInput => ({
  securityGroups: [{
    id: 'g',
    inbound: [
      { protocol: 'TCP' as const, port: 22, source: '10.0.0.0/8', action: 'drop' as const },
      ...Array.from({ length: n }, (_, i) => ({ protocol: 'TCP' as const, port: 1000 + i, source: 'any', action: i % 2 ? action : ('drop' as const) })),
      { protocol: 'TCP' as const, port: '1-999', source: 'any', action },
    ],
  }],
  instances: [{ id: 'i', securityGroups: ['g'], addresses: ['192.0.2.1'] }],
});

const flows: FlowInput[] = Array.from({ length: 64 }, (_, i) => ({
  direction: 'inbound', protocol: 'TCP', port: [22, 80, 1000 + i, 1001 + i, 5000][i % 5]!, remote: `${i % 3 ? 10 : 203}.0.${i}.${i * 3}`,
}));

/** Every verdict of `engine` (one at a time and as a batch, with rule ids) is the reference's. */
function agreesWithReference(engine: Engine): void {
  const batch = createFlowBatch(flows);
  const out = engine.classifyBatch(batch);
  flows.forEach((f, i) => {
    const want = referenceClassify(engine.config, f);
    expect(engine.classify(f)).toEqual(want);
    expect(batch.verdict(i)).toEqual(want);
    expect(out[i]).toBe(want.action === 'accept' ? 1 : 0);
  });
}

/** The largest tracker capacity that createTracker accepts now (binary search; each found tracker is closed again). */
function largestTracker(engine: Engine): number {
  let lo = 0;
  let hi = 2 ** 20;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const code = codeOf(() => engine.createTracker({ capacity: mid, fragments: 0 }).close());
    if (code === undefined) lo = mid;
    else {
      expect(code).toBe('MEMORY_LIMIT');
      hi = mid;
    }
  }
  return lo;
}

describe('engines under maxMemoryBytes', () => {
  it('checks the option', async () => {
    for (const bad of [2 ** 31, 2 ** 32, NaN, -1, 0.5, 65535, '1e6']) {
      await expect(createEngine(rules(2, 'accept'), { maxMemoryBytes: bad as number })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    // Below what the matcher needs to start: refused, coded.
    await expect(createEngine(rules(2, 'accept'), { maxMemoryBytes: PAGE })).rejects.toMatchObject({ code: 'MEMORY_LIMIT' });
    const e = await createEngine(rules(2, 'accept'), { maxMemoryBytes: MAX_MEMORY_BYTES });
    agreesWithReference(e);
  });

  it('a batch too big for the limit is MEMORY_LIMIT saying what needed the memory; smaller batches then work', async () => {
    const e = await createEngine(rules(2, 'accept'), { maxMemoryBytes: 1 * MiB });
    const flow: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 1, remote: '10.0.0.1' };
    const big = createFlowBatch(Array.from({ length: 400_000 }, () => flow));
    let err: unknown;
    try { e.classifyBatch(big); } catch (x) { err = x; }
    expect(err).toBeInstanceOf(SgfilterError);
    expect((err as SgfilterError).code).toBe('MEMORY_LIMIT');
    expect((err as SgfilterError).message).toMatch(/(a batch of 400000 flows .* several smaller batches)|(flow window .* lower windowFlows)/);
    // Nothing changed: a batch that fits is classified as the reference says.
    const small = createFlowBatch(Array.from({ length: 100 }, () => flow));
    expect([...e.classifyBatch(small)]).toEqual(Array.from({ length: 100 }, () => 1));
    // A window larger than the limit allows names windowFlows.
    const wide = await createEngine(rules(2, 'accept'), { maxMemoryBytes: 1 * MiB, windowFlows: 1 << 20 });
    expect(codeOf(() => wide.classifyBatch(createFlowBatch(Array.from({ length: 200_000 }, () => flow))))).toBe('MEMORY_LIMIT');
    try { wide.classifyBatch(createFlowBatch(Array.from({ length: 200_000 }, () => flow))); } catch (x) { expect((x as Error).message).toContain('lower windowFlows'); }
  });

  it('refuses trackers past the limit with MEMORY_LIMIT, and a refused createTracker keeps no memory', async () => {
    // 3,000 rules: a tracker's first publish takes tens of KiB beside its table, so a
    // failure between the table and the rest would leave blocks behind if any leaked.
    const e = await createEngine(rules(3000, 'accept'), { maxMemoryBytes: 16 * MiB });
    agreesWithReference(e);
    const most = largestTracker(e);
    expect(most).toBeGreaterThan(1000);
    // Just past the largest: some fail at the table, some at the first publish's regions.
    for (let c = most + 1; c < most + 800; c += 7) expect(codeOf(() => e.createTracker({ capacity: c, fragments: 0 }))).toBe('MEMORY_LIMIT');
    // A failure in the middle of the first publish (after every region was taken and
    // the counters were moved in): a step that "cannot fail" failing, as it did past
    // 2 GiB. Injected at the rule map's write (k = 0); k = 1 is the control (no failure).
    const set = Uint32Array.prototype.set;
    for (let k = 0; k < 2; k++) {
      let calls = 0;
      Object.defineProperty(Uint32Array.prototype, 'set', {
        configurable: true,
        writable: true,
        value(this: Uint32Array, ...args: Parameters<Uint32Array['set']>) {
          if (calls++ === k) throw new SgfilterError('MEMORY_LIMIT', 'injected');
          return set.apply(this, args);
        },
      });
      try {
        const got = codeOf(() => e.createTracker({ capacity: most, fragments: 0 })?.close());
        expect(got).toBe(calls > k ? "MEMORY_LIMIT" : undefined);
      } finally {
        delete (Uint32Array.prototype as { set?: unknown }).set;
      }
    }
    expect(Uint32Array.prototype.set).toBe(set);
    expect(largestTracker(e)).toBe(most);
    agreesWithReference(e);
    // The engine keeps working with a tracker that holds nearly all of it.
    const t = e.createTracker({ capacity: most, fragments: 0 });
    agreesWithReference(e);
    t.close();
  });

  it('a batch past the limit is MEMORY_LIMIT; classify and smaller batches still give the reference verdicts', async () => {
    const e = await createEngine(rules(50, 'accept'), { maxMemoryBytes: 8 * MiB });
    agreesWithReference(e);
    const big = createFlowBatch(Array.from({ length: 400_000 }, (_, i) => flows[i % flows.length]!));
    expect(codeOf(() => e.classifyBatch(big))).toBe('MEMORY_LIMIT');
    agreesWithReference(e);
    // With a tracker taking most of the rest, the answer area cannot grow either.
    const t = e.createTracker({ capacity: largestTracker(e), fragments: 0 });
    expect(codeOf(() => e.classifyBatch(createFlowBatch(Array.from({ length: 20_000 }, (_, i) => flows[i % flows.length]!))))).toBe('MEMORY_LIMIT');
    agreesWithReference(e);
    t.close();
    await e.reload(rules(60, 'drop'));
    agreesWithReference(e);
    // A fixed window (windowFlows): only the answer area grows with the batch, and it is
    // what is refused; the old area must stay the engine's.
    const w = await createEngine(rules(50, 'accept'), { maxMemoryBytes: 8 * MiB, windowFlows: 256 });
    agreesWithReference(w);
    const filler = w.createTracker({ capacity: largestTracker(w) - 1000, fragments: 0 });
    expect(codeOf(() => w.classifyBatch(createFlowBatch(Array.from({ length: 40_000 }, (_, i) => flows[i % flows.length]!))))).toBe('MEMORY_LIMIT');
    agreesWithReference(w);
    filler.close();
    agreesWithReference(w);
    // Whatever memory the engine now holds is its own: a batch as big as the refused one
    // fits (a new area) without writing over a tracker's table next to the old area.
    const t2 = w.createTracker({ capacity: largestTracker(w) - 20_000, fragments: 0 });
    const before = t2.stats();
    const big2 = createFlowBatch(Array.from({ length: 39_000 }, (_, i) => flows[i % flows.length]!));
    w.classifyBatch(big2);
    expect(big2.verdict(38_999)).toEqual(referenceClassify(w.config, flows[38_999 % flows.length]!));
    expect(t2.stats()).toEqual(before);
    t2.close();
  });

  it('publishes all or nothing: a reload refused for memory keeps the version, the verdicts, the trackers and emits nothing (generated)', async () => {
    const outcomes = { published: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 100, max: 4000 }), async (slack, next) => {
        const e = await createEngine(rules(300, 'accept'), { maxMemoryBytes: 16 * MiB });
        agreesWithReference(e);
        // A tracker that leaves about `slack` connections' worth of memory free.
        const trackers: Tracker[] = [e.createTracker({ capacity: Math.max(1, largestTracker(e) - slack), fragments: 0 })];
        let events = 0;
        e.on('change', () => events++);
        const before = { version: e.version, config: e.config };
        let code: string | undefined;
        try {
          await e.reload(rules(next, 'drop'));
        } catch (err) {
          expect(err).toBeInstanceOf(SgfilterError);
          code = (err as SgfilterError).code;
        }
        outcomes[code === undefined ? 'published' : 'refused']++;
        if (code === undefined) {
          expect(e.version).toBe(before.version + 1);
          expect(events).toBe(1);
        } else {
          expect(code).toBe('MEMORY_LIMIT');
          expect(e.version).toBe(before.version);
          expect(e.config).toBe(before.config);
          expect(events).toBe(0);
        }
        agreesWithReference(e);
        expect(trackers[0]!.stats().tracked).toBe(0);
        for (const t of trackers) t.close();
        // With the memory back, the same reload goes through.
        await e.reload(rules(next, 'drop'));
        agreesWithReference(e);
      }),
      { seed: 9, numRuns: 12 },
    );
    // Both paths were taken (the sizes are chosen so that some reloads fit and some do not).
    expect(outcomes.published).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
