/**
 * fast-check arbitraries for packet sequences: a small world of the instance's own
 * addresses, peers and ports (so replies, quotes and fragments meet their
 * connections often), policies over the same pools, and packets of every kind —
 * handshakes, data, FINs and RSTs, UDP both ways, ICMP echo and informational types,
 * ICMP errors quoting earlier packets or made-up ones, fragments in and out of order,
 * IPv4 options and IPv6 extension headers, every link layer, and corruption (cut or
 * flipped bytes anywhere) — with times that step on and over every timeout.
 */
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import type { ConfigInput, ProtocolInput, RuleInput } from '../src/index.js';
import type { OwnRange } from './packet-model.js';
import {
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, LINK, TCP_FLAGS as F, ethernet, icmp, ipv4, ipv6, nullLoopback, sll, sll2, tcp, udp, type Ext,
} from './packet-craft.js';

export const OWN4 = ['10.0.0.5', '10.0.0.6'];
/** Given to the tracker as `local` (not in the config). */
export const LOCAL_OPTION = ['10.0.1.0/28', '2001:db8:1::/64'];
export const OWN6 = ['2001:db8::5'];
export const HOSTS4 = ['10.0.0.5', '10.0.0.6', '10.0.1.3', '203.0.113.9', '198.51.100.7', '10.0.0.99'];
export const HOSTS6 = ['2001:db8::5', '2001:db8:1::3', '2001:db8:ffff::9', '2001:db8::99'];
const ROUTERS4 = ['192.0.2.1', '203.0.113.9'];
const ROUTERS6 = ['2001:db8:ffff::1', '2001:db8:ffff::9'];
const PORTS = [22, 53, 80, 4000, 5000];

function range(text: string): OwnRange {
  if (text.includes('/')) {
    const [a, len] = ipaddr.parseCIDR(text);
    const bits = a.kind() === 'ipv6' ? 128 : 32;
    const lo = BigInt(`0x${Buffer.from(a.toByteArray()).toString('hex')}`);
    const host = (1n << BigInt(bits - len)) - 1n;
    return { v6: bits === 128, lo: lo & ~host, hi: lo | host };
  }
  const a = ipaddr.parse(text);
  const v = BigInt(`0x${Buffer.from(a.toByteArray()).toString('hex')}`);
  return { v6: a.kind() === 'ipv6', lo: v, hi: v };
}

/** The instance's own ranges: its config addresses plus the tracker's `local` option. */
export function ownRanges(configAddresses: readonly string[]): OwnRange[] {
  return [...configAddresses, ...LOCAL_OPTION].map(range);
}

