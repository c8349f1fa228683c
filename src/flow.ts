/**
 * Flows (docs/SEMANTICS.md "Addresses"): the one flow validator, parsed flows, and FlowBatch, the
 * struct-of-arrays form that classifyBatch copies into WASM (assembly/layout.ts BATCH).
 *
 * Trust. A flow is trusted only when this module made it: parseFlow returns frozen
 * objects marked in a WeakSet that nothing outside this module can reach. Any other
 * value (an object of the same shape, a class instance, a proxy, an object with
 * getters) is validated field by field; each field is read once, exceptions thrown
 * while reading become FLOW_INVALID issues with the field's path, and a field that a
 * flow does not own is never taken from a polluted Object.prototype.
 *
 * One row per flow. Validation writes each flow straight into its row of the
 * columns (addresses as 32-bit words, no BigInt, no object per flow), so a batch has
 * exactly one row per flow it was given, or is refused with at least one issue.
 *
 * A FlowBatch keeps its columns in a private field: nothing outside can write what
 * the engine copies into WASM memory (a flow's instance slot, the answer order).
 * The engine and the worker pool reach them through the functions marked @internal
 * below, which src/index.ts does not export.
 */
import { SgfilterError, type Issue, type Path } from './errors.js';
import { describeValue, errorText } from './describe.js';
import type { ParsedFlow, FlowAddress, FlowInput, Verdict } from './types.js';
import { addressProblem, IPV4, readAddress } from './config/address.js';
import { parseProtocol, ICMP, ICMPV6, TCP, UDP } from './config/presets.js';
import { closest, unknownFieldIssue } from './config/rule.js';
import { verdictOf, type RuleRef } from './compile/index.js';
import {
  ICMP_ABSENT, ICMP_CODE_SHIFT, META_LOCAL_PRESENT, META_LOCAL_V6, META_OUTBOUND, META_REMOTE_V6,
  META_SLOT_SHIFT, PORT_ABSENT,
} from '../assembly/layout.js';

const FLOW_FIELDS = ['direction', 'protocol', 'remote', 'port', 'local', 'sourcePort', 'icmpType', 'icmpCode', 'instance'] as const;
const FLOW_FIELD_SET: ReadonlySet<string> = new Set(FLOW_FIELDS);
/** A misspelt field is at most two edits from a flow field, so at most 12 characters. */
const LONGEST_TYPO = 12;

/**
 * Most flows in one batch (2^24): a batch holds 56 bytes per flow in this thread,
 * and its instance slots must fit the 24 bits META_SLOT_SHIFT leaves them. Split
 * bigger sets of flows into several batches.
 */
export const MAX_BATCH_FLOWS = 1 << 24;
const MAX_SLOTS = 2 ** (32 - META_SLOT_SHIFT);
/** Issues collected from one batch before validation stops (the batch is refused anyway). */
const MAX_ISSUES = 1000;

const GRE = 47;

// ---------- Describing hostile values without running their code ----------

/**
 * The `given` of an issue: JSON data only, so that JSON.stringify(error.issues) and a
 * worker's reply never throw. Objects are left out (they may be proxies, circular, or
 * not cloneable); a BigInt is written as config issues write it, its digits and "n".
 */
function givenValue(v: unknown): unknown {
  if (typeof v === 'bigint') {
    const digits = v.toString();
    return `${digits.length > 80 ? `${digits.slice(0, 80)}…` : digits}n`;
  }
  return v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'symbol') ? v : undefined;
}

/**
 * The value `v` read from f[key], unless it came from a polluted Object.prototype: a
 * field the flow does not own is taken from its own prototype chain (a class, a
 * prototype object), never from Object.prototype.
 */
function unpolluted(f: object, key: string, v: unknown): unknown {
  return v === undefined || Object.hasOwn(f, key) || !Object.hasOwn(Object.prototype, key) ? v : undefined;
}

/** A field of an object, read as unpolluted says. */
function readField(f: object, key: string): unknown {
  return unpolluted(f, key, (f as Record<string, unknown>)[key]);
}

// ---------- Columns: what validation writes and WASM reads ----------

/** @internal Flows as columns in the BATCH layout (assembly/layout.ts): row s = flow s. */
export interface FlowColumns {
  /** Direction and address-family bits; the instance slot is added when the batch is assembled. */
  meta: Uint32Array;
  /** Four words per flow, word 0 most significant (IPv4: word 0). */
  remote: Uint32Array;
  local: Uint32Array;
  proto: Uint32Array;
  port: Uint32Array;
  sport: Uint32Array;
  icmp: Uint32Array;
}

/** @internal Zeroed columns for n flows. */
export function newColumns(n: number): FlowColumns {
  return {
    meta: new Uint32Array(n),
    remote: new Uint32Array(4 * n),
    local: new Uint32Array(4 * n),
    proto: new Uint32Array(n),
    port: new Uint32Array(n),
    sport: new Uint32Array(n),
    icmp: new Uint32Array(n),
  };
}

// ---------- Parsed flows ----------

/** Flows this module made (frozen). Nothing else can add to it. */
const PARSED = new WeakSet<object>();

/** True when `x` is a flow that parseFlow (this module) made. */
export function isParsedFlow(x: unknown): x is ParsedFlow {
  return typeof x === 'object' && x !== null && PARSED.has(x);
}

function addressOf(words: Uint32Array, at: number, v6: boolean): FlowAddress {
  const w = Object.freeze([words[at]!, words[at + 1]!, words[at + 2]!, words[at + 3]!] as const);
  return Object.freeze({ v6, words: w });
}

