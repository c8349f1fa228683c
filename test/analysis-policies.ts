/**
 * Generated policies for the lint and diff property tests beyond random.ts's plain
 * ones: address sets, set groups, service sets (and their groups), group references,
 * instance addresses, empty sets; Tencent documents with template outputs, group
 * references and PolicyIndex out of array order; ClassBench filter sets
 * (Config.semantics 'classbench'). Each kind comes with a way to make "the policy
 * without rule i" and "the policy a few edits away", so the tests can diff them.
 */
import { parseClassBench, parseConfig, type Config, type PolicyEdit } from '../src/index.js';
import { PolicyTransaction } from '../src/policy/transaction.js';
import { pick, randomConfig, type Rng } from './random.js';

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

export const SERVICES = ['tcp:80', 'udp:53,5353', 'tcp:8000-8010', 'icmp', 'ALL', 'icmpv6', 'TCP:22,1024-2000', 'gre', 'udp', 'tcp:0-65535', 'tcp:3306', 'udp:0-100'];
export const SET_PEERS = ['10.1.0.0/16', '10.1.2.3', '192.0.2.0/24', '2001:db8:1::/48', '::1', '10.1.2.3-10.1.2.50', '0.0.0.0/1', '2001:db8::1-2001:db8::ffff', 'any', '0.0.0.0/0', '::/0'];
const INSTANCE_ADDRESSES = ['10.1.2.3', '10.1.2.0/30', '192.0.2.77', '2001:db8:1::9', '203.0.113.5-203.0.113.9', '::1', '10.1.0.0/16'];

/** A policy as one or several documents (what parseConfig, lintPolicy and diffPolicies take). */
export type Documents = Record<string, any> | Record<string, any>[];

/**
 * A random.ts config whose rules also name address sets (plain, empty, set groups),
 * service sets (plain, empty, set groups) and security groups (group references,
 * including groups bound to no instance with addresses); instances with and without
 * addresses. Split into three documents half the time.
 */
export function randomSetPolicy(r: Rng, maxRules = 10): Documents {
  const doc = randomConfig(r, maxRules) as Record<string, any>;
  const addressSets: any[] = Array.from({ length: int(r, 1, 4) }, (_, i) => ({ id: `as-${i}`, addresses: Array.from({ length: int(r, 0, 3) }, () => pick(r, SET_PEERS)) }));
  addressSets.push({ id: 'as-empty', addresses: [] });
  addressSets.push({ id: 'as-group', sets: addressSets.filter(() => r() < 0.5).map((s) => s.id) });
  const serviceSets: any[] = Array.from({ length: 3 }, (_, i) => ({ id: `ss-${i}`, services: Array.from({ length: int(r, 0, 3) }, () => pick(r, SERVICES)) }));
  serviceSets.push({ id: 'ss-empty', services: [] });
  serviceSets.push({ id: 'ss-group', sets: ['ss-0', 'ss-2'] });
  serviceSets.push({ id: 'ss-group-empty', sets: ['ss-empty'] });
  const groupIds = doc.securityGroups.map((g: any) => g.id) as string[];
  for (const g of doc.securityGroups) {
    for (const dir of ['inbound', 'outbound'] as const) {
      g[dir] = (g[dir] ?? []).map((rule: any) => {
        if (typeof rule === 'string' || rule.peer !== undefined) return rule;
        const out = { ...rule };
        const field = dir === 'inbound' ? 'source' : 'destination';
        const x = r();
        if (x < 0.3) out[field] = pick(r, addressSets).id;
        else if (x < 0.5) out[field] = pick(r, groupIds);
        if (r() < 0.4) {
          for (const k of ['type', 'protocol', 'port', 'icmpType', 'icmpCode', 'sourcePort']) delete out[k];
          out.serviceSet = pick(r, serviceSets).id;
        }
        return out;
      });
    }
  }
  doc.instances = Array.from({ length: int(r, 1, 3) }, (_, i) => ({
    id: `ins-${i}`,
    securityGroups: groupIds.filter(() => r() < 0.7),
    ...(r() < 0.7 ? { addresses: Array.from({ length: int(r, 1, 2) }, () => pick(r, INSTANCE_ADDRESSES)) } : {}),
  }));
  if (r() < 0.5) {
    doc.addressSets = addressSets;
    doc.serviceSets = serviceSets;
    return doc;
  }
  const { instances, ...rest } = doc;
  return [rest, { addressSets, serviceSets }, { instances }];
}

