/**
 * Boxes: the compiled form of a rule. A rule is a conjunction of per-field sets;
 * most rules are one box. A `ping` rule couples protocol and address family
 * (ICMP for IPv4 peers, ICMPv6 for IPv6 peers), which a per-field cross product
 * cannot express, so it becomes two boxes, one per family. A rule naming a service
 * set (SPEC §9) becomes a box per service, all with the rule's id: the rule matches
 * when any of them does. Boxes keep rule order.
 *
 * A named address set (or a group reference) used by many rules is decomposed into
 * prefixes once per compile (PeerCache), not once per rule: its rules share the
 * prefix lists.
 */
import type { AddressRange, Interval, Rule } from '../types.js';
import { ICMP, ICMPV6 } from '../config/presets.js';
import { normalizeIntervals } from '../config/ports.js';
import { ICMP_ABSENT, PORT_ABSENT } from '../../assembly/layout.js';

export interface Prefix {
  /** The network address as 32-bit words, most significant first (IPv4: one word). */
  words: number[];
  len: number;
}

function v6Words(a: bigint): number[] {
  return [Number(a >> 96n), Number((a >> 64n) & 0xffffffffn), Number((a >> 32n) & 0xffffffffn), Number(a & 0xffffffffn)];
}

export interface PrefixSet {
  v4: Prefix[];
  v6: Prefix[];
}

export interface Box {
  /** Global rule id (index into CompiledPolicy.rules). */
  ruleId: number;
  accept: boolean;
  proto: Interval[];
  ports: Interval[];
  sports: Interval[];
  icmpType: Interval[];
  icmpCode: Interval[];
  remote: PrefixSet;
  /** null: any local address, including none. */
  local: PrefixSet | null;
}

/**
 * Splits an inclusive address range into the fewest CIDR prefixes covering exactly it,
 * in address order. Greedy: from the low end, each prefix is the largest block that
 * starts there (aligned: at most the trailing zero bits of the start) and stays inside
 * the range (at most log2 of what is left); so at most 2 × bits prefixes (one per bit
 * on the way up from `lo`, one per bit on the way down to `hi`), each found in a
 * constant number of 32-bit operations on the address's four words: time linear in
 * the output, never bits × output BigInt masks (a 1 MB config of odd-ended IPv6
 * ranges took 38 s that way).
 */
export function rangeToPrefixes(range: AddressRange, bits: number): Prefix[] {
  const out: Prefix[] = [];
  if (bits === 32) walkRange4(Number(range.lo), Number(range.hi), (lo, len) => out.push({ words: [lo], len }));
  else walkRange6(range, (w, len) => out.push({ words: [w[0]!, w[1]!, w[2]!, w[3]!], len }));
  return out;
}

/** How many prefixes rangeToPrefixes gives for `range`, without making them (the same walk). */
export function prefixCount(range: AddressRange, bits: number): number {
  return bits === 32 ? walkRange4(Number(range.lo), Number(range.hi), null) : walkRange6(range, null);
}

/** The greedy walk over an IPv6 range (four words, most significant first); returns the prefix count. */
function walkRange6(range: AddressRange, visit: ((words: number[], len: number) => void) | null): number {
  const lo = v6Words(range.lo);
  const hi = v6Words(range.hi);
  const span = [0, 0, 0, 0];
  let count = 0;
  for (;;) {
    // size = min(trailing zeros of lo, floor(log2(hi - lo + 1))), the block's host bits.
    let tz = 128;
    for (let w = 3; w >= 0; w--) {
      if (lo[w] !== 0) {
        tz = (3 - w) * 32 + ctz32(lo[w]!);
        break;
      }
    }
    // span = hi - lo + 1 (2^128 when the range is everything: then lo is 0, tz 128).
    let borrow = 0;
    for (let w = 3; w >= 0; w--) {
      let d = hi[w]! - lo[w]! - borrow;
      borrow = d < 0 ? 1 : 0;
      if (d < 0) d += 0x1_0000_0000;
      span[w] = d;
    }
    let carry = 1;
    for (let w = 3; w >= 0 && carry; w--) {
      const v = span[w]! + 1;
      carry = v > 0xffffffff ? 1 : 0;
      span[w] = carry ? 0 : v;
    }
    let room = 128; // span overflowed: 2^128
    if (!carry) {
      for (let w = 0; w < 4; w++) {
        if (span[w] !== 0) {
          room = (3 - w) * 32 + 31 - Math.clz32(span[w]!);
          break;
        }
      }
    }
    const size = Math.min(tz, room);
    count++;
    visit?.(lo, 128 - size);
    // lo += 2^size; done when that passes hi (or wraps past the last address).
    if (size === 128) break;
    let w = 3 - (size >>> 5);
    let add = 2 ** (size & 31);
    while (w >= 0 && add) {
      const v = lo[w]! + add;
      add = v > 0xffffffff ? 1 : 0;
      lo[w] = add ? v - 0x1_0000_0000 : v;
      w--;
    }
    if (add || greater(lo, hi)) break;
  }
  return count;
}

