// Outside review (at11): parseClassBench's plain a.b.c.d/len fast path must read every
// spelling as parseCidr does (accept the same, refuse the same, same range).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseClassBench } from '../../src/index.js';
import { parseCidr, V4_MAX } from '../../src/config/address.js';

function viaClassBench(s: string): string {
  try {
    const c = parseClassBench(`@${s}\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x06/0xFF\n`);
    const p = c.securityGroups[0]!.inbound[0]!.peer;
    return `ok ${p.v4.map((r) => `${r.lo}-${r.hi}`).join(',')}|${p.v6.length}`;
  } catch (e) {
    return `refused ${(e as { code?: string }).code}`;
  }
}
function viaCidr(s: string): string {
  const c = parseCidr(s.includes('/') ? s : `${s}/32`);
  if (!c.ok) return 'refused CONFIG_INVALID';
  if (c.value.v6) return 'refused CONFIG_INVALID';
  const { lo, hi } = c.value.range;
  return `ok ${lo}-${hi}|0`;
}

const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('0', '00', '01', '000', '255', '256', '1e1', '0x1', ' 1', '1 ', '+1', '-0', '١', '٠'));
const len = fc.oneof(fc.integer({ min: -1, max: 40 }).map(String), fc.constantFrom('00', '08', '032', '32 ', '', '0x8', '1e1', '+8', '٨'));
const spelling = fc.tuple(octet, octet, octet, octet, len, fc.boolean()).map(([a, b, c, d, l, slash]) => `${a}.${b}.${c}.${d}${slash ? `/${l}` : ''}`)
  .filter((s) => !/\s/.test(s));

describe('review at11: ClassBench prefix fast path vs parseCidr', () => {
  it('every spelling reads the same', () => {
    fc.assert(fc.property(spelling, (s) => {
      const a = viaClassBench(s);
      const b = viaCidr(s);
      // Whole IPv4 (0.0.0.0/0) reads as any: both give [0, V4_MAX].
      const norm = (x: string) => x.replace(`ok 0-${V4_MAX}|0`, 'ok any');
      const anyA = a === 'ok |0' ? 'ok any' : norm(a);
      expect(anyA, s).toBe(norm(b));
    }), { numRuns: 20000, seed: 11 });
  });
  it('edge spellings', () => {
    for (const s of ['0.0.0.0/0', '255.255.255.255/32', '255.255.255.255/0', '1.2.3.4/31', '1.2.3.5/31', '128.0.0.0/1', '0.0.0.0/32', '10.0.0.0/8', '010.0.0.0/8', '10.0.0.0/08', '10.0.0.0', '1.2.3.4/33']) {
      const a = viaClassBench(s);
      const b = viaCidr(s);
      expect(a === 'ok |0' ? `ok 0-${V4_MAX}|0` : a, s).toBe(b);
    }
  });
});
