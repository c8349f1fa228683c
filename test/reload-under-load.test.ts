/**
 * Live policy under traffic (issue #4): batches of random flows are classified
 * continuously while 1,000 changes are published — whole-policy reloads alternating
 * between two different policies, group reorders, bind/unbind, rule edits — with
 * awaits in both loops so they alternate. Every batch must agree with the reference
 * matcher for the version it was classified against. Then 10,000 reloads of
 * alternating small policies: the WASM memory must stop growing after warm-up, and
 * the JS heap must not keep what the reloads dropped.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  createEngine, createFlowBatch, parseConfig, parseFlow, referenceClassify, type Config, type ConfigInput, type ParsedFlow,
  type SecurityGroupInput,
} from '../src/index.js';
import { mulberry32, pick, randomConfig, randomFlows, type Rng } from './random.js';

const GROUPS = 4;
const INSTANCES = ['ins-0', 'ins-1', 'ins-2'];

/** Four random groups sg-0..sg-3 (random rules, some templates) and three instances over them. */
function policy(seed: number, maxRules: number): ConfigInput {
  const r = mulberry32(seed);
  const groups: SecurityGroupInput[] = [];
  while (groups.length < GROUPS) {
    for (const g of randomConfig(r, maxRules).securityGroups) if (groups.length < GROUPS) groups.push({ ...g, id: `sg-${groups.length}` });
  }
  return {
    securityGroups: groups,
    instances: [
      { id: 'ins-0', securityGroups: ['sg-0', 'sg-1', 'sg-2', 'sg-3'] },
      { id: 'ins-1', securityGroups: ['sg-2', 'sg-0'] },
      { id: 'ins-2', securityGroups: ['sg-3'] },
    ],
  };
}

function shuffle<T>(r: Rng, xs: T[]): T[] {
  const out = [...xs];
  for (let k = out.length - 1; k > 0; k--) {
    const j = Math.floor(r() * (k + 1));
    [out[k], out[j]] = [out[j]!, out[k]!];
  }
  return out;
}

