/**
 * The one address reader (docs/SEMANTICS.md, "Flows", "Addresses" and "Rules"): text → four 32-bit words and a
 * family. Every string gets the meaning Node's `net` gives it, or is refused; flows,
 * rule peers, CIDRs, ranges, localCidr and the socket guards all read addresses here.
 *
 * Grammar: exactly what `net.isIPv4` / `net.isIPv6` accept, less zone ids.
 *   IPv4  a strict dotted quad: four decimal numbers 0-255 without leading zeros
 *         (`010.0.0.1` is refused: other readers take it as octal 8.0.0.1).
 *   IPv6  eight groups of 1-4 hex digits (either case, leading zeros allowed); one
 *         `::` stands for one or more zero groups; the last 32 bits may be written as
 *         an embedded dotted quad (`::ffff:1.2.3.4`, `64:ff9b::192.0.2.1`).
 * Refused: zone ids (`fe80::1%eth0`: a zone names an interface, not an address; the
 * guards remove the zone Node reports on link-local sockets before reading, see
 * src/node/stats.ts), brackets, spaces, and everything else net.isIP refuses.
 *
 * Meaning: the 128 bits decide, never the spelling. An IPv4-mapped address
 * (::ffff:0:0/96 — `::ffff:1.2.3.4`, `::FFFF:102:304`, `0:0:0:0:0:ffff:1.2.3.4`) is the
 * IPv4 address of its last 32 bits, as a dual-stack socket means it. Every other IPv6
 * address is IPv6: the IPv4-compatible `::1.2.3.4` is `::102:304` (the dotted quad is
 * only notation), NAT64 64:ff9b::/96 and 6to4 2002::/16 are IPv6 too.
 *
 * Words: word 0 is the most significant. IPv4 → [address, 0, 0, 0]; IPv6 → all four
 * (the order assembly/layout.ts BATCH uses). readAddress allocates nothing and uses
 * no BigInt: flows are read by the million. Configs are read once per compile, so
 * their ranges stay bigint (AddressRange) for plain arithmetic.
 */
import ipaddr from 'ipaddr.js';
import type { AddressSet, AddressRange } from '../types.js';
import { quote } from './plain.js';

/** readAddress results: a family, or (negative) why the text is not an address. */
export const IPV4 = 4;
export const IPV6 = 6;
export const NOT_AN_ADDRESS = -1;
export const ZONE_ID = -2;
export const EMBEDDED_QUAD = -3;
export const SURROUNDING_SPACE = -4;
export const EMPTY_ADDRESS = -5;

/** The longest text an address can have: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. */
const MAX_TEXT = 45;

const DOT = 46;
const COLON = 58;

/**
 * A strict dotted quad in s[from, to): its 32-bit value, or -1. No leading zeros,
 * each number 0-255, nothing else. One pass, one character read per position (the
 * per-flow path: a server reads one of these per connection).
 */
function readQuad(s: string, from: number, to: number): number {
  let v = 0;
  let octet = 0;
  let digits = 0; // of the number being read
  let dots = 0;
  let lead = 0; // its first digit
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || dots === 3) return -1;
      v = v * 256 + octet;
      dots++;
      octet = 0;
      digits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return -1;
    if (digits === 0) lead = d;
    else if (lead === 0) return -1; // a leading zero
    octet = octet * 10 + d;
    if (++digits > 3 || octet > 255) return -1;
  }
  return digits === 0 || dots !== 3 ? -1 : v * 256 + octet;
}

/** The value of each ASCII hex digit (either case), -1 for every other code 0-127. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[65 + c] = HEX[97 + c] = 10 + c;

function hexDigit(c: number): number {
  return c < 128 ? HEX[c]! : -1;
}

/** The eight 16-bit groups of the IPv6 address being read (no allocation per call). */
const GROUPS = new Uint32Array(8);

