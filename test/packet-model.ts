/**
 * An independent model of SPEC §7 (state) and §8 (packets), for differential tests of
 * the WASM tracker. Written as plainly as possible and sharing nothing with
 * assembly/ or src/packets/: its own packet decoder (a DataView and a cursor), a Map
 * of connections keyed by strings, a Map of fragment verdicts, expiry by scanning
 * everything before every packet, and referenceClassify (src/reference.ts) for the
 * rules. Slow on purpose; it only has to be obviously right.
 *
 * The choices where the SPEC is silent are those of docs/DESIGN.md §9; each is
 * repeated here where it is applied.
 */
import { referenceClassify, type Config, type ParsedFlow as Flow, type Verdict } from '../src/index.js';

export type Reason = 'rule' | 'default' | 'established' | 'related' | 'malformed' | 'fragment' | 'table-full' | 'not-local' | 'not-ip';

export interface ModelVerdict {
  action: 'accept' | 'drop';
  reason: Reason;
  groupId: string | null;
  ruleIndex: number | null;
  /** The deciding rule's direction (reason rule), else null. */
  direction: 'inbound' | 'outbound' | null;
}

export interface ModelTimeouts {
  tcpEstablished: number;
  tcpHandshake: number;
  tcpClosing: number;
  udpOneWay: number;
  udpBothWays: number;
  icmp: number;
  other: number;
  fragment: number;
}

/** An inclusive range of one family's addresses. */
export interface OwnRange {
  v6: boolean;
  lo: bigint;
  hi: bigint;
}

class Malformed extends Error {}

/** Reads big-endian fields of one packet; any read past `end` is Malformed. */
class Cursor {
  constructor(readonly view: DataView, readonly end: number) {}
  need(at: number, n: number): void {
    if (at < 0 || at + n > this.end) throw new Malformed();
  }
  u8(at: number): number {
    this.need(at, 1);
    return this.view.getUint8(at);
  }
  u16(at: number): number {
    this.need(at, 2);
    return this.view.getUint16(at);
  }
  u32(at: number): number {
    this.need(at, 4);
    return this.view.getUint32(at);
  }
  addr(at: number, v6: boolean): bigint {
    let a = 0n;
    for (let k = 0; k < (v6 ? 16 : 4); k++) a = (a << 8n) | BigInt(this.u8(at + k));
    return a;
  }
}

const isMapped = (a: bigint): boolean => a >> 32n === 0xffffn;

/** A flow address (four 32-bit words, most significant first) from the model's bigint. */
const flowAddress = (v6: boolean, a: bigint): Flow['remote'] => ({
  v6,
  words: v6 ? [Number(a >> 96n), Number((a >> 64n) & 0xffffffffn), Number((a >> 32n) & 0xffffffffn), Number(a & 0xffffffffn)] : [Number(a), 0, 0, 0],
});

interface Quote {
  proto: number;
  src: bigint;
  dst: bigint;
  sport: number;
  dport: number;
  type: number | null; // ICMP type of a quoted ICMP packet
  echoId: number | null;
}

interface Decoded {
  v6: boolean;
  src: bigint;
  dst: bigint;
  /** null: not fragmented (or an IPv6 atomic fragment). */
  fragment: { id: number; proto: number; first: boolean } | null;
  proto: number;
  /** Transport header unreadable: the packet is malformed (but its IP header was fine). */
  transportBad: boolean;
  sport: number | null;
  dport: number | null;
  tcpFlags: number;
  icmpType: number | null;
  icmpCode: number | null;
  echoId: number | null;
  icmpError: boolean;
  quote: Quote | null;
}

const ICMP = 1;
const ICMPV6 = 58;
const TCP = 6;
const UDP = 17;

function icmpIsError(v6: boolean, type: number): boolean {
  return v6 ? [1, 2, 3, 4].includes(type) : [3, 11, 12].includes(type);
}
function icmpIsEcho(v6: boolean, type: number): boolean {
  return v6 ? type === 128 || type === 129 : type === 8 || type === 0;
}