/** Trailing zero bits of a non-zero 32-bit value. */
const ctz32 = (x: number): number => 31 - Math.clz32(x & -x);

/** a > b, for four-word addresses (most significant first). */
function greater(a: number[], b: number[]): boolean {
  for (let w = 0; w < 4; w++) if (a[w] !== b[w]) return a[w]! > b[w]!;
  return false;
}

/** The same greedy walk over an IPv4 range, in plain numbers (exact below 2^53); returns the prefix count. */
function walkRange4(lo: number, hi: number, visit: ((lo: number, len: number) => void) | null): number {
  let count = 0;
  while (lo <= hi) {
    const tz = lo === 0 ? 32 : ctz32(lo);
    const span = hi - lo + 1; // 1 .. 2^32
    const room = span === 0x1_0000_0000 ? 32 : 31 - Math.clz32(span);
    const size = Math.min(tz, room);
    count++;
    visit?.(lo, 32 - size);
    lo += 2 ** size;
  }
  return count;
}

function makePrefixes(v4: AddressRange[], v6: AddressRange[]): PrefixSet {
  const one = (list: AddressRange[], bits: number): Prefix[] => (list.length === 1 ? rangeToPrefixes(list[0]!, bits) : list.flatMap((r) => rangeToPrefixes(r, bits)));
  return { v4: v4.length ? one(v4, 32) : NONE, v6: v6.length ? one(v6, 128) : NONE };
}
const NONE: Prefix[] = [];

/**
 * Prefix sets and interval lists by value, for one compile: rules that write the same
 * addresses or ports share one list (ClassBench ipc2_100K: 100,000 source prefixes,
 * 47,166 distinct; 35,008 of them 0.0.0.0/0). Sharing saves the allocations (a third
 * of the compile was garbage collection) and lets buildAddressDim insert a list once
 * for all its boxes, as it does for named sets (PeerCache); the table is the same.
 */
export class ValueCache {
  /** Single IPv4 prefixes, the common case, by (address, length). */
  private readonly v4 = new PairTable<PrefixSet>();
  /** Anything else, by its ranges written out. */
  private readonly other = new Map<string, PrefixSet>();
  /** Single intervals by (lo, hi): ports, protocols, ICMP fields. */
  private readonly intervals = new PairTable<Interval[]>();

  prefixes(v4: AddressRange[], v6: AddressRange[]): PrefixSet {
    if (v4.length === 1 && v6.length === 0) {
      const lo = Number(v4[0]!.lo);
      const size = Number(v4[0]!.hi) - lo + 1; // 1 .. 2^32
      // One prefix: size a power of two and lo a multiple of it (size & (size - 1) is
      // wrong past 2^31 in 32-bit operations, so the power of two is read from clz).
      const log = size === 0x1_0000_0000 ? 32 : 31 - Math.clz32(size);
      if (2 ** log === size && lo % size === 0) {
        let set = this.v4.get(lo, log);
        // The one prefix, made directly (rangeToPrefixes would find the same).
        if (set === undefined) this.v4.set(lo, log, (set = { v4: [{ words: [lo], len: 32 - log }], v6: NONE }));
        return set;
      }
    }
    let key = '';
    for (let i = 0; i < v4.length; i++) key += `${v4[i]!.lo}-${v4[i]!.hi},`;
    key += '|';
    for (let i = 0; i < v6.length; i++) key += `${v6[i]!.lo}-${v6[i]!.hi},`;
    let set = this.other.get(key);
    if (set === undefined) this.other.set(key, (set = makePrefixes(v4, v6)));
    return set;
  }

