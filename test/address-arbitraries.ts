/**
 * fast-check generators of addresses in every spelling Node prints or accepts:
 * IPv6 with `::` at every position (over any run of zero groups, or none), leading
 * zeros, either case, an embedded dotted quad, and the families whose meaning is at
 * stake (IPv4-mapped, IPv4-compatible, NAT64, 6to4, loopback, unspecified, and
 * addresses one bit away from the mapped block); IPv4 dotted quads; and their broken
 * neighbours (zone ids, spaces, leading zeros in a quad, mutations).
 *
 * Each generated address carries the 128 bits it was built from, so a test compares
 * what a reader finds with what was meant, not with another reader. Seeds and runs:
 * test/fuzz/settings.ts.
 */
import { fc } from '@fast-check/vitest';

export interface SpelledAddress {
  text: string;
  /** The eight 16-bit groups the text stands for (IPv4: the mapped form ::ffff:a.b.c.d). */
  groups: number[];
  /** What the text means: IPv4 (a dotted quad, or an IPv4-mapped IPv6 address) or IPv6. */
  v4: boolean;
  /** True when the text is written as IPv6. */
  writtenV6: boolean;
}

const g16 = fc.integer({ min: 0, max: 0xffff });
const zeroish = fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: g16 }, { weight: 1, arbitrary: fc.constantFrom(1, 0xffff, 0xfffe) });
const octet = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 127, 255));

/** Eight groups of an interesting kind. */
export const groupsArb: fc.Arbitrary<number[]> = fc.oneof(
  fc.array(zeroish, { minLength: 8, maxLength: 8 }),
  fc.tuple(g16, g16).map(([a, b]) => [0, 0, 0, 0, 0, 0xffff, a, b]), // IPv4-mapped
  fc.tuple(g16, g16).map(([a, b]) => [0, 0, 0, 0, 0, 0, a, b]), // IPv4-compatible (::/96)
  fc.tuple(g16, g16).map(([a, b]) => [0x64, 0xff9b, 0, 0, 0, 0, a, b]), // NAT64
  fc.array(zeroish, { minLength: 7, maxLength: 7 }).map((r) => [0x2002, ...r]), // 6to4
  fc.constantFrom([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 1], [0xfe80, 0, 0, 0, 0, 0, 0, 1]).map((g) => [...g]),
  // One step from the mapped block: must stay IPv6.
  fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 15 }), g16, g16).map(([k, bit, a, b]) => {
    const g = [0, 0, 0, 0, 0, 0xffff, a, b];
    g[k]! ^= 1 << bit;
    return g;
  }),
);

export const isMapped = (g: number[]): boolean => g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;

/** The runs of zero groups [i, j) inside the first `n` groups (every sub-run too). */
function zeroRuns(g: number[], n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j <= n && g[j - 1] === 0; j++) out.push([i, j]);
  return out;
}

const quadText = (hi: number, lo: number) => `${hi >>> 8}.${hi & 255}.${lo >>> 8}.${lo & 255}`;

/** How to write eight groups: which zero run becomes `::`, the dotted quad, padding, case. */
export interface Spelling {
  gapPick: number; // 0: no `::`; k: the k-th zero run (mod count)
  quad: boolean;
  pad: number[];
  upper: boolean[];
}

export const spellingArb: fc.Arbitrary<Spelling> = fc.record({
  gapPick: fc.nat(40),
  quad: fc.boolean(),
  pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
  upper: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
});

/** Writes eight groups as valid IPv6 text per `sp`. */
export function spell(g: number[], sp: Spelling): string {
  const n = sp.quad ? 6 : 8;
  let c = 0;
  const hex = g.slice(0, n).map((x, i) => {
    const h = x.toString(16);
    const padded = h.padStart(Math.min(4, h.length + sp.pad[i]!), '0');
    return [...padded].map((ch) => (sp.upper[c++ % 32] ? ch.toUpperCase() : ch)).join('');
  });
  const tail = sp.quad ? [quadText(g[6]!, g[7]!)] : [];
  const runs = zeroRuns(g, n);
  if (sp.gapPick === 0 || runs.length === 0) return [...hex, ...tail].join(':');
  const [i, j] = runs[(sp.gapPick - 1) % runs.length]!;
  return `${hex.slice(0, i).join(':')}::${[...hex.slice(j), ...tail].join(':')}`;
}