/**
 * Walks IPv6 extension headers from `at` (next header `nh`): hop-by-hop only first,
 * routing, destination options, AH, one fragment header. Throws Malformed when a
 * header does not fit in `c` or the chain breaks those rules.
 */
class ChainBroken extends Malformed {
  constructor(readonly fragment: { id: number; proto: number; offset: number; more: boolean } | null) {
    super();
  }
}

function ipv6Chain(c: Cursor, at: number, nh: number): { proto: number; at: number; fragment: { id: number; proto: number; offset: number; more: boolean } | null } {
  let fragment: { id: number; proto: number; offset: number; more: boolean } | null = null;
  try {
    return walkChain();
  } catch (e) {
    // Which fragment header was read before the chain broke (a first fragment still
    // decides its later fragments).
    if (e instanceof Malformed && !(e instanceof ChainBroken)) throw new ChainBroken(fragment);
    throw e;
  }
  function walkChain(): { proto: number; at: number; fragment: typeof fragment } {
  let position = 0;
  for (;;) {
    if (nh === 0 && position > 0) throw new Malformed(); // RFC 8200: hop-by-hop comes first
    if (nh === 0 || nh === 43 || nh === 60) {
      c.need(at, 8);
      const len = (c.u8(at + 1) + 1) * 8;
      c.need(at, len);
      nh = c.u8(at);
      at += len;
    } else if (nh === 51) {
      c.need(at, 8);
      const len = (c.u8(at + 1) + 2) * 4;
      c.need(at, len);
      nh = c.u8(at);
      at += len;
    } else if (nh === 44) {
      if (fragment) throw new Malformed(); // a second fragment header
      c.need(at, 8);
      const field = c.u16(at + 2);
      fragment = { id: c.u32(at + 4), proto: c.u8(at), offset: field >> 3, more: (field & 1) === 1 };
      nh = c.u8(at);
      at += 8;
      if (fragment.offset !== 0) return { proto: -1, at, fragment };
    } else {
      return { proto: nh, at, fragment };
    }
    position++;
  }
  }
}

/** The quoted packet of an ICMP error, or null when it cannot be read. */
function readQuote(view: DataView, start: number, end: number, v6: boolean): Quote | null {
  const c = new Cursor(view, end);
  try {
    let proto: number;
    let src: bigint;
    let dst: bigint;
    let t: number;
    if (!v6) {
      c.need(start, 20);
      const b0 = c.u8(start);
      if (b0 >> 4 !== 4) return null;
      const ihl = (b0 & 15) * 4;
      if (ihl < 20) return null;
      if ((c.u16(start + 6) & 0x1fff) !== 0) return null;
      proto = c.u8(start + 9);
      src = c.addr(start + 12, false);
      dst = c.addr(start + 16, false);
      t = start + ihl;
    } else {
      c.need(start, 40);
      if (c.u8(start) >> 4 !== 6) return null;
      src = c.addr(start + 8, true);
      dst = c.addr(start + 24, true);
      if (isMapped(src) || isMapped(dst)) return null;
      const chain = ipv6Chain(c, start + 40, c.u8(start + 6));
      if (chain.fragment && chain.fragment.offset !== 0) return null;
      proto = chain.proto;
      t = chain.at;
    }
    c.need(t, 8); // RFC 792: the header and 64 bits of the original data
    const q: Quote = { proto, src, dst, sport: 0, dport: 0, type: null, echoId: null };
    if (proto === TCP || proto === UDP) {
      q.sport = c.u16(t);
      q.dport = c.u16(t + 2);
    } else if (proto === (v6 ? ICMPV6 : ICMP)) {
      q.type = c.u8(t);
      if (icmpIsEcho(v6, q.type)) q.echoId = c.u16(t + 4);
    }
    return q;
  } catch (e) {
    if (e instanceof Malformed) return null;
    throw e;
  }
}

