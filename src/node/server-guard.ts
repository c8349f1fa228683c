/**
 * Inbound guard: classifies every connection a server accepts, before the
 * application sees it.
 *
 * Why the guard wraps `server.emit` instead of adding a listener: Node hands a new
 * socket to a server with `server.emit('connection', socket)`, and EventEmitter calls
 * every listener of that emit whatever the first one does. A prepended listener that
 * destroys a dropped socket would still let http's, tls's and the application's
 * 'connection' listeners run on it. Wrapping `emit` (an own property of this one
 * server) decides before any listener runs: a dropped socket is destroyed and the
 * event is never delivered, so no 'connection', 'secureConnection' or 'request'
 * handler sees it and no byte is read or written by the application. Listeners
 * added after the guard are covered too, and so are sockets an application hands
 * over itself (`httpServer.emit('connection', socket)`).
 *
 * The decision is synchronous, inside the emit Node makes when libuv accepts the
 * socket: no data event can have fired yet.
 */
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Engine } from '../engine.js';
import type { FlowInput, Verdict } from '../types.js';
import { checkEngine, checkInstance, invalidArgument, isFunction, isString, oneOf, readOptions, shown } from './options.js';
import { ERROR_KEY, VerdictCounters, flowAddress, notify, ruleKey, type GuardStats } from './stats.js';

/** guardServer's options (unknown names and wrong kinds are INVALID_ARGUMENT). */
export interface ServerGuardOptions {
  /** The instance whose policy applies (default: the config's first instance). Must exist when the guard is set up. */
  instance?: string;
  /**
   * How a dropped connection is closed: `'reset'` (default) sends a TCP RST, so the
   * peer fails at once with ECONNRESET and the server keeps no TIME_WAIT; `'close'`
   * ends it with a FIN (the peer sees an empty stream).
   */
  dropWith?: 'reset' | 'close';
  /** Called after a dropped connection has been destroyed. */
  onDrop?: (decision: InboundDecision) => void;
  /** Called for an accepted connection, just before the server's listeners get it. */
  onAccept?: (decision: InboundDecision) => void;
}

/** What the guard decided for one connection. */
export interface InboundDecision {
  /** The flow classified (absent when the socket had no address). */
  flow?: FlowInput;
  /** null when the connection could not be classified (see `error`); it is dropped. */
  verdict: Verdict | null;
  /** The stats key counted: `groupId#inbound#ruleIndex`, `default` or `error`. */
  key: string;
  /** Why a connection could not be classified. */
  error?: Error;
  /** The connection's socket (destroyed already when dropped). */
  socket: Socket;
}

/** A guarded server: its counters, and a way to stop guarding. */
export interface ServerGuard {
  /** The server guarded. */
  readonly server: EventEmitter;
  /** True until unguard()/close(). */
  readonly active: boolean;
  /** A snapshot of accepted/dropped connections, in total and per deciding rule. */
  stats(): GuardStats;
  /** Stops classifying new connections (the server keeps running). Idempotent. */
  unguard(): void;
  /** Same as unguard(): the guard's resources are released; the server is not closed. */
  close(): void;
}

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;

/** The socket's local address as a flow address (one getsockname, kept by Node), or undefined when it has none. */
function localOf(socket: Socket): string | undefined {
  const a = socket.localAddress;
  return a ? flowAddress(a) : undefined;
}

/**
 * Guards `server` (net.Server, http.Server, https.Server, tls.Server, or anything that
 * emits 'connection' with a socket): each new connection is classified as an inbound
 * TCP flow (remote address and port → `remote` + `sourcePort`, local port → `port`,
 * local address → `local`, `options.instance`) against `engine`'s current policy, and
 * a dropped one is destroyed before any listener sees it. Connections already open are
 * not affected; a reload of the engine applies to the next connection.
 *
 * Cost per connection: one getpeername (the remote end) and one getsockname (the
 * local end), each read once. The local end is always read from the socket, never
 * inferred from the server's listening address: a socket handed over with
 * emit('connection') (a TLS front end re-emitting into an HTTP server sets
 * `socket.server` too) or a server whose address() answers something else must be
 * classified as the connection it really is.
 *
 * Fails closed: a socket without an address (already gone, or not an IP socket) or a
 * flow the engine cannot classify (e.g. an instance a reload removed) is dropped and
 * counted under `error`.
 *
 * Throws, when set up: INVALID_ARGUMENT for a server that cannot emit connections,
 * an engine that is not one, or an option that is unknown or of the wrong type;
 * UNKNOWN_INSTANCE for an instance the engine's policy does not have.
 */