/** An IPv6 address in any valid spelling. */
export const ipv6Arb: fc.Arbitrary<SpelledAddress> = fc.tuple(groupsArb, spellingArb).map(([groups, sp]) => ({
  text: spell(groups, sp),
  groups,
  v4: isMapped(groups),
  writtenV6: true,
}));

/** An IPv4 address as a strict dotted quad. */
export const ipv4Arb: fc.Arbitrary<SpelledAddress> = fc.tuple(octet, octet, octet, octet).map(([a, b, c, d]) => ({
  text: `${a}.${b}.${c}.${d}`,
  groups: [0, 0, 0, 0, 0, 0xffff, (a << 8) | b, (c << 8) | d],
  v4: true,
  writtenV6: false,
}));

/** Any valid address text. */
export const addressArb: fc.Arbitrary<SpelledAddress> = fc.oneof({ weight: 3, arbitrary: ipv6Arb }, { weight: 1, arbitrary: ipv4Arb });

/** IPv6 addresses that mean IPv6 (not IPv4-mapped), in any spelling. */
export const trueIpv6Arb: fc.Arbitrary<SpelledAddress> = ipv6Arb.filter((a) => !a.v4);

const ZONE_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:'];
/** A zone id as Node accepts it after `%`. */
export const zoneArb: fc.Arbitrary<string> = fc.string({ unit: fc.constantFrom(...ZONE_CHARS), minLength: 1, maxLength: 12 });

export const spaceArb: fc.Arbitrary<string> = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\ufeff', '\u2028'), minLength: 1, maxLength: 3 });

const TEXT_CHARS = [...'0123456789abcdefABCDEF:.%'];
/** Short strings over the characters of address text (mostly not addresses). */
export const addressLikeArb: fc.Arbitrary<string> = fc.string({ unit: fc.constantFrom(...TEXT_CHARS, ' ', 'g', '/', '[', ']', '-'), maxLength: 46 });

/** A valid address text with one character inserted, removed or replaced. */
export const mutatedArb: fc.Arbitrary<string> = fc
  .tuple(addressArb, fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom(...TEXT_CHARS, '0', '00', ':', '::', '.'))
  .map(([a, at, op, ch]) => {
    const s = a.text;
    const k = at % (s.length + 1);
    if (op === 'insert') return s.slice(0, k) + ch + s.slice(k);
    if (op === 'delete') return s.slice(0, k) + s.slice(k + 1);
    return s.slice(0, k) + ch + s.slice(k + 1);
  });

/** The 128 bits of eight groups as four 32-bit words. */
export const wordsOf = (g: number[]): number[] => [0, 2, 4, 6].map((k) => ((g[k]! << 16) | g[k + 1]!) >>> 0);

/** The 32-bit IPv4 address of the last two groups. */
export const lowWord = (g: number[]): number => ((g[6]! << 16) | g[7]!) >>> 0;

export const quadOf = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

/** Canonical-ish hex text of eight groups (no `::`): what a test hands an independent reader. */
export const plainHex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');

/** Eight groups from the WHATWG canonical IPv6 text (`new URL` host), an independent reader. */
export function groupsFromWhatwg(host: string): number[] {
  const h = host.replace(/^\[|\]$/g, '');
  const [left, right] = h.includes('::') ? h.split('::') : [h, undefined];
  const l = left ? left.split(':').map((x) => parseInt(x, 16)) : [];
  if (right === undefined) return l;
  const r = right ? right.split(':').map((x) => parseInt(x, 16)) : [];
  return [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
}
