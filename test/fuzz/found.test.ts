/**
 * Library bugs the fuzz layer found, each reduced to a small reproduction that stays
 * as a regression test once fixed. The layer tolerates no known bug: a finding is
 * fixed in src/ (and reproduced here), or its property fails until it is.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, createFlowBatch, parseFlow, SgfilterError, type Engine } from '../../src/index.js';
import { guardedDispatcher } from '../../src/node/index.js';

const refusal = (f: () => unknown): SgfilterError => {
  try {
    f();
  } catch (e) {
    if (e instanceof SgfilterError) return e;
    throw new Error(`uncoded ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  throw new Error('accepted');
};

describe('found by the fuzz layer', () => {
  // The end-to-end sessions (a flows step with a BigInt in a flow field): a flow issue's
  // given was the BigInt itself, and JSON.stringify(error.issues) threw a TypeError.
  it('a flow issue is JSON data when the flow held a BigInt, in every field, alone and in a batch', () => {
    const flow = { direction: 'inbound', protocol: 'tcp', port: 22, remote: '192.0.2.1' };
    for (const field of ['direction', 'protocol', 'remote', 'local', 'port', 'sourcePort', 'icmpType', 'icmpCode', 'instance']) {
      const bad = { ...flow, [field]: 6n };
      for (const e of [refusal(() => parseFlow(bad as never)), refusal(() => createFlowBatch([flow, bad] as never))]) {
        expect(e.code, field).toBe('FLOW_INVALID');
        expect(e.issues.length, field).toBeGreaterThan(0);
        expect(JSON.parse(JSON.stringify(e.issues)), field).toEqual(e.issues);
        expect(e.issues.find((i) => i.path.includes(field))?.given, field).toBe('6n');
      }
    }
    // A huge one is written clipped, as config issues write it.
    const huge = refusal(() => parseFlow({ ...flow, port: 10n ** 500n } as never)).issues[0]!.given as string;
    expect(huge).toMatch(/^10{79}…n$/);
  });

  // test/guard-options.test.ts under a fresh seed (SGFILTER_FUZZ_SEED=606800814
  // SGFILTER_FUZZ_SCALE=3): undici's Agent clones its options through JSON, and threw
  // its TypeError (or its own InvalidArgumentError) out of guardedDispatcher uncoded.
  it('guardedDispatcher refuses agent options undici refuses (a BigInt, a cycle, a value out of range) with INVALID_ARGUMENT', async () => {
    const engine: Engine = await createEngine({ securityGroups: [{ id: 'sg', outbound: ['ACCEPT#any#ALL#ALL'] }] });
    const cycle: Record<string, unknown> = { keepAliveTimeout: 1000 };
    cycle.self = cycle;
    for (const agent of [{ keepAliveTimeout: 1000n }, cycle, { maxRedirections: -1 }]) {
      const e = refusal(() => guardedDispatcher(engine, { agent: agent as never }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/^guardedDispatcher: undici refuses the agent options: /);
    }
    // Options undici takes still make a dispatcher.
    await guardedDispatcher(engine, { agent: { keepAliveTimeout: 1000, connections: 4 } }).close();
  });

  it('a revoked proxy or an object whose traps throw, given as the policy, is a coded refusal at every door (seed 1526644958)', async () => {
    const engine = await createEngine({ securityGroups: [{ id: 'sg-a', inbound: ['DROP#any#ALL#ALL'] }] });
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const throwing = new Proxy({ text: '{}' }, { getOwnPropertyDescriptor() { throw new Error('trap'); }, ownKeys() { throw new Error('trap'); } });
    const getter = Object.defineProperty({}, 'text', { enumerable: true, get() { throw new Error('getter'); } });
    for (const hostile of [revoked.proxy, throwing, getter]) {
      for (const door of [() => engine.reload(hostile as never), () => createEngine(hostile as never)]) {
        const e = await door().then(() => undefined, (err: unknown) => err);
        expect(e, 'accepted').toBeInstanceOf(SgfilterError);
        expect((e as SgfilterError).code).toMatch(/^(CONFIG_INVALID|INVALID_ARGUMENT)$/);
      }
    }
    expect(engine.version).toBe(1);
  });
});
