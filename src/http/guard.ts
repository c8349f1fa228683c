/**
 * The request guard: security groups for HTTP requests behind load balancers,
 * ingresses and CDNs, where the socket a server sees is the proxy's (docs/SEMANTICS.md, "Where a connection really goes").
 *
 * Each request is one inbound TCP flow:
 *   remote      the client address: the socket's peer, or, only through proxies the
 *               operator trusts (trustProxy, express's `trust proxy`), the entry
 *               the outermost trusted proxy wrote in X-Forwarded-For (default) or
 *               in Forwarded (RFC 7239, forwardedHeader: 'forwarded')
 *   port        the server's local port (port: 'local', default); a fixed port
 *               (port: 443); or X-Forwarded-Port as the nearest proxy set it, when
 *               the request came through trusted proxies (port: 'forwarded')
 *   local       the server's address (the socket's local address)
 *   sourcePort  the socket's peer port, on a request that came without a proxy
 *   instance    options.instance
 *
 * Which header, and why only one: a proxy writes one of them. A guard that read
 * both would take the other one, which the proxy passes on untouched, from the
 * client. Reading X-Forwarded-For by default is what express, fastify and most
 * load balancers do.
 *
 * Fails closed: a request whose client address cannot be read (no socket peer, a
 * trusted hop that wrote something that is not an address, a Forwarded header that
 * breaks RFC 7239's grammar, a missing X-Forwarded-Port in port: 'forwarded' mode)
 * or whose flow the engine cannot classify (an instance a reload removed) is
 * dropped and counted under `error`.
 *
 * No `node:` import here or in the integrations: the hono middleware runs in edge
 * workers, where the peer is what the platform says (src/http/hono.ts).
 */
import proxyaddr from 'proxy-addr';
import type { Engine } from '../engine.js';
import { readAddress } from '../config/address.js';
import type { FlowInput, Verdict } from '../types.js';
import { checkEngine, checkInstance, invalidArgument, isFunction, isString, oneOf, readOptions, shown } from '../node/options.js';
import { ERROR_KEY, VerdictCounters, decidingRule, flowAddress, notify, ruleKey, type GuardStats } from '../node/stats.js';
import { ForwardedSyntaxError, nodeAddress, readForwarded } from './forwarded.js';
import { compileTrust, trustsNobody, type TrustFunction, type TrustProxy } from './trust.js';

/** What a dropped request is answered with. */
export interface DropResponse {
  /** HTTP status, 300-599 (default 403). */
  status: number;
  /** Response body (default "Forbidden\n"). Say nothing about the policy here. */
  body: string;
  /** Response headers, names in lower case (default: text/plain, no-store). Given headers are added to (and replace) the defaults. */
  headers: Record<string, string>;
}

/**
 * Options of createRequestGuard, expressGuard and honoGuard (fastifyGuard's add
 * `engine`). Read once, as own properties, when the guard is set up: an unknown name
 * (with the closest known one) or a value of the wrong kind is `INVALID_ARGUMENT`
 * naming the option; an instance the policy lacks is `UNKNOWN_INSTANCE`.
 */
