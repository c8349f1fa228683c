/** Synthetic policies and flows for benchmarks (seeded, so runs compare). */
import type { ConfigInput, FlowInput, RuleInput } from '../src/index.js';
import { mulberry32, pick, type Rng } from '../test/random.js';

const octet = (r: Rng) => Math.floor(r() * 256);

/** One group of `n` inbound rules: TCP/UDP ports, lists and ranges, IPv4/IPv6 prefixes. */
export function syntheticPolicy(n: number, seed = 1): { config: ConfigInput; prefixes: string[] } {
  const r = mulberry32(seed);
  const rules: RuleInput[] = [];
  const prefixes: string[] = [];
  for (let i = 0; i < n - 1; i++) {
    const v6 = r() < 0.2;
    const len = v6 ? pick(r, [32, 48, 64, 128]) : pick(r, [8, 16, 24, 24, 28, 32, 32]);
    let peer: string;
    if (v6) {
      const groups = Array.from({ length: 8 }, () => Math.floor(r() * 65536));
      const keep = len / 16;
      peer = `${groups.slice(0, keep).map((g) => g.toString(16)).join(':')}::/${len}`;
      if (keep === 8) peer = `${groups.map((g) => g.toString(16)).join(':')}/128`;
    } else {
      const a = [octet(r), octet(r), octet(r), octet(r)];
      const v = ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
      const net = len === 0 ? 0 : (v & (~0 << (32 - len))) >>> 0;
      peer = `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${len}`;
    }
    prefixes.push(peer);
    const p = Math.floor(r() * 65000);
    const port = pick(r, [String(p), `${p}-${p + Math.floor(r() * 500)}`, `${p},${p + 7},${p + 100}`, '22', '80,443', 'ALL']);
    rules.push({ protocol: pick(r, ['TCP', 'UDP']), port, source: peer, action: r() < 0.7 ? 'accept' : 'drop' });
  }
  rules.push({ protocol: 'ALL', source: '0.0.0.0/0', action: 'drop', description: 'catch-all' });
  return { config: { securityGroups: [{ id: 'sg-bench', inbound: rules }] }, prefixes };
}

/** Flows aimed at the policy's prefixes (so rules match at all depths), plus misses. */
export function syntheticFlows(prefixes: string[], count: number, seed = 2): FlowInput[] {
  const r = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const p = pick(r, prefixes);
    let remote: string;
    if (p.includes(':')) remote = p.replace(/::\/\d+$/, '::1').replace(/\/128$/, '');
    else {
      const [a, len] = p.split('/');
      const parts = a!.split('.').map(Number);
      if (Number(len) < 32) parts[3] = (parts[3]! | 1) & 255;
      remote = parts.join('.');
    }
    if (r() < 0.2) remote = `${octet(r)}.${octet(r)}.${octet(r)}.${octet(r)}`;
    return { direction: 'inbound', protocol: pick(r, ['TCP', 'UDP']), port: Math.floor(r() * 65536), remote };
  });
}