/** The frozen, marked ParsedFlow of row s. */
function flowOfRow(c: FlowColumns, s: number, instance: string | null): ParsedFlow {
  const m = c.meta[s]!;
  const icmp = c.icmp[s]!;
  const type = icmp & 0xffff;
  const code = icmp >>> ICMP_CODE_SHIFT;
  const flow: ParsedFlow = Object.freeze({
    direction: m & META_OUTBOUND ? 'outbound' : 'inbound',
    protocol: c.proto[s]!,
    remote: addressOf(c.remote, 4 * s, (m & META_REMOTE_V6) !== 0),
    port: c.port[s] === PORT_ABSENT ? null : c.port[s]!,
    local: m & META_LOCAL_PRESENT ? addressOf(c.local, 4 * s, (m & META_LOCAL_V6) !== 0) : null,
    sourcePort: c.sport[s] === PORT_ABSENT ? null : c.sport[s]!,
    icmpType: type === ICMP_ABSENT ? null : type,
    icmpCode: code === ICMP_ABSENT ? null : code,
    instance,
  });
  PARSED.add(flow);
  return flow;
}

/** Row s (inbound) or sOut (outbound) from a parsed flow (trusted: this module made and froze it). */
function writeParsed(f: ParsedFlow, c: FlowColumns, s: number, sOut: number): string | null {
  let m = f.direction === 'outbound' ? META_OUTBOUND : 0;
  if (m) s = sOut;
  const r = f.remote.words;
  const at = 4 * s;
  c.remote[at] = r[0];
  c.remote[at + 1] = r[1];
  c.remote[at + 2] = r[2];
  c.remote[at + 3] = r[3];
  if (f.remote.v6) m |= META_REMOTE_V6;
  if (f.local) {
    const l = f.local.words;
    c.local[at] = l[0];
    c.local[at + 1] = l[1];
    c.local[at + 2] = l[2];
    c.local[at + 3] = l[3];
    m |= META_LOCAL_PRESENT | (f.local.v6 ? META_LOCAL_V6 : 0);
  } else c.local.fill(0, at, at + 4);
  c.meta[s] = m;
  c.proto[s] = f.protocol;
  c.port[s] = f.port ?? PORT_ABSENT;
  c.sport[s] = f.sourcePort ?? PORT_ABSENT;
  c.icmp[s] = ((f.icmpType ?? ICMP_ABSENT) | ((f.icmpCode ?? ICMP_ABSENT) << ICMP_CODE_SHIFT)) >>> 0;
  return f.instance;
}

// ---------- Field readers ----------

/** A protocol number 0-255, or -1. The common spellings first, without allocating. */
function flowProtocol(v: unknown): number {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 255 ? v : -1;
  if (typeof v !== 'string') return -1;
  switch (v) {
    case 'TCP':
    case 'tcp':
      return TCP;
    case 'UDP':
    case 'udp':
      return UDP;
    case 'ICMP':
    case 'icmp':
      return ICMP;
    case 'ICMPv6':
    case 'icmpv6':
      return ICMPV6;
    case 'GRE':
    case 'gre':
      return GRE;
  }
  // parseProtocol's answer is checked, not trusted to be a number (0-255).
  const p = parseProtocol(v, false);
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 255 ? p : -1;
}

/** A whole number 0-max (a number, or digits with optional spaces), or -1. */
function intField(v: unknown, max: number): number {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= max ? v : -1;
  if (typeof v === 'string' && v.length <= 16 && /^\s*\d{1,5}\s*$/.test(v)) {
    const n = Number(v);
    return n <= max ? n : -1;
  }
  return -1;
}

/** Where issues of one flow go: its path prefix and label, built only when there is an issue. */
class FlowIssues {
  constructor(
    public issues: Issue[],
    public prefix: Path,
    /** The flow's index in its list, or -1 for a lone flow. */
    public index: number,
  ) {}

  path(field?: string): Path {
    const p: Path = this.index < 0 ? [...this.prefix] : [...this.prefix, this.index];
    if (field !== undefined) p.push(field);
    return p;
  }

  get where(): string {
    const p = this.path();
    return p.length ? `flow ${p.join('.')}` : 'flow';
  }

  bad(field: string | undefined, message: string, given?: unknown): void {
    const issue: Issue = { code: 'INVALID_FLOW', path: this.path(field), message: `${this.where}${field ? `, ${field}` : ''}: ${message}` };
    const g = givenValue(given);
    if (g !== undefined) issue.given = g;
    this.issues.push(issue);
  }
}

/**
 * An address object (a FlowAddress, as a parsed flow carries it after JSON or a
 * worker thread), read in full while user code may run (getters, proxies): its
 * family and words, or a message saying what is wrong with it.
 */
class AddressObject {
  constructor(
    readonly v6: boolean,
    readonly w: readonly number[],
    /** Set when the object is not a FlowAddress: what is wrong with it. */
    readonly problem?: string,
  ) {}
}

function readAddressObject(v: object): AddressObject {
  const v6 = readField(v, 'v6');
  const words = readField(v, 'words');
  const refuse = (problem: string) => new AddressObject(false, [], problem);
  if (typeof v6 !== 'boolean' || !(Array.isArray(words) || words instanceof Uint32Array) || words.length !== 4) {
    return refuse(`must be an address string, or {v6: boolean, words: [four 32-bit words]} as a parsed flow has; got ${describeValue(v)}`);
  }
  const w = [0, 0, 0, 0];
  for (let k = 0; k < 4; k++) {
    const x: unknown = (words as ArrayLike<unknown>)[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xffffffff) return refuse(`words[${k}] is ${describeValue(x)}; each word is a whole number 0-4294967295`);
    w[k] = x;
  }
  if (!v6 && (w[1] !== 0 || w[2] !== 0 || w[3] !== 0)) return refuse('an IPv4 address is words[0]; words 1-3 must be 0');
  return new AddressObject(v6, w);
}