export interface RequestGuardOptions {
  /** The instance whose policy applies (default: the config's first instance). Must exist when the guard is set up. */
  instance?: string;
  /**
   * Which proxies may say who the client is, as express's `trust proxy`: false
   * (default: the socket's peer is the client), true, a hop count, addresses/CIDRs/
   * `loopback`/`linklocal`/`uniquelocal` (comma-separated string or list), or a
   * function (address, hop) => boolean. The express middleware and the fastify plugin
   * use the framework's own setting when this is not given.
   */
  trustProxy?: TrustProxy;
  /** The header your proxies write: 'x-forwarded-for' (default) or 'forwarded' (RFC 7239). Only that one is read. */
  forwardedHeader?: 'x-forwarded-for' | 'forwarded';
  /**
   * The flow's port: 'local' (default: the port the server accepted the connection
   * on; in edge workers, 443 for https and 80 for http URLs), a number 0-65535, or
   * 'forwarded': X-Forwarded-Port (its last entry) when the request came through
   * trusted proxies, the local port otherwise; a proxied request without one is dropped.
   */
  port?: number | 'local' | 'forwarded';
  /** What a dropped request gets (default 403 "Forbidden\n", text/plain, no-store). */
  dropResponse?: {
    /** HTTP status, a whole number 300-599 (default 403). */
    status?: number;
    /** Response body (default "Forbidden\n"). */
    body?: string;
    /** Headers added to (and replacing) the defaults `content-type: text/plain; charset=utf-8` and `cache-control: no-store`. */
    headers?: Record<string, string>;
  };
  /** Called for each dropped request, before the drop response is sent. */
  onDrop?: (decision: RequestDecision) => void;
  /** Called for each accepted request, before it goes on to the routes. */
  onAccept?: (decision: RequestDecision) => void;
}

/** What the guard decided for one request. */
export interface RequestDecision<R = unknown> {
  /** True when the request goes on to the application. */
  accepted: boolean;
  /** The flow classified, frozen (absent when no flow could be built; see `error`). */
  flow?: Readonly<FlowInput>;
  /** The verdict, frozen; null when the request could not be classified (see `error`): it is dropped. */
  verdict: Readonly<Verdict> | null;
  /** The stats key counted: `groupId#inbound#ruleIndex`, `default` or `error`. */
  key: string;
  /** The deciding rule in words, for logs: "sg-web inbound rule 0", "the default drop (no rule matched)", "not classified". */
  rule: string;
  /** The client address as taken (the socket's peer, or the entry a trusted proxy wrote), before it is read. */
  address?: string;
  /** The hops walked: the socket's peer first, then each trusted hop's entry, the client last (proxy-addr's `all`). */
  chain: readonly string[];
  /** Why the request could not be classified. */
  error?: Error;
  /** The framework's request object (express req, fastify request, hono context, or what check() was given). */
  request: R;
}

/**
 * What the guard needs to know about one request, from whatever carries it: a Node
 * request's socket and headers, or what an edge platform says.
 */
export interface RequestFacts {
  /** The address of the connection's peer, as the runtime reports it (a Node socket's remoteAddress), or what the platform vouches for. */
  peer: string | undefined;
  /** The peer's port (a Node socket's remotePort): the flow's `sourcePort` when no proxy stood between. */
  peerPort?: number;
  /** The server's own address the connection arrived on (a Node socket's localAddress): the flow's `local`. */
  localAddress?: string;
  /** The port the connection was accepted on. */
  localPort?: number;
  /** A request header's value, repeated lines joined with ", " (lower-case names), or undefined. */
  header(name: string): string | undefined;
  /**
   * The connection the request came on (a Node socket), when requests share one: the
   * guard keeps what they share (the peer read once, the last verdict) per connection.
   * Every request of a connection must have the same peer, peerPort and localAddress.
   */
  connection?: object;
}

/** A classified flow and the words for its verdict. */
interface Classified {
  readonly flow: FlowInput;
  readonly verdict: Verdict;
  readonly key: string;
  readonly rule: string;
}

/** Proxied clients whose verdicts a guard remembers; past this many, it starts over (a flood of new clients costs time, not memory). */
const MEMO_SIZE = 4096;

/** What the guard keeps per connection (see decide). */
interface Connection {
  readonly peer: string | undefined;
  /** The peer in canonical form, undefined when it is not an address. */
  peerAddress: string | undefined;
  local: string | undefined;
  /** The policy version the last verdict is of; -1 for none. */
  version: number;
  address: string;
  port: number;
  proxied: boolean;
  flow: FlowInput | undefined;
  verdict: Verdict | undefined;
  key: string;
  rule: string;
}