/** RFC 4291 text in s[0, to) into GROUPS: IPV6, NOT_AN_ADDRESS or EMBEDDED_QUAD. */
function readGroups(s: string, to: number): number {
  let i = 0;
  let n = 0;
  let gap = -1; // index in GROUPS where `::` stands
  if (to >= 2 && s.charCodeAt(0) === COLON) {
    if (s.charCodeAt(1) !== COLON) return NOT_AN_ADDRESS;
    gap = 0;
    i = 2;
  }
  while (i < to) {
    if (n === 8) return NOT_AN_ADDRESS;
    const start = i;
    let g = 0;
    while (i < to && i - start < 4) {
      const d = hexDigit(s.charCodeAt(i));
      if (d < 0) break;
      g = g * 16 + d;
      i++;
    }
    if (i === start) return NOT_AN_ADDRESS;
    if (i < to && s.charCodeAt(i) === DOT) {
      // An embedded dotted quad: the last 32 bits, and the end of the text.
      if (n > 6) return NOT_AN_ADDRESS;
      const q = readQuad(s, start, to);
      if (q < 0) return EMBEDDED_QUAD;
      GROUPS[n++] = q >>> 16;
      GROUPS[n++] = q & 0xffff;
      i = to;
      break;
    }
    GROUPS[n++] = g;
    if (i === to) break;
    if (s.charCodeAt(i) !== COLON) return NOT_AN_ADDRESS;
    i++;
    if (i < to && s.charCodeAt(i) === COLON) {
      if (gap >= 0) return NOT_AN_ADDRESS;
      gap = n;
      i++;
    } else if (i === to) return NOT_AN_ADDRESS; // a trailing single colon
  }
  if (gap < 0) return n === 8 ? IPV6 : NOT_AN_ADDRESS;
  if (n > 7) return NOT_AN_ADDRESS; // `::` stands for at least one group
  // Move the groups after the gap to the end, zero the gap.
  const tail = n - gap;
  for (let k = 0; k < tail; k++) GROUPS[7 - k] = GROUPS[n - 1 - k]!;
  for (let k = gap; k < 8 - tail; k++) GROUPS[k] = 0;
  return IPV6;
}

/**
 * Reads `text` as one address (no prefix, no zone, no spaces) into out[at..at+3]:
 * returns IPV4 or IPV6, or a negative reason (NOT_AN_ADDRESS, ZONE_ID, EMBEDDED_QUAD,
 * SURROUNDING_SPACE, EMPTY_ADDRESS; see addressProblem), and then leaves `out` as it
 * was. IPv4-mapped IPv6 text reads as IPV4.
 */
export function readAddress(text: string, out: Uint32Array, at: number): number {
  const n = text.length;
  if (n === 0) return EMPTY_ADDRESS;
  if (n > MAX_TEXT) return whyNot(text, NOT_AN_ADDRESS);
  // A dotted quad first (the common case, one pass): text that reads as one has no
  // colon, so it is what the test below would have sent to readQuad anyway.
  const v = readQuad(text, 0, n);
  if (v >= 0) {
    out[at] = v;
    out[at + 1] = 0;
    out[at + 2] = 0;
    out[at + 3] = 0;
    return IPV4;
  }
  // An IPv6 text has a colon within its first five characters, an IPv4 one none.
  let v6 = false;
  for (let i = 0; i < 5 && i < n; i++) {
    if (text.charCodeAt(i) === COLON) {
      v6 = true;
      break;
    }
  }
  if (!v6) return whyNot(text, NOT_AN_ADDRESS);
  const r = readGroups(text, n);
  if (r !== IPV6) return whyNot(text, r);
  const g = GROUPS;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    out[at] = ((g[6]! << 16) | g[7]!) >>> 0;
    out[at + 1] = 0;
    out[at + 2] = 0;
    out[at + 3] = 0;
    return IPV4;
  }
  out[at] = ((g[0]! << 16) | g[1]!) >>> 0;
  out[at + 1] = ((g[2]! << 16) | g[3]!) >>> 0;
  out[at + 2] = ((g[4]! << 16) | g[5]!) >>> 0;
  out[at + 3] = ((g[6]! << 16) | g[7]!) >>> 0;
  return IPV6;
}

const SCRATCH = new Uint32Array(4);