/**
 * The address of a flow field into words[at..at+3]: 0 (IPv4), 1 (IPv6), or -1 after
 * an issue. Text goes through readAddress; an address object was read already
 * (readAddressObject) and means what its bits mean, as text would.
 */
function flowAddressInto(v: unknown, field: string, out: Uint32Array, at: number, report: FlowIssues): number {
  if (typeof v === 'string') {
    const r = readAddress(v, out, at);
    if (r < 0) {
      report.bad(field, addressProblem(v, r), v);
      return -1;
    }
    return r === IPV4 ? 0 : 1;
  }
  if (!(v instanceof AddressObject)) {
    report.bad(field, `must be an address string (IPv4 or IPv6), got ${describeValue(v)}`, v);
    return -1;
  }
  if (v.problem !== undefined) {
    report.bad(field, v.problem);
    return -1;
  }
  const a = v;
  const w = a.w;
  // The bits decide, as in readAddress: ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
  const mapped = a.v6 && w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
  out[at] = mapped ? w[3]! : w[0]!;
  out[at + 1] = mapped ? 0 : w[1]!;
  out[at + 2] = mapped ? 0 : w[2]!;
  out[at + 3] = mapped ? 0 : w[3]!;
  return a.v6 && !mapped ? 1 : 0;
}

/** True when `k` names a flow field (a switch: no hashing, no allocation). */
function isFlowField(k: string): boolean {
  switch (k) {
    case 'direction':
    case 'protocol':
    case 'remote':
    case 'port':
    case 'local':
    case 'sourcePort':
    case 'icmpType':
    case 'icmpCode':
    case 'instance':
      return true;
  }
  return false;
}

/**
 * Whether a field name that is not a flow field is one or two edits from one (a
 * typo). Flows often carry fields of their own (an id, an expected verdict), the same
 * few names flow after flow: the answer is remembered, so closest() (an edit distance
 * per flow field) runs once per name. Bounded: names are at most LONGEST_TYPO
 * characters and the table is emptied when it holds TYPO_MEMORY names.
 */
const TYPO_MEMORY = 1024;
const typoOf = new Map<string, boolean>();
function isTypo(k: string): boolean {
  let t = typoOf.get(k);
  if (t === undefined) {
    t = closest(k, FLOW_FIELDS) !== undefined;
    if (typoOf.size >= TYPO_MEMORY) typoOf.clear();
    typoOf.set(k, t);
  }
  return t;
}

const OBJECT_PROTOTYPE = Object.prototype;

/**
 * A whole number 0-max for a numeric field (port, sourcePort, icmpType, icmpCode),
 * `absent` when not given, or -1 after an issue.
 */
function numField(report: FlowIssues, field: string, v: unknown, max: number, absent: number): number {
  if (v === undefined) return absent;
  if (typeof v === 'number' && v >= 0 && v <= max && Number.isInteger(v)) return v;
  const n = intField(v, max);
  if (n >= 0) return n;
  report.bad(field, `${describeValue(v)} is not a whole number 0-${max}`, v);
  return -1;
}

/**
 * Validates one flow into row s of `c` when it is inbound, row sOut when it is
 * outbound (the same row for a lone flow; createFlowBatch fills one direction from
 * the front and the other from the back, so that a batch of one instance and one
 * family is grouped as it is read). Returns its instance (null: the default), or
 * undefined after pushing at least one issue (the row's meta is then left as it was).
 *
 * This is the per-flow path of classify(flow) and createFlowBatch: it allocates
 * nothing for a valid flow (no closure, no intermediate object, no array) and
 * reads each field exactly once.
 */
