/**
 * ClassBench filter sets and header traces (the standard public benchmark for
 * first-match packet classification). A filter set becomes one group, one instance,
 * rule i = line i (inbound; source prefix = remote, destination prefix = localCidr,
 * source port range = sourcePort, destination port range = port). ClassBench pairs
 * port ranges with any protocol, which the security-group syntax refuses (ports only
 * on TCP/UDP), so the rules are built directly in the compiled rule model.
 */
import { SgfilterError, type Issue } from './errors.js';
import type { AddressRange, AddressSet, Config, ParsedFlow, Interval, Rule } from './types.js';
import { ownConfig } from './config/owned.js';
import { plainObject, quote } from './config/plain.js';
import { parseCidr, V4_MAX } from './config/address.js';
import { inboundV4Flows, type FlowBatch } from './flow.js';

/** The id of the one group parseClassBench makes of a filter set. */
export const CLASSBENCH_GROUP_ID = 'classbench';

function fail(line: number, message: string, issues: Issue[]): void {
  issues.push({ code: 'INVALID_FLOW', path: ['line', line], message: `line ${line}: ${message}` });
}

/**
 * `a.b.c.d/len` in its plain spelling (decimal octets without leading zeros, length
 * 0-32, no host bits set), as parseCidr reads it, without parseCidr's general
 * address parser (a third of the parse of a 100,000-rule set); undefined for
 * anything else, which parseCidr then reads (and refuses with its own message).
 */
/** `fields` on PLAIN_PROTO, frozen (for values shared by many rules). */
const frozen = <T extends object>(fields: T): T => Object.freeze(plainObject(fields));
const NO_V6: AddressRange[] = Object.freeze([]) as unknown as AddressRange[];
/** The frozen address set of one IPv4 range. */
const addressSet = (lo: bigint, hi: bigint): AddressSet => frozen({ v4: Object.freeze([frozen({ lo, hi })]) as AddressRange[], v6: NO_V6 });
/** Every IPv4 address (a source written 0.0.0.0/0). */
const ANY_V4 = addressSet(0n, V4_MAX);

const PLAIN_V4_CIDR = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\/(3[0-2]|[12]\d|\d)$/;
function plainPrefix(s: string): AddressSet | null | undefined {
  const m = PLAIN_V4_CIDR.exec(s);
  if (m === null) return undefined;
  const addr = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const len = Number(m[5]);
  const host = len === 0 ? 0xffffffff : len === 32 ? 0 : 0xffffffff >>> len;
  if ((addr & host) !== 0) return undefined; // host bits set: parseCidr says so
  if (len === 0) return null;
  return addressSet(BigInt(addr), BigInt((addr | host) >>> 0));
}

/**
 * Parses a ClassBench filter set (one filter per line: `@src/len dst/len lo : hi lo : hi
 * 0xPP/0xMM`, source and destination ports as ranges) into a validated Config: one group, id
 * CLASSBENCH_GROUP_ID, one inbound rule per filter in file order, all accepting (the
 * first match is the answer). Throws CONFIG_INVALID naming each bad line.
 */
