// Snapshots from untrusted storage (issue 9, item 5). Generated configs → snapshots →
// random mutations with the checksum recomputed (bit flips, byte writes, truncation,
// structure fields pointed at other structures or given huge counts, metadata JSON
// edits and prototype tricks, splices of two configs' tables and metadata). Each
// mutant is refused with a SNAPSHOT_* SgfilterError and the engine keeps its policy,
// or it loads and then classifies generated flows without a trap, in bounded time, with
// classifyBatch's actions equal to verdict(i). Valid snapshots classify exactly as the
// engine they came from and as referenceClassify; keyed engines refuse every unsigned,
// changed or other-key snapshot.
//
// Seeded and reproducible: SGFILTER_FUZZ_SEED and SGFILTER_FUZZ_SCALE (test/fuzz/settings.ts;
// a failure prints the root seed and the command that reproduces it).
import { beforeAll, describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { readFileSync } from 'node:fs';
import {
  closeCompileWorker, createClassifierPool, createEngine, createFlowBatch, decodeSnapshot, reloadInWorker, parseConfig, parseFlow, parseSnapshotKey, referenceClassify, signSnapshot, verifySnapshot,
  SgfilterError, type Config, type ConfigInput, type Engine, type FlowInput,
} from '../src/index.js';
import * as L from '../assembly/layout.js';
import { mulberry32, randomConfig, randomFlows, type Rng } from './random.js';
import { isSigned, join, mutate, mutationArb, split, tableFields, type Mutation } from './snapshot-mutate.js';
import { fuzzParams, fuzzSeed, fuzzTimeout } from './fuzz/settings.js';

const parts = (b: Uint8Array) => split(b)!;

/** Far above any honest lookup (a batch of 64 flows takes well under a millisecond). */
const BATCH_TIME_LIMIT_MS = 1000;
const REFUSALS = ['SNAPSHOT_INVALID'];
const KEYED_REFUSALS = ['SNAPSHOT_INVALID', 'SNAPSHOT_UNSIGNED', 'SNAPSHOT_SIGNATURE'];

const wasm = new WebAssembly.Module(readFileSync(new URL('../build/sgfilter.wasm', import.meta.url)));
const engineOf = (source: unknown, options: object = {}) => createEngine(source as ConfigInput, { ...options, wasm } as never);

/** A config big enough for aggregated bit vectors (> 2,048 boxes) and direct-pointing tries. */
function bigConfig(r: Rng, rules: number): ConfigInput {
  const int = (n: number) => Math.floor(r() * n);
  const inbound = Array.from({ length: rules }, () => {
    const [a, b, c] = [int(65536).toString(16), int(65536).toString(16), int(65536).toString(16)];
    const source = r() < 0.2
      ? [`2001:db8:${a}::/48`, `2001:db8:${a}:${b}::/64`, `2001:db8:${a}:${b}::${c}`, `2001:db8::${c}:${b}`][int(4)]!
      : [`10.${int(256)}.0.0/16`, `10.${int(256)}.${int(256)}.0/24`, `10.${int(256)}.${int(256)}.${int(256)}`, `11.${int(256)}.${int(256)}.${int(16) * 16}/28`][int(4)]!;
    return { protocol: r() < 0.8 ? 'TCP' : 'UDP', port: r() < 0.5 ? int(65536) : `${int(1024)}-${1024 + int(60000)}`, source, action: r() < 0.5 ? 'accept' : 'drop' } as const;
  });
  return {
    securityGroups: [
      { id: 'sg-big', inbound, outbound: [{ protocol: 'ALL', destination: 'any', action: 'accept' }] },
      { id: 'sg-small', template: 'open-common', inbound: [{ type: 'ping', source: 'any', action: 'drop' }] },
    ],
    instances: [
      { id: 'ins-a', securityGroups: ['sg-big', 'sg-small'] },
      { id: 'ins-b', securityGroups: ['sg-small', 'sg-big'] },
      { id: 'ins-c', securityGroups: [] },
    ],
  };
}

interface Sample {
  config: Config;
  options: { mergeMaxOrders?: number; partitionMinBytes?: number };
  snapshot: Uint8Array;
  flows: FlowInput[];
}

const samples: Sample[] = [];

beforeAll(async () => {
  const r = mulberry32(fuzzSeed('snapshots: sample configs'));
  for (let i = 0; i < 10; i++) {
    const config = parseConfig(randomConfig(r, 4 + i * 3));
    // Half merged (one classifier per group order), half chained (one per group and direction).
    const options = i % 2 ? { mergeMaxOrders: 0 } : {};
    const source = await engineOf(config, options);
    samples.push({ config, options, snapshot: source.snapshot(), flows: randomFlows(r, config, 64) });
  }
  for (const [rules, merge] of [[2150, 64], [2100, 0]] as const) {
    const config = parseConfig(bigConfig(r, rules));
    // The merged one is cut into parts (open and specific sources; layout.ts, PARTS).
    const options = merge ? { mergeMaxOrders: merge, partitionMinBytes: 0 } : { mergeMaxOrders: merge };
    const source = await engineOf(config, options);
    expect(source.stats.boxes).toBeGreaterThan(2048);
    if (merge) expect(tableFields(parts(source.snapshot()).table).some((f) => f.what.endsWith('part 1 boxes'))).toBe(true);
    samples.push({ config, options, snapshot: source.snapshot(), flows: randomFlows(r, config, 64) });
  }
}, 120_000);

/** A classifier past FLAT_MAX_WORDS (so aggregated in three levels), for the damage test. */
let aggregated: Sample;
beforeAll(async () => {
  const r = mulberry32(fuzzSeed('snapshots: an aggregated classifier'));
  const config = parseConfig(bigConfig(r, L.FLAT_MAX_WORDS * 64 + 100));
  const source = await engineOf(config);
  aggregated = { config, options: {}, snapshot: source.snapshot(), flows: randomFlows(r, config, 64) };
  // (The damage test finds its SUPER and SUMMARY fields here: the samples' big classifiers are flat.)
  expect(tableFields(parts(aggregated.snapshot).table).some((f) => /super first\[1\]$/.test(f.what))).toBe(true);
}, 120_000);

const others = () => samples.map((s) => s.snapshot);

/** The verdicts of `engine` for `flows`, checked for agreement between classifyBatch and verdict(i). */
function classifyChecked(engine: Engine, flows: FlowInput[]): string[] {
  const batch = createFlowBatch(flows);
  const t0 = performance.now();
  const actions = engine.classifyBatch(batch);
  const ms = performance.now() - t0;
  expect(ms, 'classifyBatch took too long').toBeLessThan(BATCH_TIME_LIMIT_MS);
  return flows.map((_, i) => {
    const v = batch.verdict(i);
    expect(actions[i], `flow ${i}: classifyBatch and verdict(i) disagree`).toBe(v.action === 'accept' ? 1 : 0);
    return JSON.stringify(v);
  });
}

function expectRefusal(e: unknown, codes: string[]): void {
  expect(e).toBeInstanceOf(SgfilterError);
  expect(codes).toContain((e as SgfilterError).code);
  expect((e as SgfilterError).message).toMatch(/snapshot/i);
}

const protoKeys = () => Object.getOwnPropertyNames(Object.prototype).join(',');

describe('snapshots from untrusted storage', () => {
  it('a valid snapshot classifies exactly as the engine it came from and as referenceClassify', async () => {
    for (const s of samples) {
      const copy = await engineOf({ snapshot: s.snapshot });
      const source = await engineOf(s.config, s.options);
      expect(copy.config).toEqual(s.config);
      const got = classifyChecked(copy, s.flows);
      expect(got).toEqual(classifyChecked(source, s.flows));
      s.flows.forEach((f, i) => expect(got[i]).toEqual(JSON.stringify(referenceClassify(s.config, parseFlow(f)))));
      expect(copy.stats).toEqual(source.stats);
      // A config that went through update() snapshots and loads the same way.
      const g = copy.config.securityGroups[0]!;
      await copy.update((tx) => tx.addRule(g.id, 'inbound', { protocol: 'TCP', port: 1234, source: '10.0.0.0/8', action: 'drop' }, 0).addGroup({ id: 'sg-added', template: 'open-common' }));
      const again = await engineOf({ snapshot: copy.snapshot() });
      expect(again.config).toEqual(copy.config);
      const flows = randomFlows(mulberry32(7), copy.config, 64);
      expect(classifyChecked(again, flows)).toEqual(flows.map((f) => JSON.stringify(referenceClassify(copy.config, parseFlow(f)))));
    }
  });

  test.prop([fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), fc.boolean()], fuzzParams('snapshots: a mutated snapshot is refused or safe', 200, { endOnFailure: true }))(
    'a mutated snapshot is refused (the engine keeps its policy) or loads and classifies inside its bounds',
    async (which, mutations: Mutation[], resealed) => {
      const s = samples[which % samples.length]!;
      let bytes = s.snapshot;
      for (const m of mutations) bytes = mutate(bytes, m, others());
      if (!resealed) bytes = mutate(bytes, { kind: 'flip', at: 0.999, bit: 0 }, others(), false);
      const before = protoKeys();
      // Into a running engine: refused changes nothing.
      const running = await engineOf({ snapshot: s.snapshot });
      const expected = classifyChecked(running, s.flows);
      let loaded = false;
      try {
        expect(await running.loadSnapshot(bytes)).toBe(2);
        loaded = true;
      } catch (e) {
        expectRefusal(e, REFUSALS);
        expect(running.version).toBe(1);
        expect(classifyChecked(running, s.flows)).toEqual(expected);
      }
      // As a new engine: the same decision.
      let fresh: Engine | undefined;
      try {
        fresh = await engineOf({ snapshot: bytes });
      } catch (e) {
        expectRefusal(e, REFUSALS);
      }
      expect(fresh !== undefined).toBe(loaded);
      if (fresh) {
        const flows = randomFlows(mulberry32(which), fresh.config, 64);
        classifyChecked(fresh, flows);
        classifyChecked(running, flows);
        for (const f of flows.slice(0, 8)) {
          expect(fresh.classify(f)).toEqual(running.classify(f));
          referenceClassify(fresh.config, parseFlow(f)); // the config is one the oracle can read
        }
        // What loaded can be snapshotted and loaded again.
        expect(decodeSnapshot(fresh.snapshot()).config).toEqual(fresh.config);
      }
      expect(protoKeys()).toBe(before);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
    fuzzTimeout(120_000),
  );

  it('every structure field of every table, pointed elsewhere or given a huge count: refused or safe', async () => {
    let refused = 0;
    let cases = 0;
    for (const [s, most] of [...samples.slice(0, 4).map((x) => [x, 300] as const), [samples[samples.length - 2]!, 30] as const, [samples[samples.length - 1]!, 40] as const]) {
      const { table } = parts(s.snapshot);
      const all = tableFields(table).map((f) => f.at);
      const fields = all.filter((_, i) => i % Math.ceil(all.length / most) === 0);
      const engine = await engineOf({ snapshot: s.snapshot });
      for (const at of fields) {
        const elsewhere = new DataView(table.buffer).getUint32(all[(at * 7) % all.length]!, true);
        for (const value of [0, 0xffffffff, 0x80000000, table.length, elsewhere]) {
          const t = table.slice();
          new DataView(t.buffer).setUint32(at, value, true);
          cases++;
          try {
            await engine.loadSnapshot(join({ ...parts(s.snapshot), table: t }));
          } catch (e) {
            expectRefusal(e, REFUSALS);
            refused++;
            continue;
          }
          classifyChecked(engine, randomFlows(mulberry32(at), engine.config, 32));
        }
      }
    }
    // Most such writes break the structure; the rest land where many values are valid
    // (trie bit vectors and skip patterns, class and rule indexes, fields a kind ignores).
    expect(refused).toBeGreaterThan(cases * 0.6);
  }, 300_000);

  it('a table spliced with another config\'s metadata is refused, or its classifyBatch and verdicts agree', async () => {
    let refused = 0;
    let pairs = 0;
    for (const [i, a] of samples.entries()) {
      for (const [j, b] of samples.entries()) {
        // Every pair of small configs, and each big one with a few others.
        if (a === b || (Math.max(i, j) >= samples.length - 2 && Math.min(i, j) > 2)) continue;
        // Two configs may compile to the same table (e.g. instances that bind no group):
        // then a splice is the other config's own snapshot, and loads.
        const same = parts(a.snapshot).table.every((x, k) => x === parts(b.snapshot).table[k]) && parts(a.snapshot).table.length === parts(b.snapshot).table.length;
        if (!same) pairs++;
        for (const bytes of [join({ ...parts(a.snapshot), meta: parts(b.snapshot).meta }), join({ ...parts(b.snapshot), meta: parts(a.snapshot).meta })]) {
          try {
            const engine = await engineOf({ snapshot: bytes });
            classifyChecked(engine, randomFlows(mulberry32(1), engine.config, 64));
          } catch (e) {
            expectRefusal(e, REFUSALS);
            expect(same, 'a snapshot made of another config\'s identical table was refused').toBe(false);
            refused++;
          }
        }
      }
    }
    expect(pairs).toBeGreaterThan(20);
    expect(refused).toBe(pairs * 2);
    // Same groups, rules and bindings, one action changed: the action bytes give it away.
    const doc = (action: string) => ({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action }] }] });
    const open = (await engineOf(doc('accept'))).snapshot();
    const closed = (await engineOf(doc('drop'))).snapshot();
    const err = await engineOf({ snapshot: join({ ...parts(open), meta: parts(closed).meta }) }).catch((e: unknown) => e);
    expectRefusal(err, REFUSALS);
    expect((err as Error).message).toMatch(/action byte 1, but rule 0 \(group "sg" inbound #0\) is drop/);
  });

  it('refuses each kind of structural damage, naming the rule it breaks', async () => {
    /**
     * The first sample with a field labelled like `label` (and for which `where` holds),
     * and a table with `edit` applied to it. (The samples depend on SGFILTER_FUZZ_SEED.)
     */
    const damage = (label: RegExp, edit: (old: number, t: DataView, at: number) => number | void, where = (_t: DataView, _at: number) => true) => {
      for (const s of [...samples, aggregated]) {
        const p = parts(s.snapshot);
        const f = tableFields(p.table).find((x) => label.test(x.what) && where(new DataView(p.table.buffer), x.at));
        if (!f) continue;
        const t = p.table.slice();
        const v = new DataView(t.buffer);
        const value = edit(v.getUint32(f.at, true), v, f.at);
        if (typeof value === 'number') v.setUint32(f.at, value, true);
        return join({ ...p, table: t });
      }
      throw new Error(`no sample has a field like ${label}`);
    };
    const refused = async (bytes: Uint8Array, message: RegExp) => {
      const e = await engineOf({ snapshot: bytes }).catch((x: unknown) => x);
      expectRefusal(e, REFUSALS);
      expect((e as Error).message).toMatch(message);
    };
    // Tries: cycles, skips, leaves, depth.
    // (A node with children, or a skip node: a node whose slots are all leaves never reads base1.)
    const hasChildren = (t: DataView, at: number) => (t.getUint32(at - L.NODE_BASE1_AT + L.NODE_BASE0_AT, true) & L.NODE_SKIP_FLAG) !== 0 || t.getBigUint64(at - L.NODE_BASE1_AT + L.NODE_VECTOR_AT, true) !== 0n;
    await refused(damage(/trie\d node \d+ base1$/, () => 0, hasChildren), /(children start at node 0|continues at node 0); (later nodes|a later node)/);
    await refused(damage(/node \d+ skip length$/, () => 0), /skips 0 bits, not 1\.\.64/);
    await refused(damage(/node \d+ skip length$/, () => 65), /skips 65 bits, not 1\.\.64/);
    await refused(damage(/trie4 node \d+ skip length$/, () => 64), /past the address's 32 bits/);
    await refused(damage(/node 0 leafvec lo$/, () => 0xffffffff), /leaf runs start at leaf \d+, past the \d+ leaves|before any leaf run/);
    await refused(damage(/node 0 leafvec lo$/, (_o, v, at) => void (v.setUint32(at, 0, true), v.setUint32(at + 4, 0, true))), /is a leaf before any leaf run starts/);
    await refused(damage(/trie\d leaves\[0\]$/, () => 0xfffff), /leaf 0 is class 1048575, past its \d+ classes/);
    await refused(damage(/trie\d directBits$/, () => 8), /directBits 8, not 0 or 16/);
    await refused(damage(/trie\d direct\[\d+\]$/, () => 0x7fffffff), /direct entry \d+ points at node 2147483647/);
    // Intervals, direct tables, classes.
    await refused(damage(/dim \d bounds\[1\]$/, () => 0), /interval bounds not ascending at 1/);
    await refused(damage(/dim \d bounds\[0\]$/, () => 5), /the first interval starts at 5, not 0/);
    await refused(damage(/dim \d classOf\[0\]$/, () => 0xffff), /interval 0 is class 65535, past its \d+ classes/);
    await refused(damage(/dim [2-6] count$/, (old) => old + 1), /(direct table of \d+ values; the domain has|intervals; 1 to \d+ expected|interval bounds)/);
    await refused(damage(/dim [01] kind$/, () => L.DIM_KIND_DIRECT), /an address dimension is kind 1/);
    await refused(damage(/dim \d absent$/, () => 1 << 20), /flows without an address is class 1048576/);
    // Aggregated bit vectors: running first and rank.
    await refused(damage(/super first\[1\]$/, (old) => old + 1), /class 1's first summary is \d+, \d+ expected/);
    await refused(damage(/summary rank\[1\]$/, (old) => old - 1), /summary 1's first word is \d+, \d+ expected/);
    // Flat bit vectors (layout.ts, FLAT): ranks a running count, summaries exactly where
    // the super bits are, no super bit past the classifier's summary words, aligned records.
    await refused(damage(/flat rank 0\[1\]$/, (old) => old + 1), /class 1: summary 0's first word is \d+, \d+ expected/);
    await refused(damage(/flat rank 0\[1\]$/, (old) => old - 1), /class 1: summary 0's first word is \d+, \d+ expected/);
    await refused(damage(/flat summary 0\[1\]$/, (old) => old === 0 ? 1 : 0, (t, at) => t.getUint32(at + 4, true) === 0), /class 1: summary 0 (is in its super bits but has no words|is not in its super bits, yet)|first word is/);
    await refused(damage(/flat super\[0\]$/, (old) => old | 0x80), /class 0: super bits 0x[0-9a-f]+ name summary words past the \d+ of \d+ bitmap words/);
    await refused(damage(/flat super\[0\]$/, (old) => old ^ 0x1), /class 0: summary 0 (is not in its super bits, yet|is in its super bits but has no words)/);
    await refused(damage(/flat rank 1\[0\]$/, (old) => old + 8, (t, at) => (t.getUint32(at - L.FLAT_RANKS_AT - 4, true) & 2) === 0), /class 0: summary 1 is not in its super bits, yet its word or rank is not 0/);
    await refused(damage(/dim \d flat records$/, (old) => old + 16), /flat records \(\d+ classes\) starts at byte \d+, not 64-byte aligned/);
    await refused(damage(/dim \d flat records$/, (old) => old + 64), /overlaps another structure|runs past the table|summary|super bits|first word/);
    await refused(damage(/dim \d sums$/, () => 64, (t, at) => t.getUint32(at - L.DIM_SUMS_AT + L.DIM_SUPERS_AT, true) % 64 === 0 && t.getUint32(at, true) === 0), /a flat dimension has no separate summaries \(sums 64, 0 expected\)/);
    // A flat form on a classifier past FLAT_MAX_WORDS: its records would need more summaries.
    await refused(damage(/^classifier \d+ dense$/, () => L.CLS_FORM_FLAT, (t, at) => t.getUint32(at - L.CLS_DENSE_AT + L.CLS_WORDS_AT, true) > L.FLAT_MAX_WORDS && t.getUint32(at - L.CLS_DENSE_AT + L.CLS_PARTS_AT, true) === 0), /flat with \d+ words, at most 256/);
    await refused(damage(/^classifier \d+ dense$/, () => 3), /form \(dense flag\) 3, not 0 \(aggregated\), 1 \(dense\) or 2 \(flat\)/);
    // Partitioned classifiers (layout.ts, PARTS): ranks, part counts, nesting, no dims beside parts.
    await refused(damage(/part 1 ranks\[1\]$/, () => 0), /part 1: ranks not ascending at box 1/);
    await refused(damage(/part 1 ranks\[0\]$/, () => 1 << 20), /part 1: box 0 has rank 1048576, past its classifier's \d+ boxes/);
    await refused(damage(/\d part count$/, () => 0), /0 parts; 1 to 16 expected/);
    await refused(damage(/\d part count$/, () => 17), /17 parts; 1 to 16 expected/);
    await refused(damage(/part 0 parts$/, (_o, v, at) => v.getUint32(at - L.CLS_PARTS_AT + L.CLS_RULEIDS_AT, true)), /parts do not nest/);
    {
      // A classifier with parts has no dims of its own.
      const p = parts(samples[samples.length - 2]!.snapshot);
      const v = new DataView(p.table.buffer);
      const f = tableFields(p.table).find((x) => /^classifier \d+ parts$/.test(x.what) && v.getUint32(x.at, true) !== 0)!;
      // (A dense flag is refused earlier still: a partitioned classifier has more words than a dense one may.)
      for (const [off, message] of [[L.CLS_DIMMASK_AT, /has parts, so its dimension mask and dense flag must be 0/], [L.CLS_DENSE_AT, /has parts, so its|bitmap words for|dense with \d+ words/]] as const) {
        const t = p.table.slice();
        new DataView(t.buffer).setUint32(f.at - L.CLS_PARTS_AT + off, 1, true);
        await refused(join({ ...p, table: t }), message);
      }
    }
    await refused(damage(/\d part offsets\[0\]$/, (_o, v, at) => v.getUint32(at + 4, true)), /overlaps another structure/);
    // Classifiers, chains, overlap, bounds (of a classifier with boxes: an empty array may be anywhere).
    const withBoxes = (fieldAt: number) => (t: DataView, at: number) => t.getUint32(at - fieldAt + L.CLS_BOXES_AT, true) > 0;
    await refused(damage(/classifier 0 words$/, (old) => old + 2, withBoxes(L.CLS_WORDS_AT)), /bitmap words for \d+ boxes/);
    await refused(damage(/classifier 0 dimMask$/, () => 0xff, withBoxes(L.CLS_DIMMASK_AT)), /names dimensions past 6/);
    await refused(damage(/classifier 0 ruleIds$/, (_o, v, at) => v.getUint32(at + (L.CLS_ACTIONS_AT - L.CLS_RULEIDS_AT), true), withBoxes(L.CLS_RULEIDS_AT)), /overlaps another structure/);
    await refused(damage(/classifier 0 actions$/, () => 0x7ffffff8, withBoxes(L.CLS_ACTIONS_AT)), /runs past the table/);
    await refused(damage(/chain 0 links\[0\]$/, () => 1000), /chain 0, link 0: classifier 1000 of \d+/);
    await refused(damage(/chain 0 count$/, () => 0x40000000), /chain 0 \(1073741824 classifiers\) \(4294967300 bytes at byte \d+\) runs past the table's \d+ bytes/);
    await refused(damage(/^classifier count$/, () => 0xffffffff), /classifier directory \(4294967295 classifiers\) \(17179869180 bytes/);
    await refused(damage(/^directory offset$/, () => 4), /not 8-byte aligned/);
    // Against the rules: ids, actions, chain order.
    await refused(damage(/classifier 0 rule ids\[0\]$/, () => 1 << 20), /rule id 1048576, but the config has \d+ rules/);
    // A small table whose classifier 0 is dense, has boxes and consults a dimension, with
    // room for a box past the last (some sample configs compile to no classifier at all).
    const dense = samples.find((s) => {
      const table = parts(s.snapshot).table;
      const d0 = tableFields(table).find((x) => x.what === 'directory[0]');
      if (table.length >= 65536 || !d0) return false;
      const v = new DataView(table.buffer);
      const c = v.getUint32(d0.at, true);
      const boxes = v.getUint32(c + L.CLS_BOXES_AT, true);
      return v.getUint32(c + L.CLS_DENSE_AT, true) === 1 && boxes > 0 && boxes < v.getUint32(c + L.CLS_WORDS_AT, true) * 64 && v.getUint32(c + L.CLS_DIMMASK_AT, true) !== 0;
    })!;
    const p = parts(dense.snapshot);
    const f = tableFields(p.table).find((x) => x.what === 'classifier 0 actions')!;
    const t = p.table.slice();
    const actions = new DataView(t.buffer).getUint32(f.at, true);
    t[actions] = t[actions]! ^ 1;
    await refused(join({ ...p, table: t }), /action byte [01], but rule \d+ .* is (accept|drop)/);
    // A bitmap bit for a box past the last one (the box would index past the rule ids).
    const cls = new DataView(p.table.buffer).getUint32(tableFields(p.table).find((x) => x.what === 'directory[0]')!.at, true);
    const cv = new DataView(p.table.buffer);
    const [boxes, words, mask] = [cv.getUint32(cls + L.CLS_BOXES_AT, true), cv.getUint32(cls + L.CLS_WORDS_AT, true), cv.getUint32(cls + L.CLS_DIMMASK_AT, true)];
    expect(cv.getUint32(cls + L.CLS_DENSE_AT, true)).toBe(1);
    expect(boxes).toBeLessThan(words * 64);
    const d = Math.clz32(1) - Math.clz32(mask & -mask); // the first consulted dimension
    const bitmaps = cv.getUint32(cls + L.CLS_DIMS_AT + d * L.DIM_SIZE + L.DIM_BITMAPS_AT, true);
    const t3 = p.table.slice();
    t3[bitmaps + words * 8 - 1]! |= 0x80;
    await refused(join({ ...p, table: t3 }), /bitmap word \d+ sets a box past the last/);
    const t2 = p.table.slice();
    t2[actions] = 7;
    await refused(join({ ...p, table: t2 }), /action byte 7, not 0 \(drop\) or 1 \(accept\)/);
  });

  test.prop(
    [fc.nat(), fc.nat(), fc.nat(), fc.boolean(), fc.constantFrom('same', 'null', 'other')],
    fuzzParams('snapshots: metadata with a key given twice is refused', 30),
  )('metadata with a key given twice in any object is refused (JSON.parse would keep the last), whatever the values', async (which, objectAt, keyAt, first, what) => {
    const s = samples[which % samples.length]!;
    const p = parts(s.snapshot);
    const doc = JSON.parse(new TextDecoder().decode(p.meta)) as unknown;
    const objects: Record<string, unknown>[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (typeof v === 'object' && v !== null) {
        if (Object.keys(v).length > 0) objects.push(v as Record<string, unknown>);
        Object.values(v).forEach(walk);
      }
    };
    walk(doc);
    const target = objects[objectAt % objects.length]!;
    const keys = Object.keys(target);
    const key = keys[keyAt % keys.length]!;
    const extra = what === 'same' ? target[key] : what === 'null' ? null : typeof target[key] === 'string' ? `${target[key] as string}x` : 'other';
    // JSON text of `doc` with `key` given twice in `target`: the extra one first or last.
    const write = (v: unknown): string => {
      if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
      if (typeof v !== 'object' || v === null) return JSON.stringify(v);
      const entries = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`);
      if (v === target) entries[first ? 'unshift' : 'push'](`${JSON.stringify(key)}:${JSON.stringify(extra)}`);
      return `{${entries.join(',')}}`;
    };
    const bytes = join({ ...p, meta: new TextEncoder().encode(write(doc)) });
    const e = await engineOf({ snapshot: bytes }).catch((x: unknown) => x);
    expectRefusal(e, REFUSALS);
    expect((e as Error).message).toContain(`key ${JSON.stringify(key)} appears twice`);
    expect(() => decodeSnapshot(bytes)).toThrow(expect.objectContaining({ code: 'SNAPSHOT_INVALID' }));
  }, fuzzTimeout(60_000));

  it('says where: the structure, the field, and what was expected', async () => {
    const s = samples[0]!;
    const p = parts(s.snapshot);
    const refuse = async (bytes: Uint8Array) => {
      const e = await engineOf({ snapshot: bytes }).catch((x: unknown) => x);
      expectRefusal(e, REFUSALS);
      return (e as Error).message;
    };
    const t = p.table.slice();
    new DataView(t.buffer).setUint32(8, t.length + 8, true);
    expect(await refuse(join({ ...p, table: t }))).toMatch(/table: the header says \d+ bytes, the table has \d+/);
    const meta = (edit: (doc: Record<string, unknown>) => void) => {
      const doc = JSON.parse(new TextDecoder().decode(p.meta)) as Record<string, unknown>;
      edit(doc);
      return join({ ...p, meta: new TextEncoder().encode(JSON.stringify(doc)) });
    };
    expect(await refuse(meta((d) => ((d.config as Config).securityGroups[0]!.id = '')))).toMatch(/metadata config\.securityGroups\[0\]\.id: must be a non-empty string/);
    expect(await refuse(meta((d) => (d.stats = { ...(d.stats as object), total: 1 })))).toMatch(/stats say 1 bytes/);
    expect(await refuse(join({ ...p, meta: new TextEncoder().encode(new TextDecoder().decode(p.meta).replace('{', '{"__proto__":{"x":1},')) }))).toMatch(/metadata __proto__: unknown field/);
    expect(await refuse(meta((d) => (d.instances = [])))).toMatch(/0 instances with chains, the config has/);
    // config.semantics: absent or "classbench", nothing else (not even an inherited key).
    for (const bad of ['ClassBench', 1, null, { toString: 'classbench' }, ['classbench']]) {
      expect(await refuse(meta((d) => ((d.config as Record<string, unknown>).semantics = bad)))).toMatch(/metadata config\.semantics: must be absent or "classbench", got/);
    }
    const cb = await engineOf({ snapshot: meta((d) => ((d.config as Record<string, unknown>).semantics = 'classbench')) });
    expect(cb.config.semantics).toBe('classbench');
    // Chains hold only their instance's rules, in its priority order.
    const two = (await engineOf({
      securityGroups: [
        { id: 'a', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'drop' }] },
        { id: 'b', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }] },
      ],
      instances: [{ id: 'i', securityGroups: ['a', 'b'] }],
    })).snapshot();
    const rebind = (groups: string[]) => {
      const q = parts(two);
      const d = JSON.parse(new TextDecoder().decode(q.meta)) as { config: Config };
      d.config.instances[0]!.securityGroups = groups;
      return join({ ...q, meta: new TextEncoder().encode(JSON.stringify(d)) });
    };
    expect(await refuse(rebind(['b', 'a']))).toMatch(/instance "i" inbound \(chain 0\): classifier 0, box 1: rule 1 \(group "b" inbound #0\) comes after a rule of higher priority/);
    expect(await refuse(rebind(['a']))).toMatch(/rule 1 \(group "b" inbound #0\) is not an inbound rule of its groups \("a"\)/);
  });
});

describe('keyed snapshots', () => {
  const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
  const otherKey = new Uint8Array(48).fill(9);
  const open = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }] }] };
  const closed: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'drop' }] }] };
  const ssh: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' };

  it('sign and verify: an engine given a key loads what that key signed, and nothing else', async () => {
    const signedOpen = await (await engineOf(open)).snapshot({ key });
    const signedClosed = await (await engineOf(closed)).snapshot({ key });
    const unsignedClosed = (await engineOf(closed)).snapshot();
    expect(isSigned(signedOpen)).toBe(true);
    expect(isSigned(unsignedClosed)).toBe(false);
    const engine = await engineOf({ snapshot: signedOpen, key });
    expect(engine.classify(ssh).action).toBe('accept');
    const keep = async (bytes: Uint8Array, code: string, options = {}) => {
      const e = await engine.loadSnapshot(bytes, options).catch((x: unknown) => x);
      expect((e as SgfilterError).code).toBe(code);
      expect(engine.version).toBe(1);
      expect(engine.classify(ssh).action).toBe('accept');
    };
    await keep(unsignedClosed, 'SNAPSHOT_UNSIGNED');
    await keep(await (await engineOf(closed)).snapshot({ key: otherKey }), 'SNAPSHOT_SIGNATURE');
    await keep(signedClosed, 'SNAPSHOT_KEY', { key: otherKey }); // the engine's key is a standing demand: another key is refused
    await keep(await (await engineOf(closed)).snapshot({ key: otherKey }), 'SNAPSHOT_KEY', { key: otherKey });
    await keep(signedClosed.slice(0, -1), 'SNAPSHOT_SIGNATURE');
    await keep(new Uint8Array(12), 'SNAPSHOT_INVALID');
    await keep(signedClosed, 'SNAPSHOT_KEY', { key: new Uint8Array(31) });
    // A key field that is there must be a key: a missing secret fails closed.
    for (const missing of [undefined, null, '']) {
      await keep(signedClosed, 'SNAPSHOT_KEY', { key: missing });
      expect(((await engineOf({ snapshot: unsignedClosed, key: missing }).catch((x: unknown) => x)) as SgfilterError).code).toBe('SNAPSHOT_KEY');
      expect(((await (await engineOf(closed)).loadSnapshot(unsignedClosed, { key: missing as never }).catch((x: unknown) => x)) as SgfilterError).code).toBe('SNAPSHOT_KEY');
      expect(((await Promise.resolve().then(() => engine.snapshot({ key: missing as never })).catch((x: unknown) => x)) as SgfilterError).code).toBe('SNAPSHOT_KEY');
    }
    expect(await engine.loadSnapshot(signedClosed)).toBe(2);
    expect(engine.classify(ssh).action).toBe('drop');
    // Creating with a key: the same refusals.
    for (const [bytes, code] of [[unsignedClosed, 'SNAPSHOT_UNSIGNED'], [signedClosed, 'SNAPSHOT_SIGNATURE']] as const) {
      const e = await engineOf({ snapshot: bytes, key: code === 'SNAPSHOT_SIGNATURE' ? otherKey : key }).catch((x: unknown) => x);
      expect((e as SgfilterError).code).toBe(code);
    }
    // Without a key a signed snapshot loads (its structure checked, its signature not).
    expect((await engineOf({ snapshot: signedClosed })).classify(ssh).action).toBe('drop');
    expect(decodeSnapshot(signedClosed)).toMatchObject({ signed: true, verified: false });
    expect(await verifySnapshot(signedClosed, key)).toMatchObject({ signed: true, verified: true });
    // A keyless engine can demand a signature per call.
    const keyless = await engineOf(open);
    expect(((await keyless.loadSnapshot(unsignedClosed, { key }).catch((x: unknown) => x)) as SgfilterError).code).toBe('SNAPSHOT_UNSIGNED');
    expect(await keyless.loadSnapshot(signedClosed, { key })).toBe(2);
  });

  test.prop([fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.uint8Array({ minLength: 32, maxLength: 64 })], fuzzParams('snapshots: a changed signed snapshot is refused', 80, { endOnFailure: true }))(
    'a signed snapshot changed in any way is refused, resealed or not, and the engine keeps its policy and version',
    async (which, mutations: Mutation[], resealed, k) => {
      const s = samples[which % samples.length]!;
      const source = await engineOf(s.config);
      const signed = await source.snapshot({ key: k });
      let bytes = signed;
      for (const m of mutations) bytes = mutate(bytes, m, others(), resealed);
      const changed = bytes.length !== signed.length || bytes.some((b, i) => b !== signed[i]);
      const engine = await engineOf({ snapshot: signed, key: k });
      const expected = classifyChecked(engine, s.flows);
      try {
        await engine.loadSnapshot(bytes);
        expect(changed).toBe(false);
        expect(engine.version).toBe(2);
      } catch (e) {
        expect(changed).toBe(true);
        expectRefusal(e, KEYED_REFUSALS);
        expect(engine.version).toBe(1);
        expect(classifyChecked(engine, s.flows)).toEqual(expected);
      }
    },
    fuzzTimeout(120_000),
  );

  it('reloadInWorker is a config reload on a keyed engine; a pool given { snapshot, key } verifies it first', async () => {
    const signedOpen = await (await engineOf(open)).snapshot({ key });
    const signedClosed = await (await engineOf(closed)).snapshot({ key });
    const engine = await engineOf({ snapshot: signedOpen, key });
    try {
      expect(await reloadInWorker(engine, closed)).toBe(2);
      expect(engine.classify(ssh).action).toBe('drop');
    } finally {
      await closeCompileWorker();
    }
    const unsigned = (await engineOf(closed)).snapshot();
    expect(((await createClassifierPool({ snapshot: unsigned, key }, { threads: 1 }).catch((x: unknown) => x)) as SgfilterError).code).toBe('SNAPSHOT_UNSIGNED');
    const pool = await createClassifierPool({ snapshot: signedOpen, key }, { threads: 1 });
    try {
      expect((await pool.classify([ssh])).verdict(0).action).toBe('accept');
      const changed = signedClosed.slice();
      changed[changed.length - 40]! ^= 1;
      expect(((await pool.publish({ snapshot: changed, key }).catch((x: unknown) => x)) as SgfilterError).code).toBe('SNAPSHOT_SIGNATURE');
      expect(pool.version).toBe(1);
      expect(await pool.publish({ snapshot: signedClosed, key })).toBe(2);
      expect((await pool.classify([ssh])).verdict(0).action).toBe('drop');
    } finally {
      await pool.close();
    }
  });

  it('verifies a copy taken at the call: bytes changed while WebCrypto works are not what loads', async () => {
    const signedClosed = await (await engineOf(closed)).snapshot({ key });
    const engine = await engineOf({ snapshot: await (await engineOf(open)).snapshot({ key }), key });
    const bytes = signedClosed.slice();
    const pending = engine.loadSnapshot(bytes);
    bytes.fill(0);
    expect(await pending).toBe(2);
    expect(engine.classify(ssh).action).toBe('drop');
  });

  it('createEngine({ snapshot, key }) copies the bytes when called, too (Node reads the matcher meanwhile)', async () => {
    const signedClosed = await (await createEngine(closed)).snapshot({ key });
    const bytes = signedClosed.slice();
    const pending = createEngine({ snapshot: bytes, key }); // the Node entry, matcher from disk
    bytes.fill(0);
    expect((await pending).classify(ssh).action).toBe('drop');
  });

  it('keys: raw bytes of at least 32, HMAC SHA-256 CryptoKeys, and key text in hex or base64', async () => {
    const snapshot = (await engineOf(closed)).snapshot();
    for (const bad of [new Uint8Array(31), 'a string', null, 42, {}]) {
      const e = await signSnapshot(snapshot, bad as never).catch((x: unknown) => x);
      expect((e as SgfilterError).code).toBe('SNAPSHOT_KEY');
    }
    const cryptoKey = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    const signed = await signSnapshot(snapshot, cryptoKey);
    expect((await verifySnapshot(signed, key)).verified).toBe(true); // the same key as bytes
    expect(await verifySnapshot(await signSnapshot(snapshot, key.buffer.slice(0)), cryptoKey)).toMatchObject({ verified: true });
    const verifyOnly = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    expect(((await signSnapshot(snapshot, verifyOnly).catch((x: unknown) => x)) as SgfilterError).code).toBe('SNAPSHOT_KEY');
    const sha1 = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-1' }, false, ['sign', 'verify']);
    expect(((await verifySnapshot(signed, sha1).catch((x: unknown) => x)) as SgfilterError).code).toBe('SNAPSHOT_KEY');
    expect(((await signSnapshot(signed, key).catch((x: unknown) => x)) as SgfilterError).code).toBe('INVALID_ARGUMENT'); // already signed
    // Key text: hex, base64 (standard and URL-safe), raw bytes; surrounding whitespace ignored.
    const hex = Buffer.from(key).toString('hex');
    const b64 = Buffer.from(key).toString('base64');
    const wrapped = Buffer.from(new Uint8Array(64).fill(7)).toString('base64').replace(/(.{64})/g, '$1\n'); // openssl rand -base64 64
    expect(parseSnapshotKey(wrapped)).toEqual(new Uint8Array(64).fill(7));
    for (const text of [hex, `  ${hex.toUpperCase()}\n`, b64, `${b64}\n`, Buffer.from(key).toString('base64url'), Buffer.from(`${hex}\n`)]) {
      expect(parseSnapshotKey(text)).toEqual(key);
    }
    const raw = new Uint8Array(32).fill(0xfe);
    expect(parseSnapshotKey(Buffer.from(raw))).toEqual(raw);
    for (const bad of ['00'.repeat(31), 'correct horse battery staple', Buffer.alloc(5000)]) {
      let code: string | undefined;
      try {
        parseSnapshotKey(bad);
      } catch (e) {
        code = (e as SgfilterError).code;
      }
      expect(code).toBe('SNAPSHOT_KEY');
    }
  });
});
