/**
 * Addresses, CIDRs and ranges (SPEC §2 peers, §1 flow addresses), parsed with
 * ipaddr.js and held as bigint ranges. An IPv4-mapped IPv6 address is the IPv4
 * address for every purpose (SPEC §1), in flows and in rules alike.
 */
import ipaddr from 'ipaddr.js';
import type { AddressSet, AddressRange } from '../types.js';

export interface Address {
  v6: boolean;
  addr: bigint;
}

export const V4_MAX = (1n << 32n) - 1n;
export const V6_MAX = (1n << 128n) - 1n;

/** Outcome of parsing: a value, or why not (code + message). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; code: ParseFailure; message: string };
export type ParseFailure = 'INVALID_ADDRESS' | 'PREFIX_TOO_LONG' | 'HOST_BITS_SET' | 'MIXED_FAMILIES' | 'REVERSED_RANGE';

const fail = <T>(code: ParseFailure, message: string): Parsed<T> => ({ ok: false, code, message });


// Dotted-quad IPv4, decimal, no leading zeros: exactly what ipaddr.js's
// isValidFourPartDecimal accepts, read in one pass (flows are parsed by the
// million; ipaddr.js parses IPv4 twice and builds objects to say the same thing).
const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

function parseDottedQuad(s: string): number | undefined {
  const m = DOTTED_QUAD.exec(s);
  if (!m) return undefined;
  let v = 0;
  for (let k = 1; k <= 4; k++) {
    const octet = Number(m[k]);
    if (octet > 255) return undefined;
    v = v * 256 + octet;
  }
  return v;
}

/** Parses one address (no prefix): strict dotted-quad IPv4 or IPv6 (ipaddr.js) without zone id. */
export function parseAddress(text: string): Parsed<Address> {
  const s = text.trim();
  const v4 = parseDottedQuad(s);
  if (v4 !== undefined) return { ok: true, value: { v6: false, addr: BigInt(v4) } };
  if (s.includes(':')) {
    let a: ipaddr.IPv6 | undefined;
    try {
      a = ipaddr.IPv6.parse(s);
    } catch {
      a = undefined;
    }
    if (a) {
      if (s.includes('.') && parseDottedQuad(s.slice(s.lastIndexOf(':') + 1)) === undefined) {
        return fail('INVALID_ADDRESS', `"${text}" is not an IPv6 address (the embedded IPv4 part must be a dotted quad)`);
      }
      if (a.zoneId) return fail('INVALID_ADDRESS', `"${text}" has a zone id (%${a.zoneId}); zones are not allowed`);
      const p = a.parts;
      if (a.isIPv4MappedAddress()) return { ok: true, value: { v6: false, addr: BigInt(p[6]! * 65536 + p[7]!) } };
      let v = 0n;
      for (const part of p) v = (v << 16n) | BigInt(part);
      return { ok: true, value: { v6: true, addr: v } };
    }
  }
  return fail('INVALID_ADDRESS', `"${text}" is not an IPv4 address (a.b.c.d) or an IPv6 address`);
}

const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96

