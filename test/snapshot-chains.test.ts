/**
 * Lookup work of a loaded table (attack finding 2): a snapshot whose chain links one
 * classifier a million times was inside its own bytes, yet every lookup ran it a
 * million times. Generated chains (repeats, links to classifiers with no boxes, long
 * chains of distinct classifiers) are spliced into real tables: validateTable refuses
 * exactly the chains that repeat a classifier, link one with no boxes, or cost more
 * than the work bound, and reports the work of the others as the sum over their links.
 * Every table the compiler writes (generated configs, merged or chained) loads and
 * is inside the bound.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as L from '../assembly/layout.js';
import { compilePolicy } from '../src/compile/index.js';
import { createEngine, createFlowBatch, parseConfig, SgfilterError } from '../src/index.js';
import { MAX_LOOKUP_WORK, validateTable } from '../src/snapshot/table.js';
import { mulberry32, randomConfig, randomFlows } from './random.js';
import { join, split } from './snapshot-mutate.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0xc4a1);
const RUNS = Number(process.env.SGFILTER_FUZZ_RUNS ?? 200);

const u32 = (t: Uint8Array, at: number) => new DataView(t.buffer, t.byteOffset).getUint32(at, true);
const setU32 = (t: Uint8Array, at: number, v: number) => new DataView(t.buffer, t.byteOffset).setUint32(at, v, true);
const align8 = (n: number) => (n + 7) & ~7;

/**
 * `table` with one classifier with no boxes added (index nCls), a new classifier
 * directory, and one more chain holding `links`; returns the table and the new chain's index.
 */
function withChain(table: Uint8Array, links: number[]): { table: Uint8Array; chain: number; empty: number } {
  const nCls = u32(table, L.TABLE_CLASSIFIERS_AT);
  const oldDir = u32(table, L.TABLE_DIRECTORY_AT);
  const chainDir = u32(table, L.TABLE_CHAINS_AT);
  const nChains = u32(table, chainDir);
  let at = table.length;
  const emptyAt = at;
  at += L.CLS_SIZE;
  const dirAt = at;
  at = align8(at + 4 * (nCls + 1));
  const chainAt = at;
  at = align8(at + 4 + 4 * links.length);
  const newChainDir = at;
  at = align8(at + 4 + 4 * (nChains + 1));
  const t = new Uint8Array(at);
  t.set(table);
  // The empty classifier: no boxes, one (dense, so two) bitmap words, no dimensions.
  setU32(t, emptyAt + L.CLS_BOXES_AT, 0);
  setU32(t, emptyAt + L.CLS_WORDS_AT, 2);
  setU32(t, emptyAt + L.CLS_DENSE_AT, 1);
  setU32(t, emptyAt + L.CLS_DIMMASK_AT, 0);
  setU32(t, emptyAt + L.CLS_RULEIDS_AT, emptyAt); // zero bytes: claims nothing
  setU32(t, emptyAt + L.CLS_ACTIONS_AT, emptyAt);
  for (let c = 0; c < nCls; c++) setU32(t, dirAt + 4 * c, u32(table, oldDir + 4 * c));
  setU32(t, dirAt + 4 * nCls, emptyAt);
  setU32(t, chainAt, links.length);
  links.forEach((l, k) => setU32(t, chainAt + 4 + 4 * k, l));
  setU32(t, newChainDir, nChains + 1);
  for (let c = 0; c < nChains; c++) setU32(t, newChainDir + 4 + 4 * c, u32(table, chainDir + 4 + 4 * c));
  setU32(t, newChainDir + 4 + 4 * nChains, chainAt);
  setU32(t, L.TABLE_BYTES_AT, t.length);
  setU32(t, L.TABLE_CLASSIFIERS_AT, nCls + 1);
  setU32(t, L.TABLE_DIRECTORY_AT, dirAt);
  setU32(t, L.TABLE_CHAINS_AT, newChainDir);
  // The old directory stays claimed by nobody: harmless (unclaimed bytes are never read).
  return { table: t, chain: nChains, empty: nCls };
}

/** Several groups with rules of both directions, each compiled alone (chained). */
function chainedTable(seed: number): Uint8Array {
  const r = mulberry32(seed);
  const groups = Array.from({ length: 6 }, (_, g) => ({
    id: `sg-${g}`,
    inbound: Array.from({ length: 1 + Math.floor(r() * 5) }, (_, i) => ({ protocol: 'TCP', port: 1000 * g + i, source: `10.${g}.${i}.0/24`, action: r() < 0.5 ? 'accept' : 'drop' })),
  }));
  const config = parseConfig({ securityGroups: groups, instances: [{ id: 'i', securityGroups: groups.map((g) => g.id) }] });
  return compilePolicy(config, { mergeMaxOrders: 0 }).bytes;
}

