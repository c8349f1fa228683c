/**
 * Boxes: the compiled form of a rule. A rule is a conjunction of per-field sets;
 * most rules are one box. A `ping` rule couples protocol and address family
 * (ICMP for IPv4 peers, ICMPv6 for IPv6 peers), which a per-field cross product
 * cannot express, so it becomes two boxes, one per family. Boxes keep rule order.
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

/** Splits an inclusive address range into the fewest CIDR prefixes covering exactly it. */
export function rangeToPrefixes(range: AddressRange, bits: number): Prefix[] {
  if (bits === 32) return rangeToPrefixes4(Number(range.lo), Number(range.hi));
  // Most peers were written as a CIDR: an aligned power-of-two block is one prefix.
  const span = range.hi - range.lo + 1n;
  if ((span & (span - 1n)) === 0n && (range.lo & (span - 1n)) === 0n) {
    return [{ words: v6Words(range.lo), len: bits - (span.toString(2).length - 1) }];
  }
  const out: Prefix[] = [];
  let lo = range.lo;
  const hi = range.hi;
  while (lo <= hi) {
    let size = 0; // host bits of the block
    while (size < bits) {
      const next = size + 1;
      const mask = (1n << BigInt(next)) - 1n;
      if ((lo & mask) !== 0n || lo + mask > hi) break;
      size = next;
    }
    out.push({ words: v6Words(lo), len: bits - size });
    lo += 1n << BigInt(size);
  }
  return out;
}

/** IPv4 in plain numbers (exact below 2^53), without bigint arithmetic. */
function rangeToPrefixes4(lo: number, hi: number): Prefix[] {
  const span = hi - lo + 1;
  const log = Math.log2(span);
  if (Number.isInteger(log) && lo % span === 0) return [{ words: [lo], len: 32 - log }];
  const out: Prefix[] = [];
  while (lo <= hi) {
    let size = 0;
    while (size < 32) {
      const block = 2 ** (size + 1);
      if (lo % block !== 0 || lo + block - 1 > hi) break;
      size++;
    }
    out.push({ words: [lo], len: 32 - size });
    lo += 2 ** size;
  }
  return out;
}

function prefixes(v4: AddressRange[], v6: AddressRange[]): PrefixSet {
  const one = (list: AddressRange[], bits: number): Prefix[] => (list.length === 1 ? rangeToPrefixes(list[0]!, bits) : list.flatMap((r) => rangeToPrefixes(r, bits)));
  return { v4: v4.length ? one(v4, 32) : NONE, v6: v6.length ? one(v6, 128) : NONE };
}
const NONE: Prefix[] = [];

// Wildcards are shared (boxes are read, never mutated): one allocation per policy, not per rule.
const ANY_PORT: Interval[] = [{ lo: 0, hi: PORT_ABSENT }];
const ANY_ICMP: Interval[] = [{ lo: 0, hi: ICMP_ABSENT }];
const ANY_PROTO: Interval[] = [{ lo: 0, hi: 255 }];
const point = (v: number | null): Interval[] => (v === null ? ANY_ICMP : [{ lo: v, hi: v }]);
const ports = (p: Interval[] | null): Interval[] => (p === null ? ANY_PORT : normalizeIntervals(p));

export function ruleBoxes(rule: Rule, ruleId: number): Box[] {
  const accept = rule.action === 'accept';
  const portSet = ports(rule.ports);
  const sports = ports(rule.sourcePorts);
  const icmpType = point(rule.icmpType);
  const icmpCode = point(rule.icmpCode);
  const local = rule.local === null ? null : prefixes(rule.local.v4, rule.local.v6);
  const box = (proto: Interval[], remote: PrefixSet): Box => ({ ruleId, accept, proto, ports: portSet, sports, icmpType, icmpCode, remote, local });
  if (rule.protocol === 'ping') {
    const out: Box[] = [];
    if (rule.peer.v4.length) out.push(box([{ lo: ICMP, hi: ICMP }], prefixes(rule.peer.v4, [])));
    if (rule.peer.v6.length) out.push(box([{ lo: ICMPV6, hi: ICMPV6 }], prefixes([], rule.peer.v6)));
    return out;
  }
  const proto = rule.protocol === 'all' ? ANY_PROTO : [{ lo: rule.protocol, hi: rule.protocol }];
  // ICMP speaks for IPv4 peers only, ICMPv6 for IPv6 ones (docs/SEMANTICS.md "Rules": the other pairing never matches).
  const v4 = rule.protocol === ICMPV6 ? [] : rule.peer.v4;
  const v6 = rule.protocol === ICMP ? [] : rule.peer.v6;
  return [box(proto, prefixes(v4, v6))];
}