/** The parts of a Node request (http.IncomingMessage, http2 compat) the guard reads. */
export interface NodeRequestLike {
  /** The connection (a net.Socket or TLS socket); missing or without a peer address: the request is dropped. */
  readonly socket?: {
    /** The peer's address, as Node reports it (`::ffff:a.b.c.d` is read as IPv4). */
    readonly remoteAddress?: string;
    /** The peer's port. */
    readonly remotePort?: number;
    /** The server's address the connection arrived on. */
    readonly localAddress?: string;
    /** The server's port the connection arrived on: the flow's `port` by default. */
    readonly localPort?: number;
  } | null;
  /** The request headers as Node gives them (lower-case names; repeated lines as a list). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** A request guard not tied to a framework (for raw `http` servers and frameworks sgfilter has no adapter for). */
export interface RequestGuard {
  /** Classifies a Node request (its socket and headers); counts it and calls onDrop/onAccept. */
  check<R extends NodeRequestLike>(req: R): RequestDecision<R>;
  /** Classifies a request described by `facts`; `request` is handed back in the decision. */
  checkFacts<R>(facts: RequestFacts, request: R): RequestDecision<R>;
  /** What a dropped request should be answered with. */
  readonly dropResponse: Readonly<DropResponse>;
  /** A snapshot of accepted/dropped requests, in total and per deciding rule (as guardServer's). */
  stats(): GuardStats;
}

/** @internal The guard shared by the integrations. */
export interface GuardCore {
  readonly where: string;
  /** The compiled trustProxy option; undefined when the option was not given (integrations then use the framework's). */
  readonly trust: TrustFunction | undefined;
  readonly forwardedHeader: 'x-forwarded-for' | 'forwarded';
  /** The port option as read (own properties only). */
  readonly port: number | 'local' | 'forwarded';
  readonly dropResponse: Readonly<DropResponse>;
  /**
   * Decides one request: `trust` is the trust function to walk with; `chain`, when
   * given, is a walk the framework already made (fastify's request.ips).
   */
  decide<R>(facts: RequestFacts, request: R, trust: TrustFunction, chain?: readonly string[]): RequestDecision<R>;
  stats(): GuardStats;
}

export const DEFAULT_DROP_RESPONSE: Readonly<DropResponse> = Object.freeze({
  status: 403,
  body: 'Forbidden\n',
  headers: Object.freeze({ 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }),
});

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function readDropResponse(where: string, value: unknown): Readonly<DropResponse> {
  const o = readOptions(`${where}: dropResponse`, value, {
    status: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 300 && v <= 599 ? undefined : 'a whole number from 300 to 599'),
    body: isString,
    headers: (v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'an object of header names to string values';
      for (const name of Object.keys(v)) {
        const h = (v as Record<string, unknown>)[name];
        if (!TOKEN.test(name)) return `an object of header names to string values (${JSON.stringify(name)} is not a header name)`;
        if (typeof h !== 'string' || !FIELD_VALUE.test(h)) return `an object of header names to string values (${name}: ${shown(h)} is not a header value)`;
      }
      return undefined;
    },
  });
  const headers: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(DEFAULT_DROP_RESPONSE.headers)) headers[k] = v;
  if (o.headers) for (const [k, v] of Object.entries(o.headers as Record<string, string>)) headers[k.toLowerCase()] = v;
  return Object.freeze({
    status: (o.status as number | undefined) ?? DEFAULT_DROP_RESPONSE.status,
    body: (o.body as string | undefined) ?? DEFAULT_DROP_RESPONSE.body,
    headers: Object.freeze(headers),
  });
}

const WORDS = new Uint32Array(4);
const PORT = /^\d{1,5}$/;

type ProxyAddrRequest = Parameters<typeof proxyaddr.all>[0];

/** A header value as Node gives it (a string, an array for a few headers, or undefined) as one string. */
export function headerText(value: string | string[] | undefined): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return Array.isArray(value) ? value.join(', ') : undefined;
}

