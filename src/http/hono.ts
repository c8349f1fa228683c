/**
 * The request guard as hono middleware, on Node (@hono/node-server) and in edge
 * workers (workerd, Cloudflare Workers). Use it first (`app.use(honoGuard(…))`): a
 * dropped request is answered by the middleware and `next` is not called, so no
 * route handler runs.
 *
 * Where the peer comes from (docs/SEMANTICS.md, "Where a connection really goes": only the platform, or proxies the operator
 * trusts, may say who the client is):
 *
 *   Node (@hono/node-server, which puts the Node request in c.env.incoming): the
 *     socket, as for express and fastify; the port is the socket's local port.
 *   workerd run by itself: `request.cf.clientIp`, the socket's peer
 *     ("203.0.113.7:51234", "[2001:db8::7]:51234"). A CF-Connecting-IP there was
 *     written by the client and is never read.
 *   Cloudflare: its `request.cf` object carries no clientIp; Cloudflare's edge sets
 *     CF-Connecting-IP on every request it hands a Worker (overwriting the
 *     client's), and that header is the peer; it must be one address.
 *   Anything else (no request.cf, no Node request): no peer the platform vouches
 *     for; the request is dropped.
 *
 * Then the same trusted-proxy walk as everywhere (trustProxy, default nobody): in a
 * worker that only matters when your own proxies stand in front of workerd.
 *
 * The port in workers: the `port` option, else 443 for https: and 80 for http:
 * URLs. Never the Host header's port: the client writes it. Set `port` when the
 * worker is served on another port.
 *
 * Miniflare and `wrangler dev` simulate Cloudflare: they fill in request.cf and keep
 * a CF-Connecting-IP the client sent. Test with them; do not expose them.
 */
import { readAddress } from '../config/address.js';
import type { Engine } from '../engine.js';
import type { GuardStats } from '../node/stats.js';
import { createGuardCore, nodeFacts, type NodeRequestLike, type RequestFacts, type RequestGuardOptions } from './guard.js';
import { compileTrust } from './trust.js';

/** The parts of a fetch Request the guard reads (workerd's, Node's, Miniflare's). */
export interface FetchRequestLike {
  /** The request URL: its scheme gives the flow's port in workers (443 https, 80 http). */
  readonly url: string;
  /** The request headers. */
  readonly headers: {
    /** One header's value (repeated lines joined with ", "), or null. */
    get(name: string): string | null;
  };
  /** workerd / Cloudflare: what the platform says about the connection. */
  readonly cf?: unknown;
}

/** The parts of a hono Context the guard reads. */
export interface HonoContextLike {
  /** hono's request wrapper. */
  readonly req: {
    /** The fetch Request it wraps. */
    readonly raw: FetchRequestLike;
  };
  /** Bindings in workers; { incoming, outgoing } under @hono/node-server. */
  readonly env: unknown;
}

/** Hono middleware with the guard's counters. */
export interface HonoGuard {
  (c: HonoContextLike, next: () => Promise<void>): Promise<Response | void>;
  /** A snapshot of accepted/dropped requests, in total and per deciding rule. */
  stats(): GuardStats;
}

const WORDS = new Uint32Array(4);

/** The Node request @hono/node-server hands over, or undefined outside Node. */
function nodeIncoming(env: unknown): NodeRequestLike | undefined {
  if (typeof env !== 'object' || env === null) return undefined;
  // @hono/node-server's conninfo reads c.env.server ?? c.env.
  const bindings = ((env as { server?: unknown }).server ?? env) as { incoming?: unknown };
  const incoming = typeof bindings === 'object' && bindings !== null ? bindings.incoming : undefined;
  if (typeof incoming !== 'object' || incoming === null) return undefined;
  const req = incoming as NodeRequestLike;
  return typeof req.headers === 'object' && req.headers !== null && 'socket' in req ? req : undefined;
}

/** workerd's "host:port" / "[v6]:port" peer → address and port, or undefined. */
function splitPeer(peer: string): { address: string; port: number } | undefined {
  const m = /^\[([^\]\s]+)\]:(\d{1,5})$/.exec(peer) ?? /^([^:\s\]]+):(\d{1,5})$/.exec(peer);
  return m ? { address: m[1]!, port: Number(m[2]) } : undefined;
}

/** The facts of a request in an edge worker (see the file comment), with `port` for the local port. */
function workerFacts(raw: FetchRequestLike, pinned: number | undefined): RequestFacts {
  const headers = raw.headers;
  const header = (name: string) => headers.get(name) ?? undefined;
  let localPort = pinned;
  if (localPort === undefined) {
    const protocol = raw.url.slice(0, raw.url.indexOf(':') + 1).toLowerCase();
    localPort = protocol === 'https:' ? 443 : protocol === 'http:' ? 80 : undefined;
  }
  const cf = raw.cf;
  if (typeof cf !== 'object' || cf === null) return { peer: undefined, localPort, header };
  if (Object.hasOwn(cf, 'clientIp')) {
    const clientIp = (cf as { clientIp?: unknown }).clientIp;
    const p = typeof clientIp === 'string' ? splitPeer(clientIp) : undefined;
    return p ? { peer: p.address, peerPort: p.port, localPort, header } : { peer: undefined, localPort, header };
  }
  const connecting = headers.get('cf-connecting-ip')?.trim();
  // Cloudflare writes exactly one bare address; anything else is not what its edge wrote.
  return { peer: connecting !== undefined && readAddress(connecting, WORDS, 0) > 0 ? connecting : undefined, localPort, header };
}

/**
 * Hono middleware that classifies each request as an inbound TCP flow (see
 * RequestGuardOptions and the file comment for where the peer comes from) and
 * answers a dropped one with the drop response (403).
 *
 *   app.use(honoGuard(engine, { trustProxy: 'loopback' }));
 *
 * Throws, when set up: INVALID_ARGUMENT (an engine that is not one, an unknown or
 * mistyped option), UNKNOWN_INSTANCE.
 */
export function honoGuard(engine: Engine, options: RequestGuardOptions = {}): HonoGuard {
  const core = createGuardCore('honoGuard', engine, options);
  const trust = core.trust ?? compileTrust('honoGuard', false);
  const pinned = typeof core.port === 'number' ? core.port : undefined;
  const { status, body, headers } = core.dropResponse;
  const middleware = async function sgfilterGuard(c: HonoContextLike, next: () => Promise<void>): Promise<Response | void> {
    const incoming = nodeIncoming(c.env);
    const facts = incoming ? nodeFacts(incoming) : workerFacts(c.req.raw, pinned);
    const decision = core.decide(facts, c, trust);
    if (!decision.accepted) return new Response(body, { status, headers: { ...headers } });
    await next();
  } as HonoGuard;
  middleware.stats = core.stats;
  return middleware;
}