function readFlow(raw: unknown, report: FlowIssues, c: FlowColumns, s: number, sOut: number): string | null | undefined {
  if (isParsedFlow(raw)) return writeParsed(raw, c, s, sOut);
  const before = report.issues.length;
  let direction: unknown, protocol: unknown, remote: unknown, port: unknown, local: unknown;
  let sourcePort: unknown, icmpType: unknown, icmpCode: unknown, instance: unknown;
  let reading: string | undefined;
  try {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      report.bad(undefined, `a flow must be an object {direction, protocol, remote, port?...}, got ${describeValue(raw)}`, raw);
      return undefined;
    }
    // Flows often travel with fields of their own (an id, an expected verdict): those
    // are ignored. A name one or two letters away from a flow field is a typo that
    // would silently change the verdict, so it is an error.
    for (const k in raw) {
      if (isFlowField(k) || k.length > LONGEST_TYPO || !isTypo(k) || !Object.hasOwn(raw, k)) continue;
      report.issues.push(unknownFieldIssue(report.path(k), report.where, k, FLOW_FIELDS));
    }
    const f = raw as Partial<Record<(typeof FLOW_FIELDS)[number], unknown>>;
    // Each field read once; a value the flow does not own is never taken from a
    // polluted Object.prototype (see unpolluted; written out here, it is the hot path).
    // `key in Object.prototype` runs no user code (Object.prototype is an ordinary
    // object whose prototype is null and cannot be replaced) and, with a constant
    // key, costs a cached load: an own field is only looked up when the prototype
    // has that key, i.e. when it was polluted.
    const O = OBJECT_PROTOTYPE;
    reading = 'direction';
    direction = f.direction;
    if (direction !== undefined && 'direction' in O && !Object.hasOwn(f, 'direction')) direction = undefined;
    reading = 'protocol';
    protocol = f.protocol;
    if (protocol !== undefined && 'protocol' in O && !Object.hasOwn(f, 'protocol')) protocol = undefined;
    reading = 'remote';
    remote = f.remote;
    if (remote !== undefined && 'remote' in O && !Object.hasOwn(f, 'remote')) remote = undefined;
    reading = 'port';
    port = f.port;
    if (port !== undefined && 'port' in O && !Object.hasOwn(f, 'port')) port = undefined;
    reading = 'local';
    local = f.local;
    if (local !== undefined && 'local' in O && !Object.hasOwn(f, 'local')) local = undefined;
    reading = 'sourcePort';
    sourcePort = f.sourcePort;
    if (sourcePort !== undefined && 'sourcePort' in O && !Object.hasOwn(f, 'sourcePort')) sourcePort = undefined;
    reading = 'icmpType';
    icmpType = f.icmpType;
    if (icmpType !== undefined && 'icmpType' in O && !Object.hasOwn(f, 'icmpType')) icmpType = undefined;
    reading = 'icmpCode';
    icmpCode = f.icmpCode;
    if (icmpCode !== undefined && 'icmpCode' in O && !Object.hasOwn(f, 'icmpCode')) icmpCode = undefined;
    reading = 'instance';
    instance = f.instance;
    if (instance !== undefined && 'instance' in O && !Object.hasOwn(f, 'instance')) instance = undefined;
    reading = 'remote';
    if (typeof remote === 'object' && remote !== null) remote = readAddressObject(remote);
    reading = 'local';
    if (typeof local === 'object' && local !== null) local = readAddressObject(local);
  } catch (e) {
    report.bad(reading, `could not be read (${errorText(e)})`);
    return undefined;
  }
  // From here on no user code runs (no getters, no proxies): a flow that classifies
  // another flow from a getter cannot change this row half-way.
  // Optional fields may be null (what JSON writes for "none", e.g. a parsed flow's
  // `port: null`): the same as absent.
  if (port === null) port = undefined;
  if (local === null) local = undefined;
  if (sourcePort === null) sourcePort = undefined;
  if (icmpType === null) icmpType = undefined;
  if (icmpCode === null) icmpCode = undefined;
  if (instance === null) instance = undefined;

  let m = 0;
  if (direction === 'outbound') m = META_OUTBOUND;
  else if (direction !== 'inbound') {
    const d = typeof direction === 'string' ? direction.trim().toLowerCase() : undefined;
    if (d === 'outbound') m = META_OUTBOUND;
    else if (d !== 'inbound') report.bad('direction', `${direction === undefined ? 'missing' : describeValue(direction)}; allowed: inbound, outbound`, direction);
  }
  if (m) s = sOut;

  const proto = protocol === undefined ? -1 : flowProtocol(protocol);
  if (proto < 0) report.bad('protocol', `${protocol === undefined ? 'missing' : describeValue(protocol)}; a flow has one protocol: TCP, UDP, ICMP, ICMPv6, GRE or 0-255`, protocol);

  const at = 4 * s;
  if (remote === undefined) report.bad('remote', 'missing; the peer address (IPv4 or IPv6)');
  else if (flowAddressInto(remote, 'remote', c.remote, at, report) === 1) m |= META_REMOTE_V6;
  if (local === undefined) {
    const l = c.local;
    l[at] = 0;
    l[at + 1] = 0;
    l[at + 2] = 0;
    l[at + 3] = 0;
  } else {
    const l = flowAddressInto(local, 'local', c.local, at, report);
    if (l >= 0) m |= META_LOCAL_PRESENT | (l === 1 ? META_LOCAL_V6 : 0);
  }

  const p = numField(report, 'port', port, 65535, PORT_ABSENT);
  const sp = numField(report, 'sourcePort', sourcePort, 65535, PORT_ABSENT);
  const type = numField(report, 'icmpType', icmpType, 255, ICMP_ABSENT);
  const code = numField(report, 'icmpCode', icmpCode, 255, ICMP_ABSENT);
  if ((proto === TCP || proto === UDP) && port === undefined) report.bad('port', `required for ${proto === TCP ? 'TCP' : 'UDP'} flows (0-65535)`);
  if (proto >= 0 && proto !== ICMP && proto !== ICMPV6 && (icmpType !== undefined || icmpCode !== undefined)) {
    report.bad(icmpType !== undefined ? 'icmpType' : 'icmpCode', 'only ICMP and ICMPv6 flows carry an ICMP type/code');
  }
  if (instance !== undefined && (typeof instance !== 'string' || instance === '')) {
    report.bad('instance', `must be an instance id string, got ${describeValue(instance)}`, instance);
  }
  if (report.issues.length > before) return undefined;
  c.meta[s] = m;
  c.proto[s] = proto;
  c.port[s] = p;
  c.sport[s] = sp;
  c.icmp[s] = (type | (code << ICMP_CODE_SHIFT)) >>> 0;
  return typeof instance === 'string' ? instance : null;
}

const ONE = newColumns(1);

/** Validates one flow; pushes issues (paths prefixed by `base`) and returns undefined on error. */
export function validateFlow(raw: unknown, base: Path, issues: Issue[]): ParsedFlow | undefined {
  if (isParsedFlow(raw)) return raw;
  const report = new FlowIssues(issues, base, -1);
  const before = issues.length;
  const instance = readFlow(raw, report, ONE, 0, 0);
  if (instance === undefined) {
    if (issues.length === before) report.bad(undefined, 'refused without a reason (a bug in sgfilter; please report it)');
    return undefined;
  }
  return flowOfRow(ONE, 0, instance);
}

