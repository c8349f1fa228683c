/**
 * Flow batches from bytes (docs/SEMANTICS.md "Flows", "Addresses"): for callers that
 * already hold addresses as bytes (a capture, a socket table, a log in binary form),
 * createFlowBatchFromBytes packs a FlowBatch straight from typed arrays, with no
 * JavaScript object per flow and no address text.
 *
 * Input shape (n flows; every per-flow array holds exactly n entries):
 *
 *   bytes          Uint8Array: the addresses, network byte order, anywhere in it
 *   remoteOffset   Uint32Array[n]: byte offset of flow i's remote address in bytes
 *   remoteLength   Uint8Array[n]: 4 (IPv4) or 16 (IPv6)
 *   localOffset    Uint32Array[n] (optional, with localLength)
 *   localLength    Uint8Array[n]: 0 (no local address), 4 or 16
 *   protocol       Uint8Array[n]: IP protocol number 0-255
 *   port           Uint16Array[n] (every flow has one) or Int32Array[n] (-1: none)
 *   sourcePort     the same, optional
 *   icmpType       Int16Array[n], optional: 0-255, or -1 (none)
 *   icmpCode       Int16Array[n], optional: 0-255, or -1 (none)
 *   direction      'inbound' | 'outbound' for all, or Uint8Array[n] (0 inbound, 1 outbound)
 *   instance       one instance id for the whole batch (default: the policy's default)
 *
 * Trust. Every array is recognised through the typed-array built-ins (a proxy, a
 * subclass with a lying `length`, a plain array are refused: INVALID_ARGUMENT), and
 * every offset and length is checked against `bytes` before anything is read from
 * it: a flow whose address would lie outside `bytes` is FLOW_INVALID with its index,
 * field, offset, length and the size of `bytes`. The flows are copied into the
 * batch's own columns, so WASM only ever reads memory sgfilter wrote, and a caller
 * that changes its arrays afterwards changes nothing.
 *
 * Meaning. 16 bytes are IPv6 unless they are IPv4-mapped (::ffff:a.b.c.d), which is
 * the IPv4 address a.b.c.d, as readAddress gives the same bits written as text. The
 * flow rules are readFlow's: TCP and UDP flows need a port; only ICMP and ICMPv6
 * flows carry an ICMP type or code.
 */
import { SgfilterError, type Issue } from './errors.js';
import { describeValue } from './describe.js';
import { closest } from './config/rule.js';
import { quote } from './config/plain.js';
import { batchOfColumns, flowError, MAX_BATCH_FLOWS, newColumns, type FlowBatch } from './flow.js';
import { ICMP, ICMPV6, TCP, UDP } from './config/presets.js';
import { ICMP_ABSENT, ICMP_CODE_SHIFT, META_LOCAL_PRESENT, META_LOCAL_V6, META_OUTBOUND, META_REMOTE_V6, PORT_ABSENT } from '../assembly/layout.js';

/** What createFlowBatchFromBytes takes: n flows as typed arrays (see each field). */
export interface FlowBytes {
  /** The address bytes, network byte order (most significant byte first). */
  bytes: Uint8Array;
  /** Per flow: byte offset of the remote (peer) address in `bytes`. */
  remoteOffset: Uint32Array;
  /** Per flow: bytes of the remote address, 4 (IPv4) or 16 (IPv6; IPv4-mapped ::ffff:a.b.c.d is IPv4). */
  remoteLength: Uint8Array;
  /** Per flow: byte offset of the local address in `bytes` (only read where localLength is not 0). */
  localOffset?: Uint32Array;
  /** Per flow: bytes of the local address, 0 (none), 4 or 16. Given together with localOffset. */
  localLength?: Uint8Array;
  /** Per flow: IP protocol number 0-255 (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...). */
  protocol: Uint8Array;
  /**
   * Per flow: destination port 0-65535. A Uint16Array gives every flow a port; an
   * Int32Array may say -1 (no port; TCP and UDP flows need one). Optional when no
   * flow is TCP or UDP.
   */
  port?: Uint16Array | Int32Array;
  /** Per flow: source port, as `port` (optional; -1 or absent: none). */
  sourcePort?: Uint16Array | Int32Array;
  /** Per flow: ICMP type 0-255 or -1 (none); only ICMP and ICMPv6 flows may carry one. */
  icmpType?: Int16Array;
  /** Per flow: ICMP code 0-255 or -1 (none); only ICMP and ICMPv6 flows may carry one. */
  icmpCode?: Int16Array;
  /** 'inbound' or 'outbound' for every flow, or per flow a Uint8Array: 0 inbound, 1 outbound. */
  direction: 'inbound' | 'outbound' | Uint8Array;
  /** The instance every flow belongs to (a non-empty id); absent or null: the policy's default. */
  instance?: string | null;
}

