/**
 * A cloud-realistic policy for bench/cloud.bench.ts (seeded, so runs compare):
 * 5 security groups × 100 rules per direction, one instance bound to all 5 in
 * priority order, the way a tenant's web tier ends up after a few years:
 * presets (HTTP, HTTPS, Linux/Windows login, ping, FTP), TCP/UDP rules with single
 * ports, port lists, ranges and mixed lists, ALL-protocol rules, IPv4 and IPv6
 * peers as CIDRs (/8 to /32, /32 to /128), address ranges a-b, 0.0.0.0/0, ::/0 and
 * `any`, a few localCidr rules, accept and drop. Flows go both ways, IPv4 and
 * IPv6, aimed at the rules' peers and ports (75%) or anywhere.
 */
import type { ConfigInput, FlowInput, ProtocolName, RuleInput, SecurityGroupInput } from '../src/index.js';
import { mulberry32, pick, type Rng } from '../test/random.js';

export const CLOUD_GROUPS = 5;
export const CLOUD_RULES_PER_DIRECTION = 100;
export const CLOUD_INSTANCE = 'web-1';

const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const v4 = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const hex = (r: Rng) => int(r, 0, 0xffff).toString(16);

/** A peer and an address inside it (for aiming flows). */
interface Peer {
  text: string;
  v6: boolean | null; // null = both families
  sample: (r: Rng) => string;
}

/** VPC-ish and public IPv4 bases, so that rules of different groups overlap. */
const V4_BASES = [0x0a000000, 0x0a010000, 0x0a020000, 0xac100000, 0xc0a80000, 0xcb007100, 0xc6336400, 0x2d4f0000, 0x68100000, 0x34000000];
const V6_BASES = ['2001:db8', '2001:db8:10', '2400:cb00', '2606:4700', 'fd00:1'];

function v4Peer(r: Rng): Peer {
  const kind = r();
  const base = pick(r, V4_BASES);
  if (kind < 0.7) {
    const len = pick(r, [8, 12, 16, 16, 20, 24, 24, 24, 26, 28, 32, 32]);
    const mask = len === 32 ? 0xffffffff : (~(0xffffffff >>> len)) >>> 0;
    const net = ((base + int(r, 0, 0xffff) * 256 + int(r, 0, 255)) & mask) >>> 0;
    const size = len === 32 ? 1 : 2 ** (32 - len);
    return { text: `${v4(net)}/${len}`, v6: false, sample: (q) => v4(net + Math.floor(q() * size)) };
  }
  if (kind < 0.9) {
    const lo = (base + int(r, 0, 0xffff) * 16) >>> 0;
    const n = int(r, 2, 300);
    return { text: `${v4(lo)}-${v4(lo + n - 1)}`, v6: false, sample: (q) => v4(lo + Math.floor(q() * n)) };
  }
  return { text: '0.0.0.0/0', v6: false, sample: (q) => v4(Math.floor(q() * 2 ** 32)) };
}

function v6Peer(r: Rng): Peer {
  const kind = r();
  const base = pick(r, V6_BASES);
  if (kind < 0.75) {
    const len = pick(r, [32, 48, 48, 56, 64, 64, 64, 96, 128]);
    const groups = [...base.split(':'), hex(r), hex(r), hex(r), hex(r), hex(r), hex(r), hex(r), hex(r)].slice(0, 8);
    const keep = Math.floor(len / 16);
    if (len === 128) {
      const a = groups.join(':');
      return { text: `${a}/128`, v6: true, sample: () => a };
    }
    const head = groups.slice(0, keep);
    if (len % 16) head.push((parseInt(groups[keep]!, 16) & (0xffff << (16 - (len % 16))) & 0xffff).toString(16));
    const text = `${head.join(':')}${head.length < 8 ? '::' : ''}/${len}`;
    return {
      text,
      v6: true,
      sample: (q) => {
        const g = [...head];
        if (len % 16) g[g.length - 1] = (parseInt(g[g.length - 1]!, 16) | int(q, 0, (1 << (16 - (len % 16))) - 1)).toString(16);
        while (g.length < 8) g.push(hex(q));
        return g.join(':');
      },
    };
  }
  if (kind < 0.85) {
    const prefix = `${base}:${hex(r)}:${hex(r)}::`;
    const lo = int(r, 1, 0x7fff);
    const n = int(r, 2, 500);
    return { text: `${prefix}${lo.toString(16)}-${prefix}${(lo + n - 1).toString(16)}`, v6: true, sample: (q) => `${prefix}${(lo + Math.floor(q() * n)).toString(16)}` };
  }
  return { text: '::/0', v6: true, sample: (q) => `${pick(q, V6_BASES)}::${hex(q)}` };
}

function anyPeer(r: Rng): Peer {
  return { text: 'any', v6: null, sample: (q) => (q() < 0.7 ? v4Peer(q).sample(q) : v6Peer(q).sample(q)) };
}

const COMMON_PORTS = [22, 25, 53, 80, 123, 443, 3306, 3389, 5432, 6379, 8080, 8443, 9090, 27017];

