/**
 * "Object.prototype unchanged after every case", for every built-in: the names and
 * descriptors of Object.prototype and Function.prototype (prototypeState), and
 * everything reachable from globalThis (@fast-check/poisoning: Array.prototype.map
 * replaced, a global added or removed...), compared with what they were when this
 * module was first imported.
 */
import './lazy-globals.js'; // first: before @fast-check/poisoning takes its picture
import { assertNoPoisoning, restoreGlobals } from '@fast-check/poisoning';
import { expect } from 'vitest';
import { prototypeState } from '../hostile.js';

const PROTOTYPES = prototypeState();

/** Globals the test runner itself changes between cases. */
const RUNNER_GLOBALS = { ignoredRootRegex: /^__vitest_/ };

/** Throws when a built-in prototype or global changed since this module was imported. */
export function expectNoPoisoning(): void {
  expect(prototypeState()).toBe(PROTOTYPES);
  assertNoPoisoning(RUNNER_GLOBALS);
}

/** Puts back what a failed case changed, so that one failure does not fail every later case (afterAll). */
export function restoreRunnerGlobals(): void {
  restoreGlobals(RUNNER_GLOBALS);
}