/** `arb` once in `outOf` draws, undefined otherwise (fc.option's freq is the other way round). */
const sometimes = <T>(arb: fc.Arbitrary<T>, outOf: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: outOf - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const sometimesNull = <T>(arb: fc.Arbitrary<T>, outOf: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: outOf - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

// ---------- Policies ----------

const PEERS = ['0.0.0.0/0', '::/0', 'any', '203.0.113.0/24', '198.51.100.7', '10.0.0.0/8', '2001:db8:ffff::/48', '2001:db8::/32'];

const ruleArb = (dir: 'inbound' | 'outbound'): fc.Arbitrary<RuleInput> =>
  fc.record({
    protocol: fc.constantFrom<ProtocolInput>('TCP', 'UDP', 'ICMP', 'ICMPv6', 'ALL', 'GRE', 50),
    port: fc.option(fc.constantFrom(...PORTS.map(String), '0-4000', 'ALL'), { nil: undefined, freq: 3 }), // absent 1 in 3
    peer: fc.constantFrom(...PEERS),
    action: fc.constantFrom('accept', 'accept', 'drop'),
    icmpType: sometimes(fc.constantFrom(0, 8, 3, 128, 129, 1), 4),
    localCidr: sometimes(fc.constantFrom('10.0.0.5', '10.0.1.0/28', '2001:db8::/64'), 6),
  }).map((r) => {
    const out: RuleInput = { protocol: r.protocol, action: r.action, [dir === 'inbound' ? 'source' : 'destination']: r.peer };
    const ports = r.protocol === 'TCP' || r.protocol === 'UDP';
    if (ports && r.port !== undefined) out.port = r.port;
    if ((r.protocol === 'ICMP' || r.protocol === 'ICMPv6') && r.icmpType !== undefined) out.icmpType = r.icmpType;
    if (r.localCidr !== undefined) out.localCidr = r.localCidr;
    return out;
  });

export const policyArb: fc.Arbitrary<{ config: ConfigInput; addresses: string[] }> = fc
  .record({
    groups: fc.array(fc.record({ inbound: fc.array(ruleArb('inbound'), { maxLength: 4 }), outbound: fc.array(ruleArb('outbound'), { maxLength: 4 }), template: fc.constantFrom('custom', 'open-all') }), { minLength: 1, maxLength: 2 }),
    addresses: fc.oneof(fc.constant([...OWN4, ...OWN6]), fc.subarray([...OWN4, ...OWN6], { minLength: 1 })).map((a) => [...a]),
  })
  .map(({ groups, addresses }) => ({
    addresses,
    config: {
      securityGroups: groups.map((g, k) => ({ id: `sg${k}`, template: g.template, inbound: g.inbound, outbound: g.outbound })),
      instances: [{ id: 'i1', securityGroups: groups.map((_, k) => `sg${k}`), addresses }],
    } as ConfigInput,
  }));

// ---------- Packets ----------

type L4 =
  | { kind: 'tcp'; sport: number; dport: number; flags: number }
  | { kind: 'udp'; sport: number; dport: number }
  | { kind: 'echo'; request: boolean; id: number }
  | { kind: 'icmp'; type: number }
  | { kind: 'error'; type: number; code: number; quoteOf: number | null; inner: InnerSpec; fromRouter: number | null; /** send it to another host than the quoted sender */ bogusDst?: number | null }
  | { kind: 'proto'; proto: number };

interface InnerSpec {
  src: number;
  dst: number;
  l4: { kind: 'tcp' | 'udp'; sport: number; dport: number } | { kind: 'echo'; id: number };
  extraBytes: number;
}

export interface PacketSpec {
  v6: boolean;
  src: number;
  dst: number;
  l4: L4;
  /**
   * Take the addresses and ports (or echo identifier) of an earlier packet of the
   * family, as they were or reversed (a reply); TCP flags then follow the handshake
   * (SYN → SYN+ACK → ACK) unless `keepFlags`.
   */
  follow: null | { of: number; reverse: boolean; keepFlags: boolean; /** only the addresses: keep this spec's upper layer */ addressesOnly?: boolean };
  /** IPv4 options bytes / IPv6 extension headers before the upper layer. */
  options: number;
  ext: (0 | 43 | 60 | 51)[];
  /** Fragmented datagram: which parts to send, in what order. */
  frag: null | { id: number; parts: ('first' | 'later' | 'tiny')[] };
  link: { type: 'raw' | 'ip' | 'eth' | 'sll' | 'sll2' | 'null' | 'arp' | 'unknown'; vlans: (0x8100 | 0x88a8)[]; bigEndian: boolean; family: number };
  corrupt: null | { kind: 'cut'; at: number } | { kind: 'flip'; at: number; value: number };
  /** A header field that lies (a length, a header length, the version). */
  lie: null | { field: 'udpLength' | 'tcpDoff' | 'ihl' | 'ipLength' | 'version'; value: number };
  dt: number;
}

const tcpFlags = fc.constantFrom(F.SYN, F.SYN | F.ACK, F.ACK, F.ACK | F.PSH, F.FIN | F.ACK, F.RST, F.RST | F.ACK, F.SYN | F.FIN, F.FIN);

const innerArb: fc.Arbitrary<InnerSpec> = fc.record({
  src: fc.nat(5),
  dst: fc.nat(5),
  l4: fc.oneof(
    fc.record({ kind: fc.constantFrom('tcp' as const, 'udp' as const), sport: fc.constantFrom(...PORTS), dport: fc.constantFrom(...PORTS) }),
    fc.record({ kind: fc.constant('echo' as const), id: fc.constantFrom(0, 1, 2) }),
  ),
  extraBytes: fc.constantFrom(0, 0, 4, 20),
});

const l4Arb = (v6: boolean): fc.Arbitrary<L4> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('tcp' as const), sport: fc.constantFrom(...PORTS), dport: fc.constantFrom(...PORTS), flags: tcpFlags }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('udp' as const), sport: fc.constantFrom(...PORTS), dport: fc.constantFrom(...PORTS) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('echo' as const), request: fc.boolean(), id: fc.constantFrom(0, 1, 2) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('icmp' as const), type: v6 ? fc.constantFrom(133, 135, 136, 130) : fc.constantFrom(13, 14, 5, 9) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('error' as const),
        type: v6 ? fc.constantFrom(1, 2, 3, 4) : fc.constantFrom(3, 11, 12),
        code: fc.constantFrom(0, 1, 3, 4),
        quoteOf: fc.option(fc.nat(40), { nil: null }),
        inner: innerArb,
        fromRouter: fc.option(fc.nat(1), { nil: null }),
        bogusDst: sometimesNull(fc.nat(5), 4),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('proto' as const), proto: fc.constantFrom(47, 50, 132, v6 ? 1 : 58) }) },
  );