export function formatAddress(v6: boolean, addr: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((addr >> s) & 255n)).join('.');
  const bytes: number[] = [];
  for (let s = 120n; s >= 0n; s -= 8n) bytes.push(Number((addr >> s) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
}

/** Parses `addr/len` into the inclusive range it covers. */
export function parseCidr(text: string): Parsed<{ v6: boolean; range: AddressRange }> {
  const slash = text.indexOf('/');
  const addrText = text.slice(0, slash).trim();
  const lenText = text.slice(slash + 1).trim();
  const a = parseAddress(addrText);
  if (!a.ok) return a;
  if (!/^\d{1,3}$/.test(lenText)) {
    return fail('INVALID_ADDRESS', `"${text}" has prefix length "${lenText}"; a prefix length is a whole number (0-32 for IPv4, 0-128 for IPv6)`);
  }
  let len = Number(lenText);
  let { v6, addr } = a.value;
  // `::ffff:a.b.c.d/len` parsed as IPv4 already; its length counts from bit 96.
  const writtenV6 = addrText.includes(':');
  if (writtenV6 && !v6) {
    if (len > 128) return fail('PREFIX_TOO_LONG', `"${text}": prefix length ${len} is past 128, the IPv6 maximum`);
    if (len < 96) {
      // A prefix wider than the mapped block is an IPv6 prefix (it can never match an IPv4 flow).
      v6 = true;
      addr = MAPPED_PREFIX | addr;
    } else len -= 96;
  }
  const bits = v6 ? 128 : 32;
  if (len > bits) {
    return fail('PREFIX_TOO_LONG', `"${text}": prefix length ${len} is past ${bits}, the ${v6 ? 'IPv6' : 'IPv4'} maximum`);
  }
  const hostBits = BigInt(bits - len);
  const hostMask = (1n << hostBits) - 1n;
  if ((addr & hostMask) !== 0n) {
    const net = formatAddress(v6, addr & ~hostMask);
    const lenShown = writtenV6 && !v6 ? len + 96 : len;
    const netShown = writtenV6 && !v6 ? `::ffff:${net}` : net;
    return fail(
      'HOST_BITS_SET',
      `"${text}" has host bits set past /${lenShown}; did you mean the network ${netShown}/${lenShown}, ` +
        `or the single address ${addrText}/${writtenV6 ? 128 : bits}?`,
    );
  }
  return { ok: true, value: { v6, range: { lo: addr, hi: addr | hostMask } } };
}

/**
 * Parses a peer: `any`, an address, a CIDR, or an inclusive range `a-b` (SPEC §2).
 * `0.0.0.0/0` is all IPv4, `::/0` all IPv6, `any` both.
 */
export function parsePeer(text: string): Parsed<AddressSet> {
  const s = text.trim();
  if (s === '') return fail('INVALID_ADDRESS', 'the peer is empty; write an address, a CIDR, a range a-b, or any');
  if (s.toLowerCase() === 'any') {
    return { ok: true, value: { v4: [{ lo: 0n, hi: V4_MAX }], v6: [{ lo: 0n, hi: V6_MAX }] } };
  }
  const one = (v6: boolean, range: AddressRange): Parsed<AddressSet> => ({
    ok: true,
    value: v6 ? { v4: [], v6: [range] } : { v4: [range], v6: [] },
  });
  if (s.includes('/')) {
    const c = parseCidr(s);
    return c.ok ? one(c.value.v6, c.value.range) : c;
  }
  if (s.includes('-')) {
    const parts = s.split('-');
    if (parts.length !== 2) return fail('INVALID_ADDRESS', `"${text}" is not a range; write first-last, e.g. 10.0.0.1-10.0.0.50`);
    const a = parseAddress(parts[0]!);
    if (!a.ok) return fail('INVALID_ADDRESS', `range "${text}": ${a.message}`);
    const b = parseAddress(parts[1]!);
    if (!b.ok) return fail('INVALID_ADDRESS', `range "${text}": ${b.message}`);
    if (a.value.v6 !== b.value.v6) {
      return fail('MIXED_FAMILIES', `range "${text}" mixes an IPv4 and an IPv6 end; both ends must be of one family`);
    }
    if (a.value.addr > b.value.addr) {
      return fail('REVERSED_RANGE', `range "${text}" is reversed; write the lower address first: ${parts[1]!.trim()}-${parts[0]!.trim()}`);
    }
    return one(a.value.v6, { lo: a.value.addr, hi: b.value.addr });
  }
  const a = parseAddress(s);
  if (!a.ok) return a;
  return one(a.value.v6, { lo: a.value.addr, hi: a.value.addr });
}

export function inSet(set: AddressRange[], addr: bigint): boolean {
  for (const r of set) if (r.lo <= addr && addr <= r.hi) return true;
  return false;
}
