/**
 * The surfaces the end-to-end fuzz test strings together, one step after another, in
 * one session (test/fuzz/end-to-end.test.ts).
 *
 * Adding a surface (packets and captures through the tracker, say):
 * 1. Write test/fuzz/surfaces/<name>.ts exporting a Surface (test/fuzz/session.ts):
 *    - `arbitrary`: the step's data as plain values fast-check can print and shrink
 *      (seeds, mutation descriptors, names of hostile values; build functions,
 *      proxies and buffers from them in `run`, fresh each time);
 *    - `run(s, step)`: build the input, push it through the library against the
 *      session's engine, then either `expectRefusal(error, [codes])` and
 *      `expectUnchanged(s, observe(s) taken before)`, or update the model (s.config,
 *      s.version, s.tampered) and compare with the oracle (`expectAsReference` for
 *      flows; your own reference model for packets, as test/packet-model.ts);
 *      `note('<surface>: <what>')` what happened, for `npm run fuzz`'s counts.
 * 2. Add it to SURFACES below with a weight (how often a step is that surface).
 * The test then checks Object.prototype and every other built-in after each of its
 * steps, runs it in CI within the budget and with fresh seeds under `npm run fuzz`.
 */
import type { Session, Surface } from '../session.js';
import { configSurface } from './config.js';
import { editsSurface } from './edits.js';
import { flowsSurface } from './flows.js';
import { keyedSnapshotSurface, snapshotSurface } from './snapshots.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const SURFACES: readonly Surface<any>[] = [configSurface, editsSurface, flowsSurface, snapshotSurface, keyedSnapshotSurface];

export type { Session, Surface };
