/**
 * Flows (SPEC §1): validation of one flow, and FlowBatch, the struct-of-arrays form
 * that classifyBatch hands to WASM in one copy per array (see assembly/layout.ts BATCH).
 */
import { SgfilterError, type Issue, type Path } from './errors.js';
import type { Flow, FlowInput, Verdict } from './types.js';
import { parseAddress, type Address } from './config/address.js';
import { parseProtocol, ICMP, ICMPV6, TCP, UDP } from './config/presets.js';
import { closest, show, unknownFieldIssue } from './config/rule.js';
import {
  ICMP_ABSENT, ICMP_CODE_SHIFT, META_LOCAL_PRESENT, META_LOCAL_V6, META_OUTBOUND, META_REMOTE_V6,
  META_SLOT_SHIFT, PORT_ABSENT,
} from '../assembly/layout.js';

const FLOW_FIELDS = ['direction', 'protocol', 'remote', 'port', 'local', 'sourcePort', 'icmpType', 'icmpCode', 'instance'] as const;

function intField(v: unknown, max: number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= max ? v : undefined;
  if (typeof v === 'string' && /^\s*\d{1,5}\s*$/.test(v)) {
    const n = Number(v);
    return n <= max ? n : undefined;
  }
  return undefined;
}

/** Validates one flow; pushes issues (paths prefixed by `base`) and returns undefined on error. */
export function validateFlow(raw: unknown, base: Path, issues: Issue[]): Flow | undefined {
  const before = issues.length;
  const where = base.length ? `flow ${base.join('.')}` : 'flow';
  const bad = (field: string, message: string, given?: unknown) => {
    const issue: Issue = { code: 'INVALID_FLOW', path: [...base, field], message: `${where}, ${field}: ${message}` };
    if (given !== undefined) issue.given = given;
    issues.push(issue);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({ code: 'INVALID_FLOW', path: base, given: raw, message: `${where}: a flow must be an object {direction, protocol, remote, port?...}, got ${show(raw)}` });
    return undefined;
  }
  const f = raw as Record<string, unknown>;
  // Flows often travel with fields of their own (an id, an expected verdict): those
  // are ignored. A name one or two letters away from a flow field is a typo that
  // would silently change the verdict, so it is an error.
  for (const k of Object.keys(f)) {
    if (!(FLOW_FIELDS as readonly string[]).includes(k) && closest(k, FLOW_FIELDS)) {
      issues.push(unknownFieldIssue([...base, k], where, k, FLOW_FIELDS));
    }
  }
  const dir = typeof f.direction === 'string' ? f.direction.trim().toLowerCase() : undefined;
  if (dir !== 'inbound' && dir !== 'outbound') bad('direction', `${f.direction === undefined ? 'missing' : show(f.direction)}; allowed: inbound, outbound`, f.direction);
  const proto = f.protocol === undefined ? undefined : parseProtocol(f.protocol, false);
  if (proto === undefined || proto === 'all') bad('protocol', `${f.protocol === undefined ? 'missing' : show(f.protocol)}; a flow has one protocol: TCP, UDP, ICMP, ICMPv6, GRE or 0-255`, f.protocol);
  const addr = (field: 'remote' | 'local'): Address | null | undefined => {
    const v = f[field];
    if (v === undefined) {
      if (field === 'remote') bad('remote', 'missing; the peer address (IPv4 or IPv6)');
      return null;
    }
    if (typeof v !== 'string') {
      bad(field, `must be an address string, got ${show(v)}`, v);
      return undefined;
    }
    const a = parseAddress(v);
    if (!a.ok) bad(field, a.message, v);
    return a.ok ? a.value : undefined;
  };
  const remote = addr('remote');
  const local = addr('local');
  const num = (field: 'port' | 'sourcePort' | 'icmpType' | 'icmpCode', max: number): number | null => {
    if (f[field] === undefined) return null;
    const n = intField(f[field], max);
    if (n === undefined) bad(field, `${show(f[field])} is not a whole number 0-${max}`, f[field]);
    return n ?? null;
  };
  const port = num('port', 65535);
  const sourcePort = num('sourcePort', 65535);
  const icmpType = num('icmpType', 255);
  const icmpCode = num('icmpCode', 255);
  if (typeof proto === 'number') {
    if ((proto === TCP || proto === UDP) && f.port === undefined) bad('port', `required for ${proto === TCP ? 'TCP' : 'UDP'} flows (0-65535)`);
    if (proto !== ICMP && proto !== ICMPV6 && (f.icmpType !== undefined || f.icmpCode !== undefined)) {
      bad(f.icmpType !== undefined ? 'icmpType' : 'icmpCode', 'only ICMP and ICMPv6 flows carry an ICMP type/code');
    }
  }
  if (f.instance !== undefined && (typeof f.instance !== 'string' || f.instance === '')) bad('instance', `must be an instance id string, got ${show(f.instance)}`, f.instance);
  if (issues.length > before || !remote || local === undefined || typeof proto !== 'number') return undefined;
  return {
    direction: dir as 'inbound' | 'outbound',
    protocol: proto,
    remote,
    port,
    local,
    sourcePort,
    icmpType,
    icmpCode,
    instance: typeof f.instance === 'string' ? f.instance : null,
  };
}

export function parseFlow(raw: unknown): Flow {
  const issues: Issue[] = [];
  const flow = validateFlow(raw, [], issues);
  if (!flow) throw new SgfilterError('FLOW_INVALID', `invalid flow:\n${issues.map((i) => `  - ${i.message}`).join('\n')}`, issues);
  return flow;
}

