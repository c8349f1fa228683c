/**
 * A blocklist for bench/blocklist.bench.ts (seeded): `n` prefixes, 80% IPv4
 * (/16 to /32) and 20% IPv6 (/32 to /128), each a drop rule (a rule has one peer),
 * after a few port rules and before a final accept-all; and addresses that hit
 * (inside a random listed prefix) or miss, in a fixed pattern so that any slice
 * of 10 consecutive addresses has the same mix: 8 IPv4 + 2 IPv6, half of each hits.
 */
import type { ConfigInput, RuleInput } from '../src/index.js';
import { mulberry32, type Rng } from '../test/random.js';

export interface Prefix {
  v6: boolean;
  /** Network address as text (host bits zero). */
  addr: string;
  len: number;
  /** IPv4: the 32-bit network; IPv6: eight 16-bit groups. */
  bits: number | number[];
}

const v4 = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const v6 = (g: number[]) => g.map((x) => x.toString(16)).join(':');

function v6Groups(r: Rng): number[] {
  // Global unicast 2000::/3, like real blocklists.
  const g = Array.from({ length: 8 }, () => Math.floor(r() * 65536));
  g[0] = 0x2000 | (g[0]! & 0x1fff);
  return g;
}

export function blocklistPrefixes(n: number, seed = 11): Prefix[] {
  const r = mulberry32(seed);
  const seen = new Set<string>();
  const out: Prefix[] = [];
  while (out.length < n) {
    let p: Prefix;
    if (r() < 0.8) {
      const len = 16 + Math.floor(r() * 17);
      const mask = len === 32 ? 0xffffffff : ~(0xffffffff >>> len);
      const net = (Math.floor(r() * 2 ** 32) & mask) >>> 0;
      p = { v6: false, addr: v4(net), len, bits: net };
    } else {
      const len = 32 + Math.floor(r() * 97);
      const g = v6Groups(r);
      for (let k = 0; k < 8; k++) {
        const keep = Math.max(0, Math.min(16, len - 16 * k));
        g[k] = keep === 0 ? 0 : g[k]! & ((0xffff << (16 - keep)) & 0xffff);
      }
      p = { v6: true, addr: v6(g), len, bits: g };
    }
    const key = `${p.addr}/${p.len}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

/** One group: a few port rules, one drop rule per prefix, then accept everything. */
export function blocklistPolicy(prefixes: readonly Prefix[]): ConfigInput {
  const head: RuleInput[] = [
    { type: 'telnet', source: 'any', action: 'drop', description: 'no telnet' },
    { protocol: 'TCP', port: '445,3389,5900-5910', source: 'any', action: 'drop', description: 'SMB, RDP, VNC' },
    { protocol: 'UDP', port: '1900,11211', source: 'any', action: 'drop', description: 'SSDP, memcached' },
    { type: 'linux-login', source: '10.0.0.0/8', action: 'accept' },
  ];
  const list: RuleInput[] = prefixes.map((p) => ({ protocol: 'ALL', source: `${p.addr}/${p.len}`, action: 'drop' }));
  const tail: RuleInput[] = [{ protocol: 'ALL', source: 'any', action: 'accept', description: 'everything else' }];
  return { securityGroups: [{ id: 'sg-blocklist', inbound: [...head, ...list, ...tail] }] };
}

/** An address inside `p` (random host bits). */
function inside(r: Rng, p: Prefix): string {
  if (!p.v6) {
    const host = p.len === 32 ? 0 : Math.floor(r() * 2 ** (32 - p.len));
    return v4(((p.bits as number) + host) >>> 0);
  }
  const g = [...(p.bits as number[])];
  for (let k = 0; k < 8; k++) {
    const free = Math.max(0, Math.min(16, 16 * (k + 1) - p.len));
    if (free > 0) g[k] = g[k]! | Math.floor(r() * 2 ** free);
  }
  return v6(g);
}

/** `count` addresses: position i is IPv6 when i % 10 ≥ 8, and a hit when i is even. */
export function blocklistAddresses(prefixes: readonly Prefix[], count: number, seed = 12): { addrs: string[]; aimedHit: boolean[] } {
  const r = mulberry32(seed);
  const v4s = prefixes.filter((p) => !p.v6);
  const v6s = prefixes.filter((p) => p.v6);
  const addrs: string[] = [];
  const aimedHit: boolean[] = [];
  for (let i = 0; i < count; i++) {
    const isV6 = i % 10 >= 8;
    const hit = i % 2 === 0;
    if (hit) addrs.push(inside(r, (isV6 ? v6s : v4s)[Math.floor(r() * (isV6 ? v6s : v4s).length)]!));
    else addrs.push(isV6 ? v6(v6Groups(r)) : v4(Math.floor(r() * 2 ** 32)));
    aimedHit.push(hit);
  }
  return { addrs, aimedHit };
}