type LinkResult = { ok: true; at: number; version: 0 | 4 | 6 } | { ok: false; reason: 'malformed' | 'not-ip' };

function readLink(c: Cursor, link: number): LinkResult {
  const etherType = (type: number, at: number): LinkResult => {
    while (type === 0x8100 || type === 0x88a8) {
      if (at + 4 > c.end) return { ok: false, reason: 'malformed' };
      type = c.u16(at + 2);
      at += 4;
    }
    if (type === 0x0800) return { ok: true, at, version: 4 };
    if (type === 0x86dd) return { ok: true, at, version: 6 };
    return { ok: false, reason: 'not-ip' };
  };
  switch (link) {
    case 1:
      if (c.end < 14) return { ok: false, reason: 'malformed' };
      return etherType(c.u16(12), 14);
    case 113:
      if (c.end < 16) return { ok: false, reason: 'malformed' };
      return etherType(c.u16(14), 16);
    case 276:
      if (c.end < 20) return { ok: false, reason: 'malformed' };
      return etherType(c.u16(0), 20);
    case 0: {
      if (c.end < 4) return { ok: false, reason: 'malformed' };
      // The capturing host's byte order: read little-endian, swap when that looks
      // wrong (tcpdump's rule: the family is small, so its high half is zero).
      let family = c.view.getUint32(0, true);
      if (family > 0xffff) family = c.view.getUint32(0, false);
      if (family === 2) return { ok: true, at: 4, version: 4 };
      if (family === 24 || family === 28 || family === 30) return { ok: true, at: 4, version: 6 };
      return { ok: false, reason: 'not-ip' };
    }
    case 101:
      return { ok: true, at: 0, version: 0 };
    case 228:
      return { ok: true, at: 0, version: 4 };
    case 229:
      return { ok: true, at: 0, version: 6 };
    default:
      return { ok: false, reason: 'not-ip' };
  }
}

