/**
 * A Config is the library's own (attack finding 7): `engine.config` was the caller's
 * object, so changing it and running an unrelated update() published rules no validator
 * saw; a getter on a hand-built Config answered the check one thing and the compiler
 * another; a Config sent to the compile worker was read again by the structured clone.
 *
 * Generated here: configs, hand-built Configs (plain copies of parsed ones, owned by the
 * test), generated mutations of them after they were handed over, getters and Proxies
 * that answer differently each time they are read, at generated places. Whatever is
 * done, an engine, update(), compileInWorker and PolicyTransaction either refuse with a
 * coded error or use a frozen copy of what they read once, and the engine then agrees
 * with the reference matcher on its own `config`.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeCompileWorker, compileInWorker, createEngine, createFlowBatch, parseConfig, PolicyTransaction, referenceClassify, reloadInWorker, SgfilterError,
  type Config, type Engine, type FlowInput,
} from '../src/index.js';
import { mulberry32, randomConfig, randomFlows } from './random.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0x0a1e);
const RUNS = Number(process.env.SGFILTER_FUZZ_RUNS ?? 200);

afterAll(() => closeCompileWorker());

/** Every object and list in `v` (a Config). */
function objectsIn(v: unknown): object[] {
  const out: object[] = [];
  const stack = [v];
  while (stack.length) {
    const x = stack.pop();
    if (typeof x !== 'object' || x === null) continue;
    out.push(x);
    for (const k of Object.keys(x)) stack.push((x as Record<string, unknown>)[k]);
  }
  return out;
}

/** Every (object, key) slot of `v`, in a stable order. */
function slotsIn(v: unknown): { holder: Record<string | number, unknown>; key: string }[] {
  const out: { holder: Record<string | number, unknown>; key: string }[] = [];
  for (const o of objectsIn(v)) for (const k of Object.keys(o)) out.push({ holder: o as Record<string, unknown>, key: k });
  return out;
}

/** A hand-built Config: the same data in plain objects the test owns (unfrozen, not the library's). */
const handBuilt = (c: Config): Config => structuredClone(c);

const WEIRD: unknown[] = [-1, 256, 65536, 1.5, NaN, Infinity, 2 ** 32 + 6, '6', 'constructor', '__proto__', 'ping', 'all', true, null, undefined, {}, [],
  [{ lo: 5, hi: 3 }], [{ lo: 0, hi: 65536 }], [{ lo: -3, hi: 22 }], [{ lo: '22', hi: '22' }],
  { v4: [{ lo: 5n, hi: 1n }], v6: [] }, { v4: [{ lo: 0n, hi: 1n << 33n }], v6: [] }, { v4: [], v6: [{ lo: 0n, hi: 1n << 130n }] }, 1n << 40n, -1n,
  'sg-0', 'sg-1', 'ins-0', 'inbound', 'outbound', 'accept', 'drop', 6, 17, 0, 22];

const world = fc.record({ seed: fc.integer(), slot: fc.nat(), weird: fc.nat({ max: WEIRD.length - 1 }), honestFirst: fc.boolean() });

/** Engine and reference agree on generated flows, and what the engine publishes is frozen through and through. */
function agrees(engine: Engine, seed: number): void {
  const config = engine.config;
  for (const o of objectsIn(config)) expect(Object.isFrozen(o)).toBe(true);
  const flows: FlowInput[] = randomFlows(mulberry32(seed), config, 60);
  const batch = createFlowBatch(flows);
  engine.classifyBatch(batch);
  flows.forEach((f, i) => expect(batch.verdict(i)).toEqual(referenceClassify(config, f)));
}

async function codedOr<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(SgfilterError);
    expect(typeof (e as SgfilterError).code).toBe('string');
    return null;
  }
}