/** A small hand-written policy (a few rules per group, few prefixes: compiles in well under a millisecond). */
function smallPolicy(flip: boolean): ConfigInput {
  return {
    securityGroups: [
      {
        id: 'sg-0',
        inbound: [{ type: 'linux-login', source: '203.0.113.0/24', action: flip ? 'drop' : 'accept' }, { protocol: 'TCP', port: '80,443', source: 'any', action: 'accept' }],
        outbound: [{ protocol: 'ALL', destination: '0.0.0.0/0', action: 'accept' }],
      },
      { id: 'sg-1', template: flip ? 'open-common' : 'custom', inbound: [{ protocol: 'UDP', port: 53, source: '10.0.0.0/8', action: 'accept' }, 'DROP#2001:db8::/32#ALL#ALL'] },
      { id: 'sg-2', inbound: [{ type: 'ping', source: 'any', action: 'accept' }], outbound: [{ protocol: 'TCP', port: 25, destination: '198.51.100.0/24', action: 'drop' }] },
      { id: 'sg-3', template: 'open-all', inbound: [{ protocol: 'TCP', port: '1000-2000', source: '192.0.2.0/25', action: flip ? 'accept' : 'drop' }] },
    ],
    instances: [
      { id: 'ins-0', securityGroups: ['sg-0', 'sg-1', 'sg-2', 'sg-3'] },
      { id: 'ins-1', securityGroups: ['sg-2', 'sg-0'] },
      { id: 'ins-2', securityGroups: ['sg-3'] },
    ],
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('reload under load', () => {
  it('1,000 publishes while classifying: every batch matches the reference for its version', async () => {
    const r = mulberry32(2024);
    const docs = [policy(101, 12), policy(202, 12)];
    const configs = docs.map((d) => parseConfig(d));
    const engine = await createEngine(configs[0]!);
    const byVersion = new Map<number, Config>([[engine.version, engine.config]]);
    engine.on('change', ({ version }) => byVersion.set(version, engine.config));

    // Flows aimed at the edges of both policies, naming every instance (and none).
    const pool: ParsedFlow[] = configs.flatMap((c) => randomFlows(r, c, 3000)).map(parseFlow);
    const donorRules = docs.flatMap((d) =>
      d.securityGroups.flatMap((g) => (['inbound', 'outbound'] as const).flatMap((dir) => (g[dir] ?? []).map((rule) => ({ rule, dir })))),
    );

    const CHANGES = 1000;
    let published = 0;
    let done = false;
    const kinds = { reload: 0, reorder: 0, bind: 0, unbind: 0, rules: 0 };

    const publisher = (async () => {
      for (let k = 0; k < CHANGES; k++) {
        const cfg = engine.config;
        const inst = pick(r, INSTANCES);
        const bound = cfg.instances.find((i) => i.id === inst)!.securityGroups;
        switch (k % 5) {
          case 0: // whole-policy reload, alternating between the two policies (a doc, or a validated Config)
            await engine.reload((k / 5) % 2 ? docs[1] : configs[0]);
            kinds.reload++;
            break;
          case 1: // group reorder
            await engine.update((tx) => tx.setGroupOrder(inst, shuffle(r, bound)));
            kinds.reorder++;
            break;
          case 2: {
            // bind a group at a random priority, or unbind one
            const free = Array.from({ length: GROUPS }, (_, g) => `sg-${g}`).filter((g) => !bound.includes(g));
            if (free.length && (bound.length === 0 || r() < 0.5)) {
              await engine.update((tx) => tx.bindGroup(inst, pick(r, free), Math.floor(r() * (bound.length + 1))));
              kinds.bind++;
            } else {
              await engine.update((tx) => tx.unbindGroup(inst, pick(r, bound)));
              kinds.unbind++;
            }
            break;
          }
          case 3: {
            // reorder two instances and edit a group's rules, in one transaction
            await engine.update((tx) => {
              tx.setGroupOrder(inst, [...bound].reverse());
              const g = pick(r, cfg.securityGroups);
              const { rule, dir } = pick(r, donorRules);
              const n = g[dir].filter((x) => !x.template).length;
              if (n > 0 && r() < 0.5) tx.moveRule(g.id, dir, Math.floor(r() * n), Math.floor(r() * n));
              else tx.addRule(g.id, dir, rule, Math.floor(r() * (n + 1)));
              if (n > 3) tx.removeRule(g.id, dir, 0);
            });
            kinds.rules++;
            break;
          }
          default: // unbind + bind at the top: the group moves to highest priority
            if (bound.length > 1) {
              const g = bound[bound.length - 1]!;
              await engine.update((tx) => tx.unbindGroup(inst, g).bindGroup(inst, g, 0));
              kinds.reorder++;
            } else {
              await engine.reload(configs[1]!);
              kinds.reload++;
            }
        }
        published++;
        await nextTurn();
      }
      done = true;
    })();

    let batches = 0;
    let flows = 0;
    let mismatches = 0;
    const versionsSeen = new Set<number>();
    const classifier = (async () => {
      while (!done) {
        const n = 200 + Math.floor(r() * 200);
        const start = Math.floor(r() * (pool.length - n));
        const slice = pool.slice(start, start + n);
        const batch = createFlowBatch(slice);
        const actions = engine.classifyBatch(batch);
        const config = byVersion.get(batch.policyVersion);
        expect(config, `config of version ${batch.policyVersion}`).toBeDefined();
        versionsSeen.add(batch.policyVersion);
        for (let i = 0; i < n; i++) {
          const want = referenceClassify(config!, slice[i]!);
          const got = batch.verdict(i);
          if (got.action !== want.action || got.groupId !== want.groupId || got.ruleIndex !== want.ruleIndex || actions[i] !== (want.action === 'accept' ? 1 : 0)) {
            if (mismatches++ < 5) console.error(`version ${batch.policyVersion}, flow ${JSON.stringify(slice[i], (_, v) => (typeof v === 'bigint' ? v.toString() : v))}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
          }
        }
        batches++;
        flows += n;
        await nextTurn();
      }
    })();

    await Promise.all([publisher, classifier]);
    expect(published).toBe(CHANGES);
    expect(engine.version).toBe(CHANGES + 1);
    expect(mismatches).toBe(0);
    // The loops alternated: batches ran against most of the versions published.
    expect(versionsSeen.size).toBeGreaterThan(CHANGES * 0.9);
    expect(batches).toBeGreaterThanOrEqual(CHANGES);
    expect(flows).toBeGreaterThan(200 * CHANGES);
    expect(kinds.reload).toBeGreaterThan(150);
    expect(kinds.reorder + kinds.bind + kinds.unbind).toBeGreaterThan(300);
  });

  it('10,000 reloads of alternating policies: WASM memory stops growing after warm-up, the heap does not keep them', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const a = parseConfig(smallPolicy(false));
    const b = parseConfig(smallPolicy(true));
    const engine = await createEngine(a);
    const r = mulberry32(99);
    const flows = [...randomFlows(r, a, 200), ...randomFlows(r, b, 200)].map(parseFlow);
    const batch = createFlowBatch(flows);

    const round = async (k: number) => {
      if (k % 3 === 2) {
        await engine.update((tx) => tx.setGroupOrder('ins-0', shuffle(r, engine.config.instances[0]!.securityGroups)));
      } else {
        await engine.reload(k % 2 ? b : a);
      }
      if (k % 10 === 0) {
        engine.classifyBatch(batch);
        await nextTurn();
      }
    };

    const WARMUP = 500;
    const RELOADS = 10_000;
    for (let k = 0; k < WARMUP; k++) await round(k);
    gc();
    const wasmBefore = engine.memoryBytes;
    const heapBefore = process.memoryUsage().heapUsed;
    let wasmMax = wasmBefore;
    for (let k = 0; k < RELOADS; k++) {
      await round(k);
      if (engine.memoryBytes > wasmMax) wasmMax = engine.memoryBytes;
    }
    gc();
    const wasmAfter = engine.memoryBytes;
    const heapAfter = process.memoryUsage().heapUsed;
    console.log(
      `10,000 reloads: WASM memory ${wasmBefore} → ${wasmAfter} bytes (max ${wasmMax}); heap ${(heapBefore / 2 ** 20).toFixed(1)} → ${(heapAfter / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(engine.version).toBe(1 + WARMUP + RELOADS);
    expect(wasmMax).toBe(wasmBefore);
    expect(wasmAfter).toBe(wasmBefore);
    expect(heapAfter - heapBefore).toBeLessThan(8 * 2 ** 20);
  });
});
