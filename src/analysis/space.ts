/**
 * The flow space lint and diff reason over (docs/DESIGN.md §10), and box arithmetic
 * in it.
 *
 * Every flow of one instance and direction is a point with seven coordinates, each a
 * whole number on its own line:
 *
 *   dim  field        line                                       "absent" is
 *   0    protocol     0..255                                     (always present)
 *   1    port         0..65536                                   65536 (PORT_NONE)
 *   2    sourcePort   0..65536                                   65536
 *   3    icmpType     0..256                                     256 (ICMP_NONE)
 *   4    icmpCode     0..256                                     256
 *   5    remote       IPv4 a at a; IPv6 a at 2^32 + a            (always present)
 *   6    local        as remote; absent one past the last IPv6   LOCAL_NONE
 *
 * Putting both families on one line lets a peer be one interval set whatever its
 * families, and keeps `ping` exact: it is two boxes, ICMP × the IPv4 part of its
 * peer and ICMPv6 × the IPv6 part.
 *
 * A **box** is a product of one interval set per dimension; a **region** is a list of
 * disjoint boxes. A rule's match set is a region of a few boxes (ruleRegion; a
 * service-set rule: a few per service).
 * Not every point is a flow parseFlow accepts: TCP and UDP flows have a port and no
 * ICMP fields, only ICMP and ICMPv6 flows carry ICMP fields, and no flow address is
 * in ::ffff:0:0/96 (those are IPv4). FLOWS is that set of valid flows, three boxes,
 * and every rule region is cut to it, so "can never match", "shadowed" and "changes"
 * are about flows that can exist, and every point of a region is a witness
 * parseFlow accepts.
 *
 * Interval sets are flat arrays [lo0, hi0, lo1, hi1, ...]: sorted, disjoint and never
 * adjacent (canonical: two sets are equal exactly when the arrays are). Numbers for
 * the small dimensions, bigint for the address lines.
 */
import type { AddressRange, Config, Interval, Rule } from '../types.js';
import { V4_MAX, V6_MAX } from '../config/address.js';
import { ICMP, ICMPV6, TCP, UDP } from '../config/presets.js';

export const DIM_PROTO = 0;
export const DIM_PORT = 1;
export const DIM_SPORT = 2;
export const DIM_ICMP_TYPE = 3;
export const DIM_ICMP_CODE = 4;
export const DIM_REMOTE = 5;
export const DIM_LOCAL = 6;
export const DIMS = 7;

export const PORT_NONE = 65536;
export const ICMP_NONE = 256;
/** Where IPv6 address 0 sits on an address line. */
export const V6_BASE = V4_MAX + 1n;
/** The last IPv6 address on an address line. */
export const ADDRESS_LAST = V6_BASE + V6_MAX;
/** The local line's "no local address". */
export const LOCAL_NONE = ADDRESS_LAST + 1n;
/** ::ffff:0:0/96 on an address line: IPv6 spellings of IPv4 addresses, never an IPv6 flow address. */
export const MAPPED_LO = V6_BASE + (0xffffn << 32n);
export const MAPPED_HI = MAPPED_LO + V4_MAX;

export type NumSet = readonly number[];
export type AddrSet = readonly bigint[];
/** One interval set per dimension, in DIM_* order. */
export type Box = readonly [NumSet, NumSet, NumSet, NumSet, NumSet, AddrSet, AddrSet];
type AnySet = readonly (number | bigint)[];

// ---------------------------------------------------------------- interval sets

/* The set operations are written once for numbers and bigints: `<` and `===` work on
 * both, and the one place a value moves by one (subtract) is told the unit. */
type V = number | bigint;
const lt = (a: V, b: V): boolean => a < b;

/** a ∩ b. */
export function intersectSets<T extends V>(a: readonly T[], b: readonly T[]): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = lt(a[i]!, b[j]!) ? b[j]! : a[i]!;
    const hi = lt(a[i + 1]!, b[j + 1]!) ? a[i + 1]! : b[j + 1]!;
    if (!lt(hi, lo)) out.push(lo, hi);
    if (lt(a[i + 1]!, b[j + 1]!)) i += 2;
    else j += 2;
  }
  return out;
}

/** a ∩ b is not empty (no allocation). */
export function setsMeet(a: AnySet, b: AnySet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    // Intervals meet when each starts no later than the other ends.
    if (!lt(a[i + 1]!, b[j]!) && !lt(b[j + 1]!, a[i]!)) return true;
    if (lt(a[i + 1]!, b[j + 1]!)) i += 2;
    else j += 2;
  }
  return false;
}

