/**
 * Boxes as people and `sgfilter eval` read them: a witness flow (one concrete point
 * of a box, a FlowInput parseFlow accepts) and a box's fields in words.
 */
import type { Direction, FlowInput } from '../types.js';
import { formatAddress, V4_MAX } from '../config/address.js';
import { ICMP, ICMPV6, TCP, UDP } from '../config/presets.js';
import {
  DIM_ICMP_CODE, DIM_ICMP_TYPE, DIM_LOCAL, DIM_PORT, DIM_PROTO, DIM_REMOTE, DIM_SPORT, ICMP_NONE, LOCAL_NONE, MAPPED_HI, MAPPED_LO, PORT_NONE, V6_BASE,
  unionSets, type AddrSet, type Box, type NumSet,
} from './space.js';

const PROTOCOL_NAMES: ReadonlyMap<number, string> = new Map([[TCP, 'TCP'], [UDP, 'UDP'], [ICMP, 'ICMP'], [ICMPV6, 'ICMPv6'], [47, 'GRE']]);

function has(set: readonly (number | bigint)[], v: number | bigint): boolean {
  for (let i = 0; i < set.length; i += 2) if (set[i]! <= v && v <= set[i + 1]!) return true;
  return false;
}

/** An address-line value as text (IPv4 below V6_BASE, IPv6 above; never in the mapped block). */
export function addressText(v: bigint): string {
  return v < V6_BASE ? formatAddress(false, v) : formatAddress(true, v - V6_BASE);
}

/** The protocol as a flow writes it: a name for the named ones, else the number. */
export const protocolText = (p: number): string | number => PROTOCOL_NAMES.get(p) ?? p;

/**
 * One flow of `box`, as a FlowInput for `sgfilter eval` (and classify): TCP, UDP,
 * ICMP or ICMPv6 when the box allows one of them (in that order), else its lowest
 * protocol; optional fields absent when the box allows it, else their lowest value;
 * the lowest remote address. `instance` is set when given (null: the flow names none,
 * so the policy's default instance classifies it).
 */
export function witnessFlow(box: Box, direction: Direction, instance: string | null): FlowInput {
  const protos = box[DIM_PROTO];
  const protocol = [TCP, UDP, ICMP, ICMPV6].find((p) => has(protos, p)) ?? protos[0]!;
  const flow: Record<string, unknown> = { direction, protocol: protocolText(protocol) };
  const optional = (set: NumSet, none: number): number | null => (has(set, none) ? null : set[0]!);
  const port = optional(box[DIM_PORT], PORT_NONE);
  if (port !== null) flow.port = port;
  flow.remote = addressText(box[DIM_REMOTE][0]!);
  const locals = box[DIM_LOCAL];
  if (!has(locals, LOCAL_NONE)) flow.local = addressText(locals[0]!);
  const sport = optional(box[DIM_SPORT], PORT_NONE);
  if (sport !== null) flow.sourcePort = sport;
  const type = optional(box[DIM_ICMP_TYPE], ICMP_NONE);
  if (type !== null) flow.icmpType = type;
  const code = optional(box[DIM_ICMP_CODE], ICMP_NONE);
  if (code !== null) flow.icmpCode = code;
  if (instance !== null) flow.instance = instance;
  return flow as unknown as FlowInput;
}

/** A box's fields in words (diff output): each as it would be written in a rule, `ALL` for every value, `none` for "absent". */
export interface BoxText {
  /** `TCP`, `TCP,UDP`, `0-5,7-16`, `ALL`. */
  protocol: string;
  /** Destination ports: `22`, `80,443`, `1024-65535`, `none` (flows without a port), `ALL`. */
  port: string;
  /** Remote addresses: CIDRs where a range is one, else `lo-hi`; `0.0.0.0/0`, `::/0`. */
  remote: string[];
  /** Local addresses as remote, `none`, or [`ALL`]. */
  local: string[];
  /** Source ports, as `port`. */
  sourcePort: string;
  /** ICMP types, `none` or `ALL`. */
  icmpType: string;
  /** ICMP codes, `none` or `ALL`. */
  icmpCode: string;
}

function numText(set: NumSet, none: number, names?: ReadonlyMap<number, string>): string {
  if (set.length === 2 && set[0] === 0 && set[1] === none) return 'ALL';
  const out: string[] = [];
  for (let i = 0; i < set.length; i += 2) {
    const lo = set[i]!;
    const hi = set[i + 1]!;
    const word = (v: number) => (v === none ? 'none' : (names?.get(v) ?? String(v)));
    if (lo === hi) out.push(word(lo));
    else if (hi === none) out.push(lo === hi - 1 ? word(lo) : `${lo}-${hi - 1}`, 'none');
    else out.push(`${lo}-${hi}`);
  }
  return out.join(',');
}

/** A range of one family as a CIDR when it is one, else lo-hi. */
function rangeText(lo: bigint, hi: bigint): string {
  const v6 = lo >= V6_BASE;
  const base = v6 ? V6_BASE : 0n;
  const size = hi - lo + 1n;
  if ((size & (size - 1n)) === 0n && ((lo - base) & (size - 1n)) === 0n) {
    const bits = size.toString(2).length - 1;
    return `${addressText(lo)}/${(v6 ? 128 : 32) - bits}`;
  }
  return `${addressText(lo)}-${addressText(hi)}`;
}

/**
 * An address set in words. The IPv4-mapped block (no flow address is in it) is
 * filled in where the set holds the addresses on both sides of it, so `::/0` reads
 * as `::/0`, not as the two ranges around the block.
 */
/** Addresses as BoxText writes them (ranges and prefixes, `none`). */
export function addressesText(set: AddrSet): string[] {
  let s = set;
  if (has(s, MAPPED_LO - 1n) && has(s, MAPPED_HI + 1n)) s = unionSets(s, [MAPPED_LO, MAPPED_HI], 1n);
  const out: string[] = [];
  for (let i = 0; i < s.length; i += 2) {
    const lo = s[i]!;
    const hi = s[i + 1]!;
    if (lo === LOCAL_NONE) {
      out.push('none');
      continue;
    }
    const top = hi === LOCAL_NONE ? hi - 1n : hi;
    // A range across the family boundary is written as its two families.
    if (lo <= V4_MAX && top >= V6_BASE) out.push(rangeText(lo, V4_MAX), rangeText(V6_BASE, top));
    else out.push(rangeText(lo, top));
    if (hi === LOCAL_NONE) out.push('none');
  }
  return out;
}

export function boxText(box: Box): BoxText {
  const locals = box[DIM_LOCAL];
  const allLocal = has(locals, LOCAL_NONE) && addressesText(locals).join(',') === '0.0.0.0/0,::/0,none';
  return {
    protocol: box[DIM_PROTO].length === 2 && box[DIM_PROTO][0] === 0 && box[DIM_PROTO][1] === 255 ? 'ALL' : numText(box[DIM_PROTO], -1, PROTOCOL_NAMES),
    port: numText(box[DIM_PORT], PORT_NONE),
    remote: addressesText(box[DIM_REMOTE]),
    local: allLocal ? ['ALL'] : addressesText(locals),
    sourcePort: numText(box[DIM_SPORT], PORT_NONE),
    icmpType: numText(box[DIM_ICMP_TYPE], ICMP_NONE),
    icmpCode: numText(box[DIM_ICMP_CODE], ICMP_NONE),
  };
}