/** @internal FLOW_INVALID listing `issues` (the first 20 in the message). */
export function flowError(issues: Issue[], what: string, more = false): SgfilterError {
  const shown = issues.slice(0, 20).map((i) => `  - ${i.message}`).join('\n');
  const count = `${more ? 'at least ' : ''}${issues.length}`;
  return new SgfilterError('FLOW_INVALID', `${what}: ${count} issue(s):\n${shown}${issues.length > 20 || more ? '\n  ...' : ''}`, issues);
}

/**
 * Validates a FlowInput (docs/SEMANTICS.md "Flows") into a frozen ParsedFlow. Throws FLOW_INVALID
 * with every issue of the flow, each with the path of its field. A parsed flow is
 * returned as it is.
 */
export function parseFlow(raw: unknown): ParsedFlow {
  const issues: Issue[] = [];
  const flow = validateFlow(raw, [], issues);
  if (!flow) throw flowError(issues, 'invalid flow');
  return flow;
}

// ---------- Batches ----------

/** @internal A batch's state: what the engine copies into WASM and where answers go. */
export interface BatchState {
  readonly n: number;
  readonly cols: FlowColumns;
  /** Instance slot names; slot 0 is the policy's default instance (null). */
  readonly instances: (string | null)[];
  /** Stored flow s is the caller's flow order[s] (null: the caller's order). */
  readonly order: Uint32Array | null;
  /** Global rule id that decided each flow (caller's order), -1 = default drop. */
  readonly ruleIds: Int32Array;
  version: number;
  rules: readonly RuleRef[] | null;
}

/** Stable counting sort of indexes by key; null when keys are already sorted. */
function groupOrder(keys: Uint32Array, nKeys: number): Uint32Array | null {
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! <= keys[i]!;
  if (sorted) return null;
  const start = new Uint32Array(nKeys + 1);
  for (let i = 0; i < keys.length; i++) start[keys[i]! + 1]!++;
  for (let k = 0; k < nKeys; k++) start[k + 1]! += start[k]!;
  const order = new Uint32Array(keys.length);
  for (let i = 0; i < keys.length; i++) order[start[keys[i]!]!++] = i;
  return order;
}

function permute(c: FlowColumns, order: Uint32Array): FlowColumns {
  const p = newColumns(order.length);
  for (let s = 0; s < order.length; s++) {
    const i = order[s]!;
    p.meta[s] = c.meta[i]!;
    p.proto[s] = c.proto[i]!;
    p.port[s] = c.port[i]!;
    p.sport[s] = c.sport[i]!;
    p.icmp[s] = c.icmp[i]!;
    for (let k = 0; k < 4; k++) {
      p.remote[4 * s + k] = c.remote[4 * i + k]!;
      p.local[4 * s + k] = c.local[4 * i + k]!;
    }
  }
  return p;
}

/**
 * The general grouping (assemble's fallback when packFlows finds more than one
 * instance or both families): gives each stored row its instance slot and stores
 * rows of one (instance, direction, family) together, so the WASM matcher sees long
 * runs of one classifier and one trie (it works a block of flows per dimension).
 * `names[s]` is the instance of stored row s (null: every row has `instance`);
 * `order[s]` the caller's index of stored row s (null: row s is flow s).
 */
function assemble(c: FlowColumns, n: number, names: readonly (string | null)[] | null, instance: string | null, order: Uint32Array | null): BatchState {
  const instances: (string | null)[] = [null];
  const slots = new Map<string, number>();
  const keys = new Uint32Array(n);
  // Flows of one instance usually come in runs: the last name's slot is kept.
  let lastName: string | null = null;
  let lastSlot = 0;
  for (let i = 0; i < n; i++) {
    const name = names ? names[i]! : instance;
    let slot = 0;
    if (name !== null && name === lastName) slot = lastSlot;
    else if (name !== null) {
      slot = slots.get(name) ?? 0;
      if (slot === 0) {
        slot = instances.length;
        if (slot >= MAX_SLOTS) throw new SgfilterError('INVALID_ARGUMENT', `a batch names at most ${MAX_SLOTS - 1} distinct instances`);
        instances.push(name);
        slots.set(name, slot);
      }
      lastName = name;
      lastSlot = slot;
    }
    const m = c.meta[i]!;
    keys[i] = slot * 4 + (m & META_OUTBOUND ? 2 : 0) + (m & META_REMOTE_V6 ? 1 : 0);
  }
  return grouped(c, n, keys, instances, order);
}

/**
 * assemble's second half: stores rows by key (slot * 4 + outbound * 2 + v6; keys[s]
 * is stored row s's), slots in meta. `order` as assemble's; the result's order maps
 * the new stored rows to the caller's indexes.
 */
function grouped(c: FlowColumns, n: number, keys: Uint32Array, instances: (string | null)[], order: Uint32Array | null): BatchState {
  const perm = groupOrder(keys, instances.length * 4);
  const cols = perm ? permute(c, perm) : c;
  const meta = cols.meta;
  if (perm) for (let s = 0; s < n; s++) meta[s] = (meta[s]! | ((keys[perm[s]!]! >>> 2) << META_SLOT_SHIFT)) >>> 0;
  else if (instances.length > 1) for (let s = 0; s < n; s++) meta[s] = (meta[s]! | ((keys[s]! >>> 2) << META_SLOT_SHIFT)) >>> 0;
  let callerOf = order;
  if (perm && order) {
    callerOf = new Uint32Array(n);
    for (let s = 0; s < n; s++) callerOf[s] = order[perm[s]!]!;
  } else if (perm) callerOf = perm;
  return { n, cols, instances, order: callerOf, ruleIds: new Int32Array(n).fill(-1), version: -1, rules: null };
}