/** a − b; `one` is 1 or 1n, the type's unit. */
export function subtractSets<T extends V>(a: readonly T[], b: readonly T[], one: T): T[] {
  const out: T[] = [];
  const add = (x: T, k: T): T => ((x as number) + (k as number)) as T;
  const sub = (x: T, k: T): T => ((x as number) - (k as number)) as T;
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let lo: T | null = a[i]!;
    const hi = a[i + 1]!;
    while (j < b.length && lt(b[j + 1]!, lo)) j += 2; // b intervals wholly below this one
    for (let k = j; k < b.length && !lt(hi, b[k]!); k += 2) {
      if (lt(lo!, b[k]!)) out.push(lo!, sub(b[k]!, one));
      if (!lt(b[k + 1]!, hi)) {
        lo = null;
        break;
      }
      lo = add(b[k + 1]!, one);
    }
    if (lo !== null) out.push(lo, hi);
  }
  return out;
}

/** a ∪ b, canonical (adjacent intervals joined). */
export function unionSets<T extends V>(a: readonly T[], b: readonly T[], one: T): T[] {
  const all: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && lt(a[i]!, b[j]!))) {
      all.push(a[i]!, a[i + 1]!);
      i += 2;
    } else {
      all.push(b[j]!, b[j + 1]!);
      j += 2;
    }
  }
  return mergeSorted(all, one);
}

/** Intervals sorted by their low ends → canonical (overlapping and adjacent ones joined). */
function mergeSorted<T extends V>(sorted: T[], one: T): T[] {
  const out: T[] = [];
  for (let k = 0; k < sorted.length; k += 2) {
    const lo = sorted[k]!;
    const hi = sorted[k + 1]!;
    const n = out.length;
    // Joins when lo <= last hi + 1, i.e. lo - one <= last hi (no overflow: lo > 0 there).
    if (n > 0 && (lt(lo, one) ? true : !lt(out[n - 1]!, ((lo as number) - (one as number)) as T))) {
      if (lt(out[n - 1]!, hi)) out[n - 1] = hi;
    } else out.push(lo, hi);
  }
  return out;
}

/** Any list of [lo, hi] pairs → a canonical set. */
export function canonicalSet<T extends V>(pairs: [T, T][], one: T): T[] {
  const sorted = [...pairs].sort((x, y) => (lt(x[0], y[0]) ? -1 : lt(y[0], x[0]) ? 1 : 0));
  return mergeSorted(sorted.flat() as T[], one);
}

export const equalSets = (a: AnySet, b: AnySet): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** a ⊆ b. */
export function subsetOf(a: AnySet, b: AnySet): boolean {
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    while (j < b.length && lt(b[j + 1]!, a[i]!)) j += 2;
    if (j >= b.length || lt(a[i]!, b[j]!) || lt(b[j + 1]!, a[i + 1]!)) return false;
  }
  return true;
}

// ---------------------------------------------------------------- boxes

const ONE: readonly (1 | 1n)[] = [1, 1, 1, 1, 1, 1n, 1n];

/** Dimensions in the order a subtraction peels them off: the pieces read "another protocol", then "another peer", ... */
const PEEL_ORDER = [DIM_PROTO, DIM_REMOTE, DIM_PORT, DIM_LOCAL, DIM_SPORT, DIM_ICMP_TYPE, DIM_ICMP_CODE] as const;

/** a ∩ b, or null when they do not meet. */
export function intersectBoxes(a: Box, b: Box): Box | null {
  const out: AnySet[] = [];
  for (let d = 0; d < DIMS; d++) {
    const s = intersectSets<V>(a[d]!, b[d]!);
    if (s.length === 0) return null;
    out.push(s);
  }
  return out as unknown as Box;
}

/** a ∩ b is not empty. */
export function boxesMeet(a: Box, b: Box): boolean {
  for (let d = 0; d < DIMS; d++) if (!setsMeet(a[d]!, b[d]!)) return false;
  return true;
}

/** a ⊆ b. */
export function boxWithin(a: Box, b: Box): boolean {
  for (let d = 0; d < DIMS; d++) if (!subsetOf(a[d]!, b[d]!)) return false;
  return true;
}

