/**
 * Egress guard for http.request / https.request (and every client built on an
 * http.Agent): an Agent whose createConnection classifies each new connection the
 * way guardedConnect does (src/node/egress.ts). Pooled keep-alive sockets were
 * classified when they were opened; a reload applies to the next new connection.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { isIP, type LookupFunction, type TcpNetConnectOpts, type TcpSocketConnectOpts } from 'node:net';
import type { Engine } from '../engine.js';
import { EgressPolicy, connectNet, type EgressOptions } from './egress.js';
import type { GuardStats } from './stats.js';

export interface GuardedAgentOptions extends EgressOptions, https.AgentOptions {
  /** An https.Agent (TLS) instead of an http.Agent. */
  https?: boolean;
}

/** An http.Agent or https.Agent with the policy applied, and its counters. */
export type GuardedAgent<A extends http.Agent = http.Agent> = A & { stats(): GuardStats; readonly engine: Engine };

type CreateCallback = (err: Error | null, stream: Duplex) => void;

/** Splits the guard's own options from the Agent's. */
function split(options: GuardedAgentOptions): [EgressOptions, https.AgentOptions] {
  const { instance, lookup, strict, onDrop, onAccept, https: _https, ...agentOptions } = options;
  const egress: EgressOptions = {};
  if (instance !== undefined) egress.instance = instance;
  if (lookup !== undefined) egress.lookup = lookup;
  if (strict !== undefined) egress.strict = strict;
  if (onDrop !== undefined) egress.onDrop = onDrop;
  if (onAccept !== undefined) egress.onAccept = onAccept;
  return [egress, agentOptions];
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
      return connectNet(this.#policy, options as TcpNetConnectOpts);
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
  override createConnection(options: https.RequestOptions, callback?: CreateCallback): Duplex | null | undefined {
    // https.Agent's own createConnection (TLS session reuse around tls.connect) does the
    // dialling; the policy decides first (literals) or inside the lookup (names).
    const host = (options.host ?? 'localhost').replace(/^\[(.*)\]$/, '$1');
    const port = Number(options.port);
    const local = { localAddress: options.localAddress, localPort: (options as TcpSocketConnectOpts).localPort };
    if (isIP(host)) {
      const error = this.#policy.checkLiteral(host, port, local);
      if (error) {
        callback?.(error, undefined as unknown as Duplex);
        return undefined;
      }
      return super.createConnection({ ...options, host } as https.RequestOptions, callback);
    }
    const lookup = this.#policy.lookupFor(port, local, options.lookup as LookupFunction | undefined);
    return super.createConnection({ ...options, lookup } as https.RequestOptions, callback);
  }
}

/**
 * An http.Agent (or, with `https: true`, an https.Agent) whose new connections are
 * classified as outbound flows to the address dialled, after DNS; a dropped one makes
 * the request emit 'error' with a ConnectionDroppedError (code ERR_SGFILTER_DROPPED).
 * Agent options (keepAlive, maxSockets, TLS options with `https`) pass through.
 *
 *   const agent = guardedAgent(engine, { instance: 'ins-1' });
 *   http.get('http://api.internal/health', { agent }, onResponse);
 */
export function guardedAgent(engine: Engine, options: GuardedAgentOptions & { https: true }): GuardedAgent<https.Agent>;
export function guardedAgent(engine: Engine, options?: GuardedAgentOptions): GuardedAgent<http.Agent>;
export function guardedAgent(engine: Engine, options: GuardedAgentOptions = {}): GuardedAgent {
  const [egress, agentOptions] = split(options);
  const policy = new EgressPolicy(engine, egress);
  return options.https ? new GuardedHttpsAgent(policy, agentOptions) : new GuardedHttpAgent(policy, agentOptions);
}
