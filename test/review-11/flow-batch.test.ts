// Review at11g: createFlowBatch's two-ended fill (commit cab5079) and readAddress's
// dotted-quad-first (83ae062), attacked with mixed batches against referenceClassify.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEngine, createFlowBatch, parseFlow, referenceClassify, SgfilterError, type ConfigInput, type FlowInput } from '../../src/index.js';

const CONFIG: ConfigInput = {
  securityGroups: [
    {
      id: 'sg-a',
      inbound: [
        { protocol: 'TCP', port: '22', source: '10.0.0.0/8', action: 'accept' },
        { protocol: 'TCP', port: '80', source: '2001:db8::/32', action: 'accept' },
        { protocol: 'UDP', port: '53', source: '0.0.0.0/0', action: 'drop' },
        { protocol: 'TCP', port: '1-1000', source: 'any', action: 'accept', localCidr: '192.168.0.0/16' },
      ],
      outbound: [
        { protocol: 'TCP', port: '443', destination: '0.0.0.0/0', action: 'accept' },
        { protocol: 'UDP', port: 'ALL', destination: '::/0', action: 'accept' },
        { protocol: 'TCP', port: '25', destination: 'any', action: 'drop' },
      ],
    },
    {
      id: 'sg-b',
      inbound: [{ protocol: 'ALL', source: '::/0', action: 'accept' }],
      outbound: [{ protocol: 'TCP', port: '1000-2000', destination: '10.0.0.0/8', action: 'accept', sourcePort: '5000-6000' }],
    },
  ],
  instances: [
    { id: 'i-a', securityGroups: ['sg-a', 'sg-b'] },
    { id: 'i-b', securityGroups: ['sg-b'] },
  ],
};

const v4 = fc.constantFrom('10.1.2.3', '192.168.1.1', '8.8.8.8', '::ffff:10.0.0.1', '::ffff:8.8.8.8', '0.0.0.0', '255.255.255.255');
const v6 = fc.constantFrom('2001:db8::1', '::1', '::10.0.0.1', 'fe80::1', '2001:db8:0:0:0:0:0:2');
const flowArb = fc.record(
  {
    direction: fc.constantFrom('inbound', 'outbound', ' Outbound ', 'INBOUND'),
    protocol: fc.constantFrom('TCP', 'UDP', 'tcp', 6, 17),
    remote: fc.oneof(v4, v6),
    port: fc.integer({ min: 0, max: 2100 }),
    local: fc.oneof(v4, v6),
    sourcePort: fc.integer({ min: 4990, max: 6010 }),
    instance: fc.constantFrom('i-a', 'i-b'),
  },
  { requiredKeys: ['direction', 'protocol', 'remote', 'port'] },
);