function portSpec(r: Rng): string {
  const k = r();
  if (k < 0.35) return String(pick(r, COMMON_PORTS));
  if (k < 0.55) return [...new Set(Array.from({ length: int(r, 2, 6) }, () => pick(r, COMMON_PORTS)))].sort((a, b) => a - b).join(',');
  if (k < 0.75) {
    const lo = int(r, 1024, 60000);
    return `${lo}-${lo + int(r, 1, 2000)}`;
  }
  if (k < 0.9) {
    const lo = int(r, 1024, 30000);
    return `${pick(r, COMMON_PORTS)},${lo}-${lo + int(r, 10, 500)}`;
  }
  return String(int(r, 1, 65535));
}

/** What a flow aimed at a rule needs: peer family and sample, protocol, a port in range. */
export interface RuleAim {
  direction: 'inbound' | 'outbound';
  peer: Peer;
  protocol: 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'ALL';
  ports: [number, number][] | null;
}

function parsePorts(spec: string): [number, number][] {
  return spec.split(',').map((p) => {
    const [a, b] = p.split('-').map(Number);
    return [a!, b ?? a!] as [number, number];
  });
}

function rule(r: Rng, direction: 'inbound' | 'outbound', aims: RuleAim[]): RuleInput {
  const fam = r();
  let peer = fam < 0.65 ? v4Peer(r) : fam < 0.92 ? v6Peer(r) : anyPeer(r);
  const action = r() < 0.8 ? 'accept' : 'drop';
  const key = direction === 'inbound' ? 'source' : 'destination';
  const k = r();
  let out: RuleInput;
  let aim: Omit<RuleAim, 'direction' | 'peer'>;
  if (k < 0.25) {
    const type = pick(r, ['http', 'https', 'HTTPS (443)', 'linux-login', 'Linux login', 'windows-login', 'ftp', 'telnet'] as const);
    const port = { http: [80], https: [443], 'HTTPS (443)': [443], 'linux-login': [22], 'Linux login': [22], 'windows-login': [3389], ftp: [20, 21], telnet: [23] }[type]!;
    out = { type, [key]: peer.text, action };
    aim = { protocol: 'TCP', ports: [[port[0]!, port[port.length - 1]!]] };
  } else if (k < 0.32) {
    out = { type: 'ping', [key]: peer.text, action };
    aim = { protocol: peer.v6 ? 'ICMPv6' : 'ICMP', ports: null };
  } else if (k < 0.9) {
    const protocol = r() < 0.75 ? 'TCP' : 'UDP';
    const port = portSpec(r);
    out = { protocol, port, [key]: peer.text, action };
    aim = { protocol, ports: parsePorts(port) };
  } else {
    // ALL protocols only for a narrower peer: "ALL from 0.0.0.0/0" would decide every flow.
    while (peer.text === 'any' || peer.text.endsWith('/0')) peer = r() < 0.7 ? v4Peer(r) : v6Peer(r);
    out = { protocol: 'ALL', [key]: peer.text, action };
    aim = { protocol: 'ALL', ports: null };
  }
  if (r() < 0.05) out.localCidr = pick(r, ['10.0.0.0/16', '10.0.1.0/24', '172.31.0.0/16']);
  if (r() < 0.3) out.description = `rule ${aims.length}`;
  aims.push({ direction, peer, ...aim });
  return out;
}

export function cloudPolicy(seed = 7): { config: ConfigInput; aims: RuleAim[] } {
  const r = mulberry32(seed);
  const aims: RuleAim[] = [];
  const names = ['sg-deny-list', 'sg-web', 'sg-app', 'sg-admin', 'sg-base'];
  const groups: SecurityGroupInput[] = names.slice(0, CLOUD_GROUPS).map((id) => ({
    id,
    inbound: Array.from({ length: CLOUD_RULES_PER_DIRECTION }, () => rule(r, 'inbound', aims)),
    outbound: Array.from({ length: CLOUD_RULES_PER_DIRECTION }, () => rule(r, 'outbound', aims)),
  }));
  return { config: { securityGroups: groups, instances: [{ id: CLOUD_INSTANCE, securityGroups: names }] }, aims };
}

/** `count` flows, half inbound and half outbound, aimed at rules (75%) or random. */
export function cloudFlows(aims: RuleAim[], count: number, seed = 8): FlowInput[] {
  const r = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const direction = r() < 0.5 ? 'inbound' : 'outbound';
    const a = pick(r, aims.filter((x) => x.direction === direction));
    const aimed = r() < 0.75;
    const remote = aimed ? a.peer.sample(r) : r() < 0.7 ? v4(Math.floor(r() * 2 ** 32)) : `2001:db8:${hex(r)}::${hex(r)}`;
    const v6 = remote.includes(':');
    let protocol: ProtocolName | 'ALL' = aimed ? a.protocol : pick(r, ['TCP', 'TCP', 'UDP', 'ICMP'] as const);
    if (protocol === 'ALL') protocol = pick(r, ['TCP', 'UDP', 'GRE']);
    if (protocol === 'ICMP' && v6) protocol = 'ICMPv6';
    if (protocol === 'ICMPv6' && !v6) protocol = 'ICMP';
    const flow: FlowInput = { direction, protocol, remote, instance: CLOUD_INSTANCE };
    if (protocol === 'TCP' || protocol === 'UDP') {
      const range = aimed && a.ports ? pick(r, a.ports) : null;
      flow.port = range ? int(r, range[0], range[1]) : r() < 0.5 ? pick(r, COMMON_PORTS) : int(r, 0, 65535);
    }
    if (!v6 && r() < 0.1) flow.local = pick(r, ['10.0.1.7', '172.31.5.9', '10.9.9.9']);
    return flow;
  });
}
