/**
 * Egress guard: classifies each outbound TCP connection against the host it
 * actually reaches, after DNS resolution, and refuses a dropped one before any
 * connect() system call.
 *
 * How: a hostname is resolved through a wrapper around the lookup function (the
 * caller's, or dns.lookup) that always asks for every address (`all: true`) and
 * classifies each one as an outbound flow to (address, port). An address literal is
 * classified directly (Node does not call lookup for literals). Either way the flow's
 * remote is the address the kernel connects to: the unspecified address (`0.0.0.0`,
 * `::`, `::ffff:0.0.0.0` in any spelling, or a name resolving to one) is the local
 * host, 127.0.0.1 or ::1 (src/node/destination.ts), as docs/SEMANTICS.md "Where a connection really goes" says.
 *
 * Every way in goes through one place (`target`, then `decide`): net.connect's and
 * tls.connect's argument forms, an http.Agent's createConnection, undici's connector,
 * and a later `socket.connect()` on a socket the guard handed out. Host, port and
 * local address are read the way Node reads them (`host || 'localhost'`, Node's port
 * rule), so the guard classifies exactly what Node dials. A local socket `path` is
 * refused: it is not a network flow.
 *
 * The connection's local end. Before connect() the kernel has not picked the local
 * address and the source port yet (unless the caller bound them), and a rule naming
 * `localCidr` or `sourcePort` does not match a flow without them (SPEC §2). So the
 * check above classifies what is known, and the guard classifies again when the
 * socket connects (`watchConnect`): the flow the connection really is, read from the
 * socket (remote address and port, local address and port), before Node flushes a
 * write queued while connecting, before a TLS ClientHello and before any 'connect'
 * listener runs. A drop there destroys the socket with the same
 * ConnectionDroppedError; no byte of the caller's is sent. The early check refuses
 * only what is dropped whatever the local end turns out to be (src/node/local-end.ts),
 * and counts and reports only those; every other connection is counted, and
 * reported to onAccept / onDrop, once, with its real flow, when it connects.
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
import { nameText, quote } from '../config/plain.js';
import type { Config, FlowInput, Verdict } from '../types.js';
import { canonicalAddress, reachedAddress } from './destination.js';
import { mayAcceptOnceConnected, namesLocalEnd } from './local-end.js';
import { checkEngine, checkInstance, invalidArgument, isBoolean, isFunction, isString, readOptions, shown, type OptionSpec } from './options.js';
import { ERROR_KEY, VerdictCounters, decidingRule, endpoint, flowAddress, notify, ruleKey, type GuardStats } from './stats.js';

/** A resolver of dns.lookup's shape (what net.connect's `lookup` option takes). */
export type LookupFunction = net.LookupFunction;

/** The egress guards' options (guardedConnect, guardedAgent, guardedDispatcher); unknown names and wrong kinds are INVALID_ARGUMENT. */
export interface EgressOptions {
  /** The instance whose outbound rules apply (default: the config's first instance). Must exist when the guard is made. */
  instance?: string;
  /** The resolver to wrap (same signature as dns.lookup; default dns.lookup). A lookup given per connection wins. */
  lookup?: LookupFunction;
  /** Refuse a name as soon as any of its addresses is dropped (default false: dial the accepted ones). */
  strict?: boolean;
  /**
   * Called when a connection is refused: before it is dialled, or as it connects when
   * its local address or source port decide (then `decision.flow` is the flow
   * classified). The error it fails with is in `decision.error`.
   */
  onDrop?: (decision: OutboundDecision) => void;
  /**
   * Called when a connection has connected and the flow it really is (`decision.flow`:
   * remote and local address and port) is accepted, before any byte is written.
   */
  onAccept?: (decision: OutboundDecision) => void;
}

/** The options every egress guard takes, and what each accepts. */
export const EGRESS_OPTIONS: OptionSpec = { instance: isString, lookup: isFunction, strict: isBoolean, onDrop: isFunction, onAccept: isFunction };

