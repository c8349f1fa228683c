// Outside review (at11): an owned Config sent to the compile worker (structured clone,
// then ownConfig in the thread: deepFreeze copies onto PLAIN_PROTO) keeps its meaning,
// ClassBench semantics included, and the caller's config stays frozen and owned.
import { afterAll, describe, expect, it } from 'vitest';
import { closeCompileWorker, compileInWorker, createClassifierPool, createEngine, parseClassBench, parseConfig } from '../../src/index.js';
import { isOwnedConfig } from '../../src/config/owned.js';

const FILTERS = '@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x3a/0xFF\n';
const FLOW = { direction: 'inbound', protocol: 58, remote: '10.1.2.3', local: '192.0.2.1', icmpType: 128, icmpCode: 0 } as const;

afterAll(() => closeCompileWorker());

describe('review at11: configs through worker threads', () => {
  it('compileInWorker of a ClassBench config keeps its semantics', async () => {
    const config = parseClassBench(FILTERS);
    const snap = await compileInWorker(config);
    const engine = await createEngine({ snapshot: snap });
    expect(engine.classify(FLOW).action).toBe('accept');
    expect(engine.config.semantics).toBe('classbench');
    expect(isOwnedConfig(config) && Object.isFrozen(config.securityGroups[0]!.inbound[0]!)).toBe(true);
  });
  it('a classifier pool of a ClassBench config answers as the engine', async () => {
    const pool = await createClassifierPool(parseClassBench(FILTERS), { threads: 1, minFlowsPerThread: 1 });
    try {
      const r = await pool.classify([FLOW as never]);
      expect(r.verdict(0).action).toBe('accept');
    } finally {
      await pool.close();
    }
  });
  it('a hand-built (not owned) config object is adopted, not trusted, by compileInWorker', async () => {
    const doc = { securityGroups: [{ id: 'sg', inbound: [{ action: 'accept', protocol: 'tcp', port: '22', source: '10.0.0.0/8' }], outbound: [] }], instances: [{ id: 'i', securityGroups: ['sg'] }] };
    const config = parseConfig(doc);
    // A structurally-cloned copy is not owned: it must be checked again, and a lie in it refused.
    const forged = structuredClone(config) as unknown as { securityGroups: { inbound: { ruleIndex: number; action: string }[] }[] };
    forged.securityGroups[0]!.inbound[0]!.action = 'maybe';
    await expect(compileInWorker(forged as never)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
