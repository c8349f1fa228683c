// Outside review (at11): targeted damage to FLAT records (table format 11) of an
// unkeyed snapshot. Each structural lie must be refused (SNAPSHOT_INVALID) before WASM
// reads it; what the loader cannot see (which boxes a class holds) is the documented
// limit of unkeyed snapshots.
import { describe, expect, it } from 'vitest';
import { createEngine, parseConfig, SgfilterError } from '../../src/index.js';
import * as L from '../../assembly/layout.js';
import { join, split } from '../snapshot-mutate.js';

function policy(n: number) {
  const inbound = Array.from({ length: n }, (_, k) => ({ action: k % 2 ? 'accept' : 'drop', protocol: 'tcp', port: String(1 + (k % 60000)), source: `10.${(k >> 8) & 255}.${k & 255}.0/24` }));
  return { securityGroups: [{ id: 'sg', inbound, outbound: [] }], instances: [{ id: 'i', securityGroups: ['sg'] }] };
}

/** The first flat classifier's first consulted dimension: [dim offset, classes, records offset]. */
function flatDim(table: Uint8Array): { dim: number; classes: number; records: number; words: number } {
  const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const n = v.getUint32(L.TABLE_CLASSIFIERS_AT, true);
  const dir = v.getUint32(L.TABLE_DIRECTORY_AT, true);
  for (let i = 0; i < n; i++) {
    const cls = v.getUint32(dir + 4 * i, true);
    if (v.getUint32(cls + L.CLS_DENSE_AT, true) !== L.CLS_FORM_FLAT) continue;
    const mask = v.getUint32(cls + L.CLS_DIMMASK_AT, true);
    for (let d = 0; d < L.DIM_COUNT; d++) {
      if (!((mask >>> d) & 1)) continue;
      const dim = cls + L.CLS_DIMS_AT + d * L.DIM_SIZE;
      return { dim, classes: v.getUint32(dim + L.DIM_CLASSES_AT, true), records: v.getUint32(dim + L.DIM_SUPERS_AT, true), words: v.getUint32(cls + L.CLS_WORDS_AT, true) };
    }
  }
  throw new Error('no flat classifier');
}

describe('review at11: crafted FLAT records', async () => {
  const config = parseConfig(policy(3000));
  const engine = await createEngine(config);
  const snap = engine.snapshot();
  const p = split(snap)!;
  const f = flatDim(p.table);

  const damaged = (edit: (v: DataView) => void) => {
    const table = p.table.slice();
    edit(new DataView(table.buffer));
    return join({ ...p, table });
  };
  const refused = async (bytes: Uint8Array) => {
    try {
      await createEngine({ snapshot: bytes });
      return 'loaded';
    } catch (e) {
      return e instanceof SgfilterError ? e.code : `uncoded ${String(e)}`;
    }
  };
  const rec = (c: number) => f.records + c * L.FLAT_SIZE;

  it('the sample has a flat classifier with more than one summary word', () => {
    expect(f.words).toBeGreaterThan(32);
    expect(f.words).toBeLessThanOrEqual(L.FLAT_MAX_WORDS);
  });
  it('a super bit past the summary words is refused', async () => {
    const s = Math.ceil(f.words / 64);
    expect(await refused(damaged((v) => v.setUint32(rec(0), v.getUint32(rec(0), true) | (1 << s), true)))).toBe('SNAPSHOT_INVALID');
    expect(await refused(damaged((v) => v.setUint32(rec(0) + 4, 1, true)))).toBe('SNAPSHOT_INVALID');
  });
  it('a rank moved by one, a summary with no super bit, a non-zero tail, are refused', async () => {
    const c = Array.from({ length: f.classes }, (_, k) => k).find((k) => new DataView(p.table.buffer).getUint32(rec(k), true) & 1)!;
    expect(await refused(damaged((v) => v.setUint32(rec(c) + L.FLAT_RANKS_AT, v.getUint32(rec(c) + L.FLAT_RANKS_AT, true) + 1, true)))).toBe('SNAPSHOT_INVALID');
    expect(await refused(damaged((v) => v.setUint32(rec(c) + L.FLAT_RANKS_AT, 0xffffffff, true)))).toBe('SNAPSHOT_INVALID');
    expect(await refused(damaged((v) => v.setUint32(rec(c), v.getUint32(rec(c), true) & ~1, true)))).toBe('SNAPSHOT_INVALID');
    expect(await refused(damaged((v) => v.setUint32(rec(c) + 56, 1, true)))).toBe('SNAPSHOT_INVALID');
    // One more summary bit without one more stored word: the ranks after it no longer add up.
    expect(await refused(damaged((v) => v.setUint32(rec(c) + L.FLAT_SUMMARIES_AT, v.getUint32(rec(c) + L.FLAT_SUMMARIES_AT, true) ^ 0x80000000, true)))).toBe('SNAPSHOT_INVALID');
  });
  it('records not 64-byte aligned, or overlapping the packed words, are refused', async () => {
    expect(await refused(damaged((v) => v.setUint32(f.dim + L.DIM_SUPERS_AT, f.records + 8, true)))).toBe('SNAPSHOT_INVALID');
    expect(await refused(damaged((v) => v.setUint32(f.dim + L.DIM_SUPERS_AT, f.records + 64, true)))).toBe('SNAPSHOT_INVALID');
    expect(await refused(damaged((v) => v.setUint32(f.dim + L.DIM_SUMS_AT, 16, true)))).toBe('SNAPSHOT_INVALID');
    expect(await refused(damaged((v) => v.setUint32(f.dim + L.DIM_CLASSES_AT, f.classes + 1, true)))).toBe('SNAPSHOT_INVALID');
  });
  it('a flat classifier relabelled aggregated or dense is refused', async () => {
    const dv = new DataView(p.table.buffer);
    for (const form of [L.CLS_FORM_AGGREGATED, L.CLS_FORM_DENSE, 3]) {
      // The classifier record is CLS_DIMS_AT + d*DIM_SIZE before the dim; try each d.
      let any = false;
      for (let d = 0; d < L.DIM_COUNT; d++) {
        const at = f.dim - L.CLS_DIMS_AT - d * L.DIM_SIZE;
        if (at < 0 || dv.getUint32(at + L.CLS_DENSE_AT, true) !== L.CLS_FORM_FLAT || dv.getUint32(at + L.CLS_WORDS_AT, true) !== f.words) continue;
        any = true;
        expect(await refused(damaged((v) => v.setUint32(at + L.CLS_DENSE_AT, form, true)))).toBe('SNAPSHOT_INVALID');
      }
      expect(any).toBe(true);
    }
  });
});
