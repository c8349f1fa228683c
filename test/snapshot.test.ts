// Compiled-policy snapshots: same verdicts without compiling; bad snapshots refused whole.
import { describe, expect, it } from 'vitest';
import { createEngine, createFlowBatch, decodeSnapshot, parseConfig, type SgfilterError } from '../src/index.js';
import { mulberry32, randomConfig, randomFlows } from './random.js';
import type { FlowInput } from '../src/index.js';

describe('snapshots', () => {
  it('load into a new engine and classify exactly as the engine they came from', async () => {
    const r = mulberry32(42);
    for (let c = 0; c < 20; c++) {
      const config = parseConfig(randomConfig(r, 30));
      const source = await createEngine(config);
      const copy = await createEngine({ snapshot: source.snapshot() });
      const flows = randomFlows(r, config, 500);
      const a = createFlowBatch(flows);
      const b = createFlowBatch(flows);
      expect(copy.classifyBatch(b)).toEqual(source.classifyBatch(a));
      expect(flows.map((_, i) => b.verdict(i))).toEqual(flows.map((_, i) => a.verdict(i)));
      expect(copy.config).toEqual(source.config);
    }
  });

  it('hot-swap into a running engine (a new version), and refuse damaged snapshots without changing anything', async () => {
    const open = await createEngine({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'accept' }] }] });
    const closed = await createEngine({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: 'any', action: 'drop' }] }] });
    const ssh: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 22, remote: '198.51.100.7' };
    const snap = closed.snapshot();
    const refuse = async (bytes: Uint8Array, what: RegExp) => {
      const err = (await open.loadSnapshot(bytes).catch((e) => e)) as SgfilterError;
      expect(err.code).toBe('SNAPSHOT_INVALID');
      expect(err.message).toMatch(what);
      expect(open.version).toBe(1);
      expect(open.classify(ssh).action).toBe('accept');
    };
    await refuse(snap.slice(0, snap.length - 7), /truncated/);
    const flipped = snap.slice();
    flipped[snap.length - 40]! ^= 0x55;
    await refuse(flipped, /checksum/);
    const otherAbi = snap.slice();
    new DataView(otherAbi.buffer).setUint32(8, 9999, true);
    await refuse(otherAbi, /ABI 9999/);
    await refuse(new Uint8Array(10), /shorter/);
    expect(() => decodeSnapshot(new TextEncoder().encode('not a snapshot at all, clearly not'))).toThrow(/magic/);
    // A Node Buffer over a bigger pool (what readFileSync gives) loads too.
    const pooled = Buffer.concat([Buffer.alloc(13), Buffer.from(snap)]).subarray(13);
    expect(await open.loadSnapshot(pooled)).toBe(2);
    expect(open.classify(ssh)).toEqual({ action: 'drop', groupId: 'sg', ruleIndex: 0 });
    expect(open.version).toBe(2);
  });
});
