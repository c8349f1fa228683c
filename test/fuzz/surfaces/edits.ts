/**
 * update() with generated edits over every operation, hostile text and JS-only values
 * put into random places, given as data or as transaction method calls. An offline
 * PolicyTransaction on the model's config is the oracle: update() as data accepts
 * exactly what it commits (publishing that config, a new version only when something
 * changed) and refuses what it refuses (CONFIG_INVALID, issues under ["update", n]),
 * changing nothing. Method calls cannot carry fields their method does not take, so
 * they may accept what the data form refuses, never the reverse.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { PolicyTransaction, type PolicyEdit } from '../../../src/index.js';
import { editMutation, hostileValue, injectAll, type HostileValue, type Mutation } from '../../hostile.js';
import { spellingArb } from '../../address-arbitraries.js';
import { asCalls, mulberry32, randomEdits, randomFlows } from '../../random.js';
import { respellPeers, type Respelling } from '../respell.js';
import { meaningOf } from './config.js';
import { expectAsReference, expectRefusal, expectUnchanged, note, observe, refusedOr, type Surface } from '../session.js';

export interface EditsStep {
  seed: number;
  mutations: [Mutation, HostileValue][];
  form: 'data' | 'calls';
  /** The rules' peers written in other spellings of the same addresses; the offline transaction gets them as generated. */
  respell: Respelling | null;
}

export const editsSurface: Surface<EditsStep> = {
  name: 'edits',
  weight: 2,
  arbitrary: fc.record({
    seed: fc.integer(),
    mutations: fc.oneof(fc.constant<[Mutation, HostileValue][]>([]), fc.array(fc.tuple(editMutation, hostileValue), { minLength: 1, maxLength: 2 })),
    form: fc.constantFrom('data' as const, 'data' as const, 'calls' as const),
    respell: fc.option(fc.record({ spelling: spellingArb, mapped: fc.boolean() }), { freq: 2 }),
  }),

  async run(s, step) {
    const r = mulberry32(step.seed);
    // (randomEdits edits existing groups; a config whose last group was removed gets one first.)
    const edits: unknown[] = s.config.securityGroups.length ? randomEdits(r, s.config) : [{ op: 'addGroup', group: { id: 'sg-again', inbound: ['ACCEPT#any#22#TCP'] } }];
    injectAll(edits, step.mutations);
    // Respelled only where nothing else changed the edits (a mutation may hit a peer).
    let given = edits;
    if (step.respell && step.mutations.length === 0) {
      given = structuredClone(edits);
      note('edits: peers respelled', respellPeers(given, step.respell));
    }
    const offline = await refusedOr(() => {
      const tx = new PolicyTransaction(s.config);
      for (const e of edits) tx.apply(e as PolicyEdit);
      return tx.commit();
    });
    const before = observe(s);
    const run = await refusedOr(() => s.engine.update(step.form === 'data' ? (given as PolicyEdit[]) : asCalls(given)));
    note(`edits: ${step.form}`);
    if (step.form === 'data') {
      expect(run.ok, `update() and an offline transaction disagree: ${run.ok ? 'accepted' : run.error.message} / ${offline.ok ? 'accepted' : offline.error.message}`).toBe(offline.ok);
    } else if (offline.ok && !run.ok) {
      throw new Error(`update as calls refused what the data form accepts: ${run.error.message}`);
    }
    if (!run.ok) {
      expectRefusal(run.error, ['CONFIG_INVALID'], ['update']);
      for (const i of run.error.issues) expect(typeof i.path[1], 'an update issue names its edit by index').toBe('number');
      expectUnchanged(s, before);
      note('edits: refused');
      return;
    }
    const published = s.engine.version !== s.version;
    expect(run.value).toBe(s.engine.version);
    expect(s.engine.version).toBe(published ? s.version + 1 : s.version);
    if (step.form === 'data' && offline.ok) {
      expect(published).toBe(offline.value.changes.length > 0);
      if (published && given === edits) expect(s.engine.config).toEqual(offline.value.config);
      // Respelled peers: the same config but for the text kept for explanations.
      if (published && given !== edits) expect(meaningOf(s.engine.config), 'respelling the peers of the edits changed the config').toEqual(meaningOf(offline.value.config));
    }
    if (published) {
      s.version++;
      s.config = s.engine.config;
      s.tampered = false; // compiled from the config: whatever a snapshot loaded before is gone
    } else {
      expect(s.engine.config, 'an update without changes replaced the config').toBe(before.config);
    }
    note('edits: accepted');
    expectAsReference(s, randomFlows(r, s.config, 100));
  },
};