  /** The one-interval list [lo, hi]. */
  interval(lo: number, hi: number): Interval[] {
    let list = this.intervals.get(lo, hi);
    if (list === undefined) this.intervals.set(lo, hi, (list = [{ lo, hi }]));
    return list;
  }
}

/** The murmur3 32-bit finalizer: every input bit moves every output bit. */
function fmix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return x ^ (x >>> 16);
}

/**
 * A hash table keyed by two u32 values, in typed arrays (open addressing, linear
 * probing): a Map keyed by numbers past 2^31 hashed boxed doubles and took ~0.7 µs
 * per lookup, more than making the list again.
 */
class PairTable<V> {
  private a = new Uint32Array(1024);
  private b = new Uint32Array(1024);
  /** Per slot: 1 + the index of its value in `values` (0: empty). */
  private at = new Int32Array(1024);
  private readonly values: V[] = [];

  private slot(a: number, b: number): number {
    const mask = this.at.length - 1;
    let h = fmix(a ^ fmix(b + 0x9e3779b9)) & mask;
    while (this.at[h] !== 0 && (this.a[h] !== a || this.b[h] !== b)) h = (h + 1) & mask;
    return h;
  }

  get(a: number, b: number): V | undefined {
    const h = this.slot(a, b);
    return this.at[h] === 0 ? undefined : this.values[this.at[h]! - 1];
  }

  /** Adds (a, b) -> v; (a, b) must not be in the table. */
  set(a: number, b: number, v: V): void {
    this.values.push(v);
    if (this.values.length * 2 > this.at.length) {
      const { a: oldA, b: oldB, at: oldAt } = this;
      this.a = new Uint32Array(oldAt.length * 2);
      this.b = new Uint32Array(oldAt.length * 2);
      this.at = new Int32Array(oldAt.length * 2);
      for (let i = 0; i < oldAt.length; i++) {
        if (oldAt[i] === 0) continue;
        const h = this.slot(oldA[i]!, oldB[i]!);
        this.a[h] = oldA[i]!;
        this.b[h] = oldB[i]!;
        this.at[h] = oldAt[i]!;
      }
    }
    const h = this.slot(a, b);
    this.a[h] = a;
    this.b[h] = b;
    this.at[h] = this.values.length;
  }
}

function prefixes(v4: AddressRange[], v6: AddressRange[], values: ValueCache | undefined): PrefixSet {
  return values ? values.prefixes(v4, v6) : makePrefixes(v4, v6);
}

// Wildcards are shared (boxes are read, never mutated): one allocation per policy, not per rule.
const ANY_PORT: Interval[] = [{ lo: 0, hi: PORT_ABSENT }];
const ANY_ICMP: Interval[] = [{ lo: 0, hi: ICMP_ABSENT }];
const ANY_PROTO: Interval[] = [{ lo: 0, hi: 255 }];
const point = (v: number | null, values: ValueCache | undefined): Interval[] => (v === null ? ANY_ICMP : values ? values.interval(v, v) : [{ lo: v, hi: v }]);
const ports = (p: Interval[] | null, values: ValueCache | undefined): Interval[] => {
  if (p === null) return ANY_PORT;
  if (values && p.length === 1) return values.interval(p[0]!.lo, p[0]!.hi);
  return normalizeIntervals(p);
};

/**
 * Compile entries of a rule, counted before anything is built (src/compile/index.ts,
 * MAX_COMPILE_ENTRIES), in two parts: `own`, its port and source-port intervals, one
 * each for protocol and ICMP fields, its local prefixes and (for a peer written in
 * the rule) its peer prefixes; and `peer`, the prefixes of a named peer (an address
 * set, a group reference) under `peerKey`. A named peer's prefix list is made once
 * per compile and shared by every rule and service naming it (PeerCache), so the
 * caller counts it once per key, not once per rule. An upper bound on what the
 * rule's boxes hold (a ping rule's families are counted once each).
 */
export function ruleEntryParts(rule: Rule): { own: number; peer: number; peerKey: string | undefined } {
  const services = rule.services ?? [rule];
  let own = 0;
  for (const s of services) own += 3 + (s.ports?.length ?? 1) + (rule.sourcePorts?.length ?? 1);
  let peer = 0;
  for (const r of rule.peer.v4) peer += prefixCount(r, 32);
  for (const r of rule.peer.v6) peer += prefixCount(r, 128);
  if (rule.local !== null) {
    for (const r of rule.local.v4) own += prefixCount(r, 32);
    for (const r of rule.local.v6) own += prefixCount(r, 128);
  }
  const peerKey = peerName(rule);
  if (peerKey === undefined) return { own: own + peer * Math.max(1, services.length), peer: 0, peerKey };
  return { own, peer, peerKey };
}

