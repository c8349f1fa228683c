/**
 * Seeded random configs and flows for differential tests. Values are drawn from
 * small pools so that rules overlap, nest and share edges; flows are placed on and
 * next to every range and prefix edge of the config they are tested against.
 */
import type { Config, ConfigInput, FlowInput, PolicyEdit, PolicyTransaction, RuleInput, RuleSpec, SecurityGroupInput } from '../src/index.js';
import { formatAddress, V4_MAX, V6_MAX } from '../src/config/address.js';

export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const chance = (r: Rng, p: number): boolean => r() < p;
const mixCase = (r: Rng, s: string): string => (chance(r, 0.5) ? s : chance(r, 0.5) ? s.toLowerCase() : s.toUpperCase());

const V4_PEERS = [
  '0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3', '10.1.2.128/25', '10.255.255.255',
  '192.0.2.0/24', '192.0.2.10', '192.0.2.66/31', '203.0.113.0/24', '0.0.0.0/1', '128.0.0.0/1', '255.255.255.255/32',
  '0.0.0.0', '10.1.2.3-10.1.2.50', '10.1.2.0-10.1.3.255', '192.0.2.1-192.0.2.254', '9.255.255.250-10.0.0.5',
  '::ffff:10.1.2.0/120', '::ffff:192.0.2.10', '::ffff:0:0/96', '172.16.0.0/12', '::FFFF:10.1.2.3-::ffff:10.1.2.9',
  '0:0:0:0:0:ffff:c000:200/120',
];
const V6_PEERS = [
  '::/0', '2001:db8::/32', '2001:db8:1::/48', '2001:db8:1::1', '2001:db8:1::/127', 'fe80::/10', '::1',
  '2001:db8::1-2001:db8::ffff', '2001:db8:1:ffff::-2001:db8:2::5', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128',
  '8000::/1', '::/1', '::fffe:0:0/95', '64:ff9b::/96',
  // IPv4-compatible, NAT64 and 6to4 spellings with a dotted quad: IPv6, whatever the quad says (SPEC §1).
  '::0.0.0.0/96', '::10.1.2.3', '::10.1.2.0/120', '64:ff9b::192.0.2.0/120', '2002:c000:20a::/48', '::10.1.2.3-::10.1.2.50',
];
const PORT_POOL = [0, 1, 20, 21, 22, 23, 53, 80, 443, 1024, 3306, 3389, 8080, 20000, 65534, 65535];

function portSpec(r: Rng): string | number {
  const one = (): string => {
    if (chance(r, 0.5)) return String(pick(r, PORT_POOL));
    const a = chance(r, 0.5) ? pick(r, PORT_POOL) : int(r, 0, 65535);
    const b = chance(r, 0.5) ? pick(r, PORT_POOL) : int(r, 0, 65535);
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    return chance(r, 0.3) ? `${lo} to ${hi}` : `${lo}-${hi}`;
  };
  const k = int(r, 1, 3);
  if (k === 1 && chance(r, 0.3)) return pick(r, PORT_POOL);
  return Array.from({ length: k }, one).join(chance(r, 0.5) ? ',' : ', ');
}

function peer(r: Rng): string {
  const x = r();
  if (x < 0.08) return pick(r, ['any', 'ANY', 'Any']);
  return x < 0.6 ? pick(r, V4_PEERS) : pick(r, V6_PEERS);
}

const ACCEPTS = ['accept', 'ACCEPT', 'allow', 'Allow'];
const DROPS = ['drop', 'DROP', 'reject', 'Reject', 'deny'];
const PRESETS = ['linux-login', 'Linux login', 'windows-login', 'Windows login', 'ping', 'Ping', 'http', 'HTTP (80)', 'https', 'HTTPS (443)', 'ftp', 'telnet'];

/**
 * A rule as generated: the validator reads words in any case (mixCase gives "tCp"),
 * while RuleInput types only the common spellings, so generated rules are built
 * loosely and handed over as the rules they are at run time.
 */
type LooseRule = { -readonly [K in keyof RuleInput]?: any };