// ---------------------------------------------------------------- Tencent

const T_PROTOCOLS = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'ALL', 'tcp', 'GRE'];
const T_CIDRS = ['0.0.0.0/0', '10.0.0.0/8', '10.1.2.3', '192.0.2.0/24', '203.0.113.0/24'];
const T_CIDRS6 = ['::/0', '2001:db8::/32', '2001:db8:1::/48', 'fe80::/10'];

/**
 * A Tencent policy: several groups, each a DescribeSecurityGroupPolicies set embedded
 * in a native group (or a bare output, group "tencent"), whose entries name address
 * templates, address template groups, service templates, service template groups and
 * other groups (SecurityGroupId), with PolicyIndex shuffled against the array order;
 * the four template outputs as their own documents; instances with addresses.
 */
export function randomTencentPolicy(r: Rng): Record<string, any>[] {
  const nAddr = int(r, 1, 3);
  const nSvc = int(r, 1, 3);
  const addrIds = Array.from({ length: nAddr }, (_, i) => `ipm-a${i}`);
  const svcIds = Array.from({ length: nSvc }, (_, i) => `ppm-s${i}`);
  const addressTemplates = { Response: { TotalCount: nAddr, AddressTemplateSet: addrIds.map((id, i) => ({ AddressTemplateId: id, AddressTemplateName: `a${i}`, AddressSet: Array.from({ length: int(r, 0, 3) }, () => pick(r, [...T_CIDRS, ...T_CIDRS6, '10.1.2.3-10.1.2.9', '192.0.2.9/20'])) })), RequestId: 'x' } };
  const addressGroups = { Response: { AddressTemplateGroupSet: [{ AddressTemplateGroupId: 'ipmg-g0', AddressTemplateGroupName: 'g', AddressTemplateIdSet: addrIds.filter(() => r() < 0.6) }] } };
  const serviceTemplates = { Response: { ServiceTemplateSet: svcIds.map((id) => ({ ServiceTemplateId: id, ServiceTemplateName: id, ServiceSet: Array.from({ length: int(r, 0, 3) }, () => pick(r, SERVICES)) })) } };
  const serviceGroups = { Response: { ServiceTemplateGroupSet: [{ ServiceTemplateGroupId: 'ppmg-g0', ServiceTemplateGroupName: 'g', ServiceTemplateIdSet: svcIds.filter(() => r() < 0.6) }] } };
  const nGroups = int(r, 1, 3);
  const groupIds = Array.from({ length: nGroups }, (_, i) => `sg-t${i}`);
  const entry = (): Record<string, unknown> => {
    const e: Record<string, unknown> = { Action: pick(r, ['ACCEPT', 'DROP', 'accept']) };
    if (r() < 0.35) e.ServiceTemplate = r() < 0.7 ? { ServiceId: pick(r, svcIds), ServiceGroupId: '' } : { ServiceGroupId: 'ppmg-g0' };
    else {
      const protocol = pick(r, T_PROTOCOLS);
      e.Protocol = protocol;
      if (/tcp|udp/i.test(protocol)) e.Port = pick(r, ['22', '80,443', 'ALL', '1-1024', '3306', '0-65535']);
    }
    const x = r();
    if (x < 0.35) e.CidrBlock = pick(r, T_CIDRS);
    else if (x < 0.55) e.Ipv6CidrBlock = pick(r, T_CIDRS6);
    else if (x < 0.8) e.AddressTemplate = r() < 0.6 ? { AddressId: pick(r, addrIds), AddressGroupId: '' } : { AddressGroupId: 'ipmg-g0' };
    else e.SecurityGroupId = pick(r, groupIds);
    return e;
  };
  /** Entries with PolicyIndex a permutation of 0..n-1 (or absent), the array shuffled against it. */
  const list = (): Record<string, unknown>[] => {
    const n = int(r, 0, 7);
    const xs = Array.from({ length: n }, (_, i) => ({ PolicyIndex: i, ...entry() }));
    for (let k = n - 1; k > 0; k--) {
      if (r() < 0.5) continue;
      const j = int(r, 0, k);
      [xs[k], xs[j]] = [xs[j]!, xs[k]!];
    }
    return xs;
  };
  const groups = groupIds.map((id) => ({ id, SecurityGroupPolicySet: { Version: '1', Ingress: list(), Egress: list() } }));
  const instances = Array.from({ length: int(r, 1, 3) }, (_, i) => ({
    id: `ins-${i}`,
    securityGroups: groupIds.filter(() => r() < 0.8),
    ...(r() < 0.75 ? { addresses: [pick(r, INSTANCE_ADDRESSES)] } : {}),
  }));
  return [{ securityGroups: groups, instances }, addressTemplates, addressGroups, serviceTemplates, serviceGroups];
}

