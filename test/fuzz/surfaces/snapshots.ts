/**
 * Snapshots from storage an attacker can write (test/snapshot-mutate.ts): the
 * session engine's snapshot with bits flipped, bytes written, the file cut, structure
 * fields pointed elsewhere or given huge counts, metadata JSON edited, or spliced with
 * other configs' snapshots, the checksum recomputed (or not), then loaded into the
 * running engine or into a new one. Refused: SNAPSHOT_INVALID and the engine keeps
 * its policy. Loaded: classified as the reference classifies its config when the
 * table is what that config compiles to, else (a change only a key can catch) safely.
 *
 * Keyed: the snapshot signed with a generated key, loaded by an engine given that key;
 * any change at all, resealed or not, and an unsigned snapshot are refused
 * (SNAPSHOT_SIGNATURE, SNAPSHOT_UNSIGNED, SNAPSHOT_INVALID) and change nothing.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { decodeSnapshot, type Engine } from '../../../src/index.js';
import { mutate, mutationArb, type Mutation } from '../../snapshot-mutate.js';
import { mulberry32, randomConfig, randomFlows } from '../../random.js';
import { fuzzSeed } from '../settings.js';
import {
  expectAsReference, expectRefusal, expectUnchanged, newEngine, note, observe, refusedOr, tableMatchesConfig, zeroed, type Session, type Surface,
} from '../session.js';

let others: Uint8Array[] | undefined;
/** Snapshots of other configs, for splices (made once). */
async function otherSnapshots(): Promise<Uint8Array[]> {
  if (!others) {
    const r = mulberry32(fuzzSeed('end-to-end: other snapshots'));
    others = [];
    for (let i = 0; i < 3; i++) others.push((await newEngine(randomConfig(r, 3 + 4 * i))).snapshot());
  }
  return others;
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

async function mutated(original: Uint8Array, mutations: Mutation[], resealed: boolean): Promise<Uint8Array> {
  const pool = await otherSnapshots();
  let bytes = original;
  for (const m of mutations) bytes = mutate(bytes, m, pool, resealed);
  return bytes;
}

export interface SnapshotStep {
  seed: number;
  mutations: Mutation[];
  resealed: boolean;
  door: 'load' | 'create';
}

export const snapshotSurface: Surface<SnapshotStep> = {
  name: 'snapshot',
  weight: 2,
  arbitrary: fc.record({
    seed: fc.integer(),
    mutations: fc.array(mutationArb, { maxLength: 3 }),
    resealed: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    door: fc.constantFrom('load' as const, 'load' as const, 'create' as const),
  }),

  async run(s, step) {
    const original = s.engine.snapshot();
    const wasTampered = s.tampered;
    const bytes = await mutated(original, step.mutations, step.resealed);
    const changed = !same(bytes, original);
    note(changed ? 'snapshots: mutated' : 'snapshots: unchanged');
    const before = observe(s);
    let created: Engine | undefined;
    const loaded = await refusedOr(async () => (step.door === 'create' ? (created = await newEngine({ snapshot: bytes })).version : s.engine.loadSnapshot(bytes)));
    if (!loaded.ok) {
      expect(changed, `the engine's own snapshot was refused: ${loaded.error.message}`).toBe(true);
      expectRefusal(loaded.error, ['SNAPSHOT_INVALID']);
      expect(loaded.error.message).toMatch(/snapshot/i);
      expectUnchanged(s, before);
      note('snapshots: refused');
      return;
    }
    if (created) {
      s.engine = created;
      s.version = 1;
    } else {
      s.version++;
    }
    expect(loaded.value).toBe(s.version);
    s.config = s.engine.config;
    // The config that loaded is one the oracle can read, and snapshots and loads again the same way.
    expect(zeroed(decodeSnapshot(s.engine.snapshot()).config)).toEqual(zeroed(s.config));
    s.tampered = !tableMatchesConfig(bytes);
    note(s.tampered ? 'snapshots: loaded, table unlike its config' : 'snapshots: loaded');
    if (!changed) expect(s.tampered, 'the engine\'s own snapshot, loaded again, holds another table').toBe(wasTampered);
    expectAsReference(s, randomFlows(mulberry32(step.seed), s.config, 100));
  },
};

export interface KeyedStep {
  key: Uint8Array;
  mutations: Mutation[];
  resealed: boolean;
  unsigned: boolean;
}

export const keyedSnapshotSurface: Surface<KeyedStep> = {
  name: 'keyed snapshot',
  weight: 1,
  arbitrary: fc.record({
    key: fc.uint8Array({ minLength: 32, maxLength: 64 }),
    mutations: fc.array(mutationArb, { minLength: 1, maxLength: 2 }),
    resealed: fc.boolean(),
    unsigned: fc.boolean(),
  }),

  async run(s, step) {
    const signed = await s.engine.snapshot({ key: step.key });
    const engine = await newEngine({ snapshot: signed, key: step.key });
    const keyed: Session = { engine, config: engine.config, version: 1, tampered: s.tampered };
    expect(zeroed(keyed.config)).toEqual(zeroed(s.config));
    expectAsReference(keyed, randomFlows(mulberry32(signed.length), keyed.config, 30));
    const bytes = await mutated(signed, step.mutations, step.resealed);
    const before = observe(keyed);
    const loaded = await refusedOr(() => engine.loadSnapshot(bytes));
    if (same(bytes, signed)) {
      expect(loaded.ok, 'a keyed engine refused its own signed snapshot').toBe(true);
      note('keyed: unchanged, loaded');
    } else {
      if (loaded.ok) throw new Error('a keyed engine loaded a changed snapshot');
      expectRefusal(loaded.error, ['SNAPSHOT_SIGNATURE', 'SNAPSHOT_UNSIGNED', 'SNAPSHOT_INVALID']);
      expectUnchanged(keyed, before);
      note('keyed: changed, refused');
    }
    if (step.unsigned) {
      const at = observe(keyed);
      const unsigned = await refusedOr(() => engine.loadSnapshot(s.engine.snapshot()));
      if (unsigned.ok) throw new Error('a keyed engine loaded an unsigned snapshot');
      expectRefusal(unsigned.error, ['SNAPSHOT_UNSIGNED']);
      expectUnchanged(keyed, at);
    }
  },
};