describe(`lookup work of a loaded table (seed ${SEED})`, () => {
  it('a generated chain is refused iff it repeats a classifier, links one with no boxes, or costs more than the bound; else its work is the sum over its links', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.nat({ max: 6 }), { minLength: 0, maxLength: 12 }), fc.integer({ min: 0, max: 300 }), (seed, links, slack) => {
        const base = chainedTable(seed);
        const { table, chain, empty } = withChain(base, links);
        const shape = validateTable(withChain(base, []).table, Infinity); // the work of each classifier (same indexes), unbounded
        const work = (c: number) => shape.classifiers[c]!.work;
        // A bound the compiler's own chains stay inside, plus generated slack.
        const maxWork = Math.max(...shape.work) + slack;
        // What must happen, link by link (the first reason wins).
        let expected: RegExp | null = null;
        let sum = 0;
        const seen = new Set<number>();
        for (const l of links) {
          if (seen.has(l)) { expected = /is linked twice/; break; }
          seen.add(l);
          if (l === empty) { expected = /has no boxes/; break; }
          sum += work(l);
          if (sum > maxWork) { expected = /lookup work past/; break; }
        }
        let got: SgfilterError | null = null;
        try {
          const s = validateTable(new Uint8Array(table), maxWork);
          expect(s.work[chain]).toBe(sum);
          expect(s.work.slice(0, chain)).toEqual(shape.work.slice(0, chain));
        } catch (e) {
          got = e as SgfilterError;
        }
        if (expected === null) expect(got, got?.message).toBeNull();
        else {
          expect(got?.code).toBe('SNAPSHOT_INVALID');
          expect(got?.message).toMatch(expected);
          expect(got?.message).toContain(`chain ${chain}`);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('every classifier of a compiled table costs at least one step, and no compiled chain repeats or links an empty one', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(0, 1, 64), (seed, mergeMaxOrders) => {
        const config = parseConfig(randomConfig(mulberry32(seed), 12));
        const { bytes } = compilePolicy(config, { mergeMaxOrders });
        const shape = validateTable(new Uint8Array(bytes)); // throws on a repeat, an empty link, or past the bound
        for (const c of shape.classifiers) expect(c.work).toBeGreaterThanOrEqual(1);
        for (const w of shape.work) expect(w).toBeLessThanOrEqual(MAX_LOOKUP_WORK);
      }),
      { seed: SEED ^ 1, numRuns: Math.max(20, RUNS / 4) },
    );
  });

  it('chained policies with empty groups still classify as before through a snapshot', async () => {
    const r = mulberry32(SEED);
    for (let c = 0; c < 10; c++) {
      const input = randomConfig(r, 10) as { securityGroups: { id: string; inbound?: unknown[]; outbound?: unknown[] }[] };
      // Some groups with nothing in one direction, or nothing at all.
      for (const g of input.securityGroups) if (r() < 0.4) g[r() < 0.5 ? 'inbound' : 'outbound'] = [];
      const config = parseConfig(input);
      for (const mergeMaxOrders of [0, 64]) {
        const source = await createEngine(config, { mergeMaxOrders });
        const copy = await createEngine({ snapshot: source.snapshot() });
        const flows = randomFlows(r, config, 300);
        expect(copy.classifyBatch(createFlowBatch(flows))).toEqual(source.classifyBatch(createFlowBatch(flows)));
      }
    }
  });

  it('the probe: a chain linking one classifier N times does not load, whatever N', async () => {
    const engine = await createEngine({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 1, source: '10.0.0.0/8', action: 'accept' }] }] });
    const parts = split(engine.snapshot())!;
    const meta = JSON.parse(new TextDecoder().decode(parts.meta)) as { instances: [string, number, number][]; stats: { total: number; classifiers: number } };
    const first = u32(parts.table, u32(parts.table, u32(parts.table, L.TABLE_CHAINS_AT) + 4 + 4 * meta.instances[0]![1]) + 4);
    for (const n of [2, 3, 100, 10_000]) {
      const { table, chain } = withChain(parts.table, Array(n).fill(first));
      meta.instances[0]![1] = chain;
      meta.stats.total = table.length;
      meta.stats.classifiers += 1;
      const bytes = join({ table, meta: new TextEncoder().encode(JSON.stringify(meta)), version: 1 });
      const victim = await createEngine({ securityGroups: [] });
      await expect(victim.loadSnapshot(bytes)).rejects.toThrow(expect.objectContaining({ code: 'SNAPSHOT_INVALID', message: expect.stringMatching(/linked twice/) }));
      expect(victim.version).toBe(1);
    }
  });
});
