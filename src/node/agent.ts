/**
 * Egress guard for http.request / https.request (and every client built on an
 * http.Agent): an Agent whose createConnection classifies each new connection the
 * way guardedConnect does (src/node/egress.ts), as the host it reaches. Pooled
 * keep-alive sockets were classified when they were opened; a reload applies to the
 * next new connection. A request for a local socket (`socketPath`) is refused: it is
 * not a network flow.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { isIP, type LookupFunction } from 'node:net';
import type { Engine } from '../engine.js';
import { EGRESS_OPTIONS, EgressPolicy, connectNet, copyOptions, guardSocket, target, type EgressOptions } from './egress.js';
import { invalidArgument, isBoolean, readOptions } from './options.js';
import type { GuardStats } from './stats.js';

/** guardedAgent's options: the egress guard's, and the Agent's own (passed on). */
export interface GuardedAgentOptions extends EgressOptions, https.AgentOptions {
  /** An https.Agent (TLS) instead of an http.Agent. */
  https?: boolean;
}

/** An http.Agent or https.Agent with the policy applied, and its counters. */
export type GuardedAgent<A extends http.Agent = http.Agent> = A & {
  /** Accepted and dropped connections, in total and per deciding rule. */
  stats(): GuardStats;
  /** The engine it classifies with. */
  readonly engine: Engine;
};

type CreateCallback = (err: Error | null, stream: Duplex) => void;

const GUARD_KEYS = new Set([...Object.keys(EGRESS_OPTIONS), 'https']);

/** Splits the guard's own options (checked) from the Agent's (passed on, except what would dial outside the guard). */
function split(options: GuardedAgentOptions): [EgressOptions, boolean, https.AgentOptions] {
  const own = readOptions('guardedAgent', options, { ...EGRESS_OPTIONS, https: isBoolean }, { open: true });
  // Each Agent option read once into our copy (checked here, used by the Agent).
  const agentOptions: Record<string | symbol, unknown> = {};
  const all = copyOptions(options ?? {});
  for (const key of Reflect.ownKeys(all)) {
    if (typeof key !== 'string' || !GUARD_KEYS.has(key)) agentOptions[key] = all[key];
  }
  if (agentOptions.socketPath !== undefined) {
    throw invalidArgument('guardedAgent: option socketPath is a local socket, not a network flow; guarded agents dial TCP only');
  }
  const { https: tlsAgent, ...egress } = own;
  return [egress as EgressOptions, tlsAgent === true, agentOptions as https.AgentOptions];
}

class GuardedHttpAgent extends http.Agent {
  readonly #policy: EgressPolicy;
  constructor(policy: EgressPolicy, options: http.AgentOptions) {
    super(options);
    this.#policy = policy;
  }
  get engine(): Engine {
    return this.#policy.engine;
  }
  stats(): GuardStats {
    return this.#policy.stats();
  }
  override createConnection(options: http.ClientRequestArgs, callback?: CreateCallback): Duplex | null | undefined {
    try {
      return connectNet(this.#policy, options as never);
    } catch (e) {
      callback?.(e as Error, undefined as unknown as Duplex);
      return undefined;
    }
  }
}

class GuardedHttpsAgent extends https.Agent {
  readonly #policy: EgressPolicy;
  constructor(policy: EgressPolicy, options: https.AgentOptions) {
    super(options);
    this.#policy = policy;
  }
  get engine(): Engine {
    return this.#policy.engine;
  }
  stats(): GuardStats {
    return this.#policy.stats();
  }
  override createConnection(given: https.RequestOptions, callback?: CreateCallback): Duplex | null | undefined {
    // https.Agent's own createConnection (TLS session reuse around tls.connect) does the
    // dialling; the policy decides first (literals) or inside the lookup (names). Both
    // read one copy of the options (copyOptions): what is classified is what is dialled.
    let t;
    let options: https.RequestOptions;
    try {
      options = copyOptions(given) as https.RequestOptions;
      t = target('guarded https.Agent', options as Record<string, unknown>);
    } catch (e) {
      callback?.(e as Error, undefined as unknown as Duplex);
      return undefined;
    }
    if (isIP(t.host)) {
      const error = this.#policy.checkLiteral(t.host, t.port, t.local);
      if (error) {
        callback?.(error, undefined as unknown as Duplex);
        return undefined;
      }
      return this.#guard(super.createConnection({ ...options, host: t.host, path: undefined } as https.RequestOptions, callback), t.host, t.port);
    }
    const lookup = this.#policy.lookupFor(t.port, t.local, options.lookup as LookupFunction | undefined);
    return this.#guard(super.createConnection({ ...options, host: t.host, path: undefined, lookup } as https.RequestOptions, callback), t.host, t.port);
  }
  /** The socket tls.connect made is classified again as it connects, and a later socket.connect() goes through the policy. */
  #guard<T>(socket: T, host: string, port: number): T {
    if (socket && typeof (socket as { connect?: unknown }).connect === 'function') guardSocket(this.#policy, socket as never, host, port);
    return socket;
  }
}

/**
 * An http.Agent (or, with `https: true`, an https.Agent) whose new connections are
 * classified as outbound flows to the host they reach, after DNS; a dropped one makes
 * the request emit 'error' with a ConnectionDroppedError (code ERR_SGFILTER_DROPPED).
 * Agent options (keepAlive, maxSockets, TLS options with `https`) pass through.
 *
 *   const agent = guardedAgent(engine, { instance: 'ins-1' });
 *   http.get('http://api.internal/health', { agent }, onResponse);
 *
 * Throws INVALID_ARGUMENT for a guard option of the wrong type or a `socketPath`,
 * UNKNOWN_INSTANCE for an instance the engine's policy does not have.
 */
export function guardedAgent(engine: Engine, options: GuardedAgentOptions & { https: true }): GuardedAgent<https.Agent>;
export function guardedAgent(engine: Engine, options?: GuardedAgentOptions): GuardedAgent<http.Agent>;
export function guardedAgent(engine: Engine, options: GuardedAgentOptions = {}): GuardedAgent {
  const [egress, tlsAgent, agentOptions] = split(options);
  const policy = new EgressPolicy('guardedAgent', engine, egress);
  return tlsAgent ? new GuardedHttpsAgent(policy, agentOptions) : new GuardedHttpAgent(policy, agentOptions);
}