/** The facts of a Node request: its socket and its headers. */
class NodeFacts implements RequestFacts {
  readonly peer: string | undefined;
  readonly peerPort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly connection: object | undefined;
  readonly #headers: NodeRequestLike['headers'];
  constructor(req: NodeRequestLike) {
    const s = req.socket;
    this.#headers = req.headers;
    if (typeof s !== 'object' || s === null) return;
    this.connection = s;
    this.peer = s.remoteAddress;
    this.peerPort = s.remotePort;
    this.localAddress = s.localAddress;
    this.localPort = s.localPort;
  }
  header(name: string): string | undefined {
    // Own properties only: a polluted Object.prototype writes no header.
    const h = this.#headers;
    return Object.hasOwn(h, name) ? headerText(h[name]) : undefined;
  }
}

/** The facts of a Node request: its socket and its headers. */
export function nodeFacts(req: NodeRequestLike): RequestFacts {
  return new NodeFacts(req);
}

/** Reads and checks a request guard's options (INVALID_ARGUMENT, UNKNOWN_INSTANCE) and returns the guard shared by the integrations. */
export function createGuardCore(where: string, engine: unknown, options: unknown): GuardCore {
  checkEngine(where, engine);
  const o = readOptions(where, options, {
    instance: isString,
    trustProxy: (v) =>
      typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string' || typeof v === 'function' || Array.isArray(v)
        ? undefined
        : 'true or false, a hop count, a string or list of addresses/CIDRs, or a function',
    forwardedHeader: oneOf('x-forwarded-for', 'forwarded'),
    port: (v) =>
      v === 'local' || v === 'forwarded' || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535)
        ? undefined
        : "'local', 'forwarded', or a port number 0-65535",
    dropResponse: (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'an object { status, body, headers }'),
    onDrop: isFunction,
    onAccept: isFunction,
  });
  const instance = o.instance as string | undefined;
  checkInstance(where, engine, instance);
  const trust = o.trustProxy === undefined ? undefined : compileTrust(where, o.trustProxy);
  const forwardedHeader = (o.forwardedHeader as 'x-forwarded-for' | 'forwarded' | undefined) ?? 'x-forwarded-for';
  const portMode = (o.port as number | 'local' | 'forwarded' | undefined) ?? 'local';
  const dropResponse = readDropResponse(where, o.dropResponse);
  const onDrop = o.onDrop as ((d: RequestDecision) => void) | undefined;
  const onAccept = o.onAccept as ((d: RequestDecision) => void) | undefined;
  const counters = new VerdictCounters();

  /** The hops proxy-addr walks to, from the socket's peer to the client (see trust.ts). */
  const walk = (peer: string, facts: RequestFacts, trustFn: TrustFunction): readonly string[] => {
    if (trustsNobody(trustFn)) return [peer];
    let list: string | undefined;
    if (forwardedHeader === 'x-forwarded-for') list = facts.header('x-forwarded-for');
    else {
      // A Forwarded header is only parsed when the peer is trusted: otherwise it is the
      // client's, and a malformed one must not drop the request (proxy-addr stops at the peer too).
      if (!trustFn(peer, 0)) return [peer];
      const header = facts.header('forwarded');
      // Each hop's `for` as an entry proxy-addr reads: the address text, or a token that is not one.
      if (header !== undefined) list = readForwarded(header).map(forwardedEntry).join(',');
    }
    const req = { headers: { 'x-forwarded-for': list }, socket: { remoteAddress: peer } } as unknown as ProxyAddrRequest;
    return proxyaddr.all(req, trustFn);
  };

  const flowPort = (facts: RequestFacts, proxied: boolean): number => {
    if (typeof portMode === 'number') return portMode;
    if (portMode === 'forwarded' && proxied) {
      const text = facts.header('x-forwarded-port');
      if (text === undefined) throw new Error('the request came through trusted proxies without X-Forwarded-Port (port: \'forwarded\')');
      // The nearest proxy's value: the last one if several were written.
      const last = text.slice(text.lastIndexOf(',') + 1).trim();
      if (!PORT.test(last) || Number(last) > 65535) throw new Error(`X-Forwarded-Port ${shown(last)} is not a port 0-65535`);
      return Number(last);
    }
    if (facts.localPort === undefined) throw new Error('the connection has no local port (closed already, or not an IP socket)');
    return facts.localPort;
  };

  // What a connection's requests share, kept per connection (keep-alive): its peer and
  // local address read once, and the last flow classified with its verdict, reused
  // while the policy version, the client address and the port stay the same. Only
  // pure work is kept (address reading, classify at one policy version); the trust
  // walk runs for every request, as req.ip does.
  // Kept on the connection object itself under a symbol of this guard: a WeakMap
  // entry per new connection costs V8 about 1-2 µs (ephemeron bookkeeping); a
  // property, nothing. Objects that refuse properties are simply not remembered.
  const slot = Symbol('sgfilter request guard');
  const connectionOf = (facts: RequestFacts): Connection => {
    const key = facts.connection as Record<symbol, Connection | undefined> | undefined;
    let c = key === undefined ? undefined : key[slot];
    if (c !== undefined) return c;
    c = { peer: facts.peer, peerAddress: undefined, local: undefined, version: -1, address: '', port: -1, proxied: false, flow: undefined, verdict: undefined, key: '', rule: '' };
    const peer = facts.peer;
    if (typeof peer === 'string' && peer !== '') {
      // The peer is what the runtime reports: Node's text, a zone on link-local peers.
      const a = flowAddress(peer);
      if (readAddress(a, WORDS, 0) >= 0) c.peerAddress = a;
    }
    if (facts.localAddress) c.local = flowAddress(facts.localAddress);
    if (key !== undefined && c.peerAddress !== undefined) {
      try {
        if (Object.isExtensible(key)) Object.defineProperty(key, slot, { value: c, configurable: true });
      } catch {
        // not remembered: classified again next time
      }
    }
    return c;
  };

  /** Verdicts of proxied clients at policy version memoVersion: "address port local" → verdict. */
  const memo = new Map<string, Classified>();
  let memoVersion = -1;

  const decide = <R>(facts: RequestFacts, request: R, trustFn: TrustFunction, given?: readonly string[]): RequestDecision<R> => {
    let decision: RequestDecision<R>;
    let chain: readonly string[] = [];
    let address: string | undefined;
    let flow: FlowInput | undefined;
    try {
      const c = connectionOf(facts);
      const peer = c.peer;
      if (typeof peer !== 'string' || peer === '') throw new Error('the request has no peer address (the connection is gone, or the platform gave none)');
      if (c.peerAddress === undefined) throw new Error(`the peer address ${shown(peer)} is not an address`);
      chain = given ?? walk(peer, facts, trustFn);
      address = chain.at(-1) ?? peer;
      const proxied = chain.length > 1;
      const port = flowPort(facts, proxied);
      const version = engine.version;
      if (c.version !== version || c.address !== address || c.port !== port || c.proxied !== proxied) {
        // Through a proxy, one connection carries many clients: their verdicts are
        // remembered across connections too (the flow has no per-connection field then).
        const memoKey = proxied ? `${address} ${port} ${c.local ?? ''}` : undefined;
        if (memoVersion !== version) {
          memo.clear();
          memoVersion = version;
        }
        let known = memoKey === undefined ? undefined : memo.get(memoKey);
        if (known === undefined) {
          let remote = c.peerAddress;
          if (proxied) {
            // Written by a trusted hop: a bare address, nothing else (no port, brackets or zone).
            if (readAddress(address, WORDS, 0) < 0) throw new Error(`the client address ${shown(address)} that a trusted proxy wrote is not an address`);
            remote = flowAddress(address);
          }
          flow = { direction: 'inbound', protocol: 'TCP', remote, port };
          if (!proxied && facts.peerPort !== undefined) flow.sourcePort = facts.peerPort;
          if (c.local !== undefined) flow.local = c.local;
          if (instance !== undefined) flow.instance = instance;
          Object.freeze(flow);
          const verdict = Object.freeze(engine.classify(flow));
          known = { flow, verdict, key: ruleKey(verdict, 'inbound'), rule: decidingRule(verdict, 'inbound') };
          if (memoKey !== undefined) {
            if (memo.size >= MEMO_SIZE) memo.clear();
            memo.set(memoKey, known);
          }
        }
        c.version = -1; // not valid until every field below is written
        c.flow = known.flow;
        c.verdict = known.verdict;
        c.key = known.key;
        c.rule = known.rule;
        c.address = address;
        c.port = port;
        c.proxied = proxied;
        c.version = version;
      }
      const verdict = c.verdict!;
      decision = { accepted: verdict.action === 'accept', flow: c.flow, verdict, key: c.key, rule: c.rule, address, chain, request };
    } catch (e) {
      const error = e instanceof ForwardedSyntaxError ? new Error(`the Forwarded header is not RFC 7239: ${e.message}`) : (e as Error);
      decision = { accepted: false, verdict: null, key: ERROR_KEY, rule: 'not classified', chain, error, request };
      if (flow) decision.flow = flow;
      if (address !== undefined) decision.address = address;
    }
    counters.count(decision.key, decision.accepted);
    notify(decision.accepted ? onAccept : onDrop, decision as RequestDecision);
    return decision;
  };

  return { where, trust, forwardedHeader, port: portMode, dropResponse, decide, stats: () => counters.snapshot() };
}

