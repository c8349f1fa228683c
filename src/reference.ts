/**
 * The reference matcher: docs/SEMANTICS.md, "Rules" and "The verdict" written as plainly as possible, a linear scan.
 * It is the oracle every fast path is tested against, and the naive baseline of
 * every benchmark. It reads the validated Config directly; it shares nothing with
 * src/compile (no prefix expansion, no merging tables), so a bug there shows up here.
 */
import { SgfilterError } from './errors.js';
import type { AddressRange, Config, ParsedFlow, FlowAddress, FlowInput, Interval, ProtocolMatch, Rule, Verdict } from './types.js';
import { inSet } from './config/address.js';
import { listOf, quote } from './config/plain.js';
import { parseFlow } from './flow.js';
import { inIntervals } from './config/ports.js';
import { ICMP, ICMPV6, protocolLabel } from './config/presets.js';

/** An address's bits as one number: the config's ranges are bigint (the oracle converts; fast paths never do). */
function bits(a: FlowAddress): bigint {
  const [w0, w1, w2, w3] = a.words;
  if (!a.v6) return BigInt(w0);
  return (BigInt(w0) << 96n) | (BigInt(w1) << 64n) | (BigInt(w2) << 32n) | BigInt(w3);
}

/** Why one protocol-and-ports pair (a rule's own, or a service of its service set) does not match a flow, or null. */
function serviceMismatch(protocol: ProtocolMatch, ports: Interval[] | null, portText: string, flow: ParsedFlow, pairFamilies: boolean): string | null {
  if (protocol === 'ping') {
    const want = flow.remote.v6 ? ICMPV6 : ICMP;
    if (flow.protocol !== want) return `protocol: ping means ${flow.remote.v6 ? 'ICMPv6 for IPv6' : 'ICMP for IPv4'} peers, the flow is ${protocolLabel(flow.protocol)}`;
  } else if (protocol !== 'all' && protocol !== flow.protocol) {
    return `protocol: the rule is for ${protocolLabel(protocol)}, the flow is ${protocolLabel(flow.protocol)}`;
  }
  // docs/SEMANTICS.md "Rules": ICMP with an IPv6-only peer (ICMPv6 with an IPv4-only one) can never
  // match, so ICMP rules speak for IPv4 peers only and ICMPv6 rules for IPv6 ones.
  if (pairFamilies && protocol === ICMP && flow.remote.v6) return 'protocol: ICMP rules apply to IPv4 peers only (IPv6 uses ICMPv6)';
  if (pairFamilies && protocol === ICMPV6 && !flow.remote.v6) return 'protocol: ICMPv6 rules apply to IPv6 peers only (IPv4 uses ICMP)';
  if (ports !== null) {
    if (flow.port === null) return 'port: the rule names ports, the flow has none';
    if (!inIntervals(ports, flow.port)) return `port: ${flow.port} is not in ${portText}`;
  }
  return null;
}

/**
 * The services of a rule naming a service set, read from the config's own sets (a set
 * group: its members'), not from what the compiler was given: SPEC §9 as written.
 */
function servicesOf(config: Config | undefined, rule: Rule): readonly { protocol: ProtocolMatch; ports: Interval[] | null; text: string }[] {
  const set = config?.serviceSets?.find((x) => x.id === rule.serviceSet);
  if (!set) return rule.services ?? [];
  if (!set.sets) return set.services;
  const out = [];
  for (const id of set.sets) for (const s of config!.serviceSets!.find((x) => x.id === id)?.services ?? []) out.push(s);
  return out;
}

/**
 * Whether the flow's remote address is the rule's peer (SPEC §9, as written): a
 * group reference is the addresses of every instance bound to the group, looked up
 * in the config's instances; an address set (a set group: any of its members) in the
 * config's sets; any other peer is the rule's own ranges.
 */
function peerHas(config: Config | undefined, rule: Rule, remote: FlowAddress): boolean {
  const a = bits(remote);
  const has = (set: { v4: AddressRange[]; v6: AddressRange[] }) => inSet(remote.v6 ? set.v6 : set.v4, a);
  if (config && rule.peerGroup !== undefined) {
    return config.instances.some((i) => i.addresses !== undefined && i.securityGroups.includes(rule.peerGroup!) && has(i.addresses));
  }
  const set = config && rule.peerSet !== undefined ? config.addressSets?.find((x) => x.id === rule.peerSet) : undefined;
  if (set) return set.sets ? set.sets.some((id) => { const m = config!.addressSets!.find((x) => x.id === id); return m !== undefined && has(m.addresses); }) : has(set.addresses);
  return has(rule.peer);
}

/**
 * Why a rule does not match a flow, or null when it matches. `config`: where the rule's
 * named sets and groups are looked up, and how its protocol reads (Config.semantics
 * 'classbench': the header's number only, ICMP and ICMPv6 not paired with a family).
 */
