/**
 * sgfilter/node: security groups on real sockets. Inbound, guardServer classifies
 * every connection a server accepts before the application sees it; outbound,
 * guardedConnect (net/tls), guardedAgent (http/https) and guardedDispatcher (undici,
 * fetch) classify every connection against the address dialled, after DNS.
 * startProxy is the filtering proxy behind `sgfilter proxy`.
 */
export { guardServer, type ServerGuard, type ServerGuardOptions, type InboundDecision } from './server-guard.js';
export {
  guardedConnect, ConnectionDroppedError, type GuardedConnect, type EgressOptions, type OutboundDecision, type AddressVerdict, type LookupFunction,
} from './egress.js';
export { guardedAgent, type GuardedAgent, type GuardedAgentOptions } from './agent.js';
export { guardedDispatcher, type GuardedDispatcher, type GuardedDispatcherOptions } from './dispatcher.js';
export { startProxy, parseHostPort, type FilteringProxy, type ProxyOptions, type HostPort } from './proxy.js';
export type { GuardStats, RuleCounters } from './stats.js';
export { watchConfig, type WatchOptions, type ConfigWatcher } from './watch.js';
export {
  compileInWorker, reloadInWorker, closeCompileWorker, createClassifierPool,
  type CompileInWorkerOptions, type ClassifierPool, type ClassifierPoolOptions, type PoolResult,
} from './workers.js';