/** Decodes a packet; a string is a final reason (link or IP layer). */
function decode(bytes: Uint8Array, link: number): Decoded | 'malformed' | 'not-ip' {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const whole = new Cursor(view, bytes.length);
  const l = readLink(whole, link);
  if (!l.ok) return l.reason;
  try {
    const start = l.at;
    const version = whole.u8(start) >> 4;
    if (l.version === 0 ? version !== 4 && version !== 6 : version !== l.version) return 'malformed';
    const v6 = version === 6;
    let p: Decoded;
    let t: number;
    let end: number;
    if (!v6) {
      whole.need(start, 20);
      const ihl = (whole.u8(start) & 15) * 4;
      if (ihl < 20) return 'malformed';
      whole.need(start, ihl);
      const total = whole.u16(start + 2);
      if (total < ihl) return 'malformed';
      whole.need(start, total); // a length field past the captured bytes
      end = start + total;
      const field = whole.u16(start + 6);
      const offset = field & 0x1fff;
      const more = (field & 0x2000) !== 0;
      const proto = whole.u8(start + 9);
      p = {
        v6, src: whole.addr(start + 12, false), dst: whole.addr(start + 16, false),
        fragment: offset !== 0 || more ? { id: whole.u16(start + 4), proto, first: offset === 0 } : null,
        proto, transportBad: false, sport: null, dport: null, tcpFlags: 0, icmpType: null, icmpCode: null, echoId: null, icmpError: false, quote: null,
      };
      t = start + ihl;
    } else {
      whole.need(start, 40);
      const plen = whole.u16(start + 4);
      whole.need(start, 40 + plen);
      end = start + 40 + plen;
      const src = whole.addr(start + 8, true);
      const dst = whole.addr(start + 24, true);
      if (isMapped(src) || isMapped(dst)) return 'malformed';
      let chain: ReturnType<typeof ipv6Chain>;
      try {
        chain = ipv6Chain(new Cursor(view, end), start + 40, whole.u8(start + 6));
      } catch (e) {
        const f = e instanceof ChainBroken ? e.fragment : null;
        if (!f || f.offset !== 0 || !f.more) throw e;
        // A first fragment whose header chain does not fit: too short (RFC 7112).
        return {
          v6, src, dst, fragment: { id: f.id, proto: f.proto, first: true }, proto: -1, transportBad: true,
          sport: null, dport: null, tcpFlags: 0, icmpType: null, icmpCode: null, echoId: null, icmpError: false, quote: null,
        };
      }
      const f = chain.fragment;
      p = {
        v6, src, dst,
        // An atomic fragment (offset 0, no more) is a whole packet (SPEC §8).
        fragment: f && (f.offset !== 0 || f.more) ? { id: f.id, proto: f.proto, first: f.offset === 0 } : null,
        proto: chain.proto, transportBad: false, sport: null, dport: null, tcpFlags: 0, icmpType: null, icmpCode: null, echoId: null, icmpError: false, quote: null,
      };
      t = chain.at;
    }
    if (p.fragment && !p.fragment.first) return p; // no transport header in a later fragment
    const first = p.fragment !== null;
    const have = end - t;
    const c = new Cursor(view, end);
    if (p.proto === TCP) {
      // A first fragment needs only ports and flags (RFC 1858); a whole packet its header.
      if (have < (first ? 14 : 20)) p.transportBad = true;
      else {
        const doff = (c.u8(t + 12) >> 4) * 4;
        if (doff < 20 || (!first && doff > have)) p.transportBad = true;
        else {
          p.sport = c.u16(t);
          p.dport = c.u16(t + 2);
          p.tcpFlags = c.u8(t + 13);
        }
      }
    } else if (p.proto === UDP) {
      if (have < (first ? 4 : 8)) p.transportBad = true;
      else if (!first && (c.u16(t + 4) < 8 || c.u16(t + 4) > have)) p.transportBad = true;
      else {
        p.sport = c.u16(t);
        p.dport = c.u16(t + 2);
      }
    } else if (p.proto === (v6 ? ICMPV6 : ICMP)) {
      if (have < 8) p.transportBad = true;
      else {
        p.icmpType = c.u8(t);
        p.icmpCode = c.u8(t + 1);
        if (icmpIsEcho(v6, p.icmpType)) p.echoId = c.u16(t + 4);
        else if (icmpIsError(v6, p.icmpType)) {
          p.icmpError = true;
          p.quote = readQuote(view, t + 8, end, v6);
        }
      }
    }
    return p;
  } catch (e) {
    if (e instanceof Malformed) return 'malformed';
    throw e;
  }
}

type State = 'tcp-handshake' | 'tcp-established' | 'tcp-closing' | 'udp-one-way' | 'udp-both-ways' | 'icmp' | 'other';

interface Conn {
  key: string;
  v6: boolean;
  proto: number;
  local: bigint;
  remote: bigint;
  lport: number; // echo: 0
  rport: number; // echo: identifier
  echo: boolean; // an ICMP/ICMPv6 echo key (identifier in rport), not another ICMP type's
  state: State;
  openerLocal: boolean;
  synAck: boolean;
  finOpener: boolean;
  finResponder: boolean;
  expires: number;
  opening: Flow;
}

interface Frag {
  verdict: ModelVerdict;
  expires: number;
}

/**
 * A rule's hit counter key: its position and everything it is but its description.
 * A publish that keeps the same rule at the same position keeps its counter; any
 * other rule there (edited, moved) counts afresh.
 */