const DTS_SMALL = [0, 0, 0, 0.25, 1, 1, 2];
const DTS_EDGES = [5, 9, 10, 11, 15, 20, 29, 30, 31, 40, 50, 119, 120, 121, 180, 181, 600, 601, -3];

export const packetSpecArb: fc.Arbitrary<PacketSpec> = fc.boolean().chain((v6) =>
  fc.record({
    v6: fc.constant(v6),
    src: fc.nat(v6 ? 3 : 5),
    dst: fc.nat(v6 ? 3 : 5),
    l4: l4Arb(v6),
    follow: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: fc.record({ of: fc.nat(60), reverse: fc.constantFrom(true, true, false), keepFlags: fc.constantFrom(false, false, false, true), addressesOnly: fc.constantFrom(false, false, false, true) }) }),
    options: v6 ? fc.constant(0) : fc.constantFrom(0, 0, 0, 4, 8, 40),
    ext: v6 ? fc.array(fc.constantFrom(0 as const, 43 as const, 60 as const, 51 as const), { maxLength: 2 }) : fc.constant([]),
    frag: sometimesNull(
      fc.record({
        id: fc.constantFrom(7, 8),
        parts: fc.constantFrom<('first' | 'later' | 'tiny')[]>(['first', 'later'], ['later', 'first', 'later'], ['first'], ['later'], ['tiny', 'later'], ['first', 'later', 'later']),
      }),
      6,
    ),
    link: fc.record({
      type: fc.oneof({ weight: 20, arbitrary: fc.constantFrom('raw' as const, 'raw' as const, 'ip' as const, 'eth' as const, 'eth' as const, 'sll' as const, 'sll2' as const, 'null' as const) }, { weight: 1, arbitrary: fc.constantFrom('arp' as const, 'unknown' as const) }),
      vlans: fc.array(fc.constantFrom(0x8100 as const, 0x88a8 as const), { maxLength: 2 }),
      bigEndian: fc.boolean(),
      family: v6 ? fc.constantFrom(24, 28, 30) : fc.constant(2),
    }),
    corrupt: sometimesNull(
      fc.oneof(
        fc.record({ kind: fc.constant('cut' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
        fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.nat(255) }),
      ),
      8,
    ),
    lie: sometimesNull(
      fc.oneof(
        fc.record({ field: fc.constant('udpLength' as const), value: fc.constantFrom(0, 7, 8, 9, 23, 24, 25, 200) }),
        fc.record({ field: fc.constant('tcpDoff' as const), value: fc.constantFrom(0, 4, 5, 6, 8, 15) }),
        fc.record({ field: fc.constant('ihl' as const), value: fc.constantFrom(0, 4, 5, 6, 15) }),
        fc.record({ field: fc.constant('ipLength' as const), value: fc.constantFrom(-9, -1, 0, 1, 8, 100) }),
        fc.record({ field: fc.constant('version' as const), value: fc.constantFrom(0, 4, 5, 6, 15) }),
      ),
      6,
    ),
    dt: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...DTS_SMALL) }, { weight: 1, arbitrary: fc.constantFrom(...DTS_EDGES) }),
  }),
);

/** One built packet: bytes, link type, and its bare IP packet (for later quotes). */
export interface BuiltPacket {
  data: Uint8Array;
  linkType: number;
  ip: Uint8Array | null;
  v6: boolean;
  dt: number;
}