function writeAddress(out: Uint32Array, at: number, a: Address): void {
  if (!a.v6) {
    out[at] = Number(a.addr);
    return;
  }
  for (let k = 0; k < 4; k++) out[at + k] = Number((a.addr >> BigInt(96 - 32 * k)) & 0xffffffffn);
}

/** Stable counting sort of indexes by key; null when keys are already sorted. */
function groupOrder(keys: Uint32Array, nKeys: number): Uint32Array | null {
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! <= keys[i]!;
  if (sorted) return null;
  const start = new Uint32Array(nKeys + 1);
  for (const k of keys) start[k + 1]!++;
  for (let k = 0; k < nKeys; k++) start[k + 1]! += start[k]!;
  const order = new Uint32Array(keys.length);
  keys.forEach((k, i) => (order[start[k]!++] = i));
  return order;
}

/**
 * Many flows in struct-of-arrays form. Build once with createFlowBatch, classify
 * many times. After classifyBatch, `ruleIds[i]` names the deciding rule of flow i
 * (resolve it with `verdict(i)`), and `policyVersion` the policy it was classified with.
 */
export class FlowBatch {
  readonly length: number;
  readonly meta: Uint32Array;
  readonly remote: Uint32Array;
  readonly local: Uint32Array;
  readonly proto: Uint32Array;
  readonly port: Uint32Array;
  readonly sport: Uint32Array;
  readonly icmp: Uint32Array;
  /** Instance slot names; slot 0 is the policy's default instance (null). */
  readonly instances: (string | null)[] = [null];
  /** Global rule id that decided each flow, -1 = default drop; set by classifyBatch. */
  readonly ruleIds: Int32Array;
  /** Stored flow s is the caller's flow order[s] (null: same order). */
  readonly order: Uint32Array | null;
  /** Version of the policy the last classifyBatch used (-1 before any). */
  policyVersion = -1;
  /** @internal resolver of rule ids of the policy that classified this batch. */
  resolve: ((ruleId: number) => Verdict) | null = null;

  constructor(flows: readonly Flow[]) {
    const n = flows.length;
    this.length = n;
    this.meta = new Uint32Array(n);
    this.remote = new Uint32Array(4 * n);
    this.local = new Uint32Array(4 * n);
    this.proto = new Uint32Array(n);
    this.port = new Uint32Array(n);
    this.sport = new Uint32Array(n);
    this.icmp = new Uint32Array(n);
    this.ruleIds = new Int32Array(n).fill(-1);
    // Flows of one (instance, direction, family) are stored together, so the WASM
    // matcher sees long runs of one classifier and one trie (it works a block of
    // flows per dimension).
    // `order[s]` is the caller's index of stored flow s; null when nothing moved.
    const slots = new Map<string, number>();
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const f = flows[i]!;
      let slot = 0;
      if (f.instance !== null) {
        slot = slots.get(f.instance) ?? 0;
        if (slot === 0) {
          slot = this.instances.length;
          this.instances.push(f.instance);
          slots.set(f.instance, slot);
        }
      }
      // (instance, direction) picks the classifier; the family inside it keeps one trie hot.
      keys[i] = slot * 4 + (f.direction === 'outbound' ? 2 : 0) + (f.remote.v6 ? 1 : 0);
    }
    this.order = groupOrder(keys, this.instances.length * 4);
    for (let s = 0; s < n; s++) {
      const i = this.order ? this.order[s]! : s;
      const f = flows[i]!;
      let m = ((keys[i]! >>> 2) << META_SLOT_SHIFT) | (keys[i]! & 2 ? META_OUTBOUND : 0);
      if (f.remote.v6) m |= META_REMOTE_V6;
      writeAddress(this.remote, 4 * s, f.remote);
      if (f.local) {
        m |= META_LOCAL_PRESENT | (f.local.v6 ? META_LOCAL_V6 : 0);
        writeAddress(this.local, 4 * s, f.local);
      }
      this.meta[s] = m >>> 0;
      this.proto[s] = f.protocol;
      this.port[s] = f.port ?? PORT_ABSENT;
      this.sport[s] = f.sourcePort ?? PORT_ABSENT;
      this.icmp[s] = ((f.icmpType ?? ICMP_ABSENT) | ((f.icmpCode ?? ICMP_ABSENT) << ICMP_CODE_SHIFT)) >>> 0;
    }
  }

  /** The verdict of flow i from the last classifyBatch (action, groupId, ruleIndex). */
  verdict(i: number): Verdict {
    if (!this.resolve) throw new SgfilterError('BATCH_MISMATCH', 'this batch has not been classified yet');
    if (!(i >= 0 && i < this.length)) throw new SgfilterError('BATCH_MISMATCH', `flow index ${i} is outside 0-${this.length - 1}`);
    return this.resolve(this.ruleIds[i]!);
  }
}

/** Validates flows (plain objects or already-parsed Flows) and packs them for classifyBatch. */
export function createFlowBatch(flows: readonly (FlowInput | Flow)[]): FlowBatch {
  const issues: Issue[] = [];
  const parsed: Flow[] = [];
  flows.forEach((raw, i) => {
    const f = isParsedFlow(raw) ? raw : validateFlow(raw, [i], issues);
    if (f) parsed.push(f);
  });
  if (issues.length) {
    const shown = issues.slice(0, 20).map((i) => `  - ${i.message}`).join('\n');
    throw new SgfilterError('FLOW_INVALID', `${issues.length} invalid flow field(s):\n${shown}${issues.length > 20 ? '\n  ...' : ''}`, issues);
  }
  return new FlowBatch(parsed);
}

function isParsedFlow(x: unknown): x is Flow {
  const f = x as Flow;
  return typeof f === 'object' && f !== null && typeof f.remote === 'object' && f.remote !== null && typeof f.remote.addr === 'bigint';
}