export function parseClassBench(text: string): Config {
  const rules: Rule[] = [];
  const issues: Issue[] = [];
  // Objects are built on PLAIN_PROTO (plainObject) rather than as literals: ownConfig
  // would give each literal that prototype with Object.setPrototypeOf, and V8 then
  // freezes every such object into a hidden class of its own, which made every read of
  // a rule's fields megamorphic (100,000 rules: ~2 µs per rule for a few field reads in
  // compile). Addresses and port ranges that many filters repeat are made once, frozen
  // (an owned Config is frozen all the way down; ownConfig stops at what is frozen), and
  // shared, by their text: fewer objects for the garbage collector to copy.
  const addresses = new Map<string, AddressSet | null>();
  const portLists = new Map<string, Interval[] | null>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const no = i + 1;
    const t = line.split(/\s+/);
    if (t.length !== 9 || !t[0]!.startsWith('@') || t[3] !== ':' || t[6] !== ':') {
      fail(no, `expected "@src/len dst/len lo : hi lo : hi 0xPP/0xMM", got ${quote(line)}`, issues);
      continue;
    }
    const prefix = (s: string): AddressSet | null | undefined => {
      const known = addresses.get(s);
      if (known !== undefined) return known;
      let set = plainPrefix(s);
      if (set === undefined) {
        const c = parseCidr(s.includes('/') ? s : `${s}/32`);
        if (!c.ok || c.value.v6) {
          fail(no, `bad IPv4 prefix ${quote(s)}${c.ok ? '' : `: ${c.message}`}`, issues);
          return undefined;
        }
        const { lo, hi } = c.value.range;
        set = lo === 0n && hi === V4_MAX ? null : addressSet(lo, hi);
      }
      addresses.set(s, set);
      return set;
    };
    /** The port list of `lo : hi` (null: every port). */
    const ports = (lo: string, hi: string): Interval[] | null | undefined => {
      const key = `${lo} ${hi}`;
      const known = portLists.get(key);
      if (known !== undefined) return known;
      const a = Number(lo);
      const b = Number(hi);
      if (!/^\d+$/.test(lo) || !/^\d+$/.test(hi) || a > b || b > 65535) {
        fail(no, `bad port range ${quote(`${lo} : ${hi}`)}`, issues);
        return undefined;
      }
      const list = a === 0 && b === 65535 ? null : (Object.freeze([frozen({ lo: a, hi: b })]) as Interval[]);
      portLists.set(key, list);
      return list;
    };
    const src = prefix(t[0]!.slice(1));
    const dst = prefix(t[1]!);
    const sp = ports(t[2]!, t[4]!);
    const dp = ports(t[5]!, t[7]!);
    const pm = /^0x([0-9a-f]{1,2})\/0x([0-9a-f]{1,2})$/i.exec(t[8]!);
    let protocol: number | 'all' | undefined;
    if (!pm) fail(no, `bad protocol ${quote(String(t[8]))}`, issues);
    else {
      const [v, m] = [parseInt(pm[1]!, 16), parseInt(pm[2]!, 16)];
      if (m === 0) protocol = 'all';
      else if (m === 0xff) protocol = v;
      else fail(no, `protocol mask 0x${pm[2]} is not supported (only 0x00 = any and 0xFF = exact)`, issues);
    }
    if (src === undefined || dst === undefined || sp === undefined || dp === undefined || protocol === undefined) continue;
    rules.push(plainObject({
      groupId: CLASSBENCH_GROUP_ID,
      direction: 'inbound',
      ruleIndex: rules.length,
      action: 'accept',
      protocol,
      ports: dp,
      sourcePorts: sp,
      peer: src ?? ANY_V4,
      local: dst,
      icmpType: null,
      icmpCode: null,
      text: plainObject({ protocol: t[8]!, port: `${t[5]} : ${t[7]}`, peer: t[0]!.slice(1) }),
    }));
  }
  if (issues.length) throw new SgfilterError('CONFIG_INVALID', `invalid ClassBench filter set: ${issues.length} issue(s)\n${issues.slice(0, 10).map((x) => `  - ${x.message}`).join('\n')}`, issues);
  return ownConfig({
    securityGroups: [{ id: CLASSBENCH_GROUP_ID, template: 'custom', inbound: rules, outbound: [] }],
    instances: [{ id: 'default', securityGroups: [CLASSBENCH_GROUP_ID] }],
    implicitInstance: true,
    warnings: [],
    // ClassBench's protocol is value/mask on the header (0x3a/0xFF matches protocol 58
    // over IPv4): the security groups' ICMP/ICMPv6 family pairing does not apply.
    semantics: 'classbench',
  });
}

/** Parses a trace: a flow batch (inbound; remote = source) and the 1-based expected rule per line. */
export function parseClassBenchTrace(text: string): {
  /** The trace's flows, packed for classifyBatch. */
  batch: FlowBatch;
  /** The same flows, one per non-empty trace line. */
  flows: ParsedFlow[];
  /** Per flow, the 1-based filter number in the line's 6th column (0 when the line has none). */
  expected: Int32Array;
} {
  const rows: { remote: number; local: number; sourcePort: number; port: number; protocol: number }[] = [];
  const expected: number[] = [];
  const issues: Issue[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const t = line.split(/\s+/);
    const v = t.map(Number);
    if (t.length < 5 || t.length > 6 || !t.every((x) => /^\d+$/.test(x)) || v[0]! > 0xffffffff || v[1]! > 0xffffffff || v[2]! > 65535 || v[3]! > 65535 || v[4]! > 255) {
      fail(i + 1, `expected "src dst sport dport proto [rule]" as decimal numbers, got ${quote(line)}`, issues);
      continue;
    }
    rows.push({ remote: v[0]!, local: v[1]!, sourcePort: v[2]!, port: v[3]!, protocol: v[4]! });
    expected.push(t.length === 6 ? v[5]! : 0);
  }
  if (issues.length) throw new SgfilterError('FLOW_INVALID', `invalid ClassBench trace: ${issues.length} issue(s)\n${issues.slice(0, 10).map((x) => `  - ${x.message}`).join('\n')}`, issues);
  return { ...inboundV4Flows(rows), expected: Int32Array.from(expected) };
}