/** `docs` a few edits away: Tencent entries deleted, flipped, re-indexed (PolicyIndex swapped), template contents and instance addresses changed. */
export function mutateTencent(r: Rng, docs: Record<string, any>[]): Record<string, any>[] {
  const out = structuredClone(docs);
  const groups = out[0]!.securityGroups as any[];
  for (let e = int(r, 1, 4); e > 0; e--) {
    const g = pick(r, groups).SecurityGroupPolicySet;
    const list = g[r() < 0.5 ? 'Ingress' : 'Egress'] as any[];
    const op = r();
    if (op < 0.2 && list.length) {
      const [gone] = list.splice(int(r, 0, list.length - 1), 1);
      for (const x of list) if (x.PolicyIndex > gone.PolicyIndex) x.PolicyIndex--;
    } else if (op < 0.4 && list.length) {
      const x = pick(r, list);
      x.Action = /accept/i.test(x.Action) ? 'DROP' : 'ACCEPT';
    } else if (op < 0.6 && list.length > 1) {
      const a = pick(r, list);
      const b = pick(r, list);
      [a.PolicyIndex, b.PolicyIndex] = [b.PolicyIndex, a.PolicyIndex];
    } else if (op < 0.75) {
      const t = out[1]!.Response.AddressTemplateSet as any[];
      pick(r, t).AddressSet = Array.from({ length: int(r, 0, 2) }, () => pick(r, [...T_CIDRS, ...T_CIDRS6]));
    } else if (op < 0.85) {
      const t = out[3]!.Response.ServiceTemplateSet as any[];
      pick(r, t).ServiceSet = Array.from({ length: int(r, 0, 2) }, () => pick(r, SERVICES));
    } else {
      const inst = pick(r, out[0]!.instances as any[]);
      if (r() < 0.3) delete inst.addresses;
      else inst.addresses = [pick(r, INSTANCE_ADDRESSES)];
    }
  }
  return out;
}

// ---------------------------------------------------------------- ClassBench

