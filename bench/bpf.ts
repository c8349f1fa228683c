/**
 * A stateless sgfilter policy as a tcpdump (pcap-filter) expression, for the
 * file-to-file benchmark only: `tcpdump -r CAPTURE -w OUT "$(policyToBpf(...))"`
 * keeps the packets that sgfilter's rules accept when every packet is classified on
 * its own, as a new flow (no connection tracking: BPF has no state).
 *
 * What it translates (and refuses the rest, INVALID_ARGUMENT):
 *   - direction from the instance's addresses, as docs/SEMANTICS.md says: a packet to one of
 *     them is inbound (remote = source), else from one of them outbound (remote =
 *     destination), else it is not the instance's and is dropped;
 *   - first match over the instance's groups in order, default drop (docs/SEMANTICS.md "Security groups"), as
 *     E_i = accept_i ? (m_i or E_i+1) : (not m_i and E_i+1), E_n = false;
 *   - protocol ALL / a number / TCP / UDP / ICMP / ICMPv6 / ping, destination
 *     port lists and ranges (TCP/UDP), peers as CIDRs (ranges split into CIDRs),
 *     icmpType/icmpCode for ICMP over IPv4.
 * Not translated: localCidr, sourcePort, ICMPv6 type/code (BPF cannot index past
 * IPv6 extension headers), fragments (BPF's `tcp dst port` is false on a later IPv4
 * fragment, as sgfilter's stateless verdict on one is not defined without state).
 * BPF reads IPv6 ports only when TCP/UDP follows the fixed header directly; the
 * benchmark's traffic has no extension headers.
 */
import { SgfilterError } from '../src/errors.js';
import { formatAddress } from '../src/config/address.js';
import type { AddressRange, Config, Rule } from '../src/types.js';

/** The largest CIDR blocks that cover [lo, hi] exactly. */
function cidrs(range: AddressRange, bits: number): { addr: bigint; len: number }[] {
  const out: { addr: bigint; len: number }[] = [];
  let lo = range.lo;
  while (lo <= range.hi) {
    let len = bits;
    while (len > 0) {
      const size = 1n << BigInt(bits - len + 1);
      if (lo % size !== 0n || lo + size - 1n > range.hi) break;
      len--;
    }
    out.push({ addr: lo, len });
    lo += 1n << BigInt(bits - len);
  }
  return out;
}

function peerExpr(rule: Rule, side: 'src' | 'dst'): string | null {
  const parts: string[] = [];
  for (const [v6, list] of [[false, rule.peer.v4], [true, rule.peer.v6]] as const) {
    for (const range of list) {
      for (const { addr, len } of cidrs(range, v6 ? 128 : 32)) {
        if (len === 0) parts.push(v6 ? 'ip6' : 'ip');
        else parts.push(`${side} net ${formatAddress(v6, addr)}/${len}`);
      }
    }
  }
  return parts.length === 0 ? null : parts.length === 1 ? parts[0]! : `(${parts.join(' or ')})`;
}

function protocolExpr(rule: Rule): string | null {
  const p = rule.protocol;
  if (p === 'all') return null;
  if (p === 'ping') return '(icmp or icmp6)';
  if (p === 6) return 'tcp';
  if (p === 17) return 'udp';
  if (p === 1) return 'icmp';
  if (p === 58) return 'icmp6';
  return `(ip proto ${p} or ip6 proto ${p})`;
}

function ruleExpr(rule: Rule, side: 'src' | 'dst'): string | 'never' {
  if (rule.local !== null || rule.sourcePorts !== null) throw new SgfilterError('INVALID_ARGUMENT', `rule ${rule.groupId} ${rule.direction}[${rule.ruleIndex}]: localCidr and sourcePort are not translated to BPF`);
  const terms: string[] = [];
  const peer = peerExpr(rule, side);
  if (peer === null) return 'never';
  terms.push(peer);
  const proto = protocolExpr(rule);
  if (proto) terms.push(proto);
  if (rule.ports !== null) {
    const ports = rule.ports.map((i) => (i.lo === i.hi ? `dst port ${i.lo}` : `dst portrange ${i.lo}-${i.hi}`));
    terms.push(ports.length === 1 ? ports[0]! : `(${ports.join(' or ')})`);
  }
  if (rule.icmpType !== null || rule.icmpCode !== null) {
    if (rule.protocol !== 1) throw new SgfilterError('INVALID_ARGUMENT', `rule ${rule.groupId} ${rule.direction}[${rule.ruleIndex}]: ICMPv6 type/code is not translated to BPF`);
    if (rule.icmpType !== null) terms.push(`icmp[icmptype] == ${rule.icmpType}`);
    if (rule.icmpCode !== null) terms.push(`icmp[icmpcode] == ${rule.icmpCode}`);
  }
  return terms.length === 1 ? terms[0]! : `(${terms.join(' and ')})`;
}

/** First match over `rules`, default drop, as one expression (null = matches nothing). */
function firstMatch(rules: Rule[], side: 'src' | 'dst'): string | null {
  let e: string | null = null; // E_n = false
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i]!;
    const m = ruleExpr(rule, side);
    if (rule.action === 'accept') {
      if (m === 'never') continue;
      e = e === null ? m : `(${m} or ${e})`;
    } else {
      if (m === 'never' || e === null) continue;
      e = `(not ${m} and ${e})`;
    }
  }
  return e;
}

/**
 * The expression for instance `instanceId` of `config`, whose own addresses are
 * `localAddresses` (IPv4 or IPv6 literals).
 */
export function policyToBpf(config: Config, instanceId: string, localAddresses: string[]): string {
  const instance = config.instances.find((i) => i.id === instanceId);
  if (!instance) throw new SgfilterError('INVALID_ARGUMENT', `no instance ${instanceId}`);
  const groups = instance.securityGroups.map((id) => config.securityGroups.find((g) => g.id === id)!);
  const inbound = firstMatch(groups.flatMap((g) => g.inbound), 'src');
  const outbound = firstMatch(groups.flatMap((g) => g.outbound), 'dst');
  const toLocal = `(${localAddresses.map((a) => `dst host ${a}`).join(' or ')})`;
  const fromLocal = `(${localAddresses.map((a) => `src host ${a}`).join(' or ')})`;
  const parts: string[] = [];
  if (inbound) parts.push(`(${toLocal} and ${inbound})`);
  if (outbound) parts.push(`(not ${toLocal} and ${fromLocal} and ${outbound})`);
  return parts.length ? parts.join(' or ') : 'less 0';
}