/**
 * Why a text that did not read is not an address (the slow path, refusals only):
 * spaces around a good address, or a zone id after one, say so; otherwise `reason`.
 */
function whyNot(text: string, reason: number): number {
  const trimmed = text.trim();
  if (trimmed !== text) return trimmed !== '' && readAddress(trimmed, SCRATCH, 0) > 0 ? SURROUNDING_SPACE : NOT_AN_ADDRESS;
  const pct = text.indexOf('%');
  if (pct > 0 && text.lastIndexOf(':', pct) >= 0 && readGroups(text, pct) === IPV6) return ZONE_ID;
  // Too long to be an address, but maybe only because its embedded quad has leading zeros.
  if (reason === NOT_AN_ADDRESS && text.length <= 2 * MAX_TEXT && text.includes(':') && readGroups(text, text.length) === EMBEDDED_QUAD) return EMBEDDED_QUAD;
  return reason;
}

/** Shows user text in a message: quoted, and cut when long. */
export function quoteText(text: string): string {
  return quote(text, 60);
}

/** A sentence saying why `text` is not an address, for a readAddress reason. */
export function addressProblem(text: string, reason: number): string {
  const q = quoteText(text);
  switch (reason) {
    case EMPTY_ADDRESS:
      return 'the address is empty; write an IPv4 address (a.b.c.d) or an IPv6 address';
    case ZONE_ID:
      return `${q} has a zone id (${quoteText(text.slice(text.indexOf('%')))}); a zone id names a network interface, not an address: write the address without it`;
    case SURROUNDING_SPACE:
      return `${q} has spaces around the address; write ${quoteText(text.trim())}`;
    case EMBEDDED_QUAD:
      return `${q} is not an IPv6 address: its embedded IPv4 part must be a dotted quad (four numbers 0-255 without leading zeros)`;
    default:
      return `${q} is not an IPv4 address (a.b.c.d, each 0-255 without leading zeros) or an IPv6 address`;
  }
}

// ---------- Formatting ----------

const hex = (v: number) => v.toString(16);

/**
 * The canonical text of an address in words (RFC 5952: lower-case hex, no leading
 * zeros, the longest run of two or more zero groups as `::`). IPv4-mapped words
 * print as `::ffff:a.b.c.d`; every other IPv6 address in hex only, so `::102:304`
 * never looks like the IPv4 address 1.2.3.4.
 */