const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayTag = Object.getOwnPropertyDescriptor(TYPED_ARRAY, Symbol.toStringTag)!.get!;
const typedArrayLength = Object.getOwnPropertyDescriptor(TYPED_ARRAY, 'length')!.get!;

/** The fields of FlowBytes, read once each (a getter runs once; its exception is a coded error). */
const FIELDS = [
  'bytes', 'remoteOffset', 'remoteLength', 'localOffset', 'localLength', 'protocol',
  'port', 'sourcePort', 'icmpType', 'icmpCode', 'direction', 'instance',
] as const;

/** Issues collected before validation stops (the batch is refused anyway). */
const MAX_ISSUES = 1000;

const WHAT = 'createFlowBatchFromBytes';

function argumentError(message: string): SgfilterError {
  return new SgfilterError('INVALID_ARGUMENT', `${WHAT}: ${message}`);
}

/** The typed-array kind of `v` ('Uint8Array', ...), or undefined for anything else (proxies included). */
function kindOf(v: unknown): string | undefined {
  return typedArrayTag.call(v) as string | undefined;
}

/**
 * `v` as a typed array of one of `kinds` holding `n` entries (n < 0: any number),
 * or INVALID_ARGUMENT saying which field, what it is and what is allowed.
 */
function typed<T>(field: string, v: unknown, kinds: readonly string[], n: number): T {
  const kind = kindOf(v);
  if (kind === undefined || !kinds.includes(kind)) {
    const article = (k: string) => (/^[AEIOU]/.test(k) ? 'an' : 'a');
    throw argumentError(`${field} must be ${kinds.map((k) => `${article(k)} ${k}`).join(' or ')}, got ${kind !== undefined ? `${article(kind)} ${kind}` : describeValue(v)}`);
  }
  const len = typedArrayLength.call(v) as number;
  if (n >= 0 && len !== n) throw argumentError(`${field} holds ${len} entries; it must hold one per flow (${n}, the length of remoteOffset)`);
  return v as T;
}

/** Reads a FlowBytes object's fields once each, from its own properties only. */
function readFields(input: unknown): Partial<Record<(typeof FIELDS)[number], unknown>> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw argumentError(`takes {bytes, remoteOffset, remoteLength, protocol, port?, direction, ...} (typed arrays), got ${describeValue(input)}`);
  }
  const out: Partial<Record<(typeof FIELDS)[number], unknown>> = Object.create(null);
  for (const k of FIELDS) {
    try {
      // Own fields only: nothing is taken from a polluted Object.prototype.
      if (Object.hasOwn(input, k) || !(k in Object.prototype)) out[k] = (input as Record<string, unknown>)[k];
    } catch (e) {
      throw argumentError(`${k} could not be read (${e instanceof Error ? e.message : describeValue(e)})`);
    }
  }
  // A field one or two letters from a known one (`sourceport`, `remoteOfset`) is refused:
  // ignored, it would silently classify without the column the caller meant to give.
  let keys: string[];
  try {
    keys = Object.keys(input);
  } catch (e) {
    throw argumentError(`the fields could not be read (${e instanceof Error ? e.message : describeValue(e)})`);
  }
  for (const key of keys) {
    if ((FIELDS as readonly string[]).includes(key)) continue;
    const near = key.length <= 30 ? closest(key, FIELDS) : undefined;
    if (near) throw argumentError(`unknown field ${quote(key)}; did you mean "${near}"?`);
  }
  return out;
}

