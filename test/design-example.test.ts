// The worked example of docs/DESIGN.md (two groups, one flow), checked end to end
// and down to the compiled table's bytes, read through assembly/layout.ts.
import { describe, expect, it } from 'vitest';
import * as L from '../assembly/layout.js';
import { compilePolicy, createEngine, parseConfig } from '../src/index.js';
import type { ConfigInput } from '../src/index.js';

const doc: ConfigInput = {
  securityGroups: [
    { id: 'sg-web', inbound: [
      { protocol: 'TCP', port: '80,443', source: '0.0.0.0/0', action: 'accept' },
      { protocol: 'TCP', port: 22, source: '203.0.113.0/24', action: 'accept' },
    ] },
    { id: 'sg-deny', inbound: [{ protocol: 'ALL', source: '203.0.113.7', action: 'drop' }] },
  ],
  instances: [{ id: 'web-1', securityGroups: ['sg-deny', 'sg-web'] }],
};

describe('docs/DESIGN.md worked example', () => {
  it('classifies the example flows as the document says', async () => {
    const engine = await createEngine(doc);
    const ssh = { direction: 'inbound', protocol: 'TCP', port: 22 } as const;
    expect(engine.classify({ ...ssh, remote: '203.0.113.9' })).toEqual({ action: 'accept', groupId: 'sg-web', ruleIndex: 1 });
    expect(engine.classify({ ...ssh, remote: '203.0.113.7' })).toEqual({ action: 'drop', groupId: 'sg-deny', ruleIndex: 0 });
    expect(engine.classify({ ...ssh, remote: '198.51.100.1' })).toEqual({ action: 'drop', groupId: null, ruleIndex: null });
  });

  it('compiles to the port intervals and bitmaps the document draws', () => {
    const { bytes, instances } = compilePolicy(parseConfig(doc));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const u32 = (at: number) => view.getUint32(at, true);
    // The instance's inbound chain has one link: the merged classifier of [sg-deny, sg-web].
    const chain = u32(u32(L.TABLE_CHAINS_AT) + 4 + 4 * instances.get('web-1')![0]);
    expect(u32(chain)).toBe(1);
    const cls = u32(u32(L.TABLE_DIRECTORY_AT) + 4 * u32(chain + 4));
    expect(u32(cls + L.CLS_BOXES_AT)).toBe(3); // b0 = sg-deny#0, b1 = sg-web#0, b2 = sg-web#1
    const mask = u32(cls + L.CLS_DIMMASK_AT);
    expect(mask).toBe((1 << L.DIM_REMOTE) | (1 << L.DIM_PROTO) | (1 << L.DIM_PORT));
    const port = cls + L.CLS_DIMS_AT + L.DIM_PORT * L.DIM_SIZE;
    const count = u32(port + L.DIM_COUNT_AT);
    const bounds = Array.from({ length: count }, (_, i) => u32(u32(port + L.DIM_BOUNDS_AT) + 4 * i));
    // The port index is small, so it is a bounds array; a 3-box classifier is dense:
    // each class's whole bitmap sits at packed + class × words × 8 (see layout.ts).
    expect(u32(port + L.DIM_KIND_AT)).toBe(L.DIM_KIND_INTERVAL);
    expect(u32(cls + L.CLS_DENSE_AT)).toBe(1);
    const bitmapOf = (i: number) => {
      const c = u32(u32(port + L.DIM_CLASSOF_AT) + 4 * i);
      return u32(u32(port + L.DIM_BITMAPS_AT) + c * 8 * u32(cls + L.CLS_WORDS_AT));
    };
    expect(bounds).toEqual([0, 22, 23, 80, 81, 443, 444]);
    expect(bounds.map((_, i) => bitmapOf(i))).toEqual([0b001, 0b101, 0b001, 0b011, 0b001, 0b011, 0b001]);
  });
});
