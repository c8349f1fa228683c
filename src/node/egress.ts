/**
 * Egress guard: classifies each outbound TCP connection against the address that is
 * actually dialled, after DNS resolution, and refuses a dropped one before any
 * connect() system call.
 *
 * How: a hostname is resolved through a wrapper around the lookup function (the
 * caller's, or dns.lookup) that always asks for every address (`all: true`) and
 * classifies each one as an outbound flow to (address, port). An address literal is
 * classified directly (Node does not call lookup for literals).
 *
 * Multi-address names: only the accepted addresses are handed to the dialler, in
 * the resolver's order; the dropped ones are never dialled. This is what the network
 * itself would do with a security group that opens one of a name's addresses (e.g.
 * an outbound rule for 0.0.0.0/0 only, and a name with A and AAAA records): the
 * IPv4 connection goes through, the IPv6 one would not. When no address is
 * accepted, the connection fails with ERR_SGFILTER_DROPPED naming each address and
 * its deciding rule. `strict: true` refuses the whole name as soon as any address is
 * dropped (for policies that treat a name with a forbidden address as hostile, e.g.
 * DNS rebinding to an internal range).
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Engine } from '../engine.js';
import { SgfilterError } from '../errors.js';
import type { FlowInput, Verdict } from '../types.js';
import { ERROR_KEY, VerdictCounters, decidingRule, endpoint, flowAddress, notify, ruleKey, type GuardStats } from './stats.js';

export type LookupFunction = net.LookupFunction;

export interface EgressOptions {
  /** The instance whose outbound rules apply (default: the config's first instance). */
  instance?: string;
  /** The resolver to wrap (same signature as dns.lookup; default dns.lookup). A lookup given per connection wins. */
  lookup?: LookupFunction;
  /** Refuse a name as soon as any of its addresses is dropped (default false: dial the accepted ones). */
  strict?: boolean;
  /** Called when a connection is refused (the error it fails with is in `decision.error`). */
  onDrop?: (decision: OutboundDecision) => void;
  /** Called when a connection is let through to the dialler. */
  onAccept?: (decision: OutboundDecision) => void;
}

/** One address of a connection and the verdict for it. */
export interface AddressVerdict {
  address: string;
  family: number;
  verdict: Verdict;
}

/** What the guard decided for one outbound connection. */
export interface OutboundDecision {
  /** The name or address literal the caller asked for. */
  host: string;
  port: number;
  /** Every address classified, in the resolver's order. */
  addresses: AddressVerdict[];
  /** Accepted: the addresses handed to the dialler. */
  dialled: AddressVerdict[];
  /** The stats key counted. */
  key: string;
  /** Set when the connection was refused. */
  error?: SgfilterError;
}

/** A refused outbound connection: `code` is 'ERR_SGFILTER_DROPPED'. */
export class ConnectionDroppedError extends SgfilterError {
  /** Deciding group of the (first) dropped address; null for the default drop. */
  readonly groupId: string | null;
  /** Deciding rule index inside that group's outbound list; null for the default drop. */
  readonly ruleIndex: number | null;
  /** The (first) dropped address. */
  readonly address: string;
  readonly port: number;
  /** The name or literal the caller asked for. */
  readonly host: string;
  readonly direction = 'outbound' as const;
  /** Every address classified for this connection, with its verdict. */
  readonly addresses: AddressVerdict[];

  constructor(host: string, port: number, addresses: AddressVerdict[], strict: boolean) {
    const dropped = addresses.filter((a) => a.verdict.action !== 'accept');
    const first = dropped[0]!;
    const what = (a: AddressVerdict) => `${endpoint(a.address, port)} by ${decidingRule(a.verdict, 'outbound')}`;
    const name = net.isIP(host) ? '' : ` (${host})`;
    let message: string;
    if (addresses.length === 1) message = `outbound connection to ${endpoint(first.address, port)}${name} dropped by ${decidingRule(first.verdict, 'outbound')}`;
    else if (dropped.length === addresses.length) message = `outbound connection to ${host}:${port} dropped: every address is dropped: ${dropped.map(what).join('; ')}`;
    else message = `outbound connection to ${host}:${port} refused: ${dropped.length} of its ${addresses.length} addresses dropped${strict ? ' (strict)' : ''}: ${dropped.map(what).join('; ')}`;
    super('ERR_SGFILTER_DROPPED', message);
    this.name = 'ConnectionDroppedError';
    this.groupId = first.verdict.groupId;
    this.ruleIndex = first.verdict.ruleIndex;
    this.address = first.address;
    this.port = port;
    this.host = host;
    this.addresses = addresses;
  }
}