/** The length of a list of flows, checked. */
function flowCount(flows: unknown, what: string): number {
  let n: unknown;
  try {
    if (!Array.isArray(flows)) throw new SgfilterError('INVALID_ARGUMENT', `${what} takes a list (array) of flows, got ${describeValue(flows)}`);
    n = flows.length;
  } catch (e) {
    if (e instanceof SgfilterError) throw e;
    throw new SgfilterError('INVALID_ARGUMENT', `${what}: the list of flows could not be read (${errorText(e)})`);
  }
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new SgfilterError('INVALID_ARGUMENT', `${what}: the list of flows has length ${describeValue(n)}`);
  if (n > MAX_BATCH_FLOWS) throw new SgfilterError('INVALID_ARGUMENT', `${what}: ${n} flows; one batch holds at most ${MAX_BATCH_FLOWS} (split the flows into several batches)`);
  return n;
}

/**
 * Validates every flow into columns; one row per flow, or FLOW_INVALID with every
 * issue (up to MAX_ISSUES).
 *
 * Rows are filled from both ends: flows with the first flow's direction from the
 * front, the others from the back (order[s] is then the caller's index of stored
 * row s). When every flow has the first flow's instance and family, the common case
 * (one server, one socket family), the rows are grouped as they are written and the
 * columns are not copied a second time; otherwise assemble groups them.
 */
function packFlows(flows: unknown, what: string): BatchState {
  const n = flowCount(flows, what);
  const list = flows as readonly unknown[];
  const c = newColumns(n);
  const meta = c.meta;
  const issues: Issue[] = [];
  const report = new FlowIssues(issues, [], 0);
  let stopped = false;
  let front = 0;
  let back = n;
  let frontOut = false;
  let order: Uint32Array | null = null;
  let instance0: string | null = null;
  let v6First = 0;
  let names: (string | null)[] | null = null;
  let mixed = false;
  for (let i = 0; i < n; i++) {
    report.index = i;
    const before = issues.length;
    let raw: unknown;
    try {
      raw = list[i];
    } catch (e) {
      report.bad(undefined, `could not be read (${errorText(e)})`);
      continue;
    }
    const first = front === 0 && back === n;
    const sIn: number = first || !frontOut ? front : back - 1;
    const sOut: number = first || frontOut ? front : back - 1;
    const instance = readFlow(raw, report, c, sIn, sOut);
    if (instance === undefined) {
      // A flow left out would shift every later answer by one: a refusal always says why.
      if (issues.length === before) report.bad(undefined, 'refused without a reason (a bug in sgfilter; please report it)');
      if (issues.length >= MAX_ISSUES) {
        stopped = i < n - 1;
        break;
      }
      continue;
    }
    // Only the row readFlow wrote has its meta set (the other one is still 0), and
    // sIn === sOut for the first flow and the last free row.
    const out: boolean = (meta[sOut]! & META_OUTBOUND) !== 0;
    if (first) {
      frontOut = out;
      instance0 = instance;
      v6First = meta[sIn]! & META_REMOTE_V6;
    }
    let row: number;
    if (out === frontOut) row = front++;
    else {
      row = --back;
      if (order === null) {
        // Until now every row was flow `row` (a refused flow refuses the batch anyway).
        order = new Uint32Array(n);
        for (let s = 0; s < front; s++) order[s] = s;
      }
    }
    if (order !== null) order[row] = i;
    if ((meta[row]! & META_REMOTE_V6) !== v6First) mixed = true;
    if (instance !== instance0 && names === null) {
      names = new Array<string | null>(n).fill(instance0);
      mixed = true;
    }
    if (names !== null) names[row] = instance;
  }
  if (issues.length) throw flowError(issues, `${what}: invalid flows`, stopped);
  if (mixed) return assemble(c, n, names, instance0, order);
  // One instance, one family: grouped already ([0, front) one direction, the rest the other).
  if (instance0 !== null) for (let s = 0; s < n; s++) meta[s] = (meta[s]! | (1 << META_SLOT_SHIFT)) >>> 0;
  return { n, cols: c, instances: instance0 === null ? [null] : [null, instance0], order, ruleIds: new Int32Array(n).fill(-1), version: -1, rules: null };
}

let building: BatchState | null = null;
let stateOf: (batch: unknown) => BatchState;

/**
 * Many flows in struct-of-arrays form. Build once (createFlowBatch, or `new
 * FlowBatch(flows)`: both validate every flow), classify many times with
 * engine.classifyBatch. After a classifyBatch, `verdict(i)` is flow i's verdict and
 * `policyVersion` the version of the policy it was classified with. A batch's arrays
 * are its own: reads give copies.
 */
export class FlowBatch {
  readonly #s: BatchState;

  /**
   * Validates `flows` (FlowInput objects or parsed Flows) and packs them. Throws
   * FLOW_INVALID (every issue, each with path [index, field]) or INVALID_ARGUMENT
   * (not a list; more than MAX_BATCH_FLOWS flows).
   */
  constructor(flows: readonly (FlowInput | ParsedFlow)[]) {
    const st = building;
    building = null;
    this.#s = st ?? packFlows(flows, 'FlowBatch');
  }