describe('review at11g: createFlowBatch against referenceClassify', () => {
  it('mixed directions, instances, families, parsed and raw flows: every answer at its own index', async () => {
    const engine = await createEngine(CONFIG);
    fc.assert(
      fc.property(fc.array(fc.tuple(flowArb, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 60 }), (rows) => {
        const flows = rows.map(([f, parsed, proxied]) => {
          const input = f as unknown as FlowInput;
          if (parsed) return parseFlow(input);
          return proxied ? new Proxy(input, {}) : input;
        });
        const batch = createFlowBatch(flows);
        const actions = engine.classifyBatch(batch);
        for (let i = 0; i < flows.length; i++) {
          const want = referenceClassify(engine.config, rows[i]![0] as unknown as FlowInput);
          expect({ i, v: batch.verdict(i) }).toEqual({ i, v: want });
          expect(actions[i]).toBe(want.action === 'accept' ? 1 : 0);
        }
      }),
      { seed: 1107, numRuns: 300 },
    );
  });

  it('one instance, one family, outbound first then inbound (the two-ended fill), larger than the window', async () => {
    const engine = await createEngine(CONFIG);
    const n = 70_000;
    const flows: FlowInput[] = [];
    for (let i = 0; i < n; i++) {
      const out = i % 7 === 0 || i < 3;
      flows.push({ direction: out ? 'outbound' : 'inbound', protocol: 'TCP', remote: `10.${(i >> 8) & 255}.${i & 255}.1`, port: i % 2100, sourcePort: 5000 + (i % 1200), local: i % 3 ? '192.168.0.1' : '172.16.0.1', instance: 'i-a' });
    }
    const batch = createFlowBatch(flows);
    engine.classifyBatch(batch);
    for (let i = 0; i < n; i++) {
      const want = referenceClassify(engine.config, flows[i]!);
      if (JSON.stringify(batch.verdict(i)) !== JSON.stringify(want)) expect({ i, got: batch.verdict(i) }).toEqual({ i, got: want });
    }
  });

  it('getters that answer differently on a second read, and a flow that builds another batch from a getter', async () => {
    const engine = await createEngine(CONFIG);
    let reads = 0;
    const shifty = {
      get direction() {
        reads++;
        return reads % 2 ? 'outbound' : 'inbound';
      },
      protocol: 'TCP',
      remote: '10.0.0.1',
      port: 443,
    };
    const inner = {
      direction: 'inbound',
      protocol: 'TCP',
      get remote() {
        createFlowBatch([{ direction: 'outbound', protocol: 'UDP', remote: '2001:db8::9', port: 9 }]);
        engine.classify({ direction: 'outbound', protocol: 'TCP', remote: '8.8.8.8', port: 25 });
        return '10.9.9.9';
      },
      port: 22,
    };
    const flows = [{ direction: 'inbound', protocol: 'TCP', remote: '10.0.0.2', port: 22 }, shifty, inner, { direction: 'outbound', protocol: 'TCP', remote: '8.8.8.8', port: 25 }] as FlowInput[];
    const batch = createFlowBatch(flows);
    engine.classifyBatch(batch);
    expect(reads).toBe(1); // read once
    const seen: FlowInput[] = [flows[0]!, { direction: 'outbound', protocol: 'TCP', remote: '10.0.0.1', port: 443 }, { direction: 'inbound', protocol: 'TCP', remote: '10.9.9.9', port: 22 }, flows[3]!];
    for (let i = 0; i < 4; i++) expect(batch.verdict(i)).toEqual(referenceClassify(engine.config, seen[i]!));
  });

  it('an invalid flow in a mixed batch: coded, and names its own index', () => {
    for (const bad of [1, 2, 5]) {
      const flows: unknown[] = [
        { direction: 'outbound', protocol: 'TCP', remote: '10.0.0.1', port: 1 },
        { direction: 'inbound', protocol: 'TCP', remote: '10.0.0.1', port: 1 },
        { direction: 'inbound', protocol: 'TCP', remote: '::1', port: 1, instance: 'i-b' },
        { direction: 'outbound', protocol: 'TCP', remote: '10.0.0.1', port: 1 },
        { direction: 'inbound', protocol: 'TCP', remote: '10.0.0.1', port: 1 },
        { direction: 'outbound', protocol: 'TCP', remote: '10.0.0.1', port: 1 },
      ];
      flows[bad] = { ...(flows[bad] as object), remote: '10.0.0.01' };
      try {
        createFlowBatch(flows as FlowInput[]);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(SgfilterError);
        expect((e as SgfilterError).code).toBe('FLOW_INVALID');
        expect((e as SgfilterError).issues.map((x) => x.path[0])).toEqual([bad]);
      }
    }
  });

  it('a Proxy list: each element read once, a throwing element named by its index, coded', async () => {
    const engine = await createEngine(CONFIG);
    const base: FlowInput[] = [
      { direction: 'inbound', protocol: 'TCP', remote: '10.0.0.1', port: 22 },
      { direction: 'outbound', protocol: 'TCP', remote: '8.8.8.8', port: 443 },
      { direction: 'inbound', protocol: 'UDP', remote: '8.8.8.8', port: 53 },
      { direction: 'outbound', protocol: 'TCP', remote: '8.8.8.8', port: 25 },
    ];
    const reads = new Map<string, number>();
    const list = new Proxy(base, {
      get(t, k, r) {
        if (typeof k === 'string' && /^\d+$/.test(k)) {
          reads.set(k, (reads.get(k) ?? 0) + 1);
          // a second read would see another direction and port
          if (reads.get(k)! > 1) return { direction: 'inbound', protocol: 'TCP', remote: '10.0.0.1', port: 22 };
        }
        return Reflect.get(t, k, r);
      },
    });
    const batch = createFlowBatch(list);
    engine.classifyBatch(batch);
    expect([...reads.values()]).toEqual([1, 1, 1, 1]);
    for (let i = 0; i < base.length; i++) expect(batch.verdict(i)).toEqual(referenceClassify(engine.config, base[i]!));
    const throwing = new Proxy(base, {
      get(t, k, r) {
        if (k === '2') throw new Error('boom');
        return Reflect.get(t, k, r);
      },
    });
    try {
      createFlowBatch(throwing);
      expect.unreachable();
    } catch (e) {
      expect((e as SgfilterError).code).toBe('FLOW_INVALID');
      expect((e as SgfilterError).issues.map((x) => x.path[0])).toEqual([2]);
    }
  });
});
