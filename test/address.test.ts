// The address reader against Node itself (SPEC §1): every string is read as Node's
// `net` reads it, or refused. Generated addresses in every spelling Node prints or
// accepts; validity compared with net.isIP, meaning with the WHATWG URL parser (hex
// canonical form), net.BlockList (which reads IPv4-mapped addresses as IPv4, as
// SPEC §1 does) and net.SocketAddress (inet_ntop's own spelling, e.g. ::1.2.3.4).
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { fc } from '@fast-check/vitest';
import {
  addressProblem, EMBEDDED_QUAD, formatWords, IPV4, IPV6, parseCidr, parsePeer, readAddress, SURROUNDING_SPACE, ZONE_ID,
} from '../src/config/address.js';
import { flowAddress } from '../src/node/stats.js';
import {
  addressArb, addressLikeArb, groupsFromWhatwg, ipv4Arb, ipv6Arb, isMapped, lowWord, mutatedArb, quadOf, spaceArb,
  trueIpv6Arb, wordsOf, zoneArb, type SpelledAddress,
} from './address-arbitraries.js';
import { fuzzParams } from './fuzz/settings.js';

const OUT = new Uint32Array(4);
const read = (s: string): { family: number; words: number[] } => {
  OUT.fill(0xdeadbeef);
  const family = readAddress(s, OUT, 0);
  return { family, words: [...OUT] };
};
/** What our reader should give for a generated address. */
const expected = (a: SpelledAddress) => (a.v4 ? { family: IPV4, words: [lowWord(a.groups), 0, 0, 0] } : { family: IPV6, words: wordsOf(a.groups) });

/** Node accepts it and it has no zone id: our reader must accept it. */
const nodeAccepts = (s: string) => net.isIP(s) !== 0 && !s.includes('%');

// One BlockList holding all of IPv4: check(s, 'ipv6') is true exactly for IPv4-mapped text.
const allV4 = new net.BlockList();
allV4.addSubnet('0.0.0.0', 0, 'ipv4');

describe('the address reader against Node', () => {
  it('reads every generated spelling as the bits it was written from, and Node agrees', () => {
    fc.assert(
      fc.property(addressArb, (a) => {
        expect(net.isIP(a.text), a.text).toBe(a.writtenV6 ? 6 : 4);
        expect(read(a.text), a.text).toEqual(expected(a));
        if (a.writtenV6) {
          // Node's WHATWG URL parser: the same 128 bits.
          expect(groupsFromWhatwg(new URL(`http://[${a.text}]`).hostname), a.text).toEqual(a.groups);
          // Node's BlockList: IPv4 meaning exactly for the mapped block.
          expect(allV4.check(a.text, 'ipv6'), a.text).toBe(a.v4);
        }
      }),
      fuzzParams('address: every spelling reads as its bits', 4000),
    );
  });

  it('reads what Node prints (inet_ntop, e.g. ::1.2.3.4 for ::/96) with the meaning it printed', () => {
    fc.assert(
      fc.property(ipv6Arb, (a) => {
        const printed = new net.SocketAddress({ address: a.text, family: 'ipv6' }).address;
        expect(net.isIPv6(printed)).toBe(true);
        expect(read(printed), `${a.text} printed as ${printed}`).toEqual(expected(a));
      }),
      fuzzParams('address: what Node prints', 2000),
    );
  });

  it('accepts exactly the strings net.isIP accepts, except zone ids (random strings of address characters)', () => {
    fc.assert(
      fc.property(fc.oneof(addressLikeArb, mutatedArb), (s) => {
        const r = read(s);
        expect(r.family > 0, JSON.stringify(s)).toBe(nodeAccepts(s));
        if (r.family > 0) {
          // The meaning, where Node accepts: the same bits (WHATWG for IPv6 text).
          if (net.isIPv6(s)) {
            const g = groupsFromWhatwg(new URL(`http://[${s}]`).hostname);
            expect(r, s).toEqual(isMapped(g) ? { family: IPV4, words: [lowWord(g), 0, 0, 0] } : { family: IPV6, words: wordsOf(g) });
          } else expect(quadOf(r.words[0]!)).toBe(s);
        } else {
          expect(r.words, 'a refusal leaves the output as it was').toEqual([0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef]);
        }
      }),
      fuzzParams('address: random strings vs net.isIP', 20000),
    );
  });

  it('refuses zone ids with a message that says "zone id", never "dotted quad"', () => {
    fc.assert(
      fc.property(addressArb.filter((a) => a.writtenV6), zoneArb, (a, zone) => {
        const s = `${a.text}%${zone}`;
        expect(net.isIP(s), s).toBe(6); // Node accepts it...
        const r = readAddress(s, OUT, 0);
        expect(r, s).toBe(ZONE_ID); // ...we refuse the zone: an interface is not an address
        const message = addressProblem(s, r);
        expect(message).toContain('zone id');
        expect(message).not.toContain('dotted quad');
      }),
      fuzzParams('address: zone ids', 2000),
    );
  });

  it('refuses spaces around an address, as Node does, and says so', () => {
    fc.assert(
      fc.property(addressArb, spaceArb, fc.boolean(), (a, sp, before) => {
        const s = before ? sp + a.text : a.text + sp;
        expect(net.isIP(s)).toBe(0);
        expect(readAddress(s, OUT, 0)).toBe(SURROUNDING_SPACE);
        expect(addressProblem(s, SURROUNDING_SPACE)).toContain('spaces');
      }),
      fuzzParams('address: surrounding spaces', 1000),
    );
  });

  it('refuses a dotted quad with leading zeros, in IPv4 and embedded in IPv6', () => {
    fc.assert(
      fc.property(addressArb, fc.integer({ min: 0, max: 3 }), (a, k) => {
        const m = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a.text);
        fc.pre(m !== null);
        const parts = m!.slice(1);
        parts[k] = `0${parts[k]}`;
        const s = a.text.slice(0, m!.index) + parts.join('.');
        expect(net.isIP(s), s).toBe(0);
        const r = readAddress(s, OUT, 0);
        expect(r < 0, s).toBe(true);
        if (a.writtenV6) expect(r).toBe(EMBEDDED_QUAD);
      }),
      fuzzParams('address: leading zeros in a quad', 1000),
    );
  });

  it('writes every address in a canonical form that reads back to the same meaning', () => {
    fc.assert(
      fc.property(addressArb, (a) => {
        const r = read(a.text);
        const text = formatWords(r.family === IPV6, r.words[0]!, r.words[1]!, r.words[2]!, r.words[3]!);
        expect(net.isIP(text)).toBe(r.family);
        expect(read(text)).toEqual(r);
        if (r.family === IPV6) expect(text).not.toContain('.'); // ::102:304, never ::1.2.3.4
      }),
      fuzzParams('address: canonical form round trip', 2000),
    );
  });
});