export function formatWords(v6: boolean, w0: number, w1: number, w2: number, w3: number): string {
  const quad = (v: number) => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  if (!v6) return quad(w0);
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${quad(w3)}`;
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.map(hex).join(':');
  return `${g.slice(0, best).map(hex).join(':')}::${g.slice(best + bestLen).map(hex).join(':')}`;
}

/** The canonical text of an address held as a bigint (configs, messages, tests). */
export function formatAddress(v6: boolean, addr: bigint): string {
  if (!v6) return formatWords(false, Number(addr & 0xffffffffn), 0, 0, 0);
  const w = (k: bigint) => Number((addr >> k) & 0xffffffffn);
  return formatWords(true, w(96n), w(64n), w(32n), w(0n));
}

/**
 * An address set as text: each range as a CIDR when it is one (`10.0.0.0/8`), else
 * `lo-hi`, IPv4 first, joined by `,` (messages, logs; not read back by the parser
 * for mapped forms: an IPv4-mapped prefix reads as its IPv4 range).
 */
export function addressSetText(set: { v4: readonly { lo: bigint; hi: bigint }[]; v6: readonly { lo: bigint; hi: bigint }[] }): string {
  const one = (v6: boolean, r: { lo: bigint; hi: bigint }): string => {
    const size = r.hi - r.lo + 1n;
    if ((size & (size - 1n)) === 0n && (r.lo & (size - 1n)) === 0n) {
      let bits = 0;
      for (let x = size; x > 1n; x >>= 1n) bits++;
      return `${formatAddress(v6, r.lo)}/${(v6 ? 128 : 32) - bits}`;
    }
    return `${formatAddress(v6, r.lo)}-${formatAddress(v6, r.hi)}`;
  };
  return [...set.v4.map((r) => one(false, r)), ...set.v6.map((r) => one(true, r))].join(',');
}

// ---------- Config text: addresses, CIDRs, ranges (read once per compile) ----------

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

const WORDS = new Uint32Array(4);

/**
 * Reads one address of a config (a peer, a CIDR's address, a range end). Spaces
 * around it are ignored, as around every token a person writes in a config file.
 * Config text is validated twice: by ipaddr.js (the well-kept validator configs have
 * always gone through) and by readAddress, which gives the address its meaning (Node's,
 * docs/SEMANTICS.md "Addresses"; ipaddr.js alone would read ::1.2.3.4 as IPv4). Text either refuses is
 * refused; on every spelling Node accepts, less zone ids, the two agree
 * (test/address.test.ts).
 */
export function parseAddress(text: string): Parsed<Address> {
  const s = text.trim();
  const family = readAddress(s, WORDS, 0);
  if (family < 0) return fail('INVALID_ADDRESS', addressProblem(s, family));
  if (!ipaddr.isValid(s)) return fail('INVALID_ADDRESS', addressProblem(s, NOT_AN_ADDRESS));
  if (family === IPV4) return { ok: true, value: { v6: false, addr: BigInt(WORDS[0]!) } };
  const addr = (BigInt(WORDS[0]!) << 96n) | (BigInt(WORDS[1]!) << 64n) | (BigInt(WORDS[2]!) << 32n) | BigInt(WORDS[3]!);
  return { ok: true, value: { v6: true, addr } };
}

const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96

/**
 * Parses `addr/len` into the inclusive range it covers. An IPv4-mapped address with
 * a prefix length of 96 or more is the IPv4 prefix of length len - 96
 * (`::ffff:10.0.0.0/104` = 10.0.0.0/8); with a shorter one it is an IPv6 prefix
 * (wider than the mapped block, so it can only match IPv6 flows).
 */
export function parseCidr(text: string, hostBitsMode: HostBits = 'refuse'): Parsed<{ v6: boolean; range: AddressRange; network?: string }> {
  const slash = text.indexOf('/');
  const addrText = text.slice(0, slash).trim();
  const lenText = text.slice(slash + 1).trim();
  const a = parseAddress(addrText);
  if (!a.ok) return a;
  if (!/^\d{1,3}$/.test(lenText)) {
    return fail('INVALID_ADDRESS', `${quoteText(text)} has prefix length ${quoteText(lenText)}; a prefix length is a whole number (0-32 for IPv4, 0-128 for IPv6)`);
  }
  let len = Number(lenText);
  let { v6, addr } = a.value;
  // Written as IPv6 but read as IPv4: an IPv4-mapped address; its length counts from bit 96.
  const writtenV6 = addrText.includes(':');
  if (writtenV6 && !v6) {
    if (len > 128) return fail('PREFIX_TOO_LONG', `${quoteText(text)}: prefix length ${len} is past 128, the IPv6 maximum`);
    if (len < 96) {
      v6 = true;
      addr = MAPPED_PREFIX | addr;
    } else len -= 96;
  }
  const bits = v6 ? 128 : 32;
  if (len > bits) {
    return fail('PREFIX_TOO_LONG', `${quoteText(text)}: prefix length ${len} is past ${bits}, the ${v6 ? 'IPv6' : 'IPv4'} maximum`);
  }
  const hostBits = BigInt(bits - len);
  const hostMask = (1n << hostBits) - 1n;
  if ((addr & hostMask) !== 0n) {
    const net = formatAddress(v6, addr & ~hostMask);
    const lenShown = writtenV6 && !v6 ? len + 96 : len;
    const netShown = writtenV6 && !v6 ? `::ffff:${net}` : net;
    // What a cloud stores and returns as it is (SPEC §9): the network, said in a warning.
    if (hostBitsMode === 'network') return { ok: true, value: { v6, range: { lo: addr & ~hostMask, hi: addr | hostMask }, network: `${netShown}/${lenShown}` } };
    return fail(
      'HOST_BITS_SET',
      `${quoteText(text)} has host bits set past /${lenShown}; did you mean the network ${netShown}/${lenShown}, ` +
        `or the single address ${addrText}/${writtenV6 ? 128 : bits}?`,
    );
  }
  return { ok: true, value: { v6, range: { lo: addr, hi: addr | hostMask } } };
}

/**
 * What a CIDR with host bits set (`10.0.0.1/8`) means: `refuse` (configs: HOST_BITS_SET,
 * naming the network meant), or `network` (what a cloud API returns as it stores it,
 * SPEC §9: the network, reported in `network` so the caller can warn).
 */
export type HostBits = 'refuse' | 'network';

/**
 * Parses a peer: `any`, an address, a CIDR, or an inclusive range `a-b` (docs/SEMANTICS.md "Rules").
 * `0.0.0.0/0` is all IPv4, `::/0` all IPv6, `any` both. A range's ends are read by
 * meaning: `::ffff:10.0.0.1-10.0.0.9` is an IPv4 range, `::1.2.3.4-::1.2.3.9` an IPv6 one.
 * With hostBits `network`, a CIDR with host bits is its network, and `network` (on
 * the result) names it.
 */
export function parsePeer(text: string, hostBits: HostBits = 'refuse'): Parsed<AddressSet> & { network?: string } {
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
    const c = parseCidr(s, hostBits);
    if (!c.ok) return c;
    const out: Parsed<AddressSet> & { network?: string } = one(c.value.v6, c.value.range);
    if (c.value.network !== undefined) out.network = c.value.network;
    return out;
  }
  if (s.includes('-')) {
    const parts = s.split('-');
    if (parts.length !== 2) return fail('INVALID_ADDRESS', `${quoteText(text)} is not a range; write first-last, e.g. 10.0.0.1-10.0.0.50`);
    const a = parseAddress(parts[0]!);
    if (!a.ok) return fail('INVALID_ADDRESS', `range ${quoteText(text)}: ${a.message}`);
    const b = parseAddress(parts[1]!);
    if (!b.ok) return fail('INVALID_ADDRESS', `range ${quoteText(text)}: ${b.message}`);
    if (a.value.v6 !== b.value.v6) {
      return fail('MIXED_FAMILIES', `range ${quoteText(text)} mixes an IPv4 and an IPv6 end; both ends must be of one family`);
    }
    if (a.value.addr > b.value.addr) {
      return fail('REVERSED_RANGE', `range ${quoteText(text)} is reversed; write the lower address first: ${parts[1]!.trim()}-${parts[0]!.trim()}`);
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

/**
 * The union of address sets: per family, ranges sorted and overlapping or adjacent ones
 * merged, so no address is in two ranges. Sets, set groups and group references are
 * unions of many peers; merged, one address set compiles to disjoint prefixes (a box
 * whose prefixes nest would be added to the trie twice on one path).
 */
export function unionOf(sets: readonly AddressSet[]): AddressSet {
  const merge = (lists: AddressRange[][]): AddressRange[] => {
    const all: AddressRange[] = [];
    for (const l of lists) for (const r of l) all.push(r);
    all.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
    const out: AddressRange[] = [];
    for (const r of all) {
      const last = out.at(-1);
      if (last && r.lo <= last.hi + 1n) {
        if (r.hi > last.hi) last.hi = r.hi;
      } else out.push({ lo: r.lo, hi: r.hi });
    }
    return out;
  };
  return { v4: merge(sets.map((s) => s.v4)), v6: merge(sets.map((s) => s.v6)) };
}

/** True when two address sets hold the same ranges in the same order (merged sets: the same addresses). */
export function sameAddresses(a: AddressSet, b: AddressSet): boolean {
  const same = (x: AddressRange[], y: AddressRange[]) => x.length === y.length && x.every((r, i) => r.lo === y[i]!.lo && r.hi === y[i]!.hi);
  return same(a.v4, b.v4) && same(a.v6, b.v6);
}