/** One address of a connection and the verdict for it. */
export interface AddressVerdict {
  /** The address dialled (the literal, or the resolver's answer). */
  address: string;
  /** 4 or 6. */
  family: number;
  /**
   * Set when the connection reaches another address than `address`: the
   * unspecified address reaches the local host (127.0.0.1, ::1, or the bound local
   * address; docs/SEMANTICS.md "Where a connection really goes"). The verdict is for this address.
   */
  reaches?: string;
  /** The verdict for the address (or for what it reaches). */
  verdict: Verdict;
  /**
   * Set when `verdict` (a drop, for the flow without a local end) may become an accept
   * once the kernel picks the local address and source port: an accept rule naming
   * `localCidr` or `sourcePort` may match then. The address is dialled and the
   * connection decided when it connects (src/node/local-end.ts).
   */
  undecided?: true;
}

/** What the guard decided for one outbound connection. */
export interface OutboundDecision {
  /** The name or address literal the caller asked for. */
  host: string;
  /** The TCP port dialled. */
  port: number;
  /** Every address classified, in the resolver's order. */
  addresses: AddressVerdict[];
  /** Accepted: the addresses handed to the dialler. */
  dialled: AddressVerdict[];
  /** The stats key counted. */
  key: string;
  /** Set when the connection was refused. */
  error?: SgfilterError;
  /**
   * Set when the decision was made as the socket connected: the flow classified,
   * the connection as it really is (remote address and port, local address and source
   * port, as the socket reports them). `addresses` and `dialled` then hold the one
   * address connected to.
   */
  flow?: FlowInput;
}

/** "0.0.0.0:80 (reaches this host at 127.0.0.1)" or "203.0.113.7:80". */
function where(a: AddressVerdict, port: number): string {
  return a.reaches === undefined ? endpoint(a.address, port) : `${endpoint(a.address, port)} (reaches this host at ${a.reaches})`;
}

/** A refused outbound connection: `code` is 'ERR_SGFILTER_DROPPED'. */
export class ConnectionDroppedError extends SgfilterError {
  /** Deciding group of the (first) dropped address; null for the default drop. */
  readonly groupId: string | null;
  /** Deciding rule index inside that group's outbound list; null for the default drop. */
  readonly ruleIndex: number | null;
  /** The (first) dropped address, as dialled. */
  readonly address: string;
  /** The address that connection would have reached, when not `address` (the unspecified address reaches the local host). */
  readonly reaches: string | undefined;
  /** The TCP port dialled. */
  readonly port: number;
  /** The name or literal the caller asked for. */
  readonly host: string;
  /** Always `outbound`: the guard classifies connections this host opens. */
  readonly direction = 'outbound' as const;
  /** Every address classified for this connection, with its verdict. */
  readonly addresses: AddressVerdict[];
  /** Set when the connection was dropped as it connected: the flow classified, with its local address and source port. */
  readonly flow: FlowInput | undefined;

  constructor(host: string, port: number, addresses: AddressVerdict[], strict: boolean, flow?: FlowInput) {
    const dropped = addresses.filter((a) => a.verdict.action !== 'accept' && a.undecided === undefined);
    const first = dropped[0]!;
    const what = (a: AddressVerdict) => `${where(a, port)} by ${decidingRule(a.verdict, 'outbound')}`;
    const name = net.isIP(host) || host === first.address ? '' : ` (${nameText(host)})`;
    let message: string;
    if (flow !== undefined) {
      message = `outbound connection from ${endpoint(String(flow.local), flow.sourcePort as number)} to ${where(first, port)}${name} dropped by ${decidingRule(first.verdict, 'outbound')}`;
    } else if (addresses.length === 1) message = `outbound connection to ${where(first, port)}${name} dropped by ${decidingRule(first.verdict, 'outbound')}`;
    else if (dropped.length === addresses.length) message = `outbound connection to ${nameText(host)}:${port} dropped: every address is dropped: ${dropped.map(what).join('; ')}`;
    else message = `outbound connection to ${nameText(host)}:${port} refused: ${dropped.length} of its ${addresses.length} addresses dropped${strict ? ' (strict)' : ''}: ${dropped.map(what).join('; ')}`;
    super('ERR_SGFILTER_DROPPED', message);
    this.name = 'ConnectionDroppedError';
    this.groupId = first.verdict.groupId;
    this.ruleIndex = first.verdict.ruleIndex;
    this.address = first.address;
    this.reaches = first.reaches;
    this.port = port;
    this.host = host;
    this.addresses = addresses;
    this.flow = flow;
  }
}

/** Local end of a connection, when the caller fixed it. */
export interface LocalEnd {
  localAddress?: string | undefined;
  localPort?: number | undefined;
}