  /** Number of flows: exactly as many as were given. */
  get length(): number {
    return this.#s.n;
  }

  /** Version of the policy the last classifyBatch used (-1 before any). */
  get policyVersion(): number {
    return this.#s.version;
  }

  /** A copy of the deciding global rule id of each flow (-1 = default drop), in the caller's order. */
  get ruleIds(): Int32Array {
    return this.#s.ruleIds.slice();
  }

  /** The deciding global rule id of flow i (-1 = default drop). */
  ruleId(i: number): number {
    return this.#s.ruleIds[this.#index(i)]!;
  }

  /** The verdict of flow i from the last classifyBatch (action, groupId, ruleIndex). */
  verdict(i: number): Verdict {
    const k = this.#index(i);
    const rules = this.#s.rules;
    if (!rules) throw new SgfilterError('BATCH_MISMATCH', 'this batch has not been classified yet');
    const id = this.#s.ruleIds[k]!;
    if (id >= rules.length) throw new SgfilterError('BATCH_MISMATCH', `flow ${k} was answered with rule id ${id}, which the policy does not have`);
    return verdictOf(rules as RuleRef[], id);
  }

  #index(i: unknown): number {
    if (typeof i !== 'number' || !Number.isInteger(i)) throw new SgfilterError('INVALID_ARGUMENT', `a flow index is a whole number, got ${describeValue(i)}`);
    if (i < 0 || i >= this.#s.n) throw new SgfilterError('BATCH_MISMATCH', `flow index ${i} is outside 0-${this.#s.n - 1}`);
    return i;
  }

