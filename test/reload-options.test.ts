/**
 * expectedVersion is judged before anything is compiled (attack finding 12):
 * reloadInWorker took `'one'` or NaN, compiled the whole config in its worker, then
 * failed with VERSION_CONFLICT. Generated values that are not a whole number ≥ 1 are
 * INVALID_ARGUMENT, before the config is even read, in every call that takes the
 * option (reloadInWorker, pool.publish, reload, update, loadSnapshot); a stale version
 * is VERSION_CONFLICT before the compile; the current one publishes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCompileWorker, createClassifierPool, createEngine, reloadInWorker, SgfilterError, type ClassifierPool, type ConfigInput, type Engine } from '../src/index.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0x4e10);

const CONFIG: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }] }] };
/** A config the compile would refuse: if it were read first, the error would be CONFIG_INVALID. */
const INVALID: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 70000, source: 'any', action: 'accept' }] }] };

const notAVersion = fc.oneof(
  fc.constantFrom<unknown>('one', '1', NaN, 0, -1, 1.5, Infinity, -Infinity, 2 ** 53, null, true, 1n, [], {}, [1], () => 1),
  fc.anything().filter((v) => v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= Number.MAX_SAFE_INTEGER)),
);

let engine: Engine;
let pool: ClassifierPool;
beforeAll(async () => {
  engine = await createEngine(CONFIG);
  pool = await createClassifierPool(CONFIG, { threads: 1 });
});
afterAll(async () => {
  await pool.close();
  await closeCompileWorker();
});

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | null> {
  try {
    await (typeof p === 'function' ? p() : p);
    return null;
  } catch (e) {
    expect(e).toBeInstanceOf(SgfilterError);
    return (e as SgfilterError).code;
  }
}

describe(`expectedVersion is judged first (seed ${SEED})`, () => {
  it('anything but a whole number ≥ 1 is INVALID_ARGUMENT before the config is read, everywhere', async () => {
    await fc.assert(
      fc.asyncProperty(notAVersion, async (v) => {
        const options = { expectedVersion: v } as never;
        expect(await code(reloadInWorker(engine, INVALID, options))).toBe('INVALID_ARGUMENT');
        expect(await code(pool.publish(INVALID, options))).toBe('INVALID_ARGUMENT');
        expect(await code(engine.reload(INVALID, options))).toBe('INVALID_ARGUMENT');
        expect(await code(engine.update([{ op: 'removeGroup', groupId: 'nope' }], options))).toBe('INVALID_ARGUMENT');
        expect(await code(engine.loadSnapshot(new Uint8Array(8), options))).toBe('INVALID_ARGUMENT');
        expect(engine.version).toBe(1);
        expect(pool.version).toBe(1);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('a stale version is VERSION_CONFLICT before the compile; the current one publishes', async () => {
    expect(await code(reloadInWorker(engine, INVALID, { expectedVersion: engine.version + 1 }))).toBe('VERSION_CONFLICT');
    expect(await code(reloadInWorker(engine, INVALID, { expectedVersion: engine.version }))).toBe('CONFIG_INVALID');
    expect(await reloadInWorker(engine, CONFIG, { expectedVersion: engine.version })).toBe(2);
  });
});