function rule(r: Rng, dir: 'inbound' | 'outbound'): RuleSpec {
  const action = chance(r, 0.55) ? pick(r, ACCEPTS) : pick(r, DROPS);
  const out: LooseRule = { action };
  let proto: string | number;
  if (chance(r, 0.2)) {
    out.type = pick(r, PRESETS);
    proto = out.type.toLowerCase().startsWith('ping') ? 'ping' : 'TCP';
  } else {
    proto = pick(r, ['TCP', 'TCP', 'UDP', 'UDP', 'ICMP', 'ICMPv6', 'GRE', 'ALL', 'ALL', 6, '17', 1, 58, 47, 0, 255, 132]);
    out.protocol = typeof proto === 'string' ? mixCase(r, proto) : proto;
    if (chance(r, 0.1)) out.type = 'custom';
  }
  const tcpUdp = proto === 'TCP' || proto === 'UDP' || proto === 6 || proto === '17';
  if (tcpUdp && !out.type?.match(/login|http|ftp|telnet/i) && chance(r, 0.8)) out.port = chance(r, 0.1) ? 'ALL' : portSpec(r);
  if (tcpUdp && chance(r, 0.1)) out.sourcePort = portSpec(r);
  const icmp = proto === 'ICMP' || proto === 'ICMPv6' || proto === 1 || proto === 58 || proto === 'ping';
  if (icmp && chance(r, 0.25)) {
    out.icmpType = pick(r, [0, 3, 8, 128, 129]);
    if (chance(r, 0.4)) out.icmpCode = pick(r, [0, 1, 4]);
  }
  const p = peer(r);
  if (chance(r, 0.1)) out.peer = p;
  else if (dir === 'inbound') out.source = p;
  else out.destination = p;
  if (chance(r, 0.08)) out.localCidr = peer(r);
  if (chance(r, 0.2)) out.description = 'rule';
  // Terraform lite form for plain rules.
  if (!out.type && !out.sourcePort && !out.localCidr && out.icmpType === undefined && !out.peer && chance(r, 0.1)) {
    const pp = dir === 'inbound' ? out.source : out.destination;
    return `${action}#${pp}#${out.port ?? 'ALL'}#${out.protocol}` as RuleSpec;
  }
  return out as RuleInput;
}

export function randomConfig(r: Rng, maxRules = 12): ConfigInput {
  const nGroups = int(r, 1, 4);
  const groups: SecurityGroupInput[] = [];
  for (let g = 0; g < nGroups; g++) {
    const group: SecurityGroupInput = { id: `sg-${g}` };
    if (chance(r, 0.25)) group.template = pick(r, ['open-all', 'open-common', 'custom', 'OPEN-ALL'] as const);
    group.inbound = Array.from({ length: int(r, 0, maxRules) }, () => rule(r, 'inbound'));
    group.outbound = Array.from({ length: int(r, 0, maxRules) }, () => rule(r, 'outbound'));
    groups.push(group);
  }
  const config: ConfigInput = { securityGroups: groups };
  if (chance(r, 0.6)) {
    config.instances = Array.from({ length: int(r, 1, 3) }, (_, i) => {
      const ids = groups.map((g) => g.id).filter(() => chance(r, 0.7));
      for (let k = ids.length - 1; k > 0; k--) {
        const j = int(r, 0, k);
        [ids[k], ids[j]] = [ids[j]!, ids[k]!];
      }
      return { id: `ins-${i}`, securityGroups: ids };
    });
  }
  return config;
}

/** Addresses on and next to every peer/local range edge of the config, per family. */
function edges(config: Config): { v4: bigint[]; v6: bigint[] } {
  const v4 = new Set<bigint>([0n, V4_MAX, 0x0a010203n, 0xc000020an]);
  const v6 = new Set<bigint>([0n, 1n, V6_MAX, 0x20010db8n << 96n]);
  for (const g of config.securityGroups) {
    for (const rl of [...g.inbound, ...g.outbound]) {
      for (const set of [rl.peer, rl.local]) {
        if (!set) continue;
        for (const [fam, out, max] of [[set.v4, v4, V4_MAX], [set.v6, v6, V6_MAX]] as const) {
          for (const rg of fam) {
            for (const a of [rg.lo - 1n, rg.lo, rg.lo + 1n, rg.hi - 1n, rg.hi, rg.hi + 1n]) if (a >= 0n && a <= max) out.add(a);
          }
        }
      }
    }
  }
  return { v4: [...v4], v6: [...v6] };
}

function portEdges(config: Config): number[] {
  const out = new Set<number>(PORT_POOL);
  for (const g of config.securityGroups) {
    for (const rl of [...g.inbound, ...g.outbound]) {
      for (const list of [rl.ports, rl.sourcePorts, ...(rl.services ?? []).map((s) => s.ports)]) {
        for (const i of list ?? []) for (const p of [i.lo - 1, i.lo, i.hi, i.hi + 1]) if (p >= 0 && p <= 65535) out.add(p);
      }
    }
  }
  return [...out];
}

/**
 * An IPv6 address in one of the spellings Node accepts: canonical, upper case, all
 * eight groups with leading zeros, or the last 32 bits as a dotted quad (which does
 * not make it IPv4: SPEC §1).
 */
