/**
 * "Object.prototype unchanged after every case", for every built-in: the names and
 * descriptors of Object.prototype and Function.prototype (prototypeState), and
 * everything reachable from globalThis (@fast-check/poisoning: Array.prototype.map
 * replaced, a global added or removed...), compared with what they were when this
 * module was first imported.
 */
import { assertNoPoisoning, restoreGlobals } from '@fast-check/poisoning';
import { expect } from 'vitest';
import { prototypeState } from '../hostile.js';

const PROTOTYPES = prototypeState();

/**
 * Globals the test runner itself changes between cases, and ones Node materialises
 * lazily the first time they are read (TextEncoder, AbortController...: a getter
 * replaced by its value, which the poisoning check would report as a change).
 */
const RUNNER_GLOBALS = { ignoredRootRegex: /^(__vitest_|AbortController$|AbortSignal$|TextEncoder$|TextDecoder$)/ };

/** Throws when a built-in prototype or global changed since this module was imported. */
export function expectNoPoisoning(): void {
  expect(prototypeState()).toBe(PROTOTYPES);
  assertNoPoisoning(RUNNER_GLOBALS);
}

/** Puts back what a failed case changed, so that one failure does not fail every later case (afterAll). */
export function restoreRunnerGlobals(): void {
  restoreGlobals(RUNNER_GLOBALS);
}