/**
 * Packs flows held as bytes and typed arrays (see FlowBytes) into a FlowBatch for
 * engine.classifyBatch: exactly one row per flow, flow i at index i, with no
 * JavaScript object per flow. Every offset and length is checked against `bytes`
 * before it is read, and the flows are copied: later changes to the arrays change
 * nothing.
 *
 * Throws INVALID_ARGUMENT when a field is missing or of the wrong kind or size
 * (`bytes` not a Uint8Array, a per-flow array not holding one entry per flow,
 * more than MAX_BATCH_FLOWS flows, a bad `direction` or `instance`), and
 * FLOW_INVALID with every issue (up to 1000; paths [flow index, field]) when a
 * flow's values are wrong: an address length other than 4 or 16 (0 too for
 * local), an address outside `bytes`, a port, ICMP type or code out of range, a
 * TCP or UDP flow without a port, an ICMP type or code on a flow that is not ICMP
 * or ICMPv6.
 */
export function createFlowBatchFromBytes(input: FlowBytes): FlowBatch {
  const f = readFields(input);
  if (f.remoteOffset === undefined) throw argumentError('remoteOffset is missing (a Uint32Array: one byte offset per flow)');
  const n = typedArrayLength.call(typed<Uint32Array>('remoteOffset', f.remoteOffset, ['Uint32Array'], -1)) as number;
  if (n > MAX_BATCH_FLOWS) throw argumentError(`${n} flows; one batch holds at most ${MAX_BATCH_FLOWS} (split the flows into several batches)`);
  if (f.bytes === undefined) throw argumentError('bytes is missing (a Uint8Array holding the addresses)');
  const bytes = typed<Uint8Array>('bytes', f.bytes, ['Uint8Array'], -1);
  const size = typedArrayLength.call(bytes) as number;
  const remoteOffset = f.remoteOffset as Uint32Array;
  if (f.remoteLength === undefined) throw argumentError('remoteLength is missing (a Uint8Array: 4 or 16 per flow)');
  const remoteLength = typed<Uint8Array>('remoteLength', f.remoteLength, ['Uint8Array'], n);
  if ((f.localOffset === undefined) !== (f.localLength === undefined)) throw argumentError('localOffset and localLength are given together, or neither');
  const localOffset = f.localOffset === undefined ? null : typed<Uint32Array>('localOffset', f.localOffset, ['Uint32Array'], n);
  const localLength = f.localLength === undefined ? null : typed<Uint8Array>('localLength', f.localLength, ['Uint8Array'], n);
  if (f.protocol === undefined) throw argumentError('protocol is missing (a Uint8Array: one IP protocol number per flow)');
  const protocol = typed<Uint8Array>('protocol', f.protocol, ['Uint8Array'], n);
  const PORTS = ['Uint16Array', 'Int32Array'];
  const port = f.port === undefined ? null : typed<Uint16Array | Int32Array>('port', f.port, PORTS, n);
  const sourcePort = f.sourcePort === undefined ? null : typed<Uint16Array | Int32Array>('sourcePort', f.sourcePort, PORTS, n);
  const icmpType = f.icmpType === undefined ? null : typed<Int16Array>('icmpType', f.icmpType, ['Int16Array'], n);
  const icmpCode = f.icmpCode === undefined ? null : typed<Int16Array>('icmpCode', f.icmpCode, ['Int16Array'], n);
  const d = f.direction;
  let directions: Uint8Array | null = null;
  let allOutbound = false;
  if (d === 'outbound') allOutbound = true;
  else if (d !== 'inbound') {
    if (kindOf(d) !== 'Uint8Array') throw argumentError(`direction must be 'inbound', 'outbound' or a Uint8Array (0 inbound, 1 outbound per flow), got ${describeValue(d)}`);
    directions = typed<Uint8Array>('direction', d, ['Uint8Array'], n);
  }
  const instance = f.instance ?? null;
  if (instance !== null && (typeof instance !== 'string' || instance === '')) throw argumentError(`instance must be an instance id string, got ${describeValue(instance)}`);

  const c = newColumns(n);
  const issues: Issue[] = [];
  const bad = (i: number, field: string, message: string, given?: number) => {
    const issue: Issue = { code: 'INVALID_FLOW', path: [i, field], message: `flow ${i}, ${field}: ${message}` };
    if (given !== undefined) issue.given = given;
    issues.push(issue);
  };
  /** Copies the address of flow i at (offset, length) into words[4i..]: 0 IPv4, 1 IPv6, -1 after an issue. */
  const address = (i: number, field: string, words: Uint32Array, offset: number, length: number): number => {
    if (length !== 4 && length !== 16) {
      bad(i, `${field}Length`, `${length} bytes; an address is 4 (IPv4) or 16 (IPv6) bytes${field === 'local' ? ', or 0 for none' : ''}`, length);
      return -1;
    }
    if (offset + length > size) {
      bad(i, `${field}Offset`, `the ${length}-byte address at byte offset ${offset} ends at ${offset + length}, past the end of bytes (${size} bytes)`, offset);
      return -1;
    }
    const at = 4 * i;
    const b = bytes;
    if (length === 4) {
      words[at] = ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
      words[at + 1] = 0;
      words[at + 2] = 0;
      words[at + 3] = 0;
      return 0;
    }
    const w0 = ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
    const w1 = ((b[offset + 4]! << 24) | (b[offset + 5]! << 16) | (b[offset + 6]! << 8) | b[offset + 7]!) >>> 0;
    const w2 = ((b[offset + 8]! << 24) | (b[offset + 9]! << 16) | (b[offset + 10]! << 8) | b[offset + 11]!) >>> 0;
    const w3 = ((b[offset + 12]! << 24) | (b[offset + 13]! << 16) | (b[offset + 14]! << 8) | b[offset + 15]!) >>> 0;
    // The bits decide, as in readAddress: ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
    if (w0 === 0 && w1 === 0 && w2 === 0xffff) {
      words[at] = w3;
      words[at + 1] = 0;
      words[at + 2] = 0;
      words[at + 3] = 0;
      return 0;
    }
    words[at] = w0;
    words[at + 1] = w1;
    words[at + 2] = w2;
    words[at + 3] = w3;
    return 1;
  };

  let stopped = false;
  for (let i = 0; i < n; i++) {
    const before = issues.length;
    let m = allOutbound ? META_OUTBOUND : 0;
    if (directions !== null) {
      const v = directions[i]!;
      if (v === 1) m = META_OUTBOUND;
      else if (v !== 0) bad(i, 'direction', `${v}; allowed: 0 (inbound), 1 (outbound)`, v);
    }
    const r = address(i, 'remote', c.remote, remoteOffset[i]!, remoteLength[i]!);
    if (r === 1) m |= META_REMOTE_V6;
    if (localLength !== null && localLength[i] !== 0) {
      const l = address(i, 'local', c.local, localOffset![i]!, localLength[i]!);
      if (l >= 0) m |= META_LOCAL_PRESENT | (l === 1 ? META_LOCAL_V6 : 0);
    }
    const proto = protocol[i]!;
    const p = port === null ? -1 : port[i]!;
    const sp = sourcePort === null ? -1 : sourcePort[i]!;
    const type = icmpType === null ? -1 : icmpType[i]!;
    const code = icmpCode === null ? -1 : icmpCode[i]!;
    if (p < -1 || p > 65535) bad(i, 'port', `${p} is not a port 0-65535 (or -1: none)`, p);
    else if (p === -1 && (proto === TCP || proto === UDP)) bad(i, 'port', `required for ${proto === TCP ? 'TCP' : 'UDP'} flows (0-65535)`);
    if (sp < -1 || sp > 65535) bad(i, 'sourcePort', `${sp} is not a port 0-65535 (or -1: none)`, sp);
    if (type < -1 || type > 255) bad(i, 'icmpType', `${type} is not an ICMP type 0-255 (or -1: none)`, type);
    if (code < -1 || code > 255) bad(i, 'icmpCode', `${code} is not an ICMP code 0-255 (or -1: none)`, code);
    if (proto !== ICMP && proto !== ICMPV6 && (type !== -1 || code !== -1)) {
      bad(i, type !== -1 ? 'icmpType' : 'icmpCode', 'only ICMP and ICMPv6 flows carry an ICMP type/code');
    }
    if (issues.length !== before) {
      if (issues.length >= MAX_ISSUES) {
        stopped = i < n - 1;
        break;
      }
      continue;
    }
    c.meta[i] = m;
    c.proto[i] = proto;
    c.port[i] = p === -1 ? PORT_ABSENT : p;
    c.sport[i] = sp === -1 ? PORT_ABSENT : sp;
    c.icmp[i] = ((type === -1 ? ICMP_ABSENT : type) | ((code === -1 ? ICMP_ABSENT : code) << ICMP_CODE_SHIFT)) >>> 0;
  }
  if (issues.length) throw flowError(issues, `${WHAT}: invalid flows`, stopped);
  return batchOfColumns(c, n, instance);
}