function respell(r: Rng, a: bigint): string {
  const canonical = formatAddress(true, a);
  const x = r();
  if (x < 0.6) return canonical;
  if (x < 0.7) return canonical.toUpperCase();
  const groups = Array.from({ length: 8 }, (_, k) => Number((a >> BigInt(112 - 16 * k)) & 0xffffn));
  if (x < 0.85) return groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
  const low = Number(a & 0xffffffffn);
  const quad = `${low >>> 24}.${(low >>> 16) & 255}.${(low >>> 8) & 255}.${low & 255}`;
  // ::a.b.c.d is how Node prints an address of ::/96 (and it is IPv6).
  if (groups.slice(0, 6).every((g) => g === 0)) return `::${quad}`;
  return `${groups.slice(0, 6).map((g) => g.toString(16)).join(':')}:${quad}`;
}

export function randomFlows(r: Rng, config: Config, n: number): FlowInput[] {
  const e = edges(config);
  const ports = portEdges(config);
  const addr = (): string => {
    if (chance(r, 0.6)) {
      const a = chance(r, 0.9) ? pick(r, e.v4) : BigInt(int(r, 0, 2 ** 32 - 1));
      const s = formatAddress(false, a);
      return chance(r, 0.15) ? `::ffff:${s}` : s;
    }
    const a = chance(r, 0.9) ? pick(r, e.v6) : (BigInt(int(r, 0, 2 ** 32 - 1)) << 96n) | BigInt(int(r, 0, 2 ** 32 - 1));
    return respell(r, a);
  };
  const instances = config.implicitInstance ? [] : config.instances.map((i) => i.id);
  const flows: FlowInput[] = [];
  for (let i = 0; i < n; i++) {
    const protocol = pick(r, ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'GRE', 6, 17, 1, 58, 47, 0, 255, 132, 'tcp'] as const);
    const f: FlowInput = { direction: pick(r, ['inbound', 'outbound'] as const), protocol, remote: addr() };
    const tcpUdp = protocol === 'TCP' || protocol === 'UDP' || protocol === 6 || protocol === 17 || protocol === 'tcp';
    if (tcpUdp || chance(r, 0.1)) f.port = pick(r, ports);
    if (tcpUdp && chance(r, 0.3)) f.sourcePort = pick(r, ports);
    const icmp = protocol === 'ICMP' || protocol === 'ICMPv6' || protocol === 1 || protocol === 58;
    if (icmp && chance(r, 0.6)) {
      f.icmpType = pick(r, [0, 3, 8, 128, 129, 255]);
      if (chance(r, 0.6)) f.icmpCode = pick(r, [0, 1, 4]);
    }
    if (chance(r, 0.3)) f.local = addr();
    if (instances.length && chance(r, 0.8)) f.instance = pick(r, instances);
    flows.push(f);
  }
  return flows;
}

// ------------------------------------------------------------------ other formats, edits

/** A random Tencent DescribeSecurityGroupPolicies answer, in one of its three shapes. */
export function randomTencentDoc(r: Rng): unknown {
  const entry = (i: number) => {
    const protocol = pick(r, ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'ALL', 'tcp', 'GRE']);
    const e: Record<string, unknown> = { PolicyIndex: i, Protocol: protocol, Action: pick(r, ['ACCEPT', 'DROP', 'accept']) };
    if (/tcp|udp/i.test(protocol)) e.Port = pick(r, ['22', '80,443', 'ALL', '1-1024', '3306']);
    if (r() < 0.6) e.CidrBlock = pick(r, ['0.0.0.0/0', '10.0.0.0/8', '192.0.2.10', '203.0.113.0/24']);
    else e.Ipv6CidrBlock = pick(r, ['::/0', '2001:db8::/32', 'fe80::/10']);
    if (r() < 0.3) e.PolicyDescription = 'from the console';
    return e;
  };
  const set = {
    Version: String(Math.floor(r() * 20)),
    Ingress: Array.from({ length: Math.floor(r() * 6) }, (_, i) => entry(i)),
    Egress: Array.from({ length: Math.floor(r() * 4) }, (_, i) => entry(i)),
  };
  const shape = Math.floor(r() * 3);
  return shape === 0 ? { Response: { SecurityGroupPolicySet: set, RequestId: 'x' } } : shape === 1 ? { SecurityGroupPolicySet: set } : set;
}

/** A native document whose rules are all Terraform lite strings. */
export function randomTerraformConfig(r: Rng): ConfigInput {
  const doc = randomConfig(r, 6);
  for (const g of doc.securityGroups) {
    for (const dir of ['inbound', 'outbound'] as const) {
      g[dir] = (g[dir] ?? []).map(() => {
        const protocol = pick(r, ['TCP', 'UDP', 'ICMP', 'ALL', 'GRE'] as const);
        const port = /TCP|UDP/.test(protocol) ? pick(r, ['22', '80,443', 'ALL', '1000-2000']) : 'ALL';
        return `${pick(r, ['ACCEPT', 'DROP'] as const)}#${pick(r, ['0.0.0.0/0', '10.0.0.0/8', '::/0', '2001:db8::/32', 'any'])}#${port}#${protocol}` as const;
      });
    }
  }
  return doc;
}