/**
 * a − b as disjoint boxes, pushed to `out` (at most one per dimension): for each
 * dimension in PEEL_ORDER, the part of what is left whose value there is outside b's,
 * then what is left narrows to b's values. a itself when they do not meet; nothing
 * when a ⊆ b.
 */
export function subtractBox(a: Box, b: Box, out: Box[]): void {
  if (!boxesMeet(a, b)) {
    out.push(a);
    return;
  }
  const cur = [...a] as AnySet[];
  for (const d of PEEL_ORDER) {
    const outside = subtractSets<V>(cur[d]!, b[d]!, ONE[d]!);
    if (outside.length > 0) {
      const piece = [...cur];
      piece[d] = outside;
      out.push(piece as unknown as Box);
    }
    cur[d] = intersectSets<V>(cur[d]!, b[d]!);
  }
}

/** a ∪ b when the two differ in one dimension at most (then the union is a box), else null. */
export function joinBoxes(a: Box, b: Box): Box | null {
  let differ = -1;
  for (let d = 0; d < DIMS; d++) {
    if (equalSets(a[d]!, b[d]!)) continue;
    if (differ >= 0) return null;
    differ = d;
  }
  if (differ < 0) return a;
  const out = [...a] as AnySet[];
  out[differ] = unionSets<V>(a[differ]!, b[differ]!, ONE[differ]!);
  return out as unknown as Box;
}

/** A canonical text of a box (equal boxes, equal keys), without dimension `skip`. */
export function boxKey(b: Box, skip = -1): string {
  let s = '';
  for (let d = 0; d < DIMS; d++) s += d === skip ? '|*' : `|${b[d]!.join(',')}`;
  return s;
}

// ---------------------------------------------------------------- hulls

/**
 * A box with its hull: per dimension the lowest and highest value, as doubles. A
 * bigint rounds to the nearest double, and rounding never reverses an order, so two
 * hulls that are apart as doubles are apart exactly: the hull test may let through
 * boxes that do not meet (then the exact test says so), never turn away boxes that do.
 */
export interface HulledBox {
  box: Box;
  hull: Float64Array;
  /**
   * What one exact test against this box costs, in budget units: 1 for a box of a few
   * intervals per field, more for a box whose field holds a long list (a 10,000-range
   * address set), since the set operations walk the lists.
   */
  cost: number;
}

/** Budget units per interval a box holds (ordinary boxes hold 7–16: one unit). */
const INTERVALS_PER_UNIT = 16;

export function hulled(box: Box): HulledBox {
  const hull = new Float64Array(DIMS * 2);
  let intervals = 0;
  for (let d = 0; d < DIMS; d++) {
    const s = box[d]!;
    hull[2 * d] = Number(s[0]!);
    hull[2 * d + 1] = Number(s.at(-1)!);
    intervals += s.length >> 1;
  }
  return { box, hull, cost: Math.max(1, Math.ceil(intervals / INTERVALS_PER_UNIT)) };
}

/** The hulls meet (a necessary condition for the boxes to). */
export function hullsMeet(a: Float64Array, b: Float64Array): boolean {
  for (let k = 0; k < DIMS * 2; k += 2) if (a[k + 1]! < b[k]! || b[k + 1]! < a[k]!) return false;
  return true;
}

/** The hull of several hulls, into `out`. */
export function hullOf(list: readonly HulledBox[], out: Float64Array): Float64Array {
  out.fill(Infinity);
  for (let k = 1; k < DIMS * 2; k += 2) out[k] = -Infinity;
  for (const { hull } of list) {
    for (let k = 0; k < DIMS * 2; k += 2) {
      if (hull[k]! < out[k]!) out[k] = hull[k]!;
      if (hull[k + 1]! > out[k + 1]!) out[k + 1] = hull[k + 1]!;
    }
  }
  return out;
}

// ---------------------------------------------------------------- the valid flows

const ALL_PROTO: NumSet = [0, 255];
const ALL_PORT: NumSet = [0, PORT_NONE];
const ALL_ICMP: NumSet = [0, ICMP_NONE];
const NO_ICMP: NumSet = [ICMP_NONE, ICMP_NONE];
/** Every flow address: both families, less the IPv4-mapped block. */
const FLOW_ADDRESSES: AddrSet = [0n, MAPPED_LO - 1n, MAPPED_HI + 1n, ADDRESS_LAST];
const FLOW_LOCALS: AddrSet = [0n, MAPPED_LO - 1n, MAPPED_HI + 1n, LOCAL_NONE];