type LookupAnswer = { address: string; family: number };

/**
 * An accept decided before connect() that the check as the socket connects may take
 * as it is (settle): the connection dials one address literal that is its own
 * destination, no rule of the instance's outbound chain names localCidr or source
 * ports (so the local end the kernel picks cannot change the verdict), and nobody
 * asked for onAccept (which gets the real local end). Valid while the engine's policy
 * version is still `version`.
 */
export interface EarlyAccept {
  verdict: Verdict;
  version: number;
}

/**
 * A bound local address that fixes the connection's source, or undefined: binding the
 * unspecified address (`0.0.0.0`, `::`, `::ffff:0.0.0.0`, in any spelling) leaves the
 * source to the kernel, as not binding does, so the flow has no local address yet.
 */
function fixedLocal(localAddress: string | undefined): string | undefined {
  if (localAddress === undefined || localAddress === '') return undefined;
  const c = canonicalAddress(localAddress);
  return c === '0.0.0.0' || c === '::' || c === '::ffff:0.0.0.0' ? undefined : localAddress;
}

/**
 * The policy side of every egress guard: classifies addresses, counts, and builds
 * per-connection lookup wrappers. One per guardedConnect/guardedAgent/guardedDispatcher.
 */
export class EgressPolicy {
  readonly #engine: Engine;
  readonly #options: EgressOptions;
  readonly #counters = new VerdictCounters();
  /** namesLocalEnd of the instance's outbound rules, for the config last seen. */
  #namesConfig: Config | undefined;
  #names = true;

  /**
   * `options` must have been checked with readOptions(…, EGRESS_OPTIONS); only its
   * own properties are used. The engine and the instance are checked here.
   */
  constructor(caller: string, engine: Engine, options: EgressOptions) {
    checkEngine(caller, engine);
    const own: EgressOptions = Object.create(null);
    for (const key of Object.keys(EGRESS_OPTIONS) as (keyof EgressOptions)[]) {
      if (Object.hasOwn(options, key) && options[key] !== undefined) (own as Record<string, unknown>)[key] = options[key];
    }
    checkInstance(caller, engine, own.instance);
    this.#engine = engine;
    this.#options = own;
  }

  get engine(): Engine {
    return this.#engine;
  }

  stats(): GuardStats {
    return this.#counters.snapshot();
  }

  #flow(remote: string, port: number, local: LocalEnd): FlowInput {
    const flow: FlowInput = { direction: 'outbound', protocol: 'TCP', remote: flowAddress(remote), port };
    const localAddress = fixedLocal(local.localAddress);
    if (localAddress !== undefined) flow.local = flowAddress(localAddress);
    if (local.localPort !== undefined) flow.sourcePort = local.localPort;
    if (this.#options.instance !== undefined) flow.instance = this.#options.instance;
    return flow;
  }

  /** The verdict before connect(), and whether a drop may still turn into an accept once the local end is known. */
  #classifyEarly(reaches: string, port: number, local: LocalEnd): { verdict: Verdict; undecided: boolean } {
    const flow = this.#flow(reaches, port, local);
    const verdict = this.#engine.classify(flow);
    // The same policy the verdict came from: nothing can publish between these two synchronous reads.
    const undecided = verdict.action !== 'accept' && mayAcceptOnceConnected(this.#engine.config, flow, verdict);
    return { verdict, undecided };
  }

