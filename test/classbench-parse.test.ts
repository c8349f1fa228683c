/**
 * parseClassBench reads the plain spelling of a prefix (`a.b.c.d/len`, decimal octets
 * without leading zeros, no host bits) itself and hands every other spelling to
 * parseCidr, and it shares one frozen object among the filters that write the same
 * prefix or port range. These properties hold it to the general path: every spelling
 * (leading zeros, octets past 255, lengths past 32 or written with a zero, host bits
 * set, no length) gives the range parseCidr gives, or the same refusal; and the Config
 * stays owned: frozen all the way down, shared values included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy, parseClassBench, SgfilterError } from '../src/index.js';
import { parseCidr, V4_MAX } from '../src/config/address.js';
import { referenceClassify } from '../src/reference.js';
import { fuzzParams } from './fuzz/settings.js';

const octet = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map(String),
  fc.integer({ min: 0, max: 255 }).map((n) => `0${n}`), // leading zero
  fc.integer({ min: 256, max: 999 }).map(String),
  fc.constantFrom('00', '255', '0', '1'),
);
const length = fc.oneof(fc.integer({ min: 0, max: 32 }).map(String), fc.constantFrom('08', '33', '032', '00', ''));
/** A prefix as a filter set may write it: mostly networks, some with host bits or odd spellings. */
const spelling = fc.oneof(
  // A network in the plain spelling (host bits cleared), the common case.
  fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([a, len]) => {
    const net = len === 0 ? 0 : (a & (0xffffffff << (32 - len))) >>> 0;
    return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${len}`;
  }),
  fc.tuple(octet, octet, octet, octet, length).map(([a, b, c, d, len]) => `${a}.${b}.${c}.${d}${len === '' ? '' : `/${len}`}`),
);

/** What parseCidr makes of `s` as parseClassBench passes it: the range, null for everything, or undefined (refused). */
function general(s: string): { lo: bigint; hi: bigint } | null | undefined {
  const c = parseCidr(s.includes('/') ? s : `${s}/32`);
  if (!c.ok || c.value.v6) return undefined;
  return c.value.range.lo === 0n && c.value.range.hi === V4_MAX ? null : c.value.range;
}

function deepFrozen(o: unknown, seen = new Set<unknown>()): boolean {
  if (typeof o !== 'object' || o === null || seen.has(o)) return true;
  seen.add(o);
  return Object.isFrozen(o) && Object.values(o).every((v) => deepFrozen(v, seen));
}

describe('parseClassBench reads prefixes as parseCidr does', () => {
  it('every spelling: the same range, or a refusal naming the line', () => {
    fc.assert(
      fc.property(spelling, spelling, (src, dst) => {
        const text = `@${src}\t${dst}\t0 : 65535\t80 : 80\t0x06/0xFF\n`;
        const want = [general(src), general(dst)];
        if (want.includes(undefined)) {
          expect(() => parseClassBench(text)).toThrow(SgfilterError);
          try {
            parseClassBench(text);
          } catch (e) {
            expect((e as SgfilterError).code).toBe('CONFIG_INVALID');
            expect((e as SgfilterError).message).toContain('line 1: bad IPv4 prefix');
          }
          return;
        }
        const rule = parseClassBench(text).securityGroups[0]!.inbound[0]!;
        const peer = want[0] === null ? { lo: 0n, hi: V4_MAX } : want[0]!;
        expect(rule.peer.v4.map((r) => [r.lo, r.hi])).toEqual([[peer.lo, peer.hi]]);
        expect(rule.peer.v6).toEqual([]);
        expect(rule.local === null ? null : rule.local.v4.map((r) => [r.lo, r.hi])).toEqual(want[1] === null ? null : [[want[1]!.lo, want[1]!.hi]]);
      }),
      fuzzParams('classbench parse: prefix spellings', 500),
    );
  });

  it('rules that repeat a prefix or port range share it, frozen, and still classify as written', () => {
    const text = [
      '@10.0.0.0/8\t192.168.1.0/24\t0 : 65535\t80 : 80\t0x06/0xFF',
      '@10.0.0.0/8\t192.168.1.0/24\t1024 : 65535\t80 : 80\t0x11/0xFF',
      '@0.0.0.0/0\t192.168.1.7/32\t1024 : 65535\t443 : 443\t0x00/0x00',
      '@0.0.0.0/0\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x00/0x00',
    ].join('\n');
    const config = parseClassBench(text);
    const [a, b, c, d] = config.securityGroups[0]!.inbound;
    expect(a!.peer).toBe(b!.peer);
    expect(a!.local).toBe(b!.local);
    expect(a!.ports).toBe(b!.ports);
    expect(b!.sourcePorts).toBe(c!.sourcePorts);
    expect(c!.peer).toBe(d!.peer); // 0.0.0.0/0: one shared "every IPv4 address"
    expect(d!.local).toBeNull();
    expect(deepFrozen(config)).toBe(true);
    expect(() => {
      'use strict';
      (a!.peer.v4 as { lo: bigint }[])[0]!.lo = 0n;
    }).toThrow(TypeError);
    // The shared values mean what each rule wrote.
    compilePolicy(config);
    const flow = (remote: string, local: string, protocol: number, sourcePort: number, port: number) => ({ direction: 'inbound' as const, remote, local, protocol, sourcePort, port });
    expect(referenceClassify(config, flow('10.1.2.3', '192.168.1.9', 17, 2000, 80)).ruleIndex).toBe(1);
    expect(referenceClassify(config, flow('11.1.2.3', '192.168.1.7', 6, 2000, 443)).ruleIndex).toBe(2);
    expect(referenceClassify(config, flow('11.1.2.3', '192.168.1.8', 6, 2000, 443)).ruleIndex).toBe(3);
  });
});