/**
 * The flows parseFlow accepts (of one instance and direction), as three disjoint
 * boxes: TCP and UDP (a port, no ICMP fields), ICMP and ICMPv6 (port and ICMP fields
 * optional), every other protocol (port optional, no ICMP fields).
 */
export const FLOWS: readonly Box[] = [
  [[TCP, TCP, UDP, UDP], [0, 65535], ALL_PORT, NO_ICMP, NO_ICMP, FLOW_ADDRESSES, FLOW_LOCALS],
  [[ICMP, ICMP, ICMPV6, ICMPV6], ALL_PORT, ALL_PORT, ALL_ICMP, ALL_ICMP, FLOW_ADDRESSES, FLOW_LOCALS],
  [subtractSets(ALL_PROTO, [ICMP, ICMP, TCP, TCP, UDP, UDP, ICMPV6, ICMPV6], 1), ALL_PORT, ALL_PORT, NO_ICMP, NO_ICMP, FLOW_ADDRESSES, FLOW_LOCALS],
];

// ---------------------------------------------------------------- rules

const ALL_ADDRESSES: AddrSet = [0n, ADDRESS_LAST];
const ALL_LOCALS: AddrSet = [0n, LOCAL_NONE];
const V4_LINE: AddrSet = [0n, V4_MAX];
const V6_LINE: AddrSet = [V6_BASE, ADDRESS_LAST];

/** A family's ranges on the address line. */
/** Addresses of both families on one line (IPv6 above V6_BASE), as the analysis boxes hold them. */
export function line(v4: readonly AddressRange[], v6: readonly AddressRange[]): AddrSet {
  const pairs: [bigint, bigint][] = [];
  for (const r of v4) pairs.push([r.lo, r.hi]);
  for (const r of v6) pairs.push([V6_BASE + r.lo, V6_BASE + r.hi]);
  return canonicalSet(pairs, 1n);
}

const portLine = (ports: readonly Interval[] | null): NumSet => (ports === null ? ALL_PORT : canonicalSet(ports.map((p): [number, number] => [p.lo, p.hi]), 1));
const icmpLine = (v: number | null): NumSet => (v === null ? ALL_ICMP : [v, v]);

/**
 * The flows a rule matches (docs/SEMANTICS.md "Rules", src/reference.ts), as disjoint
 * boxes inside FLOWS; empty when the rule can never match. Read from the rule's
 * normalized fields only (protocol, ports, peer ranges, local, source ports, ICMP),
 * so however a peer or a port was written (a CIDR, a range, a set), equal rules give
 * equal regions. `pairFamilies` false (Config.semantics 'classbench', see
 * familiesPaired): ICMP and ICMPv6 are header numbers only, not tied to a family.
 */
export function ruleRegion(rule: Rule, pairFamilies = true): Box[] {
  const sports = portLine(rule.sourcePorts);
  const type = icmpLine(rule.icmpType);
  const code = icmpLine(rule.icmpCode);
  const local = rule.local === null ? ALL_LOCALS : line(rule.local.v4, rule.local.v6);
  const peer = line(rule.peer.v4, rule.peer.v6);
  const shapes: [NumSet, NumSet, AddrSet][] = [];
  // A rule naming a service set (SPEC §9) matches when any of its services does: one shape per service.
  for (const s of rule.services ?? [rule]) {
    const ports = portLine(s.ports);
    // ping is ICMP to IPv4 peers and ICMPv6 to IPv6 ones by its meaning, in every semantics.
    if (s.protocol === 'ping') {
      shapes.push([[ICMP, ICMP], ports, intersectSets(peer, V4_LINE)], [[ICMPV6, ICMPV6], ports, intersectSets(peer, V6_LINE)]);
    } else if (s.protocol === 'all') {
      shapes.push([ALL_PROTO, ports, peer]);
    } else {
      // ICMP speaks for IPv4 peers only, ICMPv6 for IPv6 ones (docs/SEMANTICS.md "Rules");
      // ClassBench's protocol is the header's number, whatever the family (src/reference.ts mismatch).
      const fam = !pairFamilies ? peer : s.protocol === ICMP ? intersectSets(peer, V4_LINE) : s.protocol === ICMPV6 ? intersectSets(peer, V6_LINE) : peer;
      shapes.push([[s.protocol, s.protocol], ports, fam]);
    }
  }
  const out: Box[] = [];
  for (const [proto, ports, remote] of rule.services && rule.services.length > 1 ? canonicalShapes(shapes, peer) : shapes) {
    if (remote.length === 0 || local.length === 0) continue;
    const box: Box = [proto, ports, sports, type, code, remote, local];
    for (const valid of FLOWS) {
      const b = intersectBoxes(box, valid);
      if (!b) continue;
      // Services of one set may overlap (udp and udp:53): a region's boxes are disjoint,
      // or a flow would be decided, and a change listed, once per service. Each shape
      // adds only what the shapes before it do not hold.
      let pieces: Box[] = [b];
      for (const had of out) {
        const next: Box[] = [];
        for (const p of pieces) subtractBox(p, had, next);
        pieces = next;
        if (pieces.length === 0) break;
      }
      for (const p of pieces) out.push(p);
    }
  }
  return out;
}