/**
 * A random list of edits against `config`, over every operation, mostly valid (so
 * that hostile text in one field is what decides): rule-carrying edits are the most
 * frequent, and positions name rules that exist.
 */
export function randomEdits(r: Rng, config: Config): PolicyEdit[] {
  const groups = config.securityGroups;
  const instances = config.implicitInstance ? ['default'] : config.instances.map((i) => i.id);
  const rule = () => {
    const doc = randomConfig(r, 2);
    const rules = [...(doc.securityGroups[0]!.inbound ?? []), ...(doc.securityGroups[0]!.outbound ?? [])];
    return rules[0] ?? 'ACCEPT#any#ALL#ALL';
  };
  const written = (g: (typeof groups)[number], d: 'inbound' | 'outbound') => g[d].filter((x) => x.template === undefined).length;
  const n = 1 + Math.floor(r() * 2);
  const out: PolicyEdit[] = [];
  for (let i = 0; i < n; i++) {
    const g = pick(r, groups);
    const d = pick(r, ['inbound', 'outbound'] as const);
    const has = written(g, d) > 0;
    const x = r();
    if (x < 0.3 || (x < 0.55 && !has)) out.push({ op: 'addRule', groupId: g.id, direction: d, rule: rule(), ...(r() < 0.3 ? { at: 0 } : {}) });
    else if (x < 0.45) out.push({ op: 'replaceRule', groupId: g.id, direction: d, index: written(g, d) - 1, rule: rule() });
    else if (x < 0.55) out.push({ op: r() < 0.5 ? 'removeRule' : 'moveRule', groupId: g.id, direction: d, ...(r() < 0.5 ? { index: 0 } : { from: 0, to: written(g, d) - 1 }) } as PolicyEdit);
    else if (x < 0.7) {
      out.push({ op: 'addGroup', group: { id: `sg-new-${i}`, template: pick(r, ['custom', 'open-all', 'open-common']), inbound: [rule()], outbound: [rule()] } });
      out.push({ op: 'bindGroup', instanceId: pick(r, instances), groupId: `sg-new-${i}`, at: 0 });
    } else if (x < 0.78) out.push({ op: 'setGroupOrder', instanceId: pick(r, instances), securityGroups: groups.map((y) => y.id).reverse() });
    else if (x < 0.84) out.push({ op: 'addInstance', instance: { id: `ins-new-${i}`, securityGroups: [g.id] } });
    else if (x < 0.88) out.push({ op: 'unbindGroup', instanceId: pick(r, instances), groupId: g.id });
    else if (x < 0.92) out.push({ op: 'bindGroup', instanceId: pick(r, instances), groupId: g.id });
    else if (x < 0.96) out.push({ op: 'removeInstance', instanceId: pick(r, instances) });
    else out.push({ op: 'removeGroup', groupId: g.id });
  }
  return out;
}

/** The edits as transaction method calls (what `engine.update(tx => ...)` users write). */
export function asCalls(edits: unknown[]): (tx: PolicyTransaction) => void {
  return (tx) => {
    for (const e of edits) {
      let x: Record<string, never>;
      try {
        x = { ...(typeof e === 'object' && e !== null ? e : {}) } as Record<string, never>;
      } catch {
        tx.apply(e as PolicyEdit); // a value this helper cannot even read: as data
        continue;
      }
      switch (x.op as string) {
        case 'addRule': tx.addRule(x.groupId, x.direction, x.rule, x.at); break;
        case 'removeRule': tx.removeRule(x.groupId, x.direction, x.index); break;
        case 'replaceRule': tx.replaceRule(x.groupId, x.direction, x.index, x.rule); break;
        case 'moveRule': tx.moveRule(x.groupId, x.direction, x.from, x.to); break;
        case 'addGroup': tx.addGroup(x.group, x.at); break;
        case 'removeGroup': tx.removeGroup(x.groupId); break;
        case 'bindGroup': tx.bindGroup(x.instanceId, x.groupId, x.at); break;
        case 'unbindGroup': tx.unbindGroup(x.instanceId, x.groupId); break;
        case 'setGroupOrder': tx.setGroupOrder(x.instanceId, x.securityGroups); break;
        case 'addInstance': tx.addInstance(x.instance, x.at); break;
        case 'removeInstance': tx.removeInstance(x.instanceId); break;
        default: tx.apply(e as PolicyEdit);
      }
    }
  };
}
