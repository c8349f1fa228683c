/**
 * Address ranges into prefixes (attack finding 6): rangeToPrefixes recomputed BigInt
 * masks bit by bit for every prefix (a 1 MB config of odd-ended IPv6 ranges compiled in
 * 38 s; 220 KB of YAML aliases, 81 s), and nothing bounded the total. Generated ranges
 * (uniform, near powers of two, one address, everything) decompose exactly as a plain
 * BigInt reference does: prefixes in order, aligned, adjacent, covering exactly the
 * range, at most 2 × bits of them. And a config whose expansion would be huge is
 * refused with a coded issue naming the limit, before the work, however it got big
 * (many ranges, aliases, many group orders).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixCount, rangeToPrefixes, type Prefix } from '../src/compile/box.js';
import { MAX_COMPILE_ENTRIES } from '../src/compile/index.js';
import { createEngine, parseConfig, parseConfigText, SgfilterError } from '../src/index.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0x9a16);
const RUNS = Number(process.env.SGFILTER_FUZZ_RUNS ?? 200);

/** The plain decomposition: grow the block at `lo` bit by bit while it is aligned and inside. */
function reference(lo: bigint, hi: bigint, bits: number): { start: bigint; len: number }[] {
  const out: { start: bigint; len: number }[] = [];
  while (lo <= hi) {
    let size = 0;
    while (size < bits) {
      const mask = (1n << BigInt(size + 1)) - 1n;
      if ((lo & mask) !== 0n || lo + mask > hi) break;
      size++;
    }
    out.push({ start: lo, len: bits - size });
    lo += 1n << BigInt(size);
  }
  return out;
}

const startOf = (p: Prefix): bigint => p.words.reduce((a, w) => (a << 32n) | BigInt(w), 0n);

const address = (bits: number) => {
  const max = (1n << BigInt(bits)) - 1n;
  return fc.oneof(
    fc.bigInt({ min: 0n, max }),
    // Near a power-of-two boundary: where blocks start and end.
    fc.tuple(fc.integer({ min: 0, max: bits }), fc.bigInt({ min: -3n, max: 3n }), fc.bigInt({ min: 0n, max })).map(([k, d, r]) => {
      const base = k === bits ? max : (r >> BigInt(k)) << BigInt(k);
      const v = base + d;
      return v < 0n ? 0n : v > max ? max : v;
    }),
    fc.constantFrom(0n, 1n, max, max - 1n),
  );
};

describe(`rangeToPrefixes (seed ${SEED})`, () => {
  for (const bits of [32, 128]) {
    it(`IPv${bits === 32 ? 4 : 6}: equals the plain decomposition and covers exactly the range`, () => {
      fc.assert(
        fc.property(address(bits), address(bits), (a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const got = rangeToPrefixes({ lo, hi }, bits);
          expect(got.map((p) => ({ start: startOf(p), len: p.len }))).toEqual(reference(lo, hi, bits));
          expect(prefixCount({ lo, hi }, bits)).toBe(got.length); // what the compile budget counts
          // Exactly the range: in order, aligned, adjacent, from lo to hi.
          expect(got.length).toBeGreaterThanOrEqual(1);
          expect(got.length).toBeLessThanOrEqual(2 * bits);
          let next = lo;
          for (const p of got) {
            const start = startOf(p);
            const size = 1n << BigInt(bits - p.len);
            expect(p.words.length).toBe(bits / 32);
            expect(start).toBe(next);
            expect(start % size).toBe(0n);
            next = start + size;
          }
          expect(next - 1n).toBe(hi);
        }),
        { seed: SEED ^ bits, numRuns: RUNS * 2 },
      );
    });
  }

  it('the widest odd-ended IPv6 range is 254 prefixes, found in well under a millisecond each', () => {
    const max = (1n << 128n) - 1n;
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < 1000; i++) n += rangeToPrefixes({ lo: 1n + BigInt(i), hi: max - 1n - BigInt(i) }, 128).length;
    expect(n).toBeGreaterThan(240_000);
    expect(performance.now() - t0).toBeLessThan(5_000); // the BigInt version took ~40 s
  });
});

/** TABLE_TOO_LARGE whose issue is EXPANSION_TOO_LARGE, naming the limit. */
async function expansionRefusal(p: Promise<unknown>): Promise<SgfilterError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(SgfilterError);
  const err = e as SgfilterError;
  expect(err.code, err.message).toBe('TABLE_TOO_LARGE');
  expect(err.issues[0]).toEqual(expect.objectContaining({ code: 'EXPANSION_TOO_LARGE' }));
  expect(err.message).toContain(MAX_COMPILE_ENTRIES.toLocaleString('en-US'));
  return err;
}

describe('compile work is bounded: a config whose expansion would be huge is refused before the work', () => {
  const wide = (i: number) => `::${(i % 65535 + 1).toString(16)}-ffff:ffff:ffff:ffff:ffff:ffff:ffff:${(0xfffe - (i % 65535)).toString(16)}`;

  it('many wide ranges written out (the 1 MB probe): refused quickly, with the rule where the limit was passed', async () => {
    const n = Math.ceil(MAX_COMPILE_ENTRIES / 200) + 10;
    const doc = { securityGroups: [{ id: 'sg', inbound: Array.from({ length: n }, (_, i) => ({ protocol: 'TCP', port: i % 65536, action: 'accept', source: wide(i) })) }] };
    const config = parseConfig(doc);
    const t0 = performance.now();
    const err = await expansionRefusal(createEngine(config));
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(err.issues[0]!.path.slice(0, 3)).toEqual(['securityGroups', 0, 'inbound']);
  });

  it('one wide range aliased many times in YAML (the 220 KB probe): refused, not 81 s of work', async () => {
    const n = Math.ceil(MAX_COMPILE_ENTRIES / 254) + 10;
    const text = `securityGroups:\n  - id: sg\n    inbound:\n      - &r { protocol: TCP, port: 22, source: "::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", action: accept }\n${'      - *r\n'.repeat(n)}`;
    const config = parseConfig(parseConfigText(text, 'alias.yaml'));
    const t0 = performance.now();
    await expansionRefusal(createEngine(config));
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('a group repeated into many merged classifiers counts once per classifier', async () => {
    // 40 instances, each binding the big group and one of 40 small ones in its own order:
    // 40 merged classifiers, each holding the big group's prefixes.
    const big = Math.ceil(MAX_COMPILE_ENTRIES / (40 * 254)) + 2;
    const doc = {
      securityGroups: [
        { id: 'big', inbound: Array.from({ length: big }, (_, i) => ({ protocol: 'TCP', port: 22, action: 'accept', source: wide(i) })) },
        ...Array.from({ length: 40 }, (_, i) => ({ id: `g${i}`, inbound: [{ protocol: 'TCP', port: 80, source: '10.0.0.1', action: 'drop' }] })),
      ],
      instances: Array.from({ length: 40 }, (_, i) => ({ id: `i${i}`, securityGroups: i % 2 ? ['big', `g${i}`] : [`g${i}`, 'big'] })),
    };
    await expansionRefusal(createEngine(doc as never));
    // The same group in one order only: well inside the limit, compiles.
    const once = { ...doc, instances: [{ id: 'i', securityGroups: ['big', 'g0'] }] };
    expect((await createEngine(once as never)).version).toBe(1);
  });
});
