// Review at11g: createFlowBatchFromBytes goes through grouped() (its order argument
// changed in cab5079): mixed directions and families against referenceClassify.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEngine, createFlowBatchFromBytes, referenceClassify, type ConfigInput, type FlowInput } from '../../src/index.js';

const CONFIG: ConfigInput = {
  securityGroups: [
    {
      id: 'sg-a',
      inbound: [
        { protocol: 'TCP', port: '22', source: '10.0.0.0/8', action: 'accept' },
        { protocol: 'TCP', port: '80', source: '2001:db8::/32', action: 'accept' },
      ],
      outbound: [
        { protocol: 'TCP', port: '443', destination: '0.0.0.0/0', action: 'accept' },
        { protocol: 'TCP', port: 'ALL', destination: '::/0', action: 'accept', sourcePort: '5000-6000' },
      ],
    },
  ],
  instances: [{ id: 'i-a', securityGroups: ['sg-a'] }, { id: 'i-b', securityGroups: [] }],
};

const ADDRS: [number[], string][] = [
  [[10, 1, 2, 3], '10.1.2.3'],
  [[8, 8, 8, 8], '8.8.8.8'],
  [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1], '::ffff:10.0.0.1'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1], '::a00:1'],
];

describe('review at11g: createFlowBatchFromBytes against referenceClassify', () => {
  it('mixed directions and families, one instance', async () => {
    const engine = await createEngine(CONFIG);
    fc.assert(
      fc.property(
        fc.array(fc.record({ a: fc.integer({ min: 0, max: ADDRS.length - 1 }), out: fc.boolean(), port: fc.constantFrom(22, 80, 443, 8080), sp: fc.integer({ min: 4990, max: 6010 }) }), { minLength: 1, maxLength: 50 }),
        fc.constantFrom(undefined, 'i-a', 'i-b'),
        (rows, instance) => {
          const n = rows.length;
          const bytes: number[] = [];
          const remoteOffset = new Uint32Array(n);
          const remoteLength = new Uint8Array(n);
          const direction = new Uint8Array(n);
          const port = new Uint16Array(n);
          const sourcePort = new Uint16Array(n);
          rows.forEach((r, i) => {
            remoteOffset[i] = bytes.length;
            remoteLength[i] = ADDRS[r.a]![0].length;
            bytes.push(...ADDRS[r.a]![0]);
            direction[i] = r.out ? 1 : 0;
            port[i] = r.port;
            sourcePort[i] = r.sp;
          });
          const input = { bytes: new Uint8Array(bytes), remoteOffset, remoteLength, protocol: new Uint8Array(n).fill(6), port, sourcePort, direction, ...(instance ? { instance } : {}) };
          const batch = createFlowBatchFromBytes(input);
          engine.classifyBatch(batch);
          rows.forEach((r, i) => {
            const flow: FlowInput = { direction: r.out ? 'outbound' : 'inbound', protocol: 'TCP', remote: ADDRS[r.a]![1], port: r.port, sourcePort: r.sp, ...(instance ? { instance } : {}) };
            expect({ i, v: batch.verdict(i) }).toEqual({ i, v: referenceClassify(engine.config, flow) });
          });
        },
      ),
      { seed: 1108, numRuns: 200 },
    );
  });
});