function transport(v6: boolean, l4: L4, quote: Uint8Array | null, lie: PacketSpec['lie'] = null): { proto: number; bytes: Uint8Array } {
  switch (l4.kind) {
    case 'tcp':
      return { proto: 6, bytes: tcp({ sport: l4.sport, dport: l4.dport, flags: l4.flags, payload: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], ...(lie?.field === 'tcpDoff' ? { doff: lie.value } : {}) }) };
    case 'udp':
      return { proto: 17, bytes: udp({ sport: l4.sport, dport: l4.dport, payload: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], ...(lie?.field === 'udpLength' ? { length: lie.value } : {}) }) };
    case 'echo':
      return { proto: v6 ? 58 : 1, bytes: icmp({ type: v6 ? (l4.request ? 128 : 129) : l4.request ? 8 : 0, id: l4.id, seq: 1, data: [9, 9, 9, 9, 9, 9, 9, 9] }) };
    case 'icmp':
      return { proto: v6 ? 58 : 1, bytes: icmp({ type: l4.type, id: 3, data: [0, 0, 0, 0, 0, 0, 0, 0] }) };
    case 'error':
      return { proto: v6 ? 58 : 1, bytes: icmp({ type: l4.type, code: l4.code, data: quote ?? [] }) };
    case 'proto':
      return { proto: l4.proto, bytes: Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]) };
  }
}

function ipPacket(spec: { v6: boolean; src: string; dst: string; options: number; ext: (0 | 43 | 60 | 51)[]; lie?: PacketSpec['lie'] }, proto: number, payload: Uint8Array, frag: null | { id: number; offset: number; more: boolean }): Uint8Array {
  const lie = spec.lie ?? null;
  if (!spec.v6) {
    const honest = 20 + spec.options + payload.length;
    return ipv4({
      ...(lie?.field === 'ihl' ? { ihl: lie.value } : {}),
      ...(lie?.field === 'ipLength' ? { totalLength: Math.max(0, honest + lie.value) } : {}),
      ...(lie?.field === 'version' ? { version: lie.value } : {}),
      src: spec.src, dst: spec.dst, proto, payload, id: frag?.id ?? 0, mf: frag?.more ?? false, fragOffset: frag?.offset ?? 0,
      options: spec.options ? [7, spec.options - 1, ...new Array<number>(spec.options - 2).fill(0)] : [],
    });
  }
  const ext: Ext[] = spec.ext.map((t): Ext => (t === 51 ? { type: 51, length: 12 } : { type: t, length: 8 }));
  // Hop-by-hop must come first (RFC 8200): the generator puts it anywhere on purpose.
  if (frag) ext.push({ type: 44, offset: frag.offset, more: frag.more, id: frag.id });
  const packet = ipv6({ src: spec.src, dst: spec.dst, proto, payload, ext, ...(lie?.field === 'version' ? { version: lie.value } : {}) });
  if (lie?.field === 'ipLength') {
    const plen = Math.max(0, packet.length - 40 + lie.value);
    packet[4] = (plen >> 8) & 255;
    packet[5] = plen & 255;
  }
  return packet;
}

/** The quoted part of an IP packet: its headers and the first 8 bytes after them (+ extra). */
function quoteOf(ip: Uint8Array, extra: number): Uint8Array {
  return ip.subarray(0, Math.min(ip.length, 48 + 40 + extra));
}

function withLink(ip: Uint8Array, v6: boolean, link: PacketSpec['link']): { data: Uint8Array; linkType: number } {
  const et = v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  switch (link.type) {
    case 'raw':
      return { data: ip, linkType: LINK.RAW };
    case 'ip':
      return { data: ip, linkType: v6 ? LINK.IPV6 : LINK.IPV4 };
    case 'eth':
      return { data: ethernet(ip, et, link.vlans.map((tpid, k) => ({ tpid, vid: 10 + k }))), linkType: LINK.ETHERNET };
    case 'sll':
      return { data: sll(ip, et), linkType: LINK.SLL };
    case 'sll2':
      return { data: sll2(ip, et), linkType: LINK.SLL2 };
    case 'null':
      return { data: nullLoopback(ip, link.family, link.bigEndian), linkType: LINK.NULL };
    case 'arp':
      return { data: ethernet(ip, ETHERTYPE_ARP, link.vlans.map((tpid) => ({ tpid, vid: 5 }))), linkType: LINK.ETHERNET };
    case 'unknown':
      return { data: ip, linkType: 105 };
  }
}