describe(`a Config is the library's own (seed ${SEED})`, () => {
  it('what parseConfig, engine.config and update() give is deeply frozen; changing it throws and changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(world, async ({ seed, slot, weird }) => {
        const config = parseConfig(randomConfig(mulberry32(seed), 6));
        const engine = await createEngine(config);
        expect(engine.config).toBe(config); // owned already: no copy needed
        const slots = slotsIn(engine.config);
        const s = slots[slot % slots.length]!;
        expect(() => {
          s.holder[s.key] = WEIRD[weird];
        }).toThrow(TypeError);
        await engine.update([{ op: 'addGroup', group: { id: 'added-by-test' } }]);
        agrees(engine, seed);
      }),
      { seed: SEED, numRuns: Math.max(20, RUNS / 5) },
    );
  });

  it('a hand-built Config is copied when handed over: changing it afterwards changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(world, fc.array(fc.tuple(fc.nat(), fc.nat({ max: WEIRD.length - 1 })), { minLength: 1, maxLength: 5 }), async ({ seed }, changes) => {
        const mine = handBuilt(parseConfig(randomConfig(mulberry32(seed), 6)));
        const engine = await createEngine(mine);
        expect(engine.config).not.toBe(mine);
        const before = JSON.stringify(engine.config, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
        for (const [slot, weird] of changes) {
          const slots = slotsIn(mine);
          const s = slots[slot % slots.length]!;
          s.holder[s.key] = WEIRD[weird];
        }
        // An unrelated update, a transaction on the changed object: none publishes what was changed.
        expect(await codedOr(engine.update([{ op: 'addGroup', group: { id: 'added-by-test' } }]))).toBe(2);
        expect(JSON.stringify(engine.config.securityGroups.slice(0, -1), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).toBe(JSON.stringify(JSON.parse(before).securityGroups));
        agrees(engine, seed);
        const tx = await codedOr(Promise.resolve().then(() => new PolicyTransaction(mine)));
        if (tx) {
          const committed = tx.addGroup({ id: 'x-by-test' }).commit().config;
          for (const o of objectsIn(committed)) expect(Object.isFrozen(o)).toBe(true);
          const reloaded = await createEngine(committed);
          agrees(reloaded, seed);
        }
      }),
      { seed: SEED ^ 1, numRuns: Math.max(20, RUNS / 5) },
    );
  });

  it('getters anywhere in a hand-built Config are refused, never called twice', async () => {
    await fc.assert(
      fc.asyncProperty(world, async ({ seed, slot, weird, honestFirst }) => {
        const mine = handBuilt(parseConfig(randomConfig(mulberry32(seed), 6)));
        const slots = slotsIn(mine);
        const s = slots[slot % slots.length]!;
        const honest = s.holder[s.key];
        let reads = 0;
        Object.defineProperty(s.holder, s.key, { get: () => ((reads++ === 0) === honestFirst ? honest : WEIRD[weird]), enumerable: true, configurable: true });
        const engine = await codedOr(createEngine(mine));
        if (engine) agrees(engine, seed); // only when the getter sits where a Config has no field
        expect(reads).toBeLessThanOrEqual(2); // looksLikeConfig may peek at the top three
      }),
      { seed: SEED ^ 2, numRuns: RUNS },
    );
  });

  it('a Proxy that answers differently each time is read once: what it said is what is checked and compiled', async () => {
    await fc.assert(
      fc.asyncProperty(world, fc.boolean(), async ({ seed, slot, weird, honestFirst }, viaWorker) => {
        const source = parseConfig(randomConfig(mulberry32(seed), 6));
        const mine = handBuilt(source);
        const objects = objectsIn(mine).slice(1); // not the root: it is replaced in its parent
        const target = objects[slot % objects.length]!;
        // Find its parent slot and put a Proxy there that alternates honest and weird answers.
        const parent = slotsIn(mine).find((x) => x.holder[x.key] === target)!;
        let calls = 0;
        const flip = () => (calls++ % 2 === 0) === honestFirst;
        parent.holder[parent.key] = new Proxy(target, {
          get: (t, k, r) => (flip() || typeof k !== 'string' ? Reflect.get(t, k, r) : WEIRD[weird]),
          getOwnPropertyDescriptor: (t, k) => {
            const d = Reflect.getOwnPropertyDescriptor(t, k);
            return d && !flip() && typeof k === 'string' && k !== 'length' && 'value' in d ? { ...d, value: WEIRD[weird] } : d;
          },
        });
        const engine = viaWorker
          ? await codedOr(compileInWorker(mine).then((snapshot) => createEngine({ snapshot })))
          : await codedOr(createEngine(mine));
        if (engine) agrees(engine, seed);
        if (viaWorker) {
          const e = await createEngine(source);
          const v = await codedOr(reloadInWorker(e, mine));
          if (v !== null) agrees(e, seed);
          else expect(e.version).toBe(1);
        }
      }),
      { seed: SEED ^ 3, numRuns: Math.max(30, RUNS / 2) },
    );
  });

  it('the probes: a mutated engine.config, a getter answering 6 then 300', async () => {
    const cfg = parseConfig({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: '10.0.0.0/8', action: 'drop' }, { protocol: 'ALL', source: 'any', action: 'accept' }] }] });
    const engine = await createEngine(cfg);
    expect(() => {
      (engine.config.securityGroups[0]!.inbound[0] as { protocol: unknown }).protocol = 1.5;
    }).toThrow(TypeError);
    const mine = handBuilt(cfg);
    let reads = 0;
    Object.defineProperty(mine.securityGroups[0]!.inbound[0]!, 'protocol', { get: () => (reads++ === 0 ? 6 : 300), enumerable: true });
    await expect(createEngine(mine)).rejects.toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/accessor/) }));
    expect(reads).toBe(0);
  });
});