describe('flowAddress (the guards: an address as Node reports it)', () => {
  it('gives the canonical text of what the address means, for every spelling, with or without brackets and zone', () => {
    fc.assert(
      fc.property(addressArb, fc.option(zoneArb), fc.boolean(), (a, zone, brackets) => {
        let s = a.text;
        if (zone !== null && a.writtenV6) s += `%${zone}`;
        if (brackets && a.writtenV6) s = `[${s}]`;
        const f = flowAddress(s);
        expect(read(f), s).toEqual(expected(a));
        expect(flowAddress(f)).toBe(f); // a fixed point
        expect(net.isIP(f)).toBe(a.v4 ? 4 : 6);
      }),
      fuzzParams('address: canonical text of every spelling', 2000),
    );
  });

  it('text without a colon, zone or bracket is answered without a parse, as the full reading answers it', () => {
    // The full reading (before the shortcut): brackets and zone removed, read, canonical text.
    const full = (address: string): string => {
      let a = address;
      if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
      const zone = a.indexOf('%');
      if (zone !== -1) a = a.slice(0, zone);
      const w = new Uint32Array(4);
      const family = readAddress(a, w, 0);
      if (family < 0) return a;
      return formatWords(family === IPV6, w[0]!, w[1]!, w[2]!, w[3]!);
    };
    const chars = fc.constantFrom(...'0123456789.:%[]abcdefx '.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: chars, maxLength: 20 }), addressArb.map((a) => a.text)), (s) => {
        expect(flowAddress(s), s).toBe(full(s));
      }),
      fuzzParams('address: flowAddress shortcut', 3000),
    );
  });

  it('reads dns.lookup-style answers and socket addresses printed by Node the same way', () => {
    fc.assert(
      fc.property(ipv6Arb, (a) => {
        const printed = new net.SocketAddress({ address: a.text, family: 'ipv6' }).address;
        expect(read(flowAddress(printed))).toEqual(expected(a));
      }),
      fuzzParams('address: dns.lookup answers and socket addresses', 1000),
    );
  });
});