function corrupt(data: Uint8Array, c: PacketSpec['corrupt']): Uint8Array {
  if (!c) return data;
  const at = Math.min(data.length - 1, Math.floor(c.at * data.length));
  if (c.kind === 'cut') return data.slice(0, Math.max(0, at));
  const out = data.slice();
  if (at >= 0) out[at] = c.value;
  return out;
}

interface Sent {
  v6: boolean;
  src: string;
  dst: string;
  l4: L4;
}

/** The spec's addresses and upper layer, following an earlier packet when asked. */
function resolve(s: PacketSpec, sent: readonly Sent[]): Sent {
  const hosts = s.v6 ? HOSTS6 : HOSTS4;
  const own: Sent = { v6: s.v6, src: hosts[s.src % hosts.length]!, dst: hosts[s.dst % hosts.length]!, l4: s.l4 };
  if (!s.follow || s.l4.kind === 'error') return own;
  const same = sent.filter((p) => p.v6 === s.v6 && p.l4.kind !== 'error');
  // Mostly one of the last three packets (so handshakes and closes run their course).
  const back = s.follow.of % 4 === 3 ? s.follow.of : s.follow.of % 3;
  const e = same[same.length - 1 - (back % Math.max(1, same.length))];
  if (!e) return own;
  const r = s.follow.reverse;
  const src = r ? e.dst : e.src;
  const dst = r ? e.src : e.dst;
  const l4 = e.l4;
  if (s.follow.addressesOnly) return { v6: s.v6, src, dst, l4: s.l4 };
  if (l4.kind === 'tcp') {
    let flags = s.l4.kind === 'tcp' ? s.l4.flags : F.ACK;
    if (!s.follow.keepFlags && r) {
      if (l4.flags === F.SYN) flags = F.SYN | F.ACK;
      else if (l4.flags === (F.SYN | F.ACK)) flags = F.ACK;
    }
    if (!s.follow.keepFlags && !r && l4.flags === (F.SYN | F.ACK)) flags = F.ACK;
    return { v6: s.v6, src, dst, l4: { kind: 'tcp', sport: r ? l4.dport : l4.sport, dport: r ? l4.sport : l4.dport, flags } };
  }
  if (l4.kind === 'udp') return { v6: s.v6, src, dst, l4: { kind: 'udp', sport: r ? l4.dport : l4.sport, dport: r ? l4.sport : l4.dport } };
  if (l4.kind === 'echo') return { v6: s.v6, src, dst, l4: { kind: 'echo', request: r ? !l4.request : l4.request, id: l4.id } };
  return { v6: s.v6, src, dst, l4 };
}