const CB_PREFIXES = ['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '192.0.2.0/24', '192.0.2.10/32', '128.0.0.0/1'];
const CB_PORTS = [[0, 65535], [0, 65535], [22, 22], [80, 80], [0, 1023], [1024, 65535], [53, 53], [443, 443]];
/** Protocols with the ICMP ones over IPv4 prefixes: where ClassBench's semantics and the security groups' differ. */
const CB_PROTOCOLS = ['0x06/0xFF', '0x11/0xFF', '0x01/0xFF', '0x3a/0xFF', '0x3A/0xFF', '0x00/0x00', '0x2f/0xFF', '0x00/0x00'];

/** A ClassBench filter line. */
export function classBenchLine(r: Rng): string {
  const sp = pick(r, CB_PORTS);
  const dp = pick(r, CB_PORTS);
  return `@${pick(r, CB_PREFIXES)}\t${pick(r, CB_PREFIXES)}\t${sp[0]} : ${sp[1]}\t${dp[0]} : ${dp[1]}\t${pick(r, CB_PROTOCOLS)}`;
}

/** A ClassBench filter set of up to `max` lines (as lines: rule i is line i). */
export const randomClassBench = (r: Rng, max = 14): string[] => Array.from({ length: int(r, 1, max) }, () => classBenchLine(r));

/** The lines a few edits away: deleted, inserted, swapped. */
export function mutateClassBench(r: Rng, lines: string[]): string[] {
  const out = [...lines];
  for (let e = int(r, 1, 3); e > 0; e--) {
    const op = r();
    if (op < 0.35 && out.length > 1) out.splice(int(r, 0, out.length - 1), 1);
    else if (op < 0.7) out.splice(int(r, 0, out.length), 0, classBenchLine(r));
    else if (out.length > 1) {
      const i = int(r, 0, out.length - 1);
      const j = int(r, 0, out.length - 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
  }
  return out;
}

export const classBenchConfig = (lines: string[]): Config => parseClassBench(lines.join('\n'));

// ---------------------------------------------------------------- edits on validated configs

/** `config` without rule `index` (evaluation order) of a group's direction, as update() would publish it. */
export function configWithoutRule(config: Config, groupId: string, direction: 'inbound' | 'outbound', index: number): Config {
  return new PolicyTransaction(config).removeRule(groupId, direction, index).commit().config;
}

/** Random edits of sets, bindings, instance addresses and rules (as update() takes them) that the config accepts. */
export function randomSetEdits(r: Rng, config: Config): PolicyEdit[] {
  const edits: any[] = [];
  for (let k = int(r, 1, 3); k > 0; k--) {
    const x = r();
    const plain = (config.addressSets ?? []).filter((s) => !s.sets);
    const inst = pick(r, config.instances);
    const g = pick(r, config.securityGroups);
    if (x < 0.2 && plain.length) edits.push({ op: 'replaceAddressSet', set: { id: pick(r, plain).id, addresses: Array.from({ length: int(r, 0, 2) }, () => pick(r, SET_PEERS)) } });
    else if (x < 0.35) edits.push({ op: 'replaceServiceSet', set: { id: pick(r, ['ss-0', 'ss-1', 'ss-2']), services: Array.from({ length: int(r, 0, 2) }, () => pick(r, SERVICES)) } });
    else if (x < 0.5) edits.push({ op: 'setInstanceAddresses', instanceId: inst.id, addresses: r() < 0.25 ? null : [pick(r, INSTANCE_ADDRESSES)] });
    else if (x < 0.6) edits.push(inst.securityGroups.includes(g.id) ? { op: 'unbindGroup', instanceId: inst.id, groupId: g.id } : { op: 'bindGroup', instanceId: inst.id, groupId: g.id });
    else if (x < 0.7 && plain.length) edits.push({ op: 'replaceAddressSet', set: { id: 'as-group', sets: plain.filter(() => r() < 0.5).map((s) => s.id) } });
    else if (x < 0.78) edits.push({ op: 'addAddressSet', set: { id: `as-new-${k}`, addresses: [pick(r, SET_PEERS)] } }, { op: 'addRule', groupId: g.id, direction: 'inbound', rule: { protocol: 'TCP', port: pick(r, [22, 80, 3306]), source: `as-new-${k}`, action: pick(r, ['accept', 'drop']) } });
    else if (x < 0.84) edits.push({ op: 'addServiceSet', set: { id: `ss-new-${k}`, services: [pick(r, SERVICES)] } }, { op: 'addRule', groupId: g.id, direction: 'outbound', rule: { serviceSet: `ss-new-${k}`, destination: pick(r, SET_PEERS), action: pick(r, ['accept', 'drop']) } });
    else if (x < 0.9) {
      // A set no rule names can go; one a rule names is refused (the test skips such a draw).
      const unused = plain.filter((s) => !config.securityGroups.some((gr) => [...gr.inbound, ...gr.outbound].some((rl) => rl.peerSet === s.id)) && !(config.addressSets ?? []).some((a) => a.sets?.includes(s.id)));
      if (unused.length) edits.push({ op: 'removeAddressSet', setId: pick(r, unused).id });
    } else if (g.inbound.length) edits.push({ op: 'removeRule', groupId: g.id, direction: 'inbound', index: int(r, 0, g.inbound.length - 1) });
    else edits.push({ op: 'addRule', groupId: g.id, direction: 'inbound', rule: { protocol: 'ALL', source: pick(r, config.securityGroups).id, action: 'accept' } });
  }
  return edits as PolicyEdit[];
}

/** The config after `edits` (as update() publishes them), or null when the transaction refuses them. */
export function edited(config: Config, edits: PolicyEdit[]): Config | null {
  try {
    return new PolicyTransaction(config).applyList(edits).commit().config;
  } catch {
    return null;
  }
}

export { parseConfig };