export function mismatch(rule: Rule, flow: ParsedFlow, config?: Config): string | null {
  if (rule.direction !== flow.direction) return 'other direction';
  const pairFamilies = config?.semantics !== 'classbench';
  if (rule.serviceSet !== undefined) {
    // SPEC §9: a rule naming a service set matches when any of its services does.
    const services = servicesOf(config, rule);
    let why: string | null = `service set ${quote(rule.serviceSet)} is empty`;
    for (const s of services) {
      why = serviceMismatch(s.protocol, s.ports, s.text, flow, pairFamilies);
      if (why === null) break;
    }
    if (why !== null) return services.length === 1 ? why : `service set ${quote(rule.serviceSet)}: no service matches (the last: ${why})`;
  } else {
    const why = serviceMismatch(rule.protocol, rule.ports, rule.text.port, flow, pairFamilies);
    if (why !== null) return why;
  }
  if (!peerHas(config, rule, flow.remote)) {
    if (rule.peerGroup !== undefined) return `peer: the remote address is not an address of an instance bound to group ${quote(rule.peerGroup)}`;
    if (rule.peerSet !== undefined) return `peer: the remote address is not in address set ${quote(rule.peerSet)}`;
    const peer = flow.remote.v6 ? rule.peer.v6 : rule.peer.v4;
    if (peer.length === 0) return `peer: the rule's peer ${rule.text.peer} has no ${flow.remote.v6 ? 'IPv6' : 'IPv4'} addresses`;
    return `peer: the remote address is not in ${rule.text.peer}`;
  }
  if (rule.local !== null) {
    if (flow.local === null) return 'local: the rule names a localCidr, the flow has no local address';
    if (!inSet(flow.local.v6 ? rule.local.v6 : rule.local.v4, bits(flow.local))) return 'local: the local address is not in localCidr';
  }
  if (rule.sourcePorts !== null) {
    if (flow.sourcePort === null) return 'sourcePort: the rule names source ports, the flow has none';
    if (!inIntervals(rule.sourcePorts, flow.sourcePort)) return `sourcePort: ${flow.sourcePort} is not in the rule's source ports`;
  }
  if (rule.icmpType !== null && flow.icmpType !== rule.icmpType) return `icmpType: the rule wants type ${rule.icmpType}, the flow has ${flow.icmpType ?? 'none'}`;
  if (rule.icmpCode !== null && flow.icmpCode !== rule.icmpCode) return `icmpCode: the rule wants code ${rule.icmpCode}, the flow has ${flow.icmpCode ?? 'none'}`;
  return null;
}

/** The rules that apply to a flow, in first-match order: groups by priority, rules top to bottom. */
export function rulesInOrder(config: Config, flow: ParsedFlow): Rule[] {
  const id = flow.instance ?? config.instances[0]?.id;
  const instance = config.instances.find((i) => i.id === id);
  if (!instance) {
    throw new SgfilterError('UNKNOWN_INSTANCE', `unknown instance ${id === undefined ? 'undefined' : quote(id)}; the policy has: ${listOf(config.instances, (i) => quote(i.id))}`);
  }
  const out: Rule[] = [];
  for (const gid of instance.securityGroups) {
    const group = config.securityGroups.find((g) => g.id === gid)!;
    // A loop, not push(...rules): spreading a 200,000-rule group overflows the call stack.
    for (const rule of flow.direction === 'inbound' ? group.inbound : group.outbound) out.push(rule);
  }
  return out;
}

/**
 * The reference matcher (docs/SEMANTICS.md "The verdict"), a plain linear scan: the
 * first matching rule decides; none matching means drop. `input` is a ParsedFlow or a
 * FlowInput (validated here). Throws FLOW_INVALID for a malformed flow and
 * UNKNOWN_INSTANCE for an instance the config does not have.
 */
export function referenceClassify(config: Config, input: ParsedFlow | FlowInput): Verdict {
  const flow = parseFlow(input);
  for (const rule of rulesInOrder(config, flow)) {
    if (mismatch(rule, flow, config) === null) return { action: rule.action, groupId: rule.groupId, ruleIndex: rule.ruleIndex };
  }
  return { action: 'drop', groupId: null, ruleIndex: null };
}

/** Why the reference matcher decided what it did (referenceExplain, `sgfilter explain`). */
export interface Explanation {
  /** The verdict, as referenceClassify gives it. */
  verdict: Verdict;
  /** Every rule considered, in order, up to and including the deciding one. */
  steps: {
    /** The rule. */
    rule: Rule;
    /** Why it does not match (`port: 23 is not in 22`), or null for the rule that matched. */
    reason: string | null;
  }[];
}

/**
 * Classifies a flow with the reference matcher and says why: every rule looked at, in
 * evaluation order, with the reason each did not match. Throws FLOW_INVALID and
 * UNKNOWN_INSTANCE as referenceClassify does.
 */
export function referenceExplain(config: Config, input: ParsedFlow | FlowInput): Explanation {
  const flow = parseFlow(input);
  const steps: Explanation['steps'] = [];
  for (const rule of rulesInOrder(config, flow)) {
    const reason = mismatch(rule, flow, config);
    steps.push({ rule, reason });
    if (reason === null) return { verdict: { action: rule.action, groupId: rule.groupId, ruleIndex: rule.ruleIndex }, steps };
  }
  return { verdict: { action: 'drop', groupId: null, ruleIndex: null }, steps };
}