/** All compile entries of a rule on its own (its named peer counted in full). */
export function ruleEntries(rule: Rule): number {
  const { own, peer } = ruleEntryParts(rule);
  return own + peer;
}

/** The PeerCache name of a rule's named peer (undefined: the peer is written in the rule). */
function peerName(rule: Rule): string | undefined {
  return rule.peerSet !== undefined ? `set\u0000${rule.peerSet}` : rule.peerGroup !== undefined ? `group\u0000${rule.peerGroup}` : undefined;
}

/**
 * Prefix lists of named peers (an address set, a group reference), by name and the
 * families kept: made once per compile and shared by every rule naming the peer.
 * Within one Config a name has one set of addresses, so the name is the key.
 */
export type PeerCache = Map<string, PrefixSet>;

/**
 * The rule's boxes (one per service of a service set, two for ping). `pairFamilies`:
 * security-group semantics (docs/SEMANTICS.md "Rules"), ICMP speaks for IPv4 peers
 * only and ICMPv6 for IPv6 ones; false for ClassBench filters (Config.semantics),
 * whose protocol is the header's number on either family.
 */
export function ruleBoxes(rule: Rule, ruleId: number, pairFamilies = true, cache?: PeerCache, values?: ValueCache): Box[] {
  const accept = rule.action === 'accept';
  const sports = ports(rule.sourcePorts, values);
  const icmpType = point(rule.icmpType, values);
  const icmpCode = point(rule.icmpCode, values);
  const local = rule.local === null ? null : prefixes(rule.local.v4, rule.local.v6, values);
  const name = peerName(rule);
  const box = (proto: Interval[], portSet: Interval[], r: PrefixSet): Box => ({ ruleId, accept, proto, ports: portSet, sports, icmpType, icmpCode, remote: r, local });
  const services = rule.services;
  if (services === undefined && rule.protocol !== 'ping') {
    // One box, the common case: no list of services made and walked.
    return [box(protoOf(rule.protocol, values), ports(rule.ports, values), remoteOf(rule, keepOf(rule.protocol, pairFamilies), name, cache, values))];
  }
  const out: Box[] = [];
  for (const s of services ?? [rule]) {
    const portSet = ports(s.ports, values);
    if (s.protocol === 'ping') {
      if (rule.peer.v4.length) out.push(box([{ lo: ICMP, hi: ICMP }], portSet, remoteOf(rule, 'v4', name, cache, values)));
      if (rule.peer.v6.length) out.push(box([{ lo: ICMPV6, hi: ICMPV6 }], portSet, remoteOf(rule, 'v6', name, cache, values)));
      continue;
    }
    out.push(box(protoOf(s.protocol, values), portSet, remoteOf(rule, keepOf(s.protocol, pairFamilies), name, cache, values)));
  }
  return out;
}

const protoOf = (protocol: number | 'all', values: ValueCache | undefined): Interval[] =>
  protocol === 'all' ? ANY_PROTO : values ? values.interval(protocol, protocol) : [{ lo: protocol, hi: protocol }];

/** The peer families a box of `protocol` keeps: ICMP speaks for IPv4 peers only, ICMPv6 for IPv6 ones (docs/SEMANTICS.md "Rules": the other pairing never matches). */
const keepOf = (protocol: number | 'all', pairFamilies: boolean): 'both' | 'v4' | 'v6' => (!pairFamilies ? 'both' : protocol === ICMPV6 ? 'v6' : protocol === ICMP ? 'v4' : 'both');

/** The rule's peer prefixes of the families kept (a named peer's from the PeerCache). */
function remoteOf(rule: Rule, keep: 'both' | 'v4' | 'v6', name: string | undefined, cache: PeerCache | undefined, values: ValueCache | undefined): PrefixSet {
  const make = () => prefixes(keep === 'v6' ? [] : rule.peer.v4, keep === 'v4' ? [] : rule.peer.v6, values);
  if (name === undefined || !cache) return make();
  const key = `${keep}\u0000${name}`;
  let set = cache.get(key);
  if (!set) {
    set = make();
    cache.set(key, set);
  }
  return set;
}