export function guardServer(server: EventEmitter, engine: Engine, options: ServerGuardOptions = {}): ServerGuard {
  if (typeof server !== 'object' || server === null || typeof (server as { emit?: unknown }).emit !== 'function') {
    throw invalidArgument(`guardServer: server must be a net, http, https or tls server (an EventEmitter), got ${shown(server)}`);
  }
  checkEngine('guardServer', engine);
  const { instance, onDrop, onAccept, dropWith } = readOptions('guardServer', options, {
    instance: isString,
    dropWith: oneOf('reset', 'close'),
    onDrop: isFunction,
    onAccept: isFunction,
  }) as ServerGuardOptions;
  checkInstance('guardServer', engine, instance);
  const counters = new VerdictCounters();
  const reset = (dropWith ?? 'reset') === 'reset';
  let active = true;

  const drop = (decision: InboundDecision): void => {
    const { socket } = decision;
    // A reset can race with the peer's own close; nothing must surface as uncaught.
    socket.on('error', () => {});
    try {
      if (reset && typeof socket.resetAndDestroy === 'function' && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    } catch {
      socket.destroy(); // resetAndDestroy throws on non-TCP handles
    }
    counters.count(decision.key, false);
    notify(onDrop, decision);
  };

  /** True when the socket may go on to the server's listeners. */
  const admit = (socket: Socket): boolean => {
    // Each getter is read once: remoteAddress and remotePort share one getpeername,
    // localAddress and localPort one getsockname (Node keeps each answer).
    const remote = socket.remoteAddress;
    const sourcePort = socket.remotePort;
    const port = socket.localPort;
    const local = localOf(socket);
    if (!remote || port === undefined) {
      drop({ verdict: null, key: ERROR_KEY, error: new Error('the connection has no remote address (closed already, or not an IP socket)'), socket });
      return false;
    }
    const flow: FlowInput = { direction: 'inbound', protocol: 'TCP', remote: flowAddress(remote), port };
    if (sourcePort !== undefined) flow.sourcePort = sourcePort;
    if (local !== undefined) flow.local = local;
    if (instance !== undefined) flow.instance = instance;
    let verdict: Verdict;
    try {
      verdict = engine.classify(flow);
    } catch (e) {
      drop({ flow, verdict: null, key: ERROR_KEY, error: e as Error, socket });
      return false;
    }
    const decision: InboundDecision = { flow, verdict, key: ruleKey(verdict, 'inbound'), socket };
    if (verdict.action !== 'accept') {
      drop(decision);
      return false;
    }
    counters.count(decision.key, true);
    notify(onAccept, decision);
    return true;
  };

  const target = server as EventEmitter & { emit: Emit };
  const hadOwnEmit = Object.prototype.hasOwnProperty.call(target, 'emit');
  const previousEmit = target.emit;
  // Every event of the server passes here (http's 'request' too): its arguments are
  // handed on as they are, with no array built per event.
  const guardedEmit = function (this: unknown, event: string | symbol): boolean {
    if (event === 'connection') {
      if (active && !admit(arguments[1] as Socket)) return false;
    }
    // eslint-disable-next-line prefer-rest-params
    return Reflect.apply(previousEmit, this, arguments) as boolean;
  } as Emit;
  target.emit = guardedEmit;

  const unguard = (): void => {
    if (!active) return;
    active = false;
    // Restore emit only if nobody wrapped it after us; otherwise our wrapper stays in
    // their chain as a pass-through (active is false).
    if (target.emit === guardedEmit) {
      if (hadOwnEmit) target.emit = previousEmit;
      else delete (target as { emit?: Emit }).emit;
    }
  };

  return {
    server,
    get active() {
      return active;
    },
    stats: () => counters.snapshot(),
    unguard,
    close: unguard,
  };
}