/** A Forwarded hop as an entry of the list proxy-addr walks: its address, or a word that is not one (never a comma or space). */
function forwardedEntry(node: string | undefined): string {
  if (node === undefined) return 'unknown';
  const address = nodeAddress(node);
  if (address === undefined || readAddress(address, WORDS, 0) < 0) return /^_[A-Za-z0-9._-]+$/.test(node) ? node : 'unknown';
  return address;
}

/**
 * Creates a request guard on `engine` for servers sgfilter has no adapter for
 * (`http.createServer`, koa, …): `guard.check(req)` classifies a Node request
 * (trustProxy: the option, default false). The express, fastify and hono adapters
 * (expressGuard, fastifyGuard, honoGuard) build on the same guard.
 *
 * Throws, when set up: INVALID_ARGUMENT for an engine that is not one or an option
 * that is unknown or of the wrong kind (a trustProxy proxy-addr refuses, a
 * dropResponse that is not a valid HTTP answer); UNKNOWN_INSTANCE for an instance
 * the engine's policy does not have.
 */
export function createRequestGuard(engine: Engine, options: RequestGuardOptions = {}): RequestGuard {
  const core = createGuardCore('createRequestGuard', engine, options);
  const trust = core.trust ?? compileTrust('createRequestGuard', false);
  return {
    check: (req) => {
      if (typeof req !== 'object' || req === null || typeof req.headers !== 'object' || req.headers === null) {
        throw invalidArgument(`createRequestGuard: check(req) needs a Node request (with socket and headers), got ${shown(req)}`);
      }
      return core.decide(nodeFacts(req), req, trust);
    },
    checkFacts: (facts, request) => {
      if (typeof facts !== 'object' || facts === null || typeof facts.header !== 'function') {
        throw invalidArgument(`createRequestGuard: checkFacts(facts) needs { peer, localPort, header(name) }, got ${shown(facts)}`);
      }
      return core.decide(facts, request, trust);
    },
    dropResponse: core.dropResponse,
    stats: core.stats,
  };
}