/**
 * The shapes of a service-set rule in a form that depends only on the flows they
 * match, so two rules matching the same flows give the same region (lint's duplicates,
 * diff's common head) however their services overlap or are ordered: per family part
 * of the peer, each protocol's ports (the union over the services); protocols with
 * equal ports are one shape, and a shape both families have is one shape over the
 * whole peer. A single service gives what the plain rule gives. Every shape's remote
 * is the peer, or its IPv4 or IPv6 part, so it holds a family part wholly or not at all.
 */
function canonicalShapes(shapes: readonly [NumSet, NumSet, AddrSet][], peer: AddrSet): [NumSet, NumSet, AddrSet][] {
  const parts = [intersectSets(peer, V4_LINE), intersectSets(peer, V6_LINE)];
  const groups = parts.map((part) => {
    const ports = new Map<number, NumSet>();
    if (part.length > 0) {
      for (const [proto, p, remote] of shapes) {
        if (!setsMeet(remote, part)) continue;
        for (let i = 0; i < proto.length; i += 2) {
          for (let x = proto[i]!; x <= proto[i + 1]!; x++) {
            const had = ports.get(x);
            ports.set(x, had ? unionSets(had, p, 1) : p);
          }
        }
      }
    }
    const byPorts = new Map<string, { protos: [number, number][]; ports: NumSet }>();
    for (const x of [...ports.keys()].sort((a, b) => a - b)) {
      const p = ports.get(x)!;
      const key = p.join(',');
      const g = byPorts.get(key);
      if (g) g.protos.push([x, x]);
      else byPorts.set(key, { protos: [[x, x]], ports: p });
    }
    return [...byPorts.values()].map((g) => ({ proto: canonicalSet(g.protos, 1) as NumSet, ports: g.ports }));
  });
  const key = (g: { proto: NumSet; ports: NumSet }) => `${g.proto.join(',')}|${g.ports.join(',')}`;
  const v6 = new Map(groups[1]!.map((g) => [key(g), g]));
  const out: [NumSet, NumSet, AddrSet][] = [];
  for (const g of groups[0]!) {
    const both = v6.delete(key(g));
    out.push([g.proto, g.ports, both ? peer : parts[0]!]);
  }
  for (const g of v6.values()) out.push([g.proto, g.ports, parts[1]!]);
  return out;
}

/**
 * Whether a config's ICMP rules speak for IPv4 peers only and ICMPv6 rules for IPv6
 * ones (docs/SEMANTICS.md "Rules"): every config but a ClassBench filter set, whose
 * protocol is the header's number only (Config.semantics 'classbench').
 */
export const familiesPaired = (config: Pick<Config, 'semantics'>): boolean => config.semantics !== 'classbench';

/** Every address of the rule's peer that a flow can have in family `v6` (a whole family: 0.0.0.0/0, ::/0, any). */
export function peerCoversFamily(rule: Rule, v6: boolean): boolean {
  const peer = line(rule.peer.v4, rule.peer.v6);
  const want = v6 ? intersectSets(FLOW_ADDRESSES, V6_LINE) : V4_LINE;
  return subsetOf(want, peer);
}

/** Whole lines, for building boxes elsewhere. */
export const WHOLE = { ALL_PROTO, ALL_PORT, ALL_ICMP, NO_ICMP, ALL_ADDRESSES, ALL_LOCALS, V4_LINE, V6_LINE, FLOW_ADDRESSES } as const;