/** Builds the packets of a sequence of specs (a fragmented datagram gives several). */
export function buildPackets(specs: readonly PacketSpec[]): BuiltPacket[] {
  const out: BuiltPacket[] = [];
  const sent: Sent[] = [];
  for (const spec0 of specs) {
    const hosts = spec0.v6 ? HOSTS6 : HOSTS4;
    const resolved = resolve(spec0, sent);
    sent.push(resolved);
    const s = { ...spec0, l4: resolved.l4 };
    const src = resolved.src;
    const dst = resolved.dst;
    let quote: Uint8Array | null = null;
    let outerSrc = src;
    let outerDst = dst;
    if (s.l4.kind === 'error') {
      const l4 = s.l4;
      // Mostly one of the last few packets of the family (likely still tracked).
      const candidates = out.filter((p) => p.ip && p.v6 === s.v6);
      const back = l4.quoteOf === null ? -1 : l4.quoteOf % 4 === 3 ? l4.quoteOf : l4.quoteOf % 3;
      const earlier = back < 0 ? undefined : candidates[candidates.length - 1 - (back % Math.max(1, candidates.length))];
      if (earlier?.ip) {
        quote = quoteOf(earlier.ip, l4.inner.extraBytes);
        // The error goes back to the quoted packet's sender, from its destination or a router.
        const addr = (at: number) => ipaddr.fromByteArray([...earlier.ip!.subarray(at, at + (s.v6 ? 16 : 4))]).toString();
        outerDst = l4.bogusDst == null ? (s.v6 ? addr(8) : addr(12)) : hosts[l4.bogusDst % hosts.length]!;
        outerSrc = l4.fromRouter === null ? (s.v6 ? addr(24) : addr(16)) : (s.v6 ? ROUTERS6 : ROUTERS4)[l4.fromRouter]!;
      } else {
        const i = l4.inner;
        const innerL4: L4 = i.l4.kind === 'echo' ? { kind: 'echo', request: true, id: i.l4.id } : i.l4.kind === 'tcp' ? { kind: 'tcp', sport: i.l4.sport, dport: i.l4.dport, flags: F.SYN } : { kind: 'udp', sport: i.l4.sport, dport: i.l4.dport };
        const t = transport(s.v6, innerL4, null);
        const inner = ipPacket({ v6: s.v6, src: hosts[i.src % hosts.length]!, dst: hosts[i.dst % hosts.length]!, options: 0, ext: s.ext }, t.proto, t.bytes, null);
        quote = quoteOf(inner, i.extraBytes);
      }
    }
    const t = transport(s.v6, s.l4, quote, s.lie);
    const spec = { v6: s.v6, src: outerSrc, dst: outerDst, options: s.options, ext: s.ext, lie: s.lie };
    const ips: Uint8Array[] = [];
    if (!s.frag) ips.push(ipPacket(spec, t.proto, t.bytes, null));
    else {
      // Split the transport bytes: first part 8 or 16 bytes (tiny: 8), the rest later.
      const cut = Math.min(t.bytes.length, s.frag.parts.includes('tiny') ? 8 : 16);
      for (const part of s.frag.parts) {
        if (part === 'later') ips.push(ipPacket(spec, t.proto, t.bytes.subarray(cut), { id: s.frag.id, offset: cut / 8, more: false }));
        else ips.push(ipPacket(spec, t.proto, t.bytes.subarray(0, cut), { id: s.frag.id, offset: 0, more: true }));
      }
    }
    ips.forEach((ip, k) => {
      const framed = withLink(ip, s.v6, s.link);
      out.push({ data: corrupt(framed.data, s.corrupt), linkType: framed.linkType, ip: s.corrupt ? null : ip, v6: s.v6, dt: k === 0 ? s.dt : 0 });
    });
  }
  return out;
}

/**
 * A conversation on one tuple: an opening packet, then steps from either side (a
 * reply reverses the last packet's addresses and ports), e.g. SYN, SYN+ACK, ACK, data,
 * FIN, FIN, or a RST; UDP and echo exchanges likewise. Expands to consecutive specs.
 */
const sessionArb: fc.Arbitrary<PacketSpec[]> = fc
  .record({
    base: packetSpecArb,
    kind: fc.constantFrom('tcp' as const, 'tcp' as const, 'udp' as const, 'echo' as const),
    steps: fc.array(
      fc.record({
        fromOpener: fc.boolean(),
        flags: fc.constantFrom(F.SYN | F.ACK, F.ACK, F.ACK | F.PSH, F.FIN | F.ACK, F.RST, F.RST | F.ACK, F.SYN),
        dt: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(0, 0.5, 1) }, { weight: 1, arbitrary: fc.constantFrom(...DTS_EDGES) }),
      }),
      { minLength: 1, maxLength: 7 },
    ),
    handshake: fc.boolean(),
    /** An ICMP error about the conversation's latest packet, after step `at`. */
    error: fc.option(fc.record({ at: fc.nat(8), type: fc.constantFrom(3, 11, 12, 1, 2, 4), fromRouter: fc.option(fc.nat(1), { nil: null }) }), { nil: null }),
  })
  .map(({ base, kind, steps, handshake, error }) => {
    const l4: L4 = kind === 'tcp' ? { kind: 'tcp', sport: 5000, dport: 22, flags: F.SYN } : kind === 'udp' ? { kind: 'udp', sport: 4000, dport: 53 } : { kind: 'echo', request: true, id: 1 };
    const first: PacketSpec = { ...base, l4, follow: null, frag: null, corrupt: null, lie: null };
    // A well-formed handshake first, half of the time, then the random steps.
    const all = handshake && kind === 'tcp'
      ? [{ fromOpener: false, flags: F.SYN | F.ACK, dt: 0 }, { fromOpener: true, flags: F.ACK, dt: 0 }, ...steps]
      : steps;
    const out: PacketSpec[] = [first];
    let lastFromOpener = true;
    for (const st of all) {
      const reply = st.fromOpener !== lastFromOpener;
      lastFromOpener = st.fromOpener;
      const stepL4: L4 = kind === 'tcp' ? { kind: 'tcp', sport: 0, dport: 0, flags: st.flags } : l4;
      out.push({ ...first, l4: stepL4, dt: st.dt, follow: { of: 0, reverse: reply, keepFlags: true } });
    }
    if (error) {
      const type = base.v6 ? [1, 2, 3, 4][error.type % 4]! : [3, 11, 12][error.type % 3]!;
      const inner: InnerSpec = { src: 0, dst: 0, l4: { kind: 'udp', sport: 0, dport: 0 }, extraBytes: 0 };
      const at = Math.min(out.length, 1 + (error.at % out.length));
      out.splice(at, 0, { ...first, l4: { kind: 'error', type, code: 0, quoteOf: 0, inner, fromRouter: error.fromRouter }, dt: 0, follow: null });
    }
    return out;
  });