  static {
    stateOf = (batch: unknown): BatchState => {
      if (typeof batch !== 'object' || batch === null || !(#s in batch)) {
        throw new SgfilterError('INVALID_ARGUMENT', `expected a FlowBatch (from createFlowBatch), got ${describeValue(batch)}`);
      }
      return (batch as FlowBatch).#s;
    };
  }
}

function batchOf(st: BatchState): FlowBatch {
  building = st;
  try {
    return new FlowBatch([]);
  } finally {
    building = null;
  }
}

/**
 * Validates flows (FlowInput objects or parsed Flows) and packs them for
 * classifyBatch: exactly one row per flow. Throws FLOW_INVALID with every issue
 * (paths [index, field]), or INVALID_ARGUMENT when `flows` is not a list or holds
 * more than MAX_BATCH_FLOWS flows.
 */
export function createFlowBatch(flows: readonly (FlowInput | ParsedFlow)[]): FlowBatch {
  return batchOf(packFlows(flows, 'createFlowBatch'));
}

// ---------- @internal: the engine, the worker pool, trace readers ----------

/**
 * @internal A batch over columns a trusted builder filled and validated (the bytes
 * reader, src/flow-bytes.ts): n rows, every instance slot 0 (`instance`, null for
 * the policy's default), grouped by direction and family as assemble does.
 */
export function batchOfColumns(c: FlowColumns, n: number, instance: string | null): FlowBatch {
  const slot = instance === null ? 0 : 4;
  const keys = new Uint32Array(n);
  const meta = c.meta;
  for (let i = 0; i < n; i++) {
    const m = meta[i]!;
    keys[i] = slot + (m & META_OUTBOUND ? 2 : 0) + (m & META_REMOTE_V6 ? 1 : 0);
  }
  return batchOf(grouped(c, n, keys, instance === null ? [null] : [null, instance], null));
}

/** @internal The state of a real FlowBatch; INVALID_ARGUMENT for anything else. */
export function batchState(batch: unknown): BatchState {
  return stateOf(batch);
}

/** @internal Records answers computed elsewhere (a worker pool) on a batch. */
export function recordAnswers(batch: FlowBatch, ruleIds: Int32Array, version: number, rules: readonly RuleRef[]): void {
  const st = stateOf(batch);
  if (ruleIds.length !== st.n) throw new SgfilterError('BATCH_MISMATCH', `${ruleIds.length} answers for ${st.n} flows`);
  st.ruleIds.set(ruleIds);
  st.version = version;
  st.rules = rules;
}

/** A slice of a batch's stored flows, as copies (what a pool sends to a worker thread). */
export interface PackedFlows {
  length: number;
  instances: (string | null)[];
  meta: Uint32Array;
  remote: Uint32Array;
  local: Uint32Array;
  proto: Uint32Array;
  port: Uint32Array;
  sport: Uint32Array;
  icmp: Uint32Array;
}

/** @internal Stored flows [start, end) of a batch, copied. */
export function packSlice(batch: FlowBatch, start: number, end: number): PackedFlows {
  const { cols: c, instances } = stateOf(batch);
  return {
    length: end - start, instances: [...instances],
    meta: c.meta.slice(start, end), remote: c.remote.slice(4 * start, 4 * end), local: c.local.slice(4 * start, 4 * end),
    proto: c.proto.slice(start, end), port: c.port.slice(start, end), sport: c.sport.slice(start, end), icmp: c.icmp.slice(start, end),
  };
}

/** @internal The caller's index of each stored flow (null: stored in the caller's order). */
export function batchOrder(batch: FlowBatch): Uint32Array | null {
  return stateOf(batch).order;
}

const KNOWN_META = META_OUTBOUND | META_REMOTE_V6 | META_LOCAL_PRESENT | META_LOCAL_V6;

/**
 * @internal A batch over packed columns (from another thread, or a trace reader),
 * stored order kept. Every row is checked against what validation would have
 * written, so whatever the arrays hold, WASM reads inside them and the flows mean
 * what readFlow gives them: BATCH_MISMATCH otherwise.
 */
export function batchFromPacked(p: PackedFlows): FlowBatch {
  const bad = (why: string) => new SgfilterError('BATCH_MISMATCH', `packed flows: ${why}`);
  const n = p.length;
  if (!Number.isInteger(n) || n < 0 || n > MAX_BATCH_FLOWS) throw bad(`length ${describeValue(n)}`);
  const arrays = [p.meta, p.proto, p.port, p.sport, p.icmp, p.remote, p.local];
  if (!arrays.every((a) => a instanceof Uint32Array)) throw bad('every column must be a Uint32Array');
  if (!arrays.every((a, k) => a.length === (k < 5 ? n : 4 * n))) throw bad(`the columns do not hold ${n} flows`);
  const names = p.instances;
  if (!Array.isArray(names) || names.length < 1 || names.length > MAX_SLOTS || names[0] !== null || !names.slice(1).every((x) => typeof x === 'string' && x !== '')) {
    throw bad('instances must be [null, ...instance ids]');
  }
  const isMapped = (w: Uint32Array, at: number) => w[at] === 0 && w[at + 1] === 0 && w[at + 2] === 0xffff;
  for (let s = 0; s < n; s++) {
    const m = p.meta[s]!;
    const slot = m >>> META_SLOT_SHIFT;
    const proto = p.proto[s]!;
    const port = p.port[s]!;
    const type = p.icmp[s]! & 0xffff;
    const code = p.icmp[s]! >>> ICMP_CODE_SHIFT;
    const v4Words = (w: Uint32Array) => w[4 * s + 1] === 0 && w[4 * s + 2] === 0 && w[4 * s + 3] === 0;
    const addrOk = (w: Uint32Array, v6: boolean) => (v6 ? !isMapped(w, 4 * s) : v4Words(w));
    const ok =
      (m & ((1 << META_SLOT_SHIFT) - 1) & ~KNOWN_META) === 0 &&
      slot < names.length &&
      proto <= 255 &&
      port <= PORT_ABSENT &&
      p.sport[s]! <= PORT_ABSENT &&
      type <= ICMP_ABSENT &&
      code <= ICMP_ABSENT &&
      !((proto === TCP || proto === UDP) && port === PORT_ABSENT) &&
      (proto === ICMP || proto === ICMPV6 || (type === ICMP_ABSENT && code === ICMP_ABSENT)) &&
      addrOk(p.remote, (m & META_REMOTE_V6) !== 0) &&
      (m & META_LOCAL_PRESENT ? addrOk(p.local, (m & META_LOCAL_V6) !== 0) : (m & META_LOCAL_V6) === 0);
    if (!ok) throw bad(`flow ${s} is not a flow validation could have written`);
  }
  const cols: FlowColumns = { meta: p.meta, remote: p.remote, local: p.local, proto: p.proto, port: p.port, sport: p.sport, icmp: p.icmp };
  return batchOf({ n, cols, instances: [...names], order: null, ruleIds: new Int32Array(n).fill(-1), version: -1, rules: null });
}

/**
 * @internal Parsed flows and their batch from numbers a trusted reader already
 * checked (ClassBench traces): IPv4 remote/local, ports, protocol; inbound, default
 * instance. Throws BATCH_MISMATCH when a value is out of range.
 */
export function inboundV4Flows(rows: { remote: number; local: number; sourcePort: number; port: number; protocol: number }[]): { batch: FlowBatch; flows: ParsedFlow[] } {
  const n = rows.length;
  const c = newColumns(n);
  const flows: ParsedFlow[] = [];
  for (let s = 0; s < n; s++) {
    const r = rows[s]!;
    c.meta[s] = META_LOCAL_PRESENT;
    c.remote[4 * s] = r.remote;
    c.local[4 * s] = r.local;
    c.proto[s] = r.protocol;
    c.port[s] = r.port;
    c.sport[s] = r.sourcePort;
    c.icmp[s] = (ICMP_ABSENT | (ICMP_ABSENT << ICMP_CODE_SHIFT)) >>> 0;
    flows.push(flowOfRow(c, s, null));
  }
  const batch = batchFromPacked({ length: n, instances: [null], ...c });
  return { batch, flows };
}

/** @internal The engine's one-flow row for classify(flow) (row 0 of one-row columns). */
export type SingleFlow = FlowColumns;

/** @internal A one-row column set for loadSingleFlow. */
export function newSingleFlow(): SingleFlow {
  return newColumns(1);
}

const SINGLE = new FlowIssues([], [], -1);
let singleDepth = 0;

/**
 * @internal Validates one flow into row 0 of `c` (its meta carries no instance
 * slot) and returns its instance (null: the policy's default). Throws FLOW_INVALID.
 */
export function loadSingleFlow(c: SingleFlow, raw: unknown): string | null {
  // One report object for the steady state; a getter that classifies another flow
  // while this one is read (re-entry) gets its own.
  const report = singleDepth++ === 0 ? SINGLE : new FlowIssues([], [], -1);
  try {
    if (report.issues.length !== 0) report.issues.length = 0;
    const instance = readFlow(raw, report, c, 0, 0);
    if (instance === undefined) {
      if (report.issues.length === 0) report.bad(undefined, 'refused without a reason (a bug in sgfilter; please report it)');
      const issues = report.issues.slice();
      report.issues.length = 0;
      throw flowError(issues, 'invalid flow');
    }
    return instance;
  } finally {
    singleDepth--;
  }
}
