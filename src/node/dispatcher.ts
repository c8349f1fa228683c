/**
 * Egress guard for undici, the HTTP client behind Node's global fetch: an undici
 * Agent whose `connect` classifies each new connection the way guardedConnect does
 * (src/node/egress.ts). Use it per request (`fetch(url, { dispatcher })`) or for the
 * whole process (`setGlobalDispatcher(dispatcher)` from undici).
 *
 * undici is loaded on first use, so importing sgfilter does not load an HTTP client.
 * The package is pinned to undici 6, the major that Node 20's own fetch bundles
 * (and that supports every Node 20 release), so its Agent also serves global fetch.
 */
import { createRequire } from 'node:module';
import { Socket, isIP, type LookupFunction } from 'node:net';
import type { Agent, buildConnector } from 'undici';
import { errorText } from '../describe.js';
import type { Engine } from '../engine.js';
import { EGRESS_OPTIONS, EgressPolicy, copyOptions, guardSocket, type EgressOptions } from './egress.js';
import { invalidArgument, isObject, readOptions } from './options.js';
import type { GuardStats } from './stats.js';

/** guardedDispatcher's options: the egress guard's, and undici's. */
export interface GuardedDispatcherOptions extends EgressOptions {
  /** undici connect options (TLS options, timeout, keepAlive...), as for `new Agent({ connect })`. */
  connect?: buildConnector.BuildOptions;
  /** Other undici Agent options (connections, pipelining, keepAliveTimeout...). */
  agent?: Omit<Agent.Options, 'connect'>;
}

/** An undici Agent with the policy applied, and its counters. */
export type GuardedDispatcher = Agent & {
  /** Accepted and dropped connections, in total and per deciding rule. */
  stats(): GuardStats;
  /** The engine it classifies with. */
  readonly engine: Engine;
};

type Undici = typeof import('undici');
let undici: Undici | undefined;
function loadUndici(): Undici {
  return (undici ??= createRequire(import.meta.url)('undici') as Undici);
}

/**
 * An undici Agent whose new connections are classified as outbound flows to the
 * address dialled, after DNS; a dropped one fails the request with a
 * ConnectionDroppedError (code ERR_SGFILTER_DROPPED) — for fetch, as the `cause` of
 * its "fetch failed" TypeError.
 *
 *   const dispatcher = guardedDispatcher(engine, { instance: 'ins-1' });
 *   await fetch('https://api.example.com/', { dispatcher });
 */
export function guardedDispatcher(engine: Engine, options: GuardedDispatcherOptions = {}): GuardedDispatcher {
  const { connect: givenConnect = {}, agent: givenAgent = {}, ...egress } = readOptions('guardedDispatcher', options, {
    ...EGRESS_OPTIONS,
    connect: isObject,
    agent: isObject,
  }) as GuardedDispatcherOptions;
  // Read once (copyOptions): what is checked here is what undici is given.
  const connectOptions = copyOptions(givenConnect) as buildConnector.BuildOptions;
  const agentOptions = copyOptions(givenAgent) as Omit<Agent.Options, 'connect'>;
  // What would dial around the guard: undici's connector dials `socketPath` (or `path`)
  // instead of the host, and an Agent `factory` builds dispatchers that need not use
  // the guarded connect at all.
  for (const key of ['socketPath', 'path'] as const) {
    if ((connectOptions as Record<string, unknown>)[key] !== undefined) {
      throw invalidArgument(`guardedDispatcher: connect.${key} is a local socket, not a network flow; a guarded dispatcher dials TCP only`);
    }
  }
  for (const key of ['factory', 'connect', 'socketPath'] as const) {
    if ((agentOptions as Record<string, unknown>)[key] !== undefined) {
      throw invalidArgument(`guardedDispatcher: agent.${key} would make connections the guard does not see; put connect options in the connect option`);
    }
  }
  const userLookup = (connectOptions as { lookup?: unknown }).lookup;
  if (userLookup !== undefined && typeof userLookup !== 'function') {
    throw invalidArgument('guardedDispatcher: connect.lookup must be a function (dns.lookup\'s signature)');
  }
  const policy = new EgressPolicy('guardedDispatcher', engine, egress);
  const { buildConnector, Agent } = loadUndici();

  // undici's connector (timeouts, keep-alive, TLS session cache) does the dialling; it
  // takes its lookup when built and the lookup is not told the port, so there is one
  // connector per (port, local address), each with a lookup that classifies for it.
  const connectors = new Map<string, buildConnector.connector>();
  const connectorFor = (port: number, localAddress: string | null | undefined): buildConnector.connector => {
    const key = `${port}|${localAddress ?? ''}`;
    let c = connectors.get(key);
    if (!c) {
      const local = { localAddress: localAddress ?? undefined };
      // socketPath: undefined, an own property: undici reads it (and Node then `path`) through the prototype otherwise.
      c = buildConnector({ ...connectOptions, socketPath: undefined, lookup: policy.lookupFor(port, local, userLookup as LookupFunction | undefined) } as buildConnector.BuildOptions);
      connectors.set(key, c);
    }
    return c;
  };

  const connect: buildConnector.connector = (given, callback) => {
    // One copy of undici's options: the port and host classified are those dialled.
    const opts = copyOptions(given) as unknown as Parameters<buildConnector.connector>[0];
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    const host = opts.hostname;
    if (isIP(host) && !opts.httpSocket) {
      const error = policy.checkLiteral(host, port, { localAddress: opts.localAddress ?? undefined });
      if (error) {
        callback(error, null);
        return;
      }
    }
    const socket = connectorFor(port, opts.localAddress)(opts, callback) as unknown;
    // A TLS upgrade of a socket this connector made (httpSocket) was classified when that socket connected.
    if (!opts.httpSocket && socket instanceof Socket) guardSocket(policy, socket, host, port);
  };

  // undici checks its own options here (and clones them through JSON: a BigInt or a
  // cycle throws a TypeError): whatever it refuses is the caller's argument.
  let agent: GuardedDispatcher;
  try {
    agent = new Agent({ ...agentOptions, connect }) as GuardedDispatcher;
  } catch (e) {
    throw invalidArgument(`guardedDispatcher: undici refuses the agent options: ${errorText(e)}`);
  }
  Object.defineProperties(agent, {
    stats: { value: () => policy.stats() },
    engine: { value: engine, enumerable: true },
  });
  return agent;
}