/**
 * Fragments of two datagrams that share source, destination and identification but
 * not the protocol (the key has all four, SPEC §8), in a random order.
 */
const fragmentMixArb: fc.Arbitrary<PacketSpec[]> = fc
  .record({ base: packetSpecArb, a: fc.constantFrom('tcp' as const, 'udp' as const, 'echo' as const), order: fc.constantFrom([0, 1, 2], [1, 0, 2], [0, 2, 1], [2, 1, 0]) })
  .map(({ base, a, order }) => {
    const l4a: L4 = a === 'tcp' ? { kind: 'tcp', sport: 5000, dport: 22, flags: F.SYN } : a === 'udp' ? { kind: 'udp', sport: 4000, dport: 53 } : { kind: 'echo', request: true, id: 2 };
    const l4b: L4 = a === 'udp' ? { kind: 'tcp', sport: 5000, dport: 22, flags: F.SYN } : { kind: 'udp', sport: 4000, dport: 53 };
    const plain = { ...base, follow: null, corrupt: null, lie: null };
    const specs: PacketSpec[] = [
      { ...plain, l4: l4a, frag: { id: 7, parts: ['first'] } },
      { ...plain, l4: l4b, frag: { id: 7, parts: ['later'] }, dt: 0 },
      { ...plain, l4: l4a, frag: { id: 7, parts: ['later'] }, dt: 0 },
    ];
    return order.map((k) => specs[k]!);
  });

/**
 * ICMP between one pair of addresses, either way: echo requests and replies with
 * identifiers 0 and 1 mixed with other (informational) ICMP types. Echo is keyed by
 * the identifier and other types by the addresses only (SPEC §7): identifier 0 must
 * never stand for another type's key, nor the other way round.
 */
const icmpMixArb: fc.Arbitrary<PacketSpec[]> = fc
  .record({
    base: packetSpecArb,
    steps: fc.array(
      fc.record({
        reverse: fc.boolean(),
        l4: fc.oneof(
          fc.record({ kind: fc.constant('echo' as const), request: fc.boolean(), id: fc.constantFrom(0, 0, 1) }),
          fc.record({ kind: fc.constant('icmp' as const), type: fc.nat(3) }),
        ),
        dt: fc.constantFrom(0, 0.5, 1),
      }),
      { minLength: 2, maxLength: 8 },
    ),
  })
  .map(({ base, steps }) => {
    const first: PacketSpec = { ...base, follow: null, frag: null, corrupt: null, lie: null };
    return steps.map((st, k): PacketSpec => {
      const l4: L4 = st.l4.kind === 'echo' ? st.l4 : { kind: 'icmp', type: (base.v6 ? [133, 135, 136, 137] : [5, 13, 14, 9])[st.l4.type]! };
      return { ...first, l4, dt: k === 0 ? first.dt : st.dt, follow: k === 0 ? null : { of: 0, reverse: st.reverse, keepFlags: true, addressesOnly: true } };
    });
  });

/** A packet sequence: single packets, whole conversations, fragment and ICMP mixes, interleaved. */
export const sequenceArb = (maxItems: number): fc.Arbitrary<PacketSpec[]> =>
  fc
    .array(
      fc.oneof({ weight: 6, arbitrary: packetSpecArb.map((s) => [s]) }, { weight: 2, arbitrary: sessionArb }, { weight: 1, arbitrary: fragmentMixArb }, { weight: 1, arbitrary: icmpMixArb }),
      { minLength: 1, maxLength: maxItems },
    )
    .map((items) => items.flat());