/** Local end of a connection, when the caller fixed it. */
interface LocalEnd {
  localAddress?: string | undefined;
  localPort?: number | undefined;
}

type LookupAnswer = { address: string; family: number };

/**
 * The policy side of every egress guard: classifies addresses, counts, and builds
 * per-connection lookup wrappers. One per guardedConnect/guardedAgent/guardedDispatcher.
 */
export class EgressPolicy {
  readonly #engine: Engine;
  readonly #options: EgressOptions;
  readonly #counters = new VerdictCounters();

  constructor(engine: Engine, options: EgressOptions = {}) {
    this.#engine = engine;
    this.#options = options;
  }

  get engine(): Engine {
    return this.#engine;
  }

  stats(): GuardStats {
    return this.#counters.snapshot();
  }

  #classify(address: string, port: number, local: LocalEnd): Verdict {
    const flow: FlowInput = { direction: 'outbound', protocol: 'TCP', remote: flowAddress(address), port };
    if (local.localAddress) flow.local = flowAddress(local.localAddress);
    if (local.localPort !== undefined) flow.sourcePort = local.localPort;
    if (this.#options.instance !== undefined) flow.instance = this.#options.instance;
    return this.#engine.classify(flow);
  }

  /**
   * Classifies every address of one connection, counts it, and returns the addresses
   * to dial, or the error the connection must fail with. Engine errors (unknown
   * instance) are returned as the error: the connection fails closed.
   */
  decide(host: string, port: number, answers: LookupAnswer[], local: LocalEnd): { dial: LookupAnswer[]; error?: Error } {
    let addresses: AddressVerdict[];
    try {
      addresses = answers.map((a) => ({ address: a.address, family: a.family, verdict: this.#classify(a.address, port, local) }));
    } catch (e) {
      this.#counters.count(ERROR_KEY, false);
      return { dial: [], error: e as Error };
    }
    const dialled = addresses.filter((a) => a.verdict.action === 'accept');
    const strict = this.#options.strict === true;
    if (dialled.length === 0 || (strict && dialled.length < addresses.length)) {
      const error = new ConnectionDroppedError(host, port, addresses, strict);
      const decision: OutboundDecision = { host, port, addresses, dialled: [], key: ruleKey(addresses.find((a) => a.verdict.action !== 'accept')!.verdict, 'outbound'), error };
      this.#counters.count(decision.key, false);
      notify(this.#options.onDrop, decision);
      return { dial: [], error };
    }
    const decision: OutboundDecision = { host, port, addresses, dialled, key: ruleKey(dialled[0]!.verdict, 'outbound') };
    this.#counters.count(decision.key, true);
    notify(this.#options.onAccept, decision);
    return { dial: dialled.map(({ address, family }) => ({ address, family })) };
  }

  /** The error an address-literal connection must fail with, or undefined to let it through. */
  checkLiteral(address: string, port: number, local: LocalEnd): Error | undefined {
    const a = flowAddress(address);
    return this.decide(a, port, [{ address: a, family: net.isIP(a) }], local).error;
  }

  /**
   * A lookup function for one connection to `port`: resolves with `all: true` through
   * `underlying` (or the guard's lookup, or dns.lookup), classifies every address and
   * answers with the accepted ones only, in the shape the caller asked for.
   */
  lookupFor(port: number, local: LocalEnd, underlying?: LookupFunction): LookupFunction {
    const resolve = underlying ?? this.#options.lookup ?? (dns.lookup as LookupFunction);
    return (hostname, opts, callback) => {
      resolve(hostname, { ...opts, all: true }, (err, result, family) => {
        if (err) return callback(err, '', 0);
        const answers: LookupAnswer[] = (typeof result === 'string' ? [{ address: result, family: family ?? 0 }] : result).map((a) => ({
          address: a.address,
          family: net.isIP(a.address) || a.family,
        }));
        if (answers.length === 0) {
          const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }) as NodeJS.ErrnoException;
          return callback(e, '', 0);
        }
        const { dial, error } = this.decide(hostname, port, answers, local);
        if (error) return callback(error as NodeJS.ErrnoException, '', 0);
        if (opts.all) callback(null, dial);
        else callback(null, dial[0]!.address, dial[0]!.family);
      });
    };
  }
}

/** Host as net.connect takes it: brackets removed. */
function hostOf(host: string | undefined): string {
  const h = host ?? 'localhost';
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** A socket that fails with `error` on the next tick, as a refused net.connect would. */
function failedSocket<T extends net.Socket>(socket: T, error: Error): T {
  process.nextTick(() => socket.destroy(error));
  return socket;
}

/** net.connect with the policy applied: the socket fails with ERR_SGFILTER_DROPPED when dropped. */
export function connectNet(policy: EgressPolicy, options: net.NetConnectOpts, listener?: () => void): net.Socket {
  if ((options as { path?: unknown }).path) {
    throw new SgfilterError('INVALID_ARGUMENT', 'guarded connections are TCP (host and port); a local socket path is not a network flow');
  }
  const opts = options as net.TcpNetConnectOpts;
  const host = hostOf(opts.host);
  const port = Number(opts.port);
  const local = { localAddress: opts.localAddress, localPort: opts.localPort };
  if (net.isIP(host)) {
    const error = policy.checkLiteral(host, port, local);
    if (error) return failedSocket(new net.Socket(), error);
    return net.connect({ ...opts, host }, listener);
  }
  return net.connect({ ...opts, host, lookup: policy.lookupFor(port, local, opts.lookup) }, listener);
}

/** tls.connect with the policy applied. */
export function connectTls(policy: EgressPolicy, options: tls.ConnectionOptions, listener?: () => void): tls.TLSSocket {
  // An existing socket was dialled (and classified) by whoever created it.
  if (options.socket) return tls.connect(options, listener);
  if (options.path) {
    throw new SgfilterError('INVALID_ARGUMENT', 'guarded connections are TCP (host and port); a local socket path is not a network flow');
  }
  const host = hostOf(options.host);
  const port = Number(options.port);
  const local = { localAddress: (options as net.TcpSocketConnectOpts).localAddress, localPort: (options as net.TcpSocketConnectOpts).localPort };
  // SNI and certificate checks stay on the name the caller asked for.
  const servername = options.servername ?? (net.isIP(host) ? undefined : host);
  if (net.isIP(host)) {
    const error = policy.checkLiteral(host, port, local);
    if (error) return failedSocket(new tls.TLSSocket(new net.Socket()), error);
    return tls.connect({ ...options, host }, listener);
  }
  const lookup = policy.lookupFor(port, local, options.lookup);
  return tls.connect({ ...options, host, ...(servername !== undefined ? { servername } : {}), lookup }, listener);
}

/** net.connect's argument forms: (options[, listener]) or (port[, host][, listener]). */
function connectArgs<T extends object>(args: unknown[]): [T, (() => void) | undefined] {
  const [a, b, c] = args;
  if (typeof a === 'object' && a !== null) return [a as T, typeof b === 'function' ? (b as () => void) : undefined];
  if (typeof a === 'number' || (typeof a === 'string' && /^\d+$/.test(a))) {
    const host = typeof b === 'string' ? b : undefined;
    const listener = [b, c].find((x) => typeof x === 'function') as (() => void) | undefined;
    return [{ port: Number(a), ...(host !== undefined ? { host } : {}) } as T, listener];
  }
  throw new SgfilterError('INVALID_ARGUMENT', 'guarded connect takes (options[, listener]) or (port[, host][, listener]) for a TCP connection');
}

/** net.connect-compatible function with the policy applied, plus `tls` and `stats`. */
export interface GuardedConnect {
  (options: net.TcpNetConnectOpts, connectListener?: () => void): net.Socket;
  (port: number, host?: string, connectListener?: () => void): net.Socket;
  /** tls.connect-compatible, same policy. */
  tls(options: tls.ConnectionOptions, secureConnectListener?: () => void): tls.TLSSocket;
  tls(port: number, host?: string, secureConnectListener?: () => void): tls.TLSSocket;
  /** Outbound connections let through and refused, per deciding rule (of the first dialled / dropped address). */
  stats(): GuardStats;
  readonly engine: Engine;
}

/**
 * Wraps net.connect (and, as `.tls`, tls.connect): each connection is classified as an
 * outbound TCP flow to the address dialled, after DNS. A dropped one returns a socket
 * that emits 'error' with a ConnectionDroppedError (code ERR_SGFILTER_DROPPED) on the
 * next tick, without dialling; see the file comment for names with several addresses.
 */
export function guardedConnect(engine: Engine, options: EgressOptions = {}): GuardedConnect {
  const policy = new EgressPolicy(engine, options);
  const connect = ((...args: unknown[]) => connectNet(policy, ...connectArgs<net.TcpNetConnectOpts>(args))) as GuardedConnect;
  connect.tls = ((...args: unknown[]) => connectTls(policy, ...connectArgs<tls.ConnectionOptions>(args))) as GuardedConnect['tls'];
  connect.stats = () => policy.stats();
  Object.defineProperty(connect, 'engine', { value: engine, enumerable: true });
  return connect;
}