describe('config addresses read by the same reader', () => {
  it('a peer written as any spelling of an address is that address, in its family', () => {
    fc.assert(
      fc.property(addressArb, (a) => {
        const p = parsePeer(a.text);
        expect(p.ok, a.text).toBe(true);
        if (!p.ok) return;
        const e = expected(a);
        const bits = e.family === IPV4 ? BigInt(e.words[0]!) : e.words.reduce((acc, w) => (acc << 32n) | BigInt(w), 0n);
        expect(p.value, a.text).toEqual(e.family === IPV4 ? { v4: [{ lo: bits, hi: bits }], v6: [] } : { v4: [], v6: [{ lo: bits, hi: bits }] });
      }),
      fuzzParams('address: a peer in any spelling', 2000),
    );
  });

  it('an IPv4-compatible CIDR (::a.b.c.d/len, e.g. ::0.0.0.0/96) is IPv6, never IPv4', () => {
    fc.assert(
      fc.property(ipv6Arb.filter((a) => a.groups.slice(0, 6).every((g) => g === 0)), fc.integer({ min: 96, max: 128 }), (a, len) => {
        const host = 128 - len;
        const w = lowWord(a.groups);
        const net32 = host >= 32 ? 0 : Number((BigInt(w) >> BigInt(host)) << BigInt(host));
        const g = [0, 0, 0, 0, 0, 0, net32 >>> 16, net32 & 0xffff];
        const text = `::${quadOf(net32)}/${len}`;
        const c = parseCidr(text);
        expect(c.ok, text).toBe(true);
        if (c.ok) {
          expect(c.value.v6, text).toBe(true);
          expect(c.value.range.lo).toBe(BigInt(lowWord(g)));
        }
      }),
      fuzzParams('address: IPv4-compatible CIDRs', 1000),
    );
  });

  it('a mapped CIDR keeps its meaning: ::ffff:a.b.c.d/len with len ≥ 96 is the IPv4 prefix len - 96', () => {
    fc.assert(
      fc.property(ipv4Arb, fc.integer({ min: 96, max: 128 }), fc.boolean(), (a, len, hexForm) => {
        const v = lowWord(a.groups);
        const host = 128 - len;
        const base = host >= 32 ? 0 : Number((BigInt(v) >> BigInt(host)) << BigInt(host));
        const addr = hexForm ? `::ffff:${(base >>> 16).toString(16)}:${(base & 0xffff).toString(16)}` : `::ffff:${quadOf(base)}`;
        const c = parseCidr(`${addr}/${len}`);
        expect(c.ok).toBe(true);
        if (c.ok) {
          expect(c.value.v6).toBe(false);
          expect(c.value.range.lo).toBe(BigInt(base));
          expect(c.value.range.hi).toBe(BigInt(base) + (1n << BigInt(Math.min(32, host))) - 1n);
        }
      }),
      fuzzParams('address: mapped CIDRs', 1000),
    );
  });

  it('a range is read by meaning at both ends, whatever the spelling', () => {
    fc.assert(
      fc.property(trueIpv6Arb, (a) => {
        const p = parsePeer(`${a.text}-${a.text}`);
        expect(p.ok).toBe(true);
        if (p.ok) expect(p.value.v4).toEqual([]);
      }),
      fuzzParams('address: ranges by meaning', 500),
    );
  });

  it('a zone id in a config says "zone id"', () => {
    const p = parsePeer('fe80::1%eth0/128');
    expect(p.ok).toBe(false);
    if (!p.ok) {
      expect(p.message).toContain('zone id');
      expect(p.message).not.toContain('dotted quad');
    }
  });
});

describe('addressSetText (rule hits, explain)', () => {
  it('writes prefixes as CIDRs and other ranges as lo-hi, IPv4 first; each reads back to the same range', async () => {
    const { addressSetText, parseCidr } = await import('../src/config/address.js');
    const r = (lo: bigint, hi: bigint) => ({ lo, hi });
    expect(addressSetText({ v4: [r(0x0a000000n, 0x0affffffn), r(0xc0a80001n, 0xc0a80001n), r(1n, 2n)], v6: [r(1n, 1n), r(0n, (1n << 128n) - 1n)] }))
      .toBe('10.0.0.0/8,192.168.0.1/32,0.0.0.1-0.0.0.2,::1/128,::/0');
    for (const text of ['10.1.2.0/23', '0.0.0.0/0', '2001:db8::/32', '::ffff:0:0/96']) {
      const c = parseCidr(text);
      if (!c.ok) throw new Error(c.message);
      const set = c.value.v6 ? { v4: [], v6: [c.value.range] } : { v4: [c.value.range], v6: [] };
      const back = parseCidr(addressSetText(set));
      expect(back.ok && back.value.range).toEqual(c.value.range);
    }
  });
});