  #namesLocalEnd(config: Config): boolean {
    if (config !== this.#namesConfig) {
      this.#names = namesLocalEnd(config, this.#options.instance, 'outbound');
      this.#namesConfig = config;
    }
    return this.#names;
  }

  /**
   * Classifies every address of one connection (as the host it reaches) before it is
   * dialled, and returns the addresses to dial, or the error the connection must fail
   * with (then counted and reported to onDrop). Engine errors (an instance a reload
   * removed, an address the engine refuses) are returned as the error: the connection
   * fails closed. A connection let through is counted when it connects (`settle`).
   */
  decide(host: string, port: number, answers: LookupAnswer[], local: LocalEnd): { dial: LookupAnswer[]; error?: Error; early?: EarlyAccept } {
    let addresses: AddressVerdict[];
    // Read with the verdicts, synchronously: the same policy (nothing publishes in between).
    const version = this.#engine.version;
    const config = this.#engine.config;
    try {
      addresses = answers.map((a) => {
        const reaches = reachedAddress(a.address, local.localAddress);
        const { verdict, undecided } = this.#classifyEarly(reaches, port, local);
        const av: AddressVerdict = reaches === a.address ? { address: a.address, family: a.family, verdict } : { address: a.address, family: a.family, reaches, verdict };
        if (undecided) av.undecided = true;
        return av;
      });
    } catch (e) {
      this.#counters.count(ERROR_KEY, false);
      return { dial: [], error: e as Error };
    }
    const dialled = addresses.filter((a) => a.verdict.action === 'accept' || a.undecided !== undefined);
    const strict = this.#options.strict === true;
    if (dialled.length === 0 || (strict && dialled.length < addresses.length)) {
      const error = new ConnectionDroppedError(host, port, addresses, strict);
      const first = addresses.find((a) => a.verdict.action !== 'accept' && a.undecided === undefined)!;
      const decision: OutboundDecision = { host, port, addresses, dialled: [], key: ruleKey(first.verdict, 'outbound'), error };
      this.#counters.count(decision.key, false);
      notify(this.#options.onDrop, decision);
      return { dial: [], error };
    }
    const dial = dialled.map(({ address, family }) => ({ address, family }));
    const only = addresses.length === 1 ? addresses[0]! : undefined;
    if (
      only !== undefined && only.verdict.action === 'accept' && only.reaches === undefined && this.#options.onAccept === undefined &&
      !this.#namesLocalEnd(config)
    ) {
      return { dial, early: { verdict: only.verdict, version } };
    }
    return { dial };
  }

  /**
   * Classifies a connection as it connects: the flow it really is, read from the
   * socket (remote address and port, local address and source port, normalised as
   * flow addresses), counted and reported to onAccept or onDrop. Returns the error the
   * socket must be destroyed with, or undefined to let it through. A socket that has
   * no address any more (reset at once) or a flow the engine cannot classify fails
   * closed, counted under `error`.
   */
  settle(socket: net.Socket, host: string, dialledPort: number, early?: EarlyAccept): Error | undefined {
    // The accept decided before connect() holds when the policy is still the same
    // (see EarlyAccept): the kernel connected to the literal dialled, and no rule
    // looks at the local end it picked. No getpeername, no getsockname.
    if (early !== undefined && this.#engine.version === early.version) {
      this.#counters.count(ruleKey(early.verdict, 'outbound'), true);
      return undefined;
    }
    const remote = socket.remoteAddress;
    const port = socket.remotePort;
    const localAddress = socket.localAddress;
    const localPort = socket.localPort;
    if (!remote || port === undefined || !localAddress || localPort === undefined) {
      this.#counters.count(ERROR_KEY, false);
      return Object.assign(new Error(`outbound connection to ${endpoint(host, dialledPort)}: the socket has no address as it connects (closed already)`), { code: 'ERR_SOCKET_CLOSED' });
    }
    const flow = this.#flow(remote, port, { localAddress, localPort });
    let verdict: Verdict;
    try {
      verdict = this.#engine.classify(flow);
    } catch (e) {
      this.#counters.count(ERROR_KEY, false);
      return e as Error;
    }
    const address: AddressVerdict = { address: flow.remote as string, family: net.isIP(flow.remote as string), verdict };
    const key = ruleKey(verdict, 'outbound');
    if (verdict.action !== 'accept') {
      const error = new ConnectionDroppedError(host, port, [address], false, flow);
      this.#counters.count(key, false);
      notify(this.#options.onDrop, { host, port, addresses: [address], dialled: [], key, error, flow });
      return error;
    }
    this.#counters.count(key, true);
    notify(this.#options.onAccept, { host, port, addresses: [address], dialled: [address], key, flow });
    return undefined;
  }

  /** The error an address-literal connection must fail with, or undefined to let it through. */
  checkLiteral(address: string, port: number, local: LocalEnd): Error | undefined {
    return this.decide(address, port, [{ address, family: net.isIP(address) }], local).error;
  }

  /** checkLiteral, and the accept the check as it connects may take as it is (EarlyAccept). */
  literal(address: string, port: number, local: LocalEnd): { error?: Error; early?: EarlyAccept } {
    return this.decide(address, port, [{ address, family: net.isIP(address) }], local);
  }

  /**
   * A lookup function for one connection to `port`: resolves with `all: true` through
   * `underlying` (or the guard's lookup, or dns.lookup), classifies every address and
   * answers with the accepted ones only, in the shape the caller asked for. A
   * resolver that answers twice is heard once; one that throws or answers with
   * something that is not a list of addresses fails the connection.
   */
  lookupFor(port: number, local: LocalEnd, underlying?: LookupFunction): LookupFunction {
    const resolve = underlying ?? this.#options.lookup ?? (dns.lookup as LookupFunction);
    return (hostname, opts, callback) => {
      let answered = false;
      const fail = (e: Error) => {
        if (answered) return;
        answered = true;
        callback(e as NodeJS.ErrnoException, '', 0);
      };
      try {
        resolve(hostname, { ...opts, all: true }, (err, result, family) => {
          if (answered) return;
          if (err) return fail(err);
          const list: unknown[] = typeof result === 'string' ? [{ address: result, family }] : Array.isArray(result) ? result : [result];
          const answers: LookupAnswer[] = [];
          for (const a of list) {
            const address = typeof a === 'object' && a !== null ? (a as { address?: unknown }).address : undefined;
            if (typeof address !== 'string') {
              return fail(invalidArgument(`the lookup for ${quote(hostname, 200)} answered ${shown(a)}, not { address, family }`));
            }
            // Node dials an answer as the family it reads the address as.
            answers.push({ address, family: net.isIP(address) || Number((a as { family?: unknown }).family) || 0 });
          }
          if (answers.length === 0) {
            return fail(Object.assign(new Error(`getaddrinfo ENOTFOUND ${nameText(hostname)}`), { code: 'ENOTFOUND', hostname }));
          }
          const { dial, error } = this.decide(hostname, port, answers, local);
          if (error) return fail(error);
          answered = true;
          if (opts.all) callback(null, dial);
          else callback(null, dial[0]!.address, dial[0]!.family);
        });
      } catch (e) {
        fail(e instanceof Error ? e : new Error(String(e)));
      }
    };
  }
}

// ---------------------------------------------------------------------------------
// Reading a connection's destination the way Node does

/** Where one connection goes, read from net/tls connect options. */
export interface Target {
  /** Brackets removed from an IPv6 literal; 'localhost' when absent (Node's default). */
  host: string;
  port: number;
  local: LocalEnd;
}

/** Node's port rule (net.Socket#connect: validatePort, then `port |= 0`): a number or numeric string 0-65535. */
function portOf(caller: string, value: unknown): number {
  if (typeof value === 'number' || (typeof value === 'string' && value.trim() !== '')) {
    const n = +value;
    if (n === n >>> 0 && n <= 0xffff) return n;
  }
  throw invalidArgument(`${caller}: port must be a number or numeric string from 0 to 65535, got ${shown(value)}`);
}

/**
 * The destination of net/tls connect options, as Node reads it; throws
 * INVALID_ARGUMENT for what Node would refuse or what is not a TCP flow (a local
 * socket path, a host that is not a string).
 */
export function target(caller: string, options: Record<string, unknown>): Target {
  if (options.path !== undefined && options.path !== null && options.path !== '') {
    throw invalidArgument(`${caller}: guarded connections are TCP (host and port); a local socket path (${shown(options.path)}) is not a network flow`);
  }
  let host = options.host;
  if (host === undefined || host === null || host === '') host = 'localhost';
  if (typeof host !== 'string') throw invalidArgument(`${caller}: host must be a string (a name or an address), got ${shown(host)}`);
  if (host.startsWith('[') && host.endsWith(']') && net.isIP(host.slice(1, -1)) === 6) host = host.slice(1, -1);
  const port = portOf(caller, options.port);
  const local: LocalEnd = {};
  const la = options.localAddress;
  if (la !== undefined && la !== null && la !== '') {
    if (typeof la !== 'string' || net.isIP(la) === 0) throw invalidArgument(`${caller}: localAddress must be an IP address, got ${shown(la)}`);
    local.localAddress = la;
  }
  const lp = options.localPort;
  if (lp !== undefined && lp !== null && lp !== 0) {
    if (typeof lp !== 'number' || !Number.isInteger(lp) || lp < 0 || lp > 0xffff) throw invalidArgument(`${caller}: localPort must be a port number 0-65535, got ${shown(lp)}`);
    local.localPort = lp;
  }
  if (options.lookup !== undefined && typeof options.lookup !== 'function') {
    throw invalidArgument(`${caller}: lookup must be a function (dns.lookup's signature), got ${shown(options.lookup)}`);
  }
  return { host: host as string, port, local };
}

/**
 * Connection options read once, into an object nobody else holds: every property Node
 * could read (own and inherited, enumerable or not, symbols too, up to Object.prototype)
 * is read exactly once, through the caller's object (so a getter runs once, with the
 * caller's object as `this`). The guard classifies this copy and dials this copy: an
 * option that answers differently the second time it is read (a getter, a Proxy) can
 * never make the guard classify one destination and dial another.
 */
export function copyOptions(options: object): Record<string | symbol, unknown> {
  const copy: Record<string | symbol, unknown> = {};
  let o: object | null = options;
  for (let depth = 0; o !== null && o !== Object.prototype && depth < 32; depth++) {
    for (const k of Reflect.ownKeys(o)) {
      if (k === 'constructor' || Object.hasOwn(copy, k)) continue;
      copy[k] = Reflect.get(options, k);
    }
    o = Reflect.getPrototypeOf(o);
  }
  return copy;
}

/** A socket that fails with `error` on the next tick, as a refused net.connect would. */
function failedSocket<T extends net.Socket>(socket: T, error: Error): T {
  process.nextTick(() => socket.destroy(error));
  return socket;
}

const dialSocket = net.Socket.prototype.connect as (this: net.Socket, options: net.SocketConnectOpts, listener?: () => void) => net.Socket;

/**
 * Dials `socket` (a new one, or one being reconnected) to `options` with the
 * policy applied: a literal is classified here, a name inside the lookup.
 */
function dial(policy: EgressPolicy, socket: net.Socket, caller: string, given: Record<string, unknown>, listener?: () => void): net.Socket {
  const options = copyOptions(given); // classified and dialled: the same reads
  const t = target(caller, options);
  watchConnect(socket, { policy, host: t.host, port: t.port });
  if (net.isIP(t.host)) {
    const error = policy.checkLiteral(t.host, t.port, t.local);
    if (error) {
      // As Socket#connect does before dialling: a closed socket is made usable again, so it can fail again.
      if (socket.destroyed) (socket as unknown as { _undestroy?: () => void })._undestroy?.();
      return failedSocket(socket, error);
    }
    return dialSocket.call(socket, { ...options, host: t.host, path: undefined } as unknown as unknown as net.TcpSocketConnectOpts, listener);
  }
  const lookup = policy.lookupFor(t.port, t.local, options.lookup as LookupFunction | undefined);
  return dialSocket.call(socket, { ...options, host: t.host, path: undefined, lookup } as unknown as unknown as net.TcpSocketConnectOpts, listener);
}

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;

/** Per guarded socket: what it was last asked to dial, for the check as it connects. */
interface Attempt {
  policy: EgressPolicy;
  host: string;
  port: number;
  /** An accept decided before connect() that still holds if the policy has not changed. */
  early?: EarlyAccept | undefined;
  /** The check as it connects refused this attempt: 'ready' is not delivered either. */
  refused: boolean;
}

const ATTEMPTS = new WeakMap<net.Socket, Attempt>();

/**
 * The check as the socket connects (see the file comment), installed once per socket.
 *
 * Why `emit` is wrapped instead of a 'connect' listener being prepended: Node flushes
 * a write made while connecting, starts a TLS handshake (tls.connect's `_start`) and
 * hands the socket to http's and undici's code from 'connect' listeners, and an
 * EventEmitter calls every listener of an emit whatever the first one does. Node
 * emits 'connect' on the socket (net.js afterConnect, also for TLS sockets, whose
 * handle's owner is the TLSSocket) through the `emit` property, so an own `emit`
 * decides before any listener runs; a refused socket is destroyed (its handle closed
 * synchronously, so a queued write fails with ERR_SOCKET_CLOSED instead of being
 * sent) and 'connect' and 'ready' are never delivered.
 *
 * Always, not only under policies that name localCidr or sourcePort: a reload can add
 * one between the dial and the connect. The check reads the socket (getpeername,
 * getsockname) and classifies, unless the attempt carries an EarlyAccept whose policy
 * version is still the engine's: then the verdict cannot have changed (one literal,
 * dialled as it is, no rule on the local end) and the accept is counted as it is.
 */
function watchConnect(socket: net.Socket, attempt: Omit<Attempt, 'refused'>): void {
  const had = ATTEMPTS.get(socket);
  ATTEMPTS.set(socket, { ...attempt, refused: false });
  if (had !== undefined) return; // emit wrapped already; a reconnect only changes the attempt
  const previous = socket.emit as Emit;
  // Every event of the socket passes here ('data' per chunk too): only 'connect' and
  // 'ready' look up the attempt, and the arguments are handed on with no array built.
  const guarded = function (this: unknown, event: string | symbol): boolean {
    const a = event === 'connect' || event === 'ready' ? ATTEMPTS.get(socket) : undefined;
    if (a !== undefined) {
      if (event === 'connect') {
        // An early accept is for the one connection it was decided for: a later
        // 'connect' (a reconnect that bypassed socket.connect, e.g. through
        // net.Socket.prototype.connect) is read from the socket and classified.
        const early = a.early;
        a.early = undefined;
        const error = a.policy.settle(socket, a.host, a.port, early);
        if (error !== undefined) {
          a.refused = true;
          socket.destroy(error);
          return false;
        }
      } else if (a.refused && event === 'ready') {
        return false;
      }
    }
    // eslint-disable-next-line prefer-rest-params
    return Reflect.apply(previous, this, arguments) as boolean;
  } as Emit;
  (socket as unknown as { emit: Emit }).emit = guarded;
}

/**
 * Keeps a socket the guard handed out guarded: it is classified again as it
 * connects (watchConnect), and `socket.connect()` (Node's way to reconnect a closed
 * socket) goes through the policy like the first connection.
 */
export function guardSocket<T extends net.Socket>(policy: EgressPolicy, socket: T, host: string, port: number, early?: EarlyAccept): T {
  watchConnect(socket, { policy, host, port, early });
  Object.defineProperty(socket, 'connect', {
    configurable: true,
    writable: true,
    value(this: net.Socket, ...args: unknown[]) {
      return dial(policy, this, 'socket.connect', ...connectArgs('socket.connect', args, false));
    },
  });
  return socket;
}

/**
 * @internal net.connect to an address literal with the policy applied, for a caller
 * whose destination is its own checked value (startProxy's upstream: a literal and a
 * port 0-65535, read once at start), so there are no caller options to copy and read
 * once: the same classification, dial and check as it connects as connectNet.
 */
export function connectLiteral(policy: EgressPolicy, address: string, port: number): net.Socket {
  const { error, early } = policy.literal(address, port, {});
  if (error) return guardSocket(policy, failedSocket(new net.Socket(), error), address, port);
  return guardSocket(policy, net.connect({ host: address, port }), address, port, early);
}

/** net.connect with the policy applied: the socket fails with ERR_SGFILTER_DROPPED when dropped. */
export function connectNet(policy: EgressPolicy, given: net.NetConnectOpts, listener?: () => void): net.Socket {
  // Read once: what is classified is what is dialled (copyOptions).
  const opts = copyOptions(given);
  const options = opts as unknown as net.NetConnectOpts;
  const t = target('guarded connect', opts);
  if (net.isIP(t.host)) {
    const { error, early } = policy.literal(t.host, t.port, t.local);
    if (error) return guardSocket(policy, failedSocket(new net.Socket(), error), t.host, t.port);
    return guardSocket(policy, net.connect({ ...options, host: t.host, path: undefined } as unknown as net.TcpNetConnectOpts, listener), t.host, t.port, early);
  }
  const lookup = policy.lookupFor(t.port, t.local, opts.lookup as LookupFunction | undefined);
  return guardSocket(policy, net.connect({ ...options, host: t.host, path: undefined, lookup } as unknown as net.TcpNetConnectOpts, listener), t.host, t.port);
}

/** tls.connect with the policy applied. */
export function connectTls(policy: EgressPolicy, given: tls.ConnectionOptions, listener?: () => void): tls.TLSSocket {
  // Read once: what is classified is what is dialled (copyOptions).
  const opts = copyOptions(given);
  const options = opts as unknown as tls.ConnectionOptions;
  // An existing socket was dialled (and classified) by whoever created it.
  if (options.socket) return tls.connect(options, listener);
  const t = target('guarded connect.tls', opts);
  if (net.isIP(t.host)) {
    const { error, early } = policy.literal(t.host, t.port, t.local);
    if (error) return guardSocket(policy, failedSocket(new tls.TLSSocket(new net.Socket()), error), t.host, t.port);
    return guardSocket(policy, tls.connect({ ...options, host: t.host, path: undefined }, listener), t.host, t.port, early);
  }
  // SNI and certificate checks stay on the name the caller asked for.
  const servername = options.servername ?? t.host;
  const lookup = policy.lookupFor(t.port, t.local, opts.lookup as LookupFunction | undefined);
  return guardSocket(policy, tls.connect({ ...options, host: t.host, path: undefined, servername, lookup }, listener), t.host, t.port);
}

/**
 * net.connect's argument forms: (options[, listener]) or (port[, host][, listener]);
 * tls.connect also takes (port[, host][, options][, listener]), whose options are
 * laid over port and host as tls.connect does. A string that is not a port is a
 * local socket path, and refused.
 */
function connectArgs(caller: string, args: unknown[], isTls: boolean): [Record<string, unknown>, (() => void) | undefined] {
  const [a, b, c] = args;
  const listener = args.find((x) => typeof x === 'function') as (() => void) | undefined;
  if (typeof a === 'object' && a !== null) return [a as Record<string, unknown>, listener];
  if (typeof a === 'number' || (typeof a === 'string' && Number(a) >= 0)) {
    const options: Record<string, unknown> = { port: a };
    if (typeof b === 'string') options.host = b;
    if (isTls) {
      const extra = [b, c].find((x) => typeof x === 'object' && x !== null);
      if (extra) Object.assign(options, extra);
    }
    return [options, listener];
  }
  if (typeof a === 'string') {
    throw invalidArgument(`${caller}: guarded connections are TCP (host and port); a local socket path (${shown(a)}) is not a network flow`);
  }
  throw invalidArgument(`${caller} takes (options[, listener]) or (port[, host][, listener]) for a TCP connection, got ${shown(a)}`);
}

/** net.connect-compatible function with the policy applied, plus `tls` and `stats`. */
export interface GuardedConnect {
  (options: net.TcpNetConnectOpts, connectListener?: () => void): net.Socket;
  (port: number, host?: string, connectListener?: () => void): net.Socket;
  /** tls.connect-compatible, same policy. */
  tls(options: tls.ConnectionOptions, secureConnectListener?: () => void): tls.TLSSocket;
  /** tls.connect-compatible, same policy. */
  tls(port: number, host?: string, options?: tls.ConnectionOptions, secureConnectListener?: () => void): tls.TLSSocket;
  /** Outbound connections let through and refused, per deciding rule (of the first dialled / dropped address). */
  stats(): GuardStats;
  /** The engine it classifies with. */
  readonly engine: Engine;
}

/**
 * Wraps net.connect (and, as `.tls`, tls.connect): each connection is classified as an
 * outbound TCP flow to the host it reaches, after DNS. A dropped one returns a socket
 * that emits 'error' with a ConnectionDroppedError (code ERR_SGFILTER_DROPPED) on the
 * next tick, without dialling; see the file comment for names with several addresses.
 *
 * Throws INVALID_ARGUMENT for an option that is unknown or of the wrong type,
 * UNKNOWN_INSTANCE for an instance the engine's policy does not have; each call
 * throws INVALID_ARGUMENT for a destination Node would refuse or a socket path.
 */
export function guardedConnect(engine: Engine, options: EgressOptions = {}): GuardedConnect {
  const policy = new EgressPolicy('guardedConnect', engine, readOptions('guardedConnect', options, EGRESS_OPTIONS) as EgressOptions);
  const connect = ((...args: unknown[]) => connectNet(policy, ...(connectArgs('guarded connect', args, false) as unknown as [net.NetConnectOpts, (() => void) | undefined]))) as GuardedConnect;
  connect.tls = ((...args: unknown[]) => connectTls(policy, ...(connectArgs('guarded connect.tls', args, true) as unknown as [tls.ConnectionOptions, (() => void) | undefined]))) as GuardedConnect['tls'];
  connect.stats = () => policy.stats();
  Object.defineProperty(connect, 'engine', { value: engine, enumerable: true });
  return connect;
}
