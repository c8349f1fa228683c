// Outside review (at11): createClassifierPool's windowFlows / maxMemoryBytes.
import { describe, expect, it } from 'vitest';
import { createClassifierPool, parseConfig, parseFlow, referenceClassify, type ConfigInput, type FlowInput } from '../../src/index.js';

const small: ConfigInput = { securityGroups: [{ id: 'sg', inbound: [{ action: 'accept', protocol: 'tcp', port: '22', source: '10.0.0.0/8' }], outbound: [] }], instances: [{ id: 'i', securityGroups: ['sg'] }] };
function big(n: number): ConfigInput {
  const inbound = Array.from({ length: n }, (_, k) => ({ action: (k % 2 ? 'accept' : 'drop') as 'accept' | 'drop', protocol: 'tcp' as const, port: String(k % 65536), source: `10.${(k >> 8) & 255}.${k & 255}.0/24` }));
  return { securityGroups: [{ id: 'sg', inbound, outbound: [] }], instances: [{ id: 'i', securityGroups: ['sg'] }] };
}
const FLOWS: FlowInput[] = Array.from({ length: 64 }, (_, k) => ({ instance: 'i', direction: 'inbound' as const, protocol: 6, port: k % 2 ? 22 : k, remote: `10.0.${k}.1` }));

describe('review at11: classifier pool engine options', () => {
  it('a publish past maxMemoryBytes is refused with a coded error; the pool keeps its policy', async () => {
    const pool = await createClassifierPool(small, { threads: 2, minFlowsPerThread: 1, maxMemoryBytes: 2 << 20 });
    try {
      const before = await pool.classify(FLOWS);
      let err: unknown;
      try { await pool.publish(big(30000)); } catch (e) { err = e; }
      expect((err as { code?: string } | undefined)?.code, String(err)).toMatch(/MEMORY_LIMIT|TABLE_TOO_LARGE/);
      expect(pool.version).toBe(1);
      const after = await pool.classify(FLOWS);
      expect([...after.actions]).toEqual([...before.actions]);
      const cfg = parseConfig(small);
      expect([...after.actions]).toEqual(FLOWS.map((f) => (referenceClassify(cfg, parseFlow(f as never)).action === 'accept' ? 1 : 0)));
    } finally {
      await pool.close();
    }
  }, 120_000);

  it('a huge windowFlows is either refused up front or classifies big calls correctly', async () => {
    let pool;
    try {
      pool = await createClassifierPool(small, { threads: 1, windowFlows: 2 ** 40, maxMemoryBytes: 2 << 20 });
    } catch (e) {
      expect((e as { code?: string }).code).toBe('INVALID_ARGUMENT');
      return;
    }
    try {
      const flows = Array.from({ length: 200_000 }, (_, k) => FLOWS[k % FLOWS.length]!);
      let err: unknown;
      let r;
      try { r = await pool.classify(flows); } catch (e) { err = e; }
      if (err) expect((err as { code?: string }).code, String(err)).toMatch(/MEMORY_LIMIT|INVALID_ARGUMENT/);
      else expect(r!.actions.length).toBe(flows.length);
      // The pool still answers afterwards.
      const again = await pool.classify(FLOWS);
      expect(again.actions.length).toBe(FLOWS.length);
    } finally {
      await pool.close();
    }
  }, 120_000);
});