export function hitKey(config: Config, groupId: string, direction: 'inbound' | 'outbound', ruleIndex: number): string {
  const g = config.securityGroups.find((x) => x.id === groupId)!;
  const rule = (direction === 'inbound' ? g.inbound : g.outbound).find((r) => r.ruleIndex === ruleIndex)!;
  const { description: _, ...rest } = rule;
  return `${groupId}|${direction}|${ruleIndex}|${JSON.stringify(rest, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
}

/**
 * SPEC §7: echo is keyed by (protocol, local, remote, identifier), other ICMP types by
 * (protocol, local, remote): `echo` keeps the two kinds apart, so identifier 0 is
 * never the key of a redirect or timestamp.
 */
const connKey = (v6: boolean, proto: number, echo: boolean, local: bigint, lport: number, remote: bigint, rport: number): string =>
  `${v6 ? 6 : 4}|${proto}|${echo ? 'echo' : 'plain'}|${local}|${lport}|${remote}|${rport}`;

export interface ModelOptions {
  config: Config;
  instance: string;
  own: OwnRange[];
  capacity: number;
  fragments: number;
  timeouts: ModelTimeouts;
  recheckOnPublish: boolean;
}

export class PacketModel {
  config: Config;
  readonly instance: string;
  own: OwnRange[];
  readonly opts: ModelOptions;
  readonly conns = new Map<string, Conn>();
  readonly frags = new Map<string, Frag>();
  now = -Infinity;
  opened = 0;
  expired = 0;
  removed = 0;
  /** Rule hits by the rule as published: hitKey (position and content). */
  readonly hits = new Map<string, { packets: number; bytes: number }>();
  /** The rule (hitKey) that decided a verdict of reason `rule`, also after a publish. */
  readonly #ruleOf = new WeakMap<ModelVerdict, string>();

  #copy(v: ModelVerdict): ModelVerdict {
    const c = { ...v };
    const rule = this.#ruleOf.get(v);
    if (rule !== undefined) this.#ruleOf.set(c, rule);
    return c;
  }

  constructor(opts: ModelOptions) {
    this.opts = opts;
    this.config = opts.config;
    this.instance = opts.instance;
    this.own = opts.own;
  }

  isOwn(v6: boolean, a: bigint): boolean {
    return this.own.some((r) => r.v6 === v6 && r.lo <= a && a <= r.hi);
  }

  /** A publish: the new config (and the instance's addresses in it); re-check on request. */
  publish(config: Config, own: OwnRange[]): void {
    this.config = config;
    this.own = own;
    if (!this.opts.recheckOnPublish) return;
    const present = config.instances.some((i) => i.id === this.instance);
    for (const [key, conn] of this.conns) {
      if (!present || referenceClassify(config, conn.opening).action === 'drop') {
        this.conns.delete(key);
        this.removed++;
      }
    }
  }

  #timeout(state: State): number {
    const t = this.opts.timeouts;
    return { 'tcp-handshake': t.tcpHandshake, 'tcp-established': t.tcpEstablished, 'tcp-closing': t.tcpClosing, 'udp-one-way': t.udpOneWay, 'udp-both-ways': t.udpBothWays, icmp: t.icmp, other: t.other }[state];
  }

  #rules(flow: Flow): Verdict {
    return referenceClassify(this.config, flow);
  }

  /** Finds a connection by key, or (both addresses the instance's) by the swapped key. */
  #find(v6: boolean, proto: number, echo: boolean, local: bigint, lport: number, remote: bigint, rport: number, both: boolean): { conn: Conn; swapped: boolean } | null {
    const direct = this.conns.get(connKey(v6, proto, echo, local, lport, remote, rport));
    if (direct) return { conn: direct, swapped: false };
    if (both) {
      const swapped = this.conns.get(connKey(v6, proto, echo, remote, rport, local, lport));
      if (swapped) return { conn: swapped, swapped: true };
    }
    return null;
  }

  /** The verdict of one packet, with the state it leaves. */
  packet(bytes: Uint8Array, link: number, time: number, wire = bytes.length): ModelVerdict {
    if (time > this.now) this.now = time;
    const now = this.now;
    for (const [k, c] of this.conns) {
      if (c.expires <= now) {
        this.conns.delete(k);
        this.expired++;
      }
    }
    for (const [k, f] of this.frags) if (f.expires <= now) this.frags.delete(k);
    // A record that claims fewer bytes on the wire than it holds lies (tcpdump: "Invalid
    // header"): malformed, nothing in it read. Bytes count what was captured.
    if (wire < bytes.length) return { action: 'drop', reason: 'malformed', groupId: null, ruleIndex: null, direction: null };
    const v = this.#decide(bytes, link, now);
    if (v.reason === 'rule') {
      const key = this.#ruleOf.get(v)!;
      const h = this.hits.get(key) ?? { packets: 0, bytes: 0 };
      h.packets++;
      h.bytes += wire;
      this.hits.set(key, h);
    }
    return v;
  }

  #decide(bytes: Uint8Array, link: number, now: number): ModelVerdict {
    const drop = (reason: Reason): ModelVerdict => ({ action: 'drop', reason, groupId: null, ruleIndex: null, direction: null });
    const p = decode(bytes, link);
    if (p === 'malformed' || p === 'not-ip') return drop(p);
    const dstOwn = this.isOwn(p.v6, p.dst);
    const srcOwn = this.isOwn(p.v6, p.src);
    // A malformed packet is malformed whoever it is for; its IP header was fine, so a
    // local first fragment still decides its datagram's later fragments.
    const fragKey = p.fragment ? `${p.v6 ? 6 : 4}|${p.src}|${p.dst}|${p.fragment.proto}|${p.fragment.id}` : '';
    const remember = (v: ModelVerdict): ModelVerdict => {
      if (p.fragment?.first) this.#rememberFragment(fragKey, v, now);
      return v;
    };
    if (p.transportBad) return dstOwn || srcOwn ? remember(drop('malformed')) : drop('malformed');
    if (!dstOwn && !srcOwn) return drop('not-local');
    const inbound = dstOwn; // both → inbound
    const local = inbound ? p.dst : p.src;
    const remote = inbound ? p.src : p.dst;
    if (p.fragment && !p.fragment.first) {
      const f = this.frags.get(fragKey);
      return f ? this.#copy(f.verdict) : drop('fragment');
    }
    const icmpOfFamily = p.proto === (p.v6 ? ICMPV6 : ICMP);
    const flow: Flow = {
      direction: inbound ? 'inbound' : 'outbound',
      protocol: p.proto,
      remote: flowAddress(p.v6, remote),
      local: flowAddress(p.v6, local),
      port: p.dport,
      sourcePort: p.sport,
      icmpType: icmpOfFamily ? p.icmpType : null,
      icmpCode: icmpOfFamily ? p.icmpCode : null,
      instance: this.instance,
    };
    const byRules = (): ModelVerdict => {
      const r = this.#rules(flow);
      if (r.groupId === null) return { action: r.action, reason: 'default', groupId: null, ruleIndex: null, direction: null };
      const v: ModelVerdict = { action: r.action, reason: 'rule', groupId: r.groupId, ruleIndex: r.ruleIndex, direction: flow.direction };
      this.#ruleOf.set(v, hitKey(this.config, r.groupId, flow.direction, r.ruleIndex!));
      return v;
    };
    if (p.icmpError) {
      const q = p.quote;
      if (q && (q.type === null || !icmpIsError(p.v6, q.type))) {
        // Linux: the error goes back to the quoted packet's sender.
        const qDstOwn = this.isOwn(p.v6, q.dst);
        const qSrcOwn = this.isOwn(p.v6, q.src);
        if (p.dst === q.src && (qDstOwn || qSrcOwn)) {
          const qInbound = qDstOwn;
          const qLocal = qInbound ? q.dst : q.src;
          const qRemote = qInbound ? q.src : q.dst;
          let lp = 0;
          let rp = 0;
          if (q.proto === TCP || q.proto === UDP) {
            lp = qInbound ? q.dport : q.sport;
            rp = qInbound ? q.sport : q.dport;
          } else if (q.echoId !== null) rp = q.echoId;
          if (this.#find(p.v6, q.proto, q.echoId !== null, qLocal, lp, qRemote, rp, qDstOwn && qSrcOwn)) {
            return remember({ action: 'accept', reason: 'related', groupId: null, ruleIndex: null, direction: null });
          }
        }
      }
      return remember(byRules()); // an unrelated error: the rules decide, and it opens nothing
    }
    let lport = 0;
    let rport = 0;
    if (p.proto === TCP || p.proto === UDP) {
      lport = inbound ? p.dport! : p.sport!;
      rport = inbound ? p.sport! : p.dport!;
    } else if (p.echoId !== null) rport = p.echoId;
    const found = this.#find(p.v6, p.proto, p.echoId !== null, local, lport, remote, rport, dstOwn && srcOwn);
    if (found) {
      const c = found.conn;
      // Which side sent this packet: the instance's side when it went out, or when it
      // matched the swapped key (the reply between two of the instance's addresses).
      const senderLocal = found.swapped || !inbound;
      const fromOpener = senderLocal === c.openerLocal;
      if (c.proto === TCP) {
        const f = p.tcpFlags;
        const syn = (f & 2) !== 0;
        const ack = (f & 16) !== 0;
        if (f & 4) c.state = 'tcp-closing';
        else if (c.state !== 'tcp-closing') {
          if (c.state === 'tcp-handshake') {
            if (!fromOpener && syn && ack) c.synAck = true;
            else if (fromOpener && ack && !syn && c.synAck) c.state = 'tcp-established';
          }
          if (f & 1) {
            if (fromOpener) c.finOpener = true;
            else c.finResponder = true;
          }
          if (c.finOpener && c.finResponder) c.state = 'tcp-closing';
        }
      } else if (c.proto === UDP && !fromOpener) {
        c.state = 'udp-both-ways';
      }
      c.expires = now + this.#timeout(c.state);
      return remember({ action: 'accept', reason: 'established', groupId: null, ruleIndex: null, direction: null });
    }
    const v = byRules();
    if (v.action === 'drop') return remember(v);
    if (p.proto === TCP && p.tcpFlags & 4) return remember(v); // a RST opens nothing
    if (this.conns.size >= this.opts.capacity) return remember(drop('table-full'));
    // SPEC §7: echo has its own timeout; other ICMP types are keyed and timed as "every other protocol".
    const state: State = p.proto === TCP ? 'tcp-handshake' : p.proto === UDP ? 'udp-one-way' : icmpOfFamily && p.echoId !== null ? 'icmp' : 'other';
    const key = connKey(p.v6, p.proto, p.echoId !== null, local, lport, remote, rport);
    this.conns.set(key, {
      key, v6: p.v6, proto: p.proto, local, remote, lport, rport, echo: p.echoId !== null, state,
      openerLocal: !inbound, synAck: false, finOpener: p.proto === TCP && (p.tcpFlags & 1) !== 0, finResponder: false,
      expires: now + this.#timeout(state), opening: flow,
    });
    this.opened++;
    return remember(v);
  }

  #rememberFragment(key: string, verdict: ModelVerdict, now: number): void {
    // A repeated first fragment replaces the verdict; a full table remembers nothing.
    if (!this.frags.has(key) && this.frags.size >= this.opts.fragments) return;
    this.frags.delete(key);
    this.frags.set(key, { verdict: this.#copy(verdict), expires: now + this.opts.timeouts.fragment });
  }

  /** Connections as the tracker lists them (for comparing state). */
  connections(): { protocol: number; local: bigint; remote: bigint; lport: number; rport: number; state: State; opener: 'inbound' | 'outbound'; expires: number }[] {
    return [...this.conns.values()].map((c) => ({
      protocol: c.proto, local: c.local, remote: c.remote, lport: c.lport, rport: c.rport, state: c.state,
      opener: c.openerLocal ? 'outbound' : 'inbound', expires: c.expires,
    }));
  }
}
