/**
 * Boxes: the compiled form of a rule. A rule is a conjunction of per-field sets;
 * most rules are one box. A `ping` rule couples protocol and address family
 * (ICMP for IPv4 peers, ICMPv6 for IPv6 peers), which a per-field cross product
 * cannot express, so it becomes two boxes, one per family. Boxes keep rule order.
 */
import type { AddressRange, Interval, Rule } from '../types.js';
import { ICMP, ICMPV6 } from '../config/presets.js';
import { ICMP_ABSENT, PORT_ABSENT } from '../../assembly/layout.js';

export interface Prefix {
  addr: bigint;
  len: number;
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
    out.push({ addr: lo, len: bits - size });
    lo += 1n << BigInt(size);
  }
  return out;
}

/** IPv4 in plain numbers (exact below 2^53), without bigint arithmetic. */
function rangeToPrefixes4(lo: number, hi: number): Prefix[] {
  const out: Prefix[] = [];
  while (lo <= hi) {
    let size = 0;
    while (size < 32) {
      const block = 2 ** (size + 1);
      if (lo % block !== 0 || lo + block - 1 > hi) break;
      size++;
    }
    out.push({ addr: BigInt(lo), len: 32 - size });
    lo += 2 ** size;
  }
  return out;
}

function prefixes(v4: AddressRange[], v6: AddressRange[]): PrefixSet {
  return { v4: v4.flatMap((r) => rangeToPrefixes(r, 32)), v6: v6.flatMap((r) => rangeToPrefixes(r, 128)) };
}

/** Sorted, merged copy (adjacent and overlapping intervals joined). */
export function normalizeIntervals(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => a.lo - b.lo);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.lo <= last.hi + 1) last.hi = Math.max(last.hi, i.hi);
    else out.push({ ...i });
  }
  return out;
}

const point = (v: number | null, absent: number): Interval[] => (v === null ? [{ lo: 0, hi: absent }] : [{ lo: v, hi: v }]);
const ports = (p: Interval[] | null): Interval[] => (p === null ? [{ lo: 0, hi: PORT_ABSENT }] : normalizeIntervals(p));

export function ruleBoxes(rule: Rule, ruleId: number): Box[] {
  const base = {
    ruleId,
    accept: rule.action === 'accept',
    ports: ports(rule.ports),
    sports: ports(rule.sourcePorts),
    icmpType: point(rule.icmpType, ICMP_ABSENT),
    icmpCode: point(rule.icmpCode, ICMP_ABSENT),
    local: rule.local === null ? null : prefixes(rule.local.v4, rule.local.v6),
  };
  if (rule.protocol === 'ping') {
    const out: Box[] = [];
    if (rule.peer.v4.length) out.push({ ...base, proto: [{ lo: ICMP, hi: ICMP }], remote: prefixes(rule.peer.v4, []) });
    if (rule.peer.v6.length) out.push({ ...base, proto: [{ lo: ICMPV6, hi: ICMPV6 }], remote: prefixes([], rule.peer.v6) });
    return out;
  }
  const proto = rule.protocol === 'all' ? [{ lo: 0, hi: 255 }] : [{ lo: rule.protocol, hi: rule.protocol }];
  // ICMP speaks for IPv4 peers only, ICMPv6 for IPv6 ones (SPEC §2: the other pairing never matches).
  const v4 = rule.protocol === ICMPV6 ? [] : rule.peer.v4;
  const v6 = rule.protocol === ICMP ? [] : rule.peer.v6;
  return [{ ...base, proto, remote: prefixes(v4, v6) }];
}
